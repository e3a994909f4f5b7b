import os

import pytest
import torch

torch.set_num_threads(1)  # at import too: module-scoped fixtures run before the autouse one below


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Every test starts from the same RNG state; one thread each (pytest-xdist runs two workers)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session", autouse=True)
def _gankit_cache(tmp_path_factory):
    """Trained classifiers and reference statistics go to one folder of this test session (shared by
    the xdist workers: their writes are atomic), never to the user's ~/.cache."""
    root = tmp_path_factory.getbasetemp()
    shared = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "gankit-cache"
    os.environ["GANKIT_CACHE"] = str(shared)
    yield
