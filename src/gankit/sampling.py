"""Load a trained generator from a run directory and write its samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoint import load_checkpoint
from .config import Config, read_config
from .data import to_uint8
from .errors import GankitError
from .evaluate import generate
from .nets import build_nets

__all__ = ["load_generator", "write_samples"]


def load_generator(run_dir: str | Path) -> tuple[nn.Module, Config, int]:
    """(G, config, number of classes) of a run: the EMA generator when the run kept one, else G,
    in eval mode on the CPU with the last checkpoint's weights."""
    run = Path(run_dir)
    if not run.is_dir():
        raise GankitError(f"run directory not found: {run}")
    cfg = read_config(run / "config.yaml")
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    try:
        shape, n_cls = tuple(state["data_shape"]), int(state["num_classes"])
        G, _ = build_nets(cfg.model, shape, n_cls)
        G.load_state_dict(state["G_ema"] if state.get("G_ema") is not None else state["G"])
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        raise GankitError(f"checkpoint of {run} does not fit its config.yaml: {str(e).splitlines()[0][:160]}") from None
    return G.eval(), cfg, n_cls


def write_samples(G: nn.Module, cfg: Config, num_classes: int, n: int, seed: int, out: Path,
                  klass: int | None = None, truncation: float | None = None) -> None:
    """n samples with noise seed ``seed`` written to ``out``.

    Toy targets: ``.npy`` float32 [n, dims], ``.png`` a plot over the density. Images: ``.npy``
    uint8 [n, C, H, W], ``.png`` a grid. A conditional G draws class ``klass``, or classes in turn.
    """
    if klass is not None and not num_classes:
        raise GankitError("--class needs a class-conditional run (model.conditional=true)")
    if klass is not None and not 0 <= klass < num_classes:
        raise GankitError(f"--class must be in 0..{num_classes - 1}, got {klass}")
    y = None
    if num_classes:
        y = torch.full((n,), klass) if klass is not None else torch.arange(n) % num_classes
    x = generate(G, n, cfg.model.z_dim, seed=seed, y=y, truncation=truncation)
    out.parent.mkdir(parents=True, exist_ok=True)
    png = out.suffix.lower() == ".png"
    if cfg.data.is_toy:
        if not png:
            np.save(out, x.numpy())
            return
        from .plots import plot_toy_samples
        from .train import load_data

        plot_toy_samples(load_data(cfg), x, out, f"{n} samples, seed {seed}")
    elif png:
        from torchvision.utils import save_image

        save_image(x, out, nrow=max(1, int(round(n**0.5))), normalize=True, value_range=(-1, 1))
    else:
        np.save(out, to_uint8(x).numpy())
