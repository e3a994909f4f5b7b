"""DCGAN (Radford et al. 2016) for 8, 16, 28, 32 and 64-pixel images, optionally class-conditional.

At 64 pixels with width 64 these are the networks of pytorch/examples ``dcgan``: G goes from
z [B, z_dim, 1, 1] to 4×4 with a transposed convolution, then doubles the size with
ConvTranspose(4, 2, 1) + BN + ReLU blocks while halving the channels, ending in tanh; D mirrors
it with Conv(4, 2, 1) + BN + LeakyReLU(0.2) and a last 4×4 convolution to one logit. Other
sizes start from 4×4 (7×7 for 28 pixels) and use as many doubling blocks as needed.

Class-conditional variants feed G a class embedding beside z and use conditional batch norm in
its blocks, and add a projection term to D (Miyato & Koyama 2018).
With spectral norm, D drops batch norm (as in SNGAN's "standard CNN"); ``batch_norm=False`` drops
it from both (no batch statistics: per-sample outputs, the same under any split of the batch).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .layers import ConditionalBatchNorm2d, Projection, check_labels, maybe_sn

RESOLUTIONS = (8, 16, 28, 32, 64)


def plan(resolution: int) -> tuple[int, int]:
    """(s0, n): start at s0 × s0 and double n times to reach ``resolution``."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"DCGAN supports resolutions {RESOLUTIONS}, got {resolution}")
    s0 = 7 if resolution == 28 else 4
    return s0, round(math.log2(resolution // s0))


class DCGANGenerator(nn.Module):
    """G: z [B, z_dim] (and y [B] if conditional) → x [B, C, R, R] in [−1, 1]."""

    def __init__(
        self, z_dim: int, channels: int, resolution: int, width: int = 64, num_classes: int = 0, batch_norm: bool = True
    ):
        super().__init__()
        s0, n = plan(resolution)
        self.z_dim, self.num_classes = z_dim, num_classes
        chans = [width * 2 ** (n - 1 - i) for i in range(n)]  # e.g. 64 px: [512, 256, 128, 64]
        # A conditional G also sees its class directly: a learned embedding concatenated to z.
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        z_in = 2 * z_dim if num_classes else z_dim
        self.first = nn.ConvTranspose2d(z_in, chans[0], s0, 1, 0, bias=False)  # [B, c0, s0, s0]
        self.norms = nn.ModuleList([ConditionalBatchNorm2d(c, num_classes, batch_norm) for c in chans])
        self.ups = nn.ModuleList([nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False) for a, b in zip(chans, chans[1:])])
        self.last = nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1, bias=False)
        self.act = nn.ReLU()

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(y, self.num_classes, "DCGANGenerator")
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # [B, 2·z_dim]
        h = self.act(self.norms[0](self.first(z[:, :, None, None]), y))
        for up, norm in zip(self.ups, self.norms[1:]):
            h = self.act(norm(up(h), y))  # doubles H and W
        return torch.tanh(self.last(h))


class DCGANDiscriminator(nn.Module):
    """D: x [B, C, R, R] (and y [B] if conditional) → logits [B]."""

    def __init__(
        self,
        channels: int,
        resolution: int,
        width: int = 64,
        num_classes: int = 0,
        spectral_norm: bool = False,
        batch_norm: bool = True,
    ):
        super().__init__()
        s0, n = plan(resolution)
        self.num_classes = num_classes
        chans = [width * 2**i for i in range(n)]  # e.g. 64 px: [64, 128, 256, 512]
        layers: list[nn.Module] = [
            maybe_sn(nn.Conv2d(channels, chans[0], 4, 2, 1, bias=spectral_norm), spectral_norm),
            nn.LeakyReLU(0.2),
        ]
        for a, b in zip(chans, chans[1:]):
            layers.append(maybe_sn(nn.Conv2d(a, b, 4, 2, 1, bias=spectral_norm), spectral_norm))
            if batch_norm and not spectral_norm:
                layers.append(nn.BatchNorm2d(b))
            layers.append(nn.LeakyReLU(0.2))
        self.features = nn.Sequential(*layers)  # [B, c_last, s0, s0]
        self.last = maybe_sn(nn.Conv2d(chans[-1], 1, s0, 1, 0, bias=spectral_norm), spectral_norm)
        self.project = Projection(chans[-1], num_classes, spectral_norm)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(y, self.num_classes, "DCGANDiscriminator")
        h = self.features(x)
        return self.last(h).flatten() + self.project(h.sum(dim=(2, 3)), y)
