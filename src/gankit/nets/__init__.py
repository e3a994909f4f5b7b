"""Networks chosen by name. A builder maps (model config, data shape) to a pair (G, D).

Networks only map tensors: G(z[, y]) → x and D(x[, y]) → logits. They hold no optimiser,
loss or logger.
"""

from __future__ import annotations

import torch.nn as nn

from ..errors import GankitError
from ..registry import NETS
from .biggan import BigGANDiscriminator, BigGANGenerator
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mlp import MLPDiscriminator, MLPGenerator
from .r3gan import R3GANDiscriminator, R3GANGenerator
from .sngan import SNGANDiscriminator, SNGANGenerator

__all__ = [
    "NETS",
    "build_nets",
    "MLPGenerator",
    "MLPDiscriminator",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "SNGANGenerator",
    "SNGANDiscriminator",
    "BigGANGenerator",
    "BigGANDiscriminator",
    "R3GANGenerator",
    "R3GANDiscriminator",
]

# NETS is gankit.registry's, which declares these names so that a config is checked without torch


@NETS.register("custom")
def _custom(model, data_shape: tuple[int, ...], num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """A run of the user's own networks (``gankit.train(cfg, G=..., D=...)``): its config cannot rebuild them."""
    raise GankitError(
        "model.name=custom: this run's networks came from Python; open it with "
        "gankit.load_run(RUN, G=YourG(...)), or train with gankit.train(cfg, G=..., D=...)"
    )


@NETS.register("mlp")
def _mlp(model, data_shape: tuple[int, ...], num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    (d,) = data_shape
    g = MLPGenerator(model.z_dim, d, model.g_hidden, model.g_layers, model.g_act)
    D = MLPDiscriminator(d, model.d_hidden, model.d_layers, model.spectral_norm, model.d_act)
    return g, D


@NETS.register("dcgan")
def _dcgan(model, data_shape: tuple[int, ...], num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    c, h, w = data_shape
    if h != w:
        raise ValueError(f"DCGAN needs square images, got {h}×{w}")
    G = DCGANGenerator(model.z_dim, c, h, model.g_hidden, num_classes, model.batch_norm)
    D = DCGANDiscriminator(c, h, model.d_hidden, num_classes, model.spectral_norm, model.batch_norm)
    return G, D


@NETS.register("sngan")
def _sngan(model, data_shape: tuple[int, ...], num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    c, h, w = data_shape
    if (h, w) != (32, 32):
        raise ValueError(f"the SNGAN ResNets are for 32×32 images, got {h}×{w} (set data.resolution=32)")
    # Spectral norm is part of SNGAN's discriminator, whatever model.spectral_norm says.
    return SNGANGenerator(model.z_dim, c, model.g_hidden, num_classes), SNGANDiscriminator(
        c, model.d_hidden, num_classes
    )


@NETS.register("biggan")
def _biggan(model, data_shape: tuple[int, ...], num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    c, h, w = data_shape
    if h != w or h not in (32, 64, 128):
        raise ValueError(
            f"the BigGAN nets are for 32, 64 or 128 pixel square images, got {h}×{w} (set data.resolution)"
        )
    # spectral norm in G and D is part of BigGAN (Brock et al. 2019, section 3), whatever model.spectral_norm says
    G = BigGANGenerator(
        model.z_dim, c, h, model.g_hidden, num_classes, shared_dim=model.shared_dim, attention=model.attention, sn=True
    )
    D = BigGANDiscriminator(c, h, model.d_hidden, num_classes, attention=model.attention, sn=True)
    return G, D


@NETS.register("r3gan")
def _r3gan(model, data_shape: tuple[int, ...], num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    c, h, w = data_shape
    if h != w or h not in (28, 32, 64):
        raise ValueError(f"the R3GAN nets are for 28, 32 or 64 pixel square images, got {h}×{w} (set data.resolution)")
    return R3GANGenerator(model.z_dim, c, h, model.g_hidden, num_classes), R3GANDiscriminator(
        c, h, model.d_hidden, num_classes
    )


def build_nets(model, data_shape: tuple[int, ...], num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """(G, D) for the model config ``model`` (its ``name`` picks the builder), data of ``data_shape``
    and, for class-conditional networks, ``num_classes`` classes (0: unconditional)."""
    return NETS[model.name](model, data_shape, num_classes)
