"""Theorem 1 at the end of training: p_g = p_data, D = 1/2 where p_data lives, C(G) = −log 4."""

from __future__ import annotations

import torch
from torch import nn

from ..exact import LOG4, jsd, virtual_training_criterion
from .claims import Claim
from .grid import Grid, with_rest

__all__ = ["equilibrium_claims"]


def equilibrium_claims(grid: Grid, G: nn.Module, D: nn.Module, steps: int) -> list[Claim]:
    """The trained G and D after ``steps`` steps: JSD(p_data ‖ p_g) ≤ 0.02 nats, D(x) within 0.1 of 1/2 on
    the 95% highest-density region of p_data, and C(G) within 0.05 of −log 4."""
    p_g_end = grid.p_g(G)  # [B]
    jsd_end = jsd(with_rest(grid.p_data), with_rest(p_g_end)).item()
    rows = [Claim(f"after {steps} steps of training: JSD(p_data || p_g) in nats", 0.0, jsd_end, 0.02, jsd_end <= 0.02)]
    order = torch.argsort(grid.p_data, descending=True)
    core = torch.zeros_like(grid.p_data, dtype=torch.bool)
    core[order[: int((grid.p_data[order].cumsum(0) < 0.95).sum()) + 1]] = True  # 95% highest-density bins
    d_end = torch.sigmoid(grid.logits(D))[core]
    far = d_end[(d_end - 0.5).abs().argmax()].item()
    rows.append(
        Claim(
            "after training: D(x) on the 95% highest-density region of p_data (value farthest from 1/2)",
            0.5,
            far,
            0.1,
            abs(far - 0.5) <= 0.1,
        )
    )
    c_end = virtual_training_criterion(with_rest(grid.p_data), with_rest(p_g_end)).item()
    rows.append(Claim("after training: C(G) = max_D V(D,G) = -log 4", -LOG4, c_end, 0.05, abs(c_end + LOG4) <= 0.05))
    return rows
