"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to real and fake alike.

Because the same random transformations are applied to both batches before D and are
differentiable, G gets gradients through them and does not learn to produce augmented images.
Every function maps x [B, C, H, W] (in [−1, 1]) to the same shape, with randomness per sample.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["POLICIES", "diff_augment"]


def _uniform(x: Tensor, lo: float, hi: float) -> Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) * (hi - lo) + lo


def color(x: Tensor) -> Tensor:
    """Brightness + U(−½, ½); saturation × U(0, 2) around the pixel's channel mean; contrast × U(½, 3/2)."""
    x = x + _uniform(x, -0.5, 0.5)
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * _uniform(x, 0.0, 2.0) + m
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * _uniform(x, 0.5, 1.5) + m


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to ``ratio`` of its size in each direction, filling with zeros."""
    b, c, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    tx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    # Source row/column of each output pixel in the zero-padded image (index 0 and h+1 are padding).
    gy = (torch.arange(h, device=x.device).view(1, h, 1) - ty + 1).clamp(0, h + 1).expand(b, h, w)
    gx = (torch.arange(w, device=x.device).view(1, 1, w) - tx + 1).clamp(0, w + 1).expand(b, h, w)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # [B, H+2, W+2, C]
    out = padded[torch.arange(b, device=x.device).view(b, 1, 1), gy, gx]  # [B, H, W, C]
    return out.permute(0, 3, 1, 2)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero a square of ``ratio`` × the image size at a random place in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device) - ch // 2
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device) - cw // 2
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= oy) & (ys < oy + ch) & (xs >= ox) & (xs < ox + cw)  # [B, H, W]
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES: dict[str, Callable[[Tensor], Tensor]] = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: Tensor, policy: str) -> Tensor:
    """Apply the comma-separated ``policy`` (e.g. ``"color,translation,cutout"``); "" is the identity."""
    for name in filter(None, policy.split(",")):
        x = POLICIES[name](x)
    return x
