"""The guides in docs/: every Python block runs as written, in order, in a fresh folder."""

import re
from pathlib import Path

import pytest

from helpers import write_image_folder

DOCS = Path(__file__).parents[1] / "docs"


def blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), re.S)


def run_blocks(name: str) -> dict:
    scope: dict = {}
    for block in blocks(name):
        exec(compile(block, f"docs/{name}", "exec"), scope)
    return scope


@pytest.mark.parametrize("name", ["own-networks.md", "own-images.md", "metrics.md"])
def test_each_guide_has_python_blocks(name):
    assert blocks(name)


def test_own_networks_guide_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scope = run_blocks("own-networks.md")
    assert scope["result"].step == 100 and scope["run"].step == 100
    assert tuple(scope["x"].shape) == (16, 1, 16, 16)
    assert (tmp_path / "runs" / "mine" / "checkpoints" / "last.pt").is_file()
    import gankit

    assert gankit.load_run("runs/mine", G=scope["G"]()).step == 150  # the resumed run


def test_own_images_guide_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_image_folder(tmp_path / "photos", ("cats", "dogs"), 10, 40)
    scope = run_blocks("own-images.md")
    from gankit.sources import StreamData

    assert scope["result"].step == 20 and isinstance(scope["result"].target, StreamData)
    assert (tmp_path / "runs" / "photos" / "checkpoints" / "last.pt").is_file()


def test_metrics_guide_runs(capsys):
    run_blocks("metrics.md")
    assert abs(float(capsys.readouterr().out) - 2.0) < 0.15  # 8 · 0.5², within the sampling error of 5,000 points
