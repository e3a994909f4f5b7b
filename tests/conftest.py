import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Every test starts from the same RNG state; one thread each (pytest-xdist runs two workers)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
