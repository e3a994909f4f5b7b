"""R3GAN (Huang, Gokaslan, Kuleshov & Tompkin, "The GAN is dead; long live the GAN! A Modern GAN Baseline",
NeurIPS 2024): the config-E networks for 28, 32 and 64-pixel images, optionally class-conditional.

Both nets are stacks of stages, one per resolution, made of residual blocks without any normalisation: 1×1 conv
(C → expansion·C), leaky ReLU(0.2), grouped 3×3 conv (``group_size`` channels per group), leaky ReLU, 1×1 conv
(back to C), added to the input. Between stages a transition layer resamples by 2 and changes the channels (where
they differ) with a 1×1 conv. G: z (next to a class embedding when conditional) → linear → scales a learned
constant basis (4×4, or 7×7 at 28 px) channel by channel → stages, each up-sampling → 1×1 conv to the image
channels, linear (no tanh, as in the reference). D: 1×1 conv from the image → stages, each down-sampling → a
depthwise basis-sized conv that collapses the last stage to a vector → linear to 1 logit; conditional D maps to
an embedding instead and takes its inner product with the class embedding (a projection discriminator).

Initialisation is the paper's fix-up style (reference code: brownvc/R3GAN, ``MSRInitializer``): every weight
N(0, gain²/fan_in), gain 1 for linear layers; the first two convs of a residual branch get the leaky-ReLU gain
√(2/(1 + 0.2²)) times L^(−1/(2m − 2)) = L^(−1/4) (L: residual blocks in the net, m = 3 layers per branch) and
the last one is zero, so every branch starts as the identity and the net's variance does not grow with L.

Simplifications relative to brownvc/R3GAN: resampling uses ``F.interpolate(mode="bilinear")`` (down-sampling
with ``antialias=True``) instead of upfirdn2d with the [1, 2, 1] → [1, 3, 3, 1] low-pass filter: inside the image
both are the same filter (``tests/test_r3gan.py`` checks it), only the borders differ (edge clamping and
renormalised weights here, zero padding there); the biases of the reference's fused biased activations are the
biases of the convs before them (the same function); the class embeddings are ``nn.Embedding`` lookups, which is
what a bias-free linear layer on a one-hot vector computes; no mixed precision and no fused CUDA kernels.
"""

from __future__ import annotations

import math
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import check_labels

__all__ = ["R3GANGenerator", "R3GANDiscriminator"]

# resolution → (side of the basis, channel multiplier of each stage from the basis up); stage i has
# multiplier[i] × width channels. 32 px is the reference's CIFAR-10 / ImageNet-32 plan (four equal stages), 64 px
# its FFHQ-64 plan (the 64-px stage at half the width of the others), 28 px (MNIST-like) starts from 7×7.
STAGES: dict[int, tuple[int, tuple[int, ...]]] = {
    28: (7, (1, 1, 1)),  # 7 → 14 → 28
    32: (4, (1, 1, 1, 1)),  # 4 → 8 → 16 → 32
    64: (4, (2, 2, 2, 2, 1)),  # 4 → 8 → 16 → 32 → 64
}
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2 / (1 + LRELU_SLOPE**2))  # keeps the second moment through a leaky ReLU
LAYERS_PER_BLOCK = 3  # m in the fix-up scaling L^(−1/(2m − 2))

Layer = TypeVar("Layer", nn.Conv2d, nn.Linear)


def _plan(resolution: int, blocks_per_stage: int, who: str) -> tuple[int, tuple[int, ...]]:
    """(basis side, stage multipliers) for ``resolution``; a ValueError names what is not supported."""
    if resolution not in STAGES:
        raise ValueError(f"{who} is defined for {sorted(STAGES)}-pixel images, got resolution={resolution}")
    if blocks_per_stage < 1:
        raise ValueError(f"{who}: blocks_per_stage must be at least 1, got {blocks_per_stage}")
    return STAGES[resolution]


def _msr_init(layer: Layer, gain: float = 1.0) -> Layer:
    """Weight ~ N(0, gain² / fan_in), bias 0 (the reference's ``MSRInitializer``); returns ``layer``.

    fan_in = the inputs one output sees: in_features, or (in_channels / groups) · kh · kw.
    """
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _class_embedding(num_classes: int, dim: int, gain: float) -> nn.Embedding:
    """Class → [dim] vector: the reference's bias-free linear layer on the one-hot class (fan_in = num_classes)."""
    embed = nn.Embedding(num_classes, dim)
    nn.init.normal_(embed.weight, 0.0, gain / math.sqrt(num_classes))
    return embed


def _groups(channels: int, group_size: int, who: str) -> int:
    """Groups of the 3×3 conv: ``channels`` / ``group_size``, or a single group when ``channels`` ≤ ``group_size``.

    The reference keeps 16 channels per group at every stage and width (its cardinality is the expanded width
    / 16); a wider ``channels`` that ``group_size`` does not divide is refused rather than given other groups.
    """
    if group_size < 1:
        raise ValueError(f"{who}: group_size must be at least 1, got {group_size}")
    if channels > group_size and channels % group_size:
        raise ValueError(
            f"{who}: the expanded width {channels} (width × stage multiplier × expansion) is not a multiple of "
            f"group_size={group_size}: choose a width whose expansion is"
        )
    return max(1, channels // group_size)


def _upsample(x: Tensor) -> Tensor:
    """[B, C, H, W] → [B, C, 2H, 2W]: bilinear, the [1, 3, 3, 1] filter of the reference inside the image."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def _downsample(x: Tensor) -> Tensor:
    """[B, C, H, W] → [B, C, H/2, W/2]: antialiased bilinear, whose tent is the [1, 3, 3, 1] / 8 low-pass filter.

    Without ``antialias`` a bilinear ×½ is a 2×2 box average, which aliases more than the reference.
    """
    return F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False, antialias=True)


class ResidualBlock(nn.Module):
    """x + conv1×1(lrelu(grouped conv3×3(lrelu(conv1×1(x))))): [B, C, H, W] → [B, C, H, W], no normalisation.

    The branch widens to ``expansion`` · C channels, in groups of ``group_size``. ``num_blocks`` (L, the
    residual blocks of the whole net) scales the init of the first two convs by L^(−1/4); the last conv starts
    at zero, so the block starts as the identity. The biases of the first two convs (zero at first) are the
    reference's biased activations.
    """

    def __init__(self, channels: int, expansion: int, group_size: int, num_blocks: int, who: str = "R3GAN"):
        super().__init__()
        wide = channels * expansion
        gain = LRELU_GAIN * num_blocks ** (-1 / (2 * LAYERS_PER_BLOCK - 2))
        self.conv1 = _msr_init(nn.Conv2d(channels, wide, 1), gain)
        self.conv2 = _msr_init(nn.Conv2d(wide, wide, 3, padding=1, groups=_groups(wide, group_size, who)), gain)
        self.conv3 = nn.Conv2d(wide, channels, 1, bias=False)
        nn.init.zeros_(self.conv3.weight)  # branch = 0: the identity at the start

    def forward(self, x: Tensor) -> Tensor:
        h = F.leaky_relu(self.conv1(x), LRELU_SLOPE)  # [B, eC, H, W]
        h = F.leaky_relu(self.conv2(h), LRELU_SLOPE)  # [B, eC, H, W], each group mixes only its own channels
        return x + self.conv3(h)


class Transition(nn.Module):
    """Between two stages: resample by 2 and change the channels with a bias-free 1×1 conv (none if equal).

    ``up``: [B, C, H, W] → [B, C', 2H, 2W], the conv first; otherwise → [B, C', H/2, W/2], the conv last: either
    way the conv runs at the lower resolution, where it is 4 times cheaper.
    """

    def __init__(self, cin: int, cout: int, up: bool):
        super().__init__()
        self.up = up
        self.conv = _msr_init(nn.Conv2d(cin, cout, 1, bias=False)) if cin != cout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return _upsample(self.conv(x)) if self.up else self.conv(_downsample(x))


class GenerativeBasis(nn.Module):
    """G's first layer: z [B, in_dim] → basis [C, S, S] scaled per channel by a linear map of z → [B, C, S, S]."""

    def __init__(self, in_dim: int, channels: int, size: int):
        super().__init__()
        self.basis = nn.Parameter(torch.randn(channels, size, size))  # N(0, 1), learned
        self.fc = _msr_init(nn.Linear(in_dim, channels, bias=False))

    def forward(self, z: Tensor) -> Tensor:
        return self.basis[None] * self.fc(z)[:, :, None, None]


class DiscriminativeBasis(nn.Module):
    """D's last layer: [B, C, S, S] → depthwise S×S conv (one S×S filter per channel) → [B, C] → linear → [B, out]."""

    def __init__(self, channels: int, out_dim: int, size: int):
        super().__init__()
        self.conv = _msr_init(nn.Conv2d(channels, channels, size, groups=channels, bias=False))
        self.fc = _msr_init(nn.Linear(channels, out_dim, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.conv(x).flatten(1))  # the valid S×S conv leaves [B, C, 1, 1]


class R3GANGenerator(nn.Module):
    """G: z [B, z_dim] (and y [B] int64 if conditional) → x [B, C, R, R], R ∈ {28, 32, 64}; linear output.

    Stages (``STAGES``): 28 px: 7, 14, 28 at width × (1, 1, 1) channels; 32 px: 4, 8, 16, 32 at width × (1, 1, 1,
    1); 64 px: 4, 8, 16, 32, 64 at width × (2, 2, 2, 2, 1). The first stage is the basis, the others start with
    an up-sampling transition; each holds ``blocks_per_stage`` residual blocks. Conditional: an ``embed_dim``-wide
    class embedding (default z_dim, as the reference) is concatenated to z. There is no tanh: like the reference,
    G's last layer is a 1×1 conv, and nothing bounds x to [−1, 1].
    """

    def __init__(
        self,
        z_dim: int,
        channels: int,
        resolution: int,
        width: int,
        num_classes: int = 0,
        blocks_per_stage: int = 2,
        expansion: int = 2,
        group_size: int = 16,
        embed_dim: int = 0,
    ):
        super().__init__()
        size, mults = _plan(resolution, blocks_per_stage, "R3GANGenerator")
        widths = [m * width for m in mults]
        self.z_dim, self.num_classes = z_dim, num_classes
        self.embed_dim = (embed_dim or z_dim) if num_classes else 0
        self.embed = _class_embedding(num_classes, self.embed_dim, 1.0) if num_classes else None
        self.basis = GenerativeBasis(z_dim + self.embed_dim, widths[0], size)
        num_blocks = blocks_per_stage * len(widths)
        stages = []
        for i, c in enumerate(widths):
            layers: list[nn.Module] = [Transition(widths[i - 1], c, up=True)] if i else []
            layers += [
                ResidualBlock(c, expansion, group_size, num_blocks, "R3GANGenerator") for _ in range(blocks_per_stage)
            ]
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.out = _msr_init(nn.Conv2d(widths[-1], channels, 1, bias=False))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(y, self.num_classes, "R3GANGenerator")
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # [B, z_dim + embed_dim]
        h = self.stages(self.basis(z))  # [B, width × last multiplier, R, R]
        return self.out(h)  # linear, as the reference: no tanh


class R3GANDiscriminator(nn.Module):
    """D: x [B, C, R, R] (and y [B] int64 if conditional) → logits [B], R ∈ {28, 32, 64}.

    G's stages in reverse (see ``R3GANGenerator``): a 1×1 conv from the image to the first stage's channels, then
    per stage ``blocks_per_stage`` residual blocks and a down-sampling transition (the last stage ends with the
    basis layer instead). Unconditional: the basis layer gives the logit. Conditional: it gives an
    ``embed_dim``-wide vector φ (default: the last stage's channels, as the reference) and the logit is ⟨φ, e(y)⟩
    with a class embedding e initialised with gain 1/√embed_dim (the reference's way to scale the inner product).
    """

    def __init__(
        self,
        channels: int,
        resolution: int,
        width: int,
        num_classes: int = 0,
        blocks_per_stage: int = 2,
        expansion: int = 2,
        group_size: int = 16,
        embed_dim: int = 0,
    ):
        super().__init__()
        size, mults = _plan(resolution, blocks_per_stage, "R3GANDiscriminator")
        widths = [m * width for m in reversed(mults)]
        self.num_classes = num_classes
        self.embed_dim = (embed_dim or widths[-1]) if num_classes else 0
        self.inp = _msr_init(nn.Conv2d(channels, widths[0], 1, bias=False))
        num_blocks = blocks_per_stage * len(widths)
        stages = []
        for i, c in enumerate(widths):
            layers: list[nn.Module] = [
                ResidualBlock(c, expansion, group_size, num_blocks, "R3GANDiscriminator")
                for _ in range(blocks_per_stage)
            ]
            if i + 1 < len(widths):
                layers.append(Transition(c, widths[i + 1], up=False))
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.basis = DiscriminativeBasis(widths[-1], self.embed_dim or 1, size)
        gain = 1 / math.sqrt(self.embed_dim) if num_classes else 1.0
        self.embed = _class_embedding(num_classes, self.embed_dim, gain) if num_classes else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(y, self.num_classes, "R3GANDiscriminator")
        phi = self.basis(self.stages(self.inp(x)))  # [B, embed_dim] if conditional, else [B, 1]
        if self.embed is not None:
            return (phi * self.embed(y)).sum(dim=1)  # projection onto the class embedding
        return phi.squeeze(1)
