"""The package's shape, checked: no function over 80 lines, and imports that run one way (the lower
layers know nothing of the loop, the commands or the pages built on them)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "gankit"
MAX_LINES = 80
# module (or package) → modules of the package it must never import: the layers below the loop
LOWER = [
    "errors",
    "registry",
    "files",
    "memory",
    "progress",
    "config",
    "data",
    "sources",
    "augment",
    "ada",
    "distributions",
    "exact",
    "objectives",
    "nets",
    "metrics",
    "features",
    "generate",
    "ema",
    "stats",
    "loggers",
    "checkpoint",
    "fast",
    "distributed",
    "evaluate",
    "plots",
    "figures",
    "build",
]
UPPER = {"training", "cli", "runs", "export", "api", "theory", "report", "live"}


def _modules():
    return sorted(p for p in SRC.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """The gankit modules a file imports (relative or absolute), as their first name below gankit."""
    parts = path.relative_to(SRC).with_suffix("").parts
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # from .x / ..x: resolve against the file's package
                base = list(parts[:-1])[: len(parts) - node.level] if node.level > 1 else list(parts[:-1])
                names = base + (node.module.split(".") if node.module else [])
                out |= {names[0]} if names else {a.name for a in node.names}
            elif node.module and node.module.startswith("gankit."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("gankit.")}
    return out


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_function_is_longer_than_80_lines(path):
    long = [
        (n.name, n.end_lineno - n.lineno + 1)
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_LINES
    ]
    assert not long, f"{path.name}: {long}"


@pytest.mark.parametrize("layer", LOWER)
def test_lower_layers_never_import_the_loop_the_commands_or_the_pages(layer):
    paths = [SRC / f"{layer}.py"] if (SRC / f"{layer}.py").exists() else sorted((SRC / layer).rglob("*.py"))
    assert paths, layer
    for path in paths:
        upward = _imports(path) & UPPER
        assert not upward, f"{path.relative_to(SRC)} imports {sorted(upward)}"


def test_the_layout_sees_every_module():
    """Each top-level module or package is placed in a layer above, so a new one must be placed."""
    top = {p.stem for p in SRC.glob("*.py")} | {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    assert top - {"__init__", "__main__"} <= set(LOWER) | UPPER
