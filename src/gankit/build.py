"""What a config builds: the device, the data (a toy target, an image dataset in memory or one read
batch by batch) and fresh networks for it, or the user's own. Shared by training and by the commands
that open a finished run."""

from __future__ import annotations

import torch
from torch import nn

from .config import Config
from typing import Any

from .data import ImageData, load_dataset
from .distributions import GaussianMixture, make_target
from .errors import GankitError
from .nets import build_nets
from .sources import StreamData, as_training_data, open_stream

__all__ = ["resolve_device", "load_data", "data_spec", "build_run"]


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when there is a GPU, else the CPU; asking for CUDA without one is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise GankitError("train.device=cuda but no CUDA GPU is available; use train.device=cpu or auto")
    return torch.device(name)


def load_data(cfg: Config) -> GaussianMixture | ImageData | StreamData:
    """The toy target or the image dataset that ``cfg.data`` names: in memory, or streamed when
    ``data.in_memory`` is false (or auto, for an image folder too large for memory)."""
    d = cfg.data
    if d.is_toy:
        return make_target(d.name, **d.target_params())
    stream = open_stream(d.name, d.root, d.download, d.resolution, d.in_memory, d.workers)
    if stream is not None:
        return stream
    data = load_dataset(d.name, d.root, d.download, d.resolution)
    assert data is not None  # only a test split may be missing
    return data


def data_spec(data: GaussianMixture | ImageData | StreamData, cfg: Config) -> tuple[tuple[int, ...], int]:
    """(shape of one sample, number of classes the networks condition on; 0 = unconditional)."""
    if isinstance(data, GaussianMixture):
        return (data.dim,), 0
    return data.shape, data.num_classes if cfg.model.conditional else 0


def user_data(data: Any, cfg: Config) -> GaussianMixture | ImageData | StreamData:
    """Data given from Python as the loop takes it (see :func:`gankit.sources.as_training_data`), checked
    against what the config asks of it: labels for a conditional run, and for the classifier's metrics."""
    if isinstance(data, GaussianMixture):
        return data
    d = cfg.data
    out = as_training_data(data, d.in_memory, d.resolution, d.workers)
    if cfg.model.conditional and out.num_classes < 2:
        raise GankitError("model.conditional needs labelled data: give (image, label) pairs with two classes or more")
    if cfg.train.eval_features == "classifier" and out.num_classes < 2:
        raise GankitError(
            "train.eval_features=classifier trains a classifier on the data's labels, and these images have "
            "none: use train.eval_features=inception, or none"
        )
    return out


def build_run(
    cfg: Config,
    device: torch.device,
    data: Any = None,
    nets: tuple[nn.Module, nn.Module] | None = None,
) -> tuple[GaussianMixture | ImageData | StreamData, nn.Module, nn.Module]:
    """(data, G, D): the data of a config (or ``data`` as :func:`user_data` reads it) and fresh networks
    for it seeded by ``train.seed``, or the user's ``nets`` (G, D) as they are."""
    data = load_data(cfg) if data is None else user_data(data, cfg)
    shape, n_cls = data_spec(data, cfg)
    torch.manual_seed(cfg.train.seed)
    if nets is not None:
        G, D = nets
    else:
        try:
            G, D = build_nets(cfg.model, shape, n_cls)
        except ValueError as e:  # a size the architecture does not support
            raise GankitError(f"model.name={cfg.model.name} on {cfg.data.name} {shape}: {e}") from None
    return data, G.to(device), D.to(device)
