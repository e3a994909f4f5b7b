"""Toy targets with exact densities: mixtures of axis-aligned Gaussians in 1 or 2 dimensions.

Every toy target is a :class:`GaussianMixture`, so its log-density, its sampler and the exact
probability mass of any grid cell (a product of normal CDF differences) come from one place.
The continuous ``spiral`` is a mixture too: 256 Gaussians spaced closer than their width along
an Archimedean spiral, which makes a smooth ribbon whose density is still exact.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from .registry import TARGETS

__all__ = ["GaussianMixture", "TARGETS", "make_target", "ring8", "grid25", "spiral", "mixture1d"]


class GaussianMixture:
    """p(x) = Σ_k w_k Π_j N(x_j; μ_kj, σ_kj²) for x in R^d; computations in float64.

    Args:
        weights: [K], non-negative, normalised here.
        means: [K, d].
        stds: [K, d] or [K] (isotropic), positive.
        name: shown in plots and metrics.
        discrete_modes: whether the components are separate modes to be counted
            (ring8, grid25) rather than pieces of one continuous shape.
    """

    def __init__(self, weights, means, stds, name: str = "mixture", discrete_modes: bool = False):
        w = torch.as_tensor(weights, dtype=torch.float64).flatten()
        mu = torch.as_tensor(means, dtype=torch.float64)
        if mu.dim() == 1:
            mu = mu[:, None]
        sd = torch.as_tensor(stds, dtype=torch.float64)
        if sd.dim() == 1:
            sd = sd[:, None].expand_as(mu)
        if not (len(w) == mu.shape[0] == sd.shape[0]):
            raise ValueError("weights, means and stds must have one entry per component")
        if (w < 0).any() or w.sum() <= 0 or (sd <= 0).any():
            raise ValueError("weights must be non-negative with a positive sum, stds positive")
        self.weights = w / w.sum()  # [K]
        self.means = mu.contiguous()  # [K, d]
        self.stds = sd.contiguous()  # [K, d]
        self.name = name
        self.discrete_modes = discrete_modes

    @property
    def dim(self) -> int:
        """The dimension d of the sample space."""
        return self.means.shape[1]

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) for x of shape [N, d] (or [N] when d = 1); returns [N] in float64."""
        x = torch.as_tensor(x, dtype=torch.float64)
        if x.dim() == 1:
            x = x[:, None]
        z = (x[:, None, :] - self.means) / self.stds  # [N, K, d]
        log_comp = -0.5 * z.square().sum(-1) - self.stds.log().sum(-1) - 0.5 * self.dim * math.log(2 * math.pi)
        return torch.logsumexp(log_comp + self.weights.log(), dim=1)

    def prob(self, x: Tensor) -> Tensor:
        """p(x), [N] in float64."""
        return self.log_prob(x).exp()

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n exact samples, [n, d] in float32: pick a component by weight, then add its noise."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (self.means[k] + self.stds[k] * eps).float()

    def cell_masses(self, edges: Sequence[Tensor]) -> Tensor:
        """Exact probability of each cell of a rectilinear grid.

        ``edges[j]`` holds the B_j + 1 bin edges of dimension j; the result has shape
        [B_1, ..., B_d] and sums to the mass inside the grid (≤ 1).
        """
        if len(edges) != self.dim:
            raise ValueError(f"need {self.dim} edge vectors, got {len(edges)}")
        out = None
        for k in range(len(self.weights)):
            per_dim = []
            for j, e in enumerate(edges):
                cdf = torch.special.ndtr((torch.as_tensor(e, dtype=torch.float64) - self.means[k, j]) / self.stds[k, j])
                per_dim.append(cdf[1:] - cdf[:-1])  # [B_j]
            cell = per_dim[0]
            for p in per_dim[1:]:
                cell = cell[..., None] * p  # outer product → [B_1, ..., B_j]
            out = self.weights[k] * cell if out is None else out + self.weights[k] * cell
        assert out is not None  # the constructor refuses a mixture without components
        return out

    def bounds(self, n_std: float = 6.0) -> tuple[Tensor, Tensor]:
        """A box [lo, hi] (each [d]) holding all but a negligible part of the mass."""
        lo = (self.means - n_std * self.stds).min(0).values
        hi = (self.means + n_std * self.stds).max(0).values
        return lo, hi


# TARGETS is gankit.registry's, which declares these names so that a config is checked without torch


@TARGETS.register("ring8")
def ring8(radius: float = 2.0, std: float = 0.02) -> GaussianMixture:
    """8 equal modes at angles 2πk/8 on a circle of radius 2, σ = 0.02 (VEEGAN, PacGAN)."""
    ang = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    means = radius * torch.stack([ang.cos(), ang.sin()], 1)
    return GaussianMixture(
        torch.ones(8), means, torch.full((8,), std, dtype=torch.float64), "ring8", discrete_modes=True
    )


@TARGETS.register("grid25")
def grid25(std: float = 0.05) -> GaussianMixture:
    """25 equal modes at {−4, −2, 0, 2, 4}², σ = 0.05."""
    c = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0], dtype=torch.float64)
    means = torch.cartesian_prod(c, c)
    return GaussianMixture(
        torch.ones(25), means, torch.full((25,), std, dtype=torch.float64), "grid25", discrete_modes=True
    )


@TARGETS.register("spiral")
def spiral(n_components: int = 256, std: float = 0.1) -> GaussianMixture:
    """A continuous ribbon: equal Gaussians evenly spaced by arc length along the spiral
    r = 0.5 + 3t, θ = 3πt + π/2, t ∈ [0, 1] (about 19 units long).

    Neighbouring centres are about 0.075 apart, less than σ = 0.1, so the density has no gaps
    along the curve, while the arms (2 apart) stay separate.
    """
    t = torch.linspace(0, 1, 20001, dtype=torch.float64)
    r, th = 0.5 + 3.0 * t, 3 * math.pi * t + math.pi / 2
    curve = torch.stack([r * th.cos(), r * th.sin()], 1)  # [T, 2]
    arc = torch.cat([torch.zeros(1, dtype=torch.float64), (curve[1:] - curve[:-1]).norm(dim=1).cumsum(0)])
    idx = torch.searchsorted(arc, torch.linspace(0, float(arc[-1]), n_components, dtype=torch.float64))
    means = curve[idx.clamp(max=len(t) - 1)]
    return GaussianMixture(
        torch.ones(n_components), means, torch.full((n_components,), std, dtype=torch.float64), "spiral"
    )


@TARGETS.register("mixture1d")
def mixture1d(weights: Sequence[float], means: Sequence[float], stds: Sequence[float]) -> GaussianMixture:
    """A 1-D Gaussian mixture given by its weights, means and standard deviations."""
    return GaussianMixture(weights, means, stds, "mixture1d", discrete_modes=len(weights) > 1)


def make_target(name: str, **params) -> GaussianMixture:
    """Build the toy target registered as ``name`` (``params`` go to its builder)."""
    return TARGETS[name](**params)
