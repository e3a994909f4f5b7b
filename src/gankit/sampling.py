"""Load a trained generator from a run directory and write its samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoint import load_checkpoint
from .config import Config, read_config
from .distributions import GaussianMixture
from .errors import GankitError
from .evaluate import generate
from .train import build_run

__all__ = ["load_generator", "write_samples"]


def load_generator(run_dir: str | Path) -> tuple[nn.Module, Config, GaussianMixture]:
    """(G, config, target) of a run, G in eval mode on the CPU with the last checkpoint's weights."""
    run = Path(run_dir)
    if not run.is_dir():
        raise GankitError(f"run directory not found: {run}")
    cfg = read_config(run / "config.yaml")
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    target, G, _ = build_run(cfg, torch.device("cpu"))
    try:
        G.load_state_dict(state["G"])
    except (RuntimeError, KeyError, TypeError) as e:
        raise GankitError(f"checkpoint of {run} does not fit its config.yaml: {str(e).splitlines()[0][:160]}") from None
    return G.eval(), cfg, target


def write_samples(G: nn.Module, cfg: Config, target: GaussianMixture, n: int, seed: int, out: Path) -> None:
    """n samples with noise seed ``seed``: ``.npy`` an array [n, dims] (float32), ``.png`` a plot."""
    x = generate(G, n, cfg.model.z_dim, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npy":
        np.save(out, x.numpy())
    else:
        from .plots import plot_toy_samples

        plot_toy_samples(target, x, out, f"{n} samples, seed {seed}")
