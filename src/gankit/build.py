"""What a config builds: the device, the data (a toy target or an image dataset) and fresh networks
for it. Shared by training and by the commands that open a finished run."""

from __future__ import annotations

import torch
from torch import nn

from .config import Config
from .data import ImageData, load_dataset
from .distributions import GaussianMixture, make_target
from .errors import GankitError
from .nets import build_nets

__all__ = ["resolve_device", "load_data", "data_spec", "build_run"]


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when there is a GPU, else the CPU; asking for CUDA without one is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise GankitError("train.device=cuda but no CUDA GPU is available; use train.device=cpu or auto")
    return torch.device(name)


def load_data(cfg: Config) -> GaussianMixture | ImageData:
    """The toy target or the image dataset that ``cfg.data`` names."""
    d = cfg.data
    if d.is_toy:
        return make_target(d.name, **d.target_params())
    data = load_dataset(d.name, d.root, d.download, d.resolution)
    assert data is not None  # only a test split may be missing
    return data


def data_spec(data: GaussianMixture | ImageData, cfg: Config) -> tuple[tuple[int, ...], int]:
    """(shape of one sample, number of classes the networks condition on; 0 = unconditional)."""
    if isinstance(data, GaussianMixture):
        return (data.dim,), 0
    return data.shape, data.num_classes if cfg.model.conditional else 0


def build_run(
    cfg: Config, device: torch.device, data: GaussianMixture | ImageData | None = None
) -> tuple[GaussianMixture | ImageData, nn.Module, nn.Module]:
    """(data, G, D): the data of a config and fresh networks for it, seeded by ``train.seed``."""
    data = load_data(cfg) if data is None else data
    shape, n_cls = data_spec(data, cfg)
    torch.manual_seed(cfg.train.seed)
    try:
        G, D = build_nets(cfg.model, shape, n_cls)
    except ValueError as e:  # a size the architecture does not support
        raise GankitError(f"model.name={cfg.model.name} on {cfg.data.name} {shape}: {e}") from None
    return data, G.to(device), D.to(device)
