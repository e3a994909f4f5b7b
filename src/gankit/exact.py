"""The quantities of GAN theory, computed by quadrature on a grid (float64 throughout).

Densities are given by their values on grid points, and integrals are Σ_i w_i f(x_i) with
quadrature weights w (Simpson's rule for smooth densities on a 1-D grid, cell areas for a
histogram). Pass ``w=None`` when p and q are already probability masses of grid cells.

Goodfellow et al. (2014):
    V(D, G)  = ∫ p_data(x) log D(x) + p_g(x) log(1 − D(x)) dx                        (eq. 1)
    D*(x)    = p_data(x) / (p_data(x) + p_g(x)),   logit D* = log p_data − log p_g   (Prop. 1)
    C(G)     = V(D*, G) = −log 4 + 2·JSD(p_data ‖ p_g)                              (Thm. 1)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "LOG4",
    "simpson_grid",
    "optimal_logit",
    "optimal_discriminator",
    "value",
    "virtual_training_criterion",
    "kl",
    "jsd",
    "pushforward_masses_1d",
    "gaussian_quantile",
    "wasserstein1_1d",
    "density_descent",
]

LOG4 = math.log(4.0)


def simpson_grid(lo: float, hi: float, n: int = 20001) -> tuple[Tensor, Tensor]:
    """Points x [n] and composite-Simpson weights w [n] on [lo, hi] (n is made odd)."""
    n += 1 - n % 2
    x = torch.linspace(lo, hi, n, dtype=torch.float64)
    h = (hi - lo) / (n - 1)
    w = torch.full((n,), 2.0, dtype=torch.float64)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return x, w * h / 3.0


def _integrate(f: Tensor, w: Tensor | None) -> Tensor:
    return f.sum() if w is None else (f * w).sum()


def optimal_logit(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """f*(x) = log p_data(x) − log p_g(x), the logit of the optimal discriminator."""
    return log_p_data - log_p_g


def optimal_discriminator(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """D*(x) = p_data / (p_data + p_g) = σ(log p_data − log p_g), computed without overflow."""
    return torch.sigmoid(optimal_logit(log_p_data, log_p_g))


def value(p_data: Tensor, p_g: Tensor, logit: Tensor, w: Tensor | None = None) -> Tensor:
    """V(D, G) = ∫ p_data log σ(f) + p_g log(1 − σ(f)) for D = σ(f), on a grid (eq. 1).

    Written with softplus: log σ(f) = −softplus(−f), log(1 − σ(f)) = −softplus(f). Where a
    density is zero its term is zero even if the logit is infinite.
    """
    a = torch.where(p_data > 0, p_data * -F.softplus(-logit), torch.zeros_like(p_data))
    b = torch.where(p_g > 0, p_g * -F.softplus(logit), torch.zeros_like(p_g))
    return _integrate(a + b, w)


def virtual_training_criterion(p_data: Tensor, p_g: Tensor, w: Tensor | None = None) -> Tensor:
    """C(G) = max_D V(D, G) = V(D*, G), evaluated with the optimal logit log(p_data/p_g)."""
    return value(p_data, p_g, p_data.log() - p_g.log(), w)


def kl(p: Tensor, q: Tensor, w: Tensor | None = None) -> Tensor:
    """KL(p ‖ q) = ∫ p log(p/q), with 0·log 0 = 0; in nats."""
    return _integrate(torch.xlogy(p, p) - torch.xlogy(p, q), w)


def jsd(p: Tensor, q: Tensor, w: Tensor | None = None) -> Tensor:
    """JSD(p ‖ q) = ½KL(p ‖ m) + ½KL(q ‖ m), m = (p + q)/2; in nats, between 0 and log 2."""
    # m ≥ max(p, q)/2 > 0 wherever p or q is; the clamp keeps that true when p/2 underflows.
    m = (0.5 * (p + q)).clamp(min=torch.finfo(p.dtype).tiny)
    return 0.5 * kl(p, m, w) + 0.5 * kl(q, m, w)


@torch.no_grad()
def pushforward_masses_1d(generator, edges: Tensor, n_z: int = 2**20, z_dim: int = 1) -> Tensor:
    """p_g of a 1-D generator as probability masses of the bins given by ``edges`` [B + 1].

    For z_dim = 1 the latent z ~ N(0, 1) is cut into n_z cells of equal probability and each is
    represented by its median z_i = Φ⁻¹((i + ½)/n_z); the cells are pushed through G and counted
    into bins. Error bound: a bin's mass is exact up to the cells that straddle its two edges, so
    it is off by at most m/n_z, where m is the number of times x = G(z) crosses those edges (2 for
    a monotone G), i.e. about 2·10⁻⁶ per bin at the default n_z. For z_dim > 1, scrambled Sobol
    points stand in for the grid (quasi-Monte Carlo; error O(log(n)^d / n) rather than a bound).

    Mass falling outside the edges is dropped, so the result may sum to slightly less than 1.
    """
    u = (torch.arange(n_z, dtype=torch.float64) + 0.5) / n_z
    if z_dim > 1:
        u = torch.quasirandom.SobolEngine(z_dim, scramble=True, seed=0).draw(n_z, dtype=torch.float64)
        u = u.clamp(0.5 / n_z, 1 - 0.5 / n_z)
    z = math.sqrt(2.0) * torch.special.erfinv(2 * u - 1)  # Φ⁻¹(u)
    z = z.reshape(n_z, z_dim)
    param = next(generator.parameters())
    xs = []
    for chunk in z.split(2**16):
        xs.append(generator(chunk.to(param.device, param.dtype)).double().flatten().cpu())
    x = torch.cat(xs)
    edges = edges.to(torch.float64)
    idx = torch.bucketize(x, edges, right=True) - 1  # bin i holds edges[i] ≤ x < edges[i+1]
    inside = (idx >= 0) & (idx < len(edges) - 1)
    counts = torch.bincount(idx[inside], minlength=len(edges) - 1).double()
    return counts / n_z


def gaussian_quantile(mu: float, sd: float):
    """The quantile function u ↦ μ + σ·Φ⁻¹(u) of N(μ, σ²)."""
    return lambda u: mu + sd * math.sqrt(2.0) * torch.special.erfinv(2 * u - 1)


def wasserstein1_1d(quantile_p, quantile_q, n: int = 2**16) -> float:
    """W1(p, q) = ∫₀¹ |F_p⁻¹(u) − F_q⁻¹(u)| du, the 1-D closed form via quantile functions.

    Midpoint rule on u_i = (i + ½)/n. For N(μ₁, σ²) and N(μ₂, σ²) it is |μ₁ − μ₂|; for
    N(μ, σ₁²) and N(μ, σ₂²) it is |σ₁ − σ₂|·E|Z| = |σ₁ − σ₂|·√(2/π).
    """
    u = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return (quantile_p(u) - quantile_q(u)).abs().mean().item()


def density_descent(p_data: Tensor, p_g0: Tensor, steps: int, lr: float) -> dict[str, Tensor]:
    """Proposition 2 of Goodfellow et al. (2014) in the space of densities.

    p_g is a distribution over the same cells as the masses ``p_data`` [B], started at ``p_g0``.
    Each step sets D = D* = p_data/(p_data + p_g) exactly, then descends
    V(D*, p_g) = Σ p_data log D* + p_g log(1 − D*) with D* held fixed. By the envelope theorem
    (D* maximises V) its gradient with respect to p_g, log(1 − D*), is the gradient of C(p_g)
    itself. The step is taken in p_g's softmax parameterisation as an exponentiated-gradient
    (mirror-descent) step, p_g ← p_g·exp(−lr·∂C/∂p_g)/Z, which keeps p_g a distribution; since C
    is convex in p_g, the descent reaches its minimum −log 4 at p_g = p_data.

    Returns ``C`` [steps + 1], ``jsd`` [steps + 1] and ``p_g`` [steps + 1, B].
    """
    theta = p_g0.to(torch.float64).log().clone()
    cs, jsds, pgs = [], [], []
    for i in range(steps + 1):
        p_g = torch.softmax(theta, 0).requires_grad_(True)
        with torch.no_grad():  # D = D*, exact and held fixed for the G step
            d_logit = torch.log(p_data) - torch.log(p_g)
        v = value(p_data, p_g, d_logit)  # = C(p_g), since D = D*
        cs.append(v.detach())
        jsds.append(jsd(p_data, p_g.detach()))
        pgs.append(p_g.detach())
        if i == steps:
            break
        (grad,) = torch.autograd.grad(v, p_g)  # = log(1 − D*) per cell
        theta = theta - lr * grad
    return {"C": torch.stack(cs), "jsd": torch.stack(jsds), "p_g": torch.stack(pgs)}
