"""Metrics for toy targets: the mode protocol of VEEGAN/PacGAN, and JSD on a grid."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..exact import jsd

__all__ = ["mode_counts", "mode_stats", "grid_edges", "histogram_masses", "grid_jsd"]


def mode_counts(samples: Tensor, modes: Tensor, std: float | Tensor) -> tuple[Tensor, float]:
    """Per mode, the number of high-quality samples (within 3σ of their nearest mode) whose nearest mode it
    is [K] (float64), and the share of ``samples`` [N, d] that are high quality; arguments as :func:`mode_stats`."""
    s = samples.to(torch.float64)
    m = modes.to(torch.float64)
    dist = torch.cdist(s, m)  # [N, K]
    d_min, nearest = dist.min(dim=1)
    std = torch.as_tensor(std, dtype=torch.float64).expand(len(m))
    hq = d_min <= 3.0 * std[nearest]
    return torch.bincount(nearest[hq], minlength=len(m)).double(), hq.double().mean().item()


def mode_stats(samples: Tensor, modes: Tensor, std: float | Tensor) -> dict[str, float]:
    """The VEEGAN (Srivastava et al. 2017) / PacGAN (Lin et al. 2018) protocol.

    Args:
        samples: [N, d] generated points (the protocol uses N = 2,500).
        modes: [K, d] the mode centres of the target.
        std: the modes' standard deviation σ, one for all or [K], one per mode.

    Returns ``high_quality`` (share of samples within 3σ of their nearest mode), ``modes``
    (number of modes that are the nearest mode of at least one high-quality sample) and
    ``kl_uniform`` (KL of the high-quality samples' mode histogram from uniform, in nats;
    NaN when no sample is high-quality).
    """
    counts, high_quality = mode_counts(samples, modes, std)
    n_hq = counts.sum()
    if n_hq > 0:
        p = counts / n_hq
        kl_u = (torch.xlogy(p, p) + p * math.log(len(counts))).sum().item()
    else:
        kl_u = float("nan")
    return {
        "high_quality": high_quality,
        "modes": int((counts > 0).sum().item()),
        "kl_uniform": kl_u,
    }


def grid_edges(lo: Tensor, hi: Tensor, bins: int) -> list[Tensor]:
    """``bins + 1`` equally spaced edges per dimension of the box [lo, hi]."""
    return [torch.linspace(float(a), float(b), bins + 1, dtype=torch.float64) for a, b in zip(lo, hi)]


def histogram_masses(samples: Tensor, edges: list[Tensor]) -> Tensor:
    """Share of ``samples`` [N, d] in each cell of the grid given by ``edges`` ([B_1, ..., B_d])."""
    s = samples.to(torch.float64)
    shape = [len(e) - 1 for e in edges]
    flat = torch.zeros(len(s), dtype=torch.long)
    inside = torch.ones(len(s), dtype=torch.bool)
    for j, e in enumerate(edges):
        idx = torch.bucketize(s[:, j].contiguous(), e, right=True) - 1
        inside &= (idx >= 0) & (idx < shape[j])
        flat = flat * shape[j] + idx.clamp(0, shape[j] - 1)
    counts = torch.bincount(flat[inside], minlength=math.prod(shape)).double()
    return (counts / len(s)).reshape(shape)


def grid_jsd(p_masses: Tensor, q_masses: Tensor) -> float:
    """JSD between two sets of cell masses, with the mass outside the grid as one more cell.

    By the data-processing inequality this is a lower bound on the JSD of the continuous
    densities; it approaches it as the cells shrink (and, for estimated masses, as samples grow).
    """
    p = torch.cat([p_masses.flatten(), (1 - p_masses.sum()).clamp(min=0).reshape(1)])
    q = torch.cat([q_masses.flatten(), (1 - q_masses.sum()).clamp(min=0).reshape(1)])
    return jsd(p, q).item()
