import re
from pathlib import Path


def test_python_api_example_runs(tmp_path, monkeypatch):
    """The README's Python API block, with fewer steps, in a temporary folder."""
    monkeypatch.chdir(tmp_path)
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = re.search(r"## Python API\s+```python\n(.*?)```", readme, re.S).group(1)
    assert "train.steps=500" in block
    scope: dict = {}
    exec(block.replace("train.steps=500", "train.steps=2"), scope)
    assert tuple(scope["images"].shape) == (16, 1, 16, 16)
    assert scope["images"].abs().max() <= 1 and scope["run"].step == 2
    assert (tmp_path / "runs" / "api" / "checkpoints" / "last.pt").is_file()


def test_driven_run_example_runs(tmp_path, monkeypatch):
    """The README's block on driving a run step by step, as written (100 ring8 steps), in a temporary folder."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme.split("## Python API")[1].split("\n## ")[0], re.S)
    driven = next(b for b in blocks if "start(" in b)
    assert "run.step(100)" in driven
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec("from gankit.config import load_config\n" + driven, scope)
    assert scope["result"].step == 100 and (tmp_path / "runs" / "driven" / "checkpoints" / "last.pt").is_file()
