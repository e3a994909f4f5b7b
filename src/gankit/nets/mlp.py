"""Multilayer perceptrons for toy targets: G(z) → x in R^d and D(x) → one logit."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor
from torch.nn.utils.parametrizations import spectral_norm as _sn


ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
}


def _mlp(sizes: list[int], act, sn: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = nn.Linear(a, b)
        layers.append(_sn(lin) if sn else lin)
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """G: z [B, z_dim] → x [B, out_dim]; hidden layers with ``act`` (see ACTIVATIONS), a linear output.

    A smooth activation makes p_g of a 1-D G smooth too; with ReLU, G is piecewise linear and
    p_g jumps where G has a kink.
    """

    def __init__(self, z_dim: int, out_dim: int, hidden: int = 128, layers: int = 3, act: str = "relu"):
        super().__init__()
        self.z_dim = z_dim
        self.net = _mlp([z_dim] + [hidden] * layers + [out_dim], ACTIVATIONS[act])

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """D: x [B, in_dim] → logits [B]; hidden layers with ``act`` (see ACTIVATIONS), optional spectral norm."""

    def __init__(
        self, in_dim: int, hidden: int = 128, layers: int = 3, spectral_norm: bool = False, act: str = "leaky_relu"
    ):
        super().__init__()
        self.net = _mlp([in_dim] + [hidden] * layers + [1], ACTIVATIONS[act], sn=spectral_norm)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x).squeeze(-1)
