"""gankit's Python API, what ``import gankit`` offers: :func:`load_config`, :func:`train` and :func:`load_run`.

    cfg = gankit.load_config("digits", overrides=["train.steps=500"])
    gankit.train(cfg, G=MyG(), D=MyD(), data=my_dataset, run_dir="runs/mine")
    run = gankit.load_run("runs/mine", G=MyG())
    x = run.sample(16)                        # [16, C, H, W] in [−1, 1]

The user's networks map tensors as gankit's do: G(z[, y]) → x in [−1, 1], D(x[, y]) → logits [B]; y is
passed when ``model.conditional``. A run trained on them records ``model.name: custom``: the commands
that rebuild networks from a config cannot rebuild these, and say so; :func:`load_run` takes them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from .checkpoint import LAST, load_checkpoint
from .config import Config, load_config, read_config
from .errors import GankitError
from .training import TrainResult
from .training import train as _train

__all__ = ["load_config", "train", "load_run", "Run", "CUSTOM"]

CUSTOM = "custom"  # model.name of a run whose networks came from Python


def _as_config(cfg: Config | str | Path | dict) -> Config:
    """A Config from a Config, a preset name, a YAML file's path or a mapping of fields."""
    if isinstance(cfg, Config):
        return cfg
    if isinstance(cfg, dict):
        from .config import build_config

        return build_config(cfg)
    if isinstance(cfg, Path) or str(cfg).endswith((".yaml", ".yml")):
        return load_config(file=cfg)
    return load_config(str(cfg))


def _check_module(m: Any, name: str) -> None:
    if not isinstance(m, nn.Module):
        raise GankitError(f"{name} must be a torch.nn.Module, got {type(m).__name__}")


def train(
    cfg: Config | str | Path | dict = "digits",
    G: nn.Module | None = None,
    D: nn.Module | None = None,
    data: Any = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    **kwargs: Any,
) -> TrainResult:
    """Train a GAN as ``cfg`` says (a Config, a preset's name, a YAML path or a dict of fields) and write
    the run into ``run_dir`` when one is given (resume it with ``resume=True``, passing the same networks
    and data). ``G`` and ``D``: your own modules, given together (the run's ``model.name`` becomes
    ``custom``). ``data``: a uint8 or [−1, 1] float image tensor [N, C, H, W], an (images, labels) pair,
    a ``Dataset`` of images or (image, label) pairs, or a ``DataLoader`` over one (gankit draws its own
    seeded batches of ``train.batch_size`` from its dataset, so that a resumed run is exact); large data
    is read batch by batch (``data.in_memory``). Other keywords go to :func:`gankit.training.train`
    (``stop_after``, ``callback``). Returns the :class:`~gankit.training.TrainResult`."""
    cfg = _as_config(cfg)
    nets = None
    if G is not None or D is not None:
        if G is None or D is None:
            raise GankitError("give both G and D (your own networks), or neither (model.name's)")
        _check_module(G, "G")
        _check_module(D, "D")
        cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"name": CUSTOM})})
        nets = (G, D)
    elif cfg.model.name == CUSTOM:
        raise GankitError("model.name=custom trains your own networks: pass G=... and D=...")
    return _train(cfg, run_dir, resume=resume, data=data, nets=nets, **kwargs)


@dataclass
class Run:
    """A trained run opened by :func:`load_run`: its networks (CPU, eval mode), config and step."""

    G: nn.Module  # the raw generator
    G_ema: nn.Module | None  # its EMA copy, when the run keeps one
    D: nn.Module | None  # the discriminator (None for a custom run opened without D=...)
    config: Config
    step: int
    num_classes: int  # classes G conditions on (0: unconditional)

    @property
    def G_sample(self) -> nn.Module:
        """The generator that samples: the EMA copy when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def sample(self, n: int, classes: int | Sequence[int] | Tensor | None = None, seed: int = 0) -> Tensor:
        """n samples [n, ...] of the sampling generator as a CPU float tensor (images in [−1, 1]), from
        seeded noise (the global RNG is untouched). ``classes``: one class for all, or n labels
        (conditional runs; default: the classes in turn)."""
        from .generate import generate

        y = None
        if self.num_classes:
            if classes is None:
                y = torch.arange(n) % self.num_classes
            else:
                y = torch.as_tensor(classes).long().flatten()
                y = y.expand(n) if y.numel() == 1 else y
                if len(y) != n or int(y.min()) < 0 or int(y.max()) >= self.num_classes:
                    raise GankitError(f"classes: {n} labels (or one) in 0..{self.num_classes - 1}")
        elif classes is not None:
            raise GankitError("classes: this run's G is unconditional")
        return generate(self.G_sample, n, self.config.model.z_dim, seed=seed, y=y)


def _load_into(module: nn.Module, weights: dict, what: str, run: Path) -> nn.Module:
    try:
        module.load_state_dict(weights)
    except RuntimeError as e:
        raise GankitError(f"{what} does not fit the checkpoint of {run}: {str(e).splitlines()[0][:160]}") from None
    return module.cpu().eval()


def load_run(run_dir: str | Path, G: nn.Module | None = None, D: nn.Module | None = None) -> Run:
    """Open a run directory: its networks with the last checkpoint's weights (G, its EMA copy, D), config
    and step. A run of your own networks (``model.name: custom``) needs them: ``G=`` (and ``D=`` for the
    discriminator), instances of the classes it was trained with; gankit's networks are rebuilt from
    the config. Nothing is imported or unpickled: the checkpoint holds tensors and plain data only. The
    checkpoint is checked as ``gankit sample`` checks it (field types, fit to config.yaml)."""
    from .checkpoint import check_compatible
    from .nets import build_nets
    from .runs import _build_generator, _checkpoint_fields

    run = Path(run_dir)
    if not run.is_dir():
        raise GankitError(f"run directory not found: {run}")
    cfg = read_config(run / "config.yaml")
    where = run / "checkpoints" / LAST
    state = load_checkpoint(where)
    shape, n_cls, step, _ = _checkpoint_fields(state, run)
    check_compatible(state, cfg.model_dump(mode="json"), shape, n_cls, where, None, use="open it")
    if cfg.model.name == CUSTOM and G is None:
        raise GankitError(f"{run} was trained on your own networks: pass G= (an instance of its G's class)")
    for module, name in ((G, "G"), (D, "D")):
        if module is not None:
            _check_module(module, name)

    def generator(key: str, module: nn.Module | None) -> nn.Module:
        weights = _checkpoint_fields(state, run, key)[3]
        return (
            _load_into(module, weights, "G", run)
            if module is not None
            else _build_generator(cfg, shape, n_cls, weights, run).eval()
        )

    # the EMA copy first: it is a copy of the user's G before that G takes the raw weights
    G_ema = generator("G_ema", copy.deepcopy(G) if G is not None else None) if state.get("G_ema") is not None else None
    G_raw = generator("G", G)
    if D is None and cfg.model.name != CUSTOM:
        with torch.random.fork_rng(devices=[]):  # initial weights, overwritten: leave the caller's RNG alone
            D = build_nets(cfg.model, shape, n_cls)[1]
    return Run(G_raw, G_ema, _load_into(D, state["D"], "D", run) if D is not None else None, cfg, step, n_cls)
