"""Name → object mappings whose unknown-name error lists the valid names, and gankit's own registries.

The registries live here, in a module that imports no torch, and each declares its built-in names
and the module that registers them: a config is then checked name by name (``gankit train
--dry-run``, ``gankit presets``) without importing torch and every network, loss and dataset,
which takes seconds. Looking an object up imports its module on first use. A test keeps each
declared list equal to what its module registers.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Callable, Generic, Iterable, Iterator, TypeVar

from .errors import unknown_name

if TYPE_CHECKING:
    from torch import nn

    from .data import ImageData
    from .distributions import GaussianMixture
    from .features import FeatureNet
    from .objectives import Objective

__all__ = [
    "import_plugin",
    "Registry",
    "NETS",
    "OBJECTIVES",
    "DATASETS",
    "TARGETS",
    "FEATURES",
    "AUGMENT_POLICIES",
    "REGISTRIES",
]

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects chosen by name from config; ``registry[name]`` raises a one-line error listing the valid names.

    ``module`` registers the ``builtins`` when imported: they count as known before it is (``name in
    registry``, :meth:`names`), and ``registry[name]`` imports it on first use. Names registered by
    anyone else (a plugin's ``@NETS.register("mine")``) are known from then on.
    """

    def __init__(self, kind: str, module: str | None = None, builtins: Iterable[str] = ()):
        self.kind = kind
        self.module = module
        self.builtins: tuple[str, ...] = tuple(builtins)
        if self.builtins and module is None:
            raise ValueError(f"{kind}: built-in names need the module that registers them")
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REG.register("name")`` adds the decorated object under ``name``."""
        if name in self.builtins:
            self.load()  # a plugin taking a built-in's name must fail here, not when the built-ins are imported

        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return add

    def load(self) -> None:
        """Import the module that registers the built-ins (once; while it is being imported, nothing)."""
        if self.module is not None and self.module not in sys.modules:
            importlib.import_module(self.module)

    def registered(self) -> list[str]:
        """The names whose objects are registered so far, sorted (built-ins only once :meth:`load` ran)."""
        return sorted(self._items)

    def __getitem__(self, name: str) -> T:
        if name in self.builtins and name not in self._items:
            self.load()
        try:
            return self._items[name]
        except KeyError:
            raise unknown_name(self.kind, name, self.names()) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self.builtins

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self) -> list[str]:
        """The known names, built-in or registered, sorted."""
        return sorted({*self.builtins, *self._items})


def import_plugin(name: str) -> None:
    """Import the user's module ``name`` (``gankit --import``), which registers networks, datasets or
    objectives as it is imported; from the current folder too, as ``python -m`` would. Failing is one line."""
    import os

    from .errors import GankitError

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        importlib.import_module(name)
    except Exception as e:  # the module's own code: whatever it raises is the plugin's problem
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
        raise GankitError(f"--import {name}: importing it failed ({type(e).__name__}: {first})") from None


# --- gankit's registries: each module named here registers exactly these names -----------------------
NETS: Registry[Callable[..., tuple[nn.Module, nn.Module]]] = Registry(
    "network", "gankit.nets", ("mlp", "dcgan", "sngan", "biggan", "r3gan", "custom")
)
OBJECTIVES: Registry[Objective] = Registry(
    "objective", "gankit.objectives", ("minimax", "nonsaturating", "wasserstein", "wgan-gp", "hinge", "lsgan", "rpgan")
)
# a loader returns None for a split its dataset does not have (test, mostly)
DATASETS: Registry[Callable[..., ImageData | None]] = Registry(
    "dataset", "gankit.data", ("digits", "mnist", "fashion_mnist", "cifar10", "imagefolder", "stacked_mnist")
)
# a toy target (an exact density; trained with the MLP) rather than images: DataConfig.is_toy reads this
TARGETS: Registry[Callable[..., GaussianMixture]] = Registry(
    "toy target", "gankit.distributions", ("ring8", "grid25", "spiral", "mixture1d")
)
FEATURES: Registry[Callable[..., FeatureNet]] = Registry(
    "feature network", "gankit.features", ("classifier", "inception")
)
# the DiffAugment policies of gankit.augment.POLICIES (a plain dict, keyed in this order)
AUGMENT_POLICIES: tuple[str, ...] = ("color", "translation", "cutout")

REGISTRIES: tuple[Registry, ...] = (NETS, OBJECTIVES, DATASETS, TARGETS, FEATURES)
