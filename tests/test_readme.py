import re
from pathlib import Path


def test_python_api_example_runs():
    """The README's Python API block, with fewer steps."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = re.search(r"## Python API\s+```python\n(.*?)```", readme, re.S).group(1)
    assert "train.steps=500" in block
    scope: dict = {}
    exec(block.replace("train.steps=500", "train.steps=2"), scope)
    assert tuple(scope["images"].shape) == (16, 1, 16, 16)
    assert scope["images"].abs().max() <= 1
