"""Networks chosen by name. A builder maps (model config, data shape) to a pair (G, D).

Networks only map tensors: G(z[, y]) → x and D(x[, y]) → logits. They hold no optimiser,
loss or logger.
"""

from __future__ import annotations

from typing import Callable

import torch.nn as nn

from ..registry import Registry
from .mlp import MLPDiscriminator, MLPGenerator

__all__ = ["NETS", "build_nets", "MLPGenerator", "MLPDiscriminator"]

NETS: Registry[Callable[..., tuple[nn.Module, nn.Module]]] = Registry("network")


@NETS.register("mlp")
def _mlp(model, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    (d,) = data_shape
    g = MLPGenerator(model.z_dim, d, model.g_hidden, model.g_layers, model.g_act)
    D = MLPDiscriminator(d, model.d_hidden, model.d_layers, model.spectral_norm, model.d_act)
    return g, D


def build_nets(model, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """(G, D) for the model config ``model`` (its ``name`` picks the builder) and data of ``data_shape``."""
    return NETS[model.name](model, data_shape)
