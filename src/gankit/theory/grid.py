"""The 1-D grid every density experiment is measured on: bin masses of p_data (exact) and of p_g (G's
push-forward of a quadrature grid over z), D* from them, and D's logits at the bin centres."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..distributions import GaussianMixture
from ..exact import pushforward_masses_1d

__all__ = ["Grid", "with_rest", "gauss"]


class Grid:
    """Bins for the 1-D experiment: edges [B+1], centres [B], exact p_data masses [B]."""

    def __init__(self, target: GaussianMixture, bins: int = 2000):
        lo, hi = (float(v) for v in target.bounds(6.0))
        pad = 0.75 * (hi - lo)
        self.edges = torch.linspace(lo - pad, hi + pad, bins + 1, dtype=torch.float64)
        self.centres = 0.5 * (self.edges[1:] + self.edges[:-1])
        self.width = float(self.edges[1] - self.edges[0])
        self.p_data = target.cell_masses([self.edges])

    def p_g(self, G: nn.Module, n_z: int = 2**20) -> Tensor:
        """p_g's mass in each bin [B], float64: a quadrature grid of ``n_z`` points over z ~ N(0, 1) pushed
        through G (:func:`gankit.exact.pushforward_masses_1d`); mass outside the grid is not counted."""
        return pushforward_masses_1d(G, self.edges, n_z=n_z)

    def d_star(self, p_g: Tensor, min_mass: float = 0.0, fill: float = 0.5) -> Tensor:
        """D* = p_data/(p_data + p_g) per bin, from bin masses; ``fill`` where p_data + p_g ≤ ``min_mass``
        (a ratio of two vanishing masses is noise, and undefined where both are 0)."""
        both = self.p_data + p_g
        return torch.where(both > min_mass, self.p_data / both.clamp(min=1e-300), torch.full_like(both, fill))

    @torch.no_grad()
    def logits(self, D: nn.Module) -> Tensor:
        """D's logit f at the bin centres [B], float64 (D(x) = σ(f))."""
        return D(self.centres[:, None].float()).double()


def with_rest(p: Tensor) -> Tensor:
    """Masses plus one cell for whatever fell outside the grid, so they sum to 1."""
    return torch.cat([p, (1 - p.sum()).clamp(min=0).reshape(1)])


def gauss(mu: float, sd: float) -> GaussianMixture:
    """N(mu, sd²) as a one-component mixture."""
    return GaussianMixture([1.0], [mu], [sd])
