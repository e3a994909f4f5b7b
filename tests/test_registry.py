import importlib
import subprocess
import sys
import textwrap

import pytest

from gankit.errors import GankitError
from gankit.registry import AUGMENT_POLICIES, REGISTRIES, Registry


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind)
def test_declared_names_are_what_the_module_registers(registry):
    """Config checks names against the declared lists without importing the modules: they must not drift."""
    registry.load()
    assert registry.registered() == sorted(registry.builtins) == registry.names()


def test_declared_augment_policies_are_the_modules():
    from gankit.augment import POLICIES

    assert list(POLICIES) == list(AUGMENT_POLICIES)


def test_the_modules_share_the_registries():
    from gankit.data import DATASETS
    from gankit.distributions import TARGETS
    from gankit.features import FEATURES
    from gankit.nets import NETS
    from gankit.objectives import OBJECTIVES

    assert (NETS, OBJECTIVES, DATASETS, TARGETS, FEATURES) == REGISTRIES


@pytest.fixture
def things(tmp_path, monkeypatch):
    """A registry in module ``catalog_x`` whose built-ins ``a`` and ``b`` module ``things_x`` registers."""
    (tmp_path / "catalog_x.py").write_text(
        textwrap.dedent("""
        from gankit.registry import Registry
        THINGS = Registry("thing", "things_x", ("a", "b"))
    """)
    )
    (tmp_path / "things_x.py").write_text(
        textwrap.dedent("""
        from catalog_x import THINGS
        THINGS.register("a")(1)
        THINGS.register("b")(2)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("catalog_x").THINGS
    for name in ("catalog_x", "things_x"):
        sys.modules.pop(name, None)


def test_builtins_are_known_before_their_module_is_imported(things):
    assert "a" in things and "c" not in things and things.names() == ["a", "b"] and list(things) == ["a", "b"]
    assert "things_x" not in sys.modules and things.registered() == []
    assert things["b"] == 2  # the first lookup imports the module
    assert "things_x" in sys.modules and things.registered() == ["a", "b"]


def test_unknown_names_are_one_line_listing_the_valid_ones(things):
    with pytest.raises(GankitError, match=r"^unknown thing 'c'; valid: a, b$"):
        things["c"]
    assert "things_x" not in sys.modules  # no built-in can be called c: nothing to import


def test_plugins_add_names_but_cannot_take_a_builtins(things):
    things.register("c")(3)
    assert "c" in things and things.names() == ["a", "b", "c"] and things["c"] == 3
    with pytest.raises(ValueError, match="registered twice"):
        things.register("a")(4)  # before the module is imported, too
    assert things["a"] == 1


def test_builtins_need_their_module():
    with pytest.raises(ValueError, match="module"):
        Registry("thing", builtins=("a",))


def test_config_accepts_names_that_plugins_register_without_importing_torch():
    script = textwrap.dedent("""
        import sys
        from gankit.config import build_config
        from gankit.errors import GankitError
        from gankit.registry import NETS, OBJECTIVES
        NETS.register("mine")(object())
        OBJECTIVES.register("my-loss")(object())
        cfg = build_config({"data": {"name": "digits"}, "model": {"name": "mine"}, "objective": {"name": "my-loss"}})
        assert cfg.model.name == "mine"
        try:
            build_config({"data": {"name": "digits"}, "model": {"name": "yours"}})
        except GankitError as e:
            print(e)
        print("torch" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "config model.name: unknown network 'yours'; valid: biggan, custom, dcgan, mine, mlp, r3gan, sngan",
        "False",
    ]
