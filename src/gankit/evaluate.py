"""Sampling a generator and measuring it: the numbers the loop logs at evaluation steps."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .distributions import GaussianMixture
from .metrics.toy import grid_edges, grid_jsd, histogram_masses, mode_stats
from .theory import pushforward_masses_1d

__all__ = ["generate", "run_generator", "truncated_noise", "evaluate_toy"]


def truncated_noise(n: int, z_dim: int, truncation: float | None, gen: torch.Generator | None) -> Tensor:
    """z ~ N(0, I) [n, z_dim]; with ``truncation`` T, entries with |z| > T are redrawn until within
    (the truncation trick of BigGAN, Brock et al. 2019: fidelity for diversity)."""
    z = torch.randn(n, z_dim, generator=gen)
    if truncation is not None:
        if truncation <= 0:
            raise ValueError("truncation must be positive")
        while (bad := z.abs() > truncation).any():
            z[bad] = torch.randn(int(bad.sum()), generator=gen)
    return z


@torch.no_grad()
def run_generator(G: nn.Module, z: Tensor, y: Tensor | None = None, chunk: int = 65536) -> Tensor:
    """G(z[, y]) in eval mode (batch norm on its running statistics), chunk by chunk, as a CPU
    float32 tensor; G's train/eval mode is restored afterwards."""
    param = next(G.parameters())
    was_training = G.training
    G.eval()
    ys = [None] * len(z.split(chunk)) if y is None else [c.to(param.device) for c in y.split(chunk)]
    out = torch.cat([G(c.to(param.device, param.dtype), yc).float().cpu() for c, yc in zip(z.split(chunk), ys)])
    G.train(was_training)
    return out


def generate(G: nn.Module, n: int, z_dim: int, seed: int | None = None, y: Tensor | None = None,
             truncation: float | None = None) -> Tensor:
    """n samples of G as a CPU float32 tensor [n, ...]; z ~ N(0, I) from its own generator.

    ``y`` [n] are class labels for a conditional G. With a seed the same call gives the same
    samples, and the global RNG (which drives training) is left untouched.
    """
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return run_generator(G, truncated_noise(n, z_dim, truncation, gen), y)


def evaluate_toy(
    G: nn.Module, target: GaussianMixture, z_dim: int, n_modes: int = 2500, n_jsd: int = 50000, seed: int = 12345
) -> dict[str, float]:
    """Toy metrics of G against its target.

    ``toy/jsd``: JSD(p_data ‖ p_g) in nats between cell masses (400 bins in 1-D, 64×64 in 2-D,
    over the box holding the target's mass ± 6σ). p_data's masses are exact; p_g's come from
    pushing a quadrature grid over z through G when both are 1-D, else from ``n_jsd`` samples.
    For targets with separate modes, the VEEGAN/PacGAN protocol on ``n_modes`` samples:
    ``toy/high_quality``, ``toy/modes``, ``toy/kl_uniform``.
    """
    lo, hi = target.bounds()
    edges = grid_edges(lo, hi, 400 if target.dim == 1 else 64)
    p = target.cell_masses(edges)
    if target.dim == 1 and z_dim == 1:
        q = pushforward_masses_1d(G, edges[0], n_z=2**18)
    else:
        q = histogram_masses(generate(G, n_jsd, z_dim, seed=seed), edges)
    out = {"toy/jsd": grid_jsd(p, q)}
    if target.discrete_modes:
        x = generate(G, n_modes, z_dim, seed=seed + 1)
        ms = mode_stats(x, target.means, target.stds[:, 0])
        out.update({f"toy/{k}": v for k, v in ms.items()})
    return out
