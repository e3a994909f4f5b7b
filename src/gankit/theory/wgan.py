"""Example 1 of Arjovsky et al. (2017): two Gaussians of disjoint support, where the JSD is flat and the
minimax gradient vanishes while W1 = |θ| and a WGAN-GP critic keep their slope."""

from __future__ import annotations

import math

import torch

from ..exact import gaussian_quantile, jsd, simpson_grid, wasserstein1_1d
from ..objectives import minimax_g_loss, nonsaturating_g_loss
from .claims import Claim
from .grid import gauss

__all__ = ["wgan_claims"]


def _wgan_critic_gradient(theta: float, eps: float, steps: int = 1000, seed: int = 0) -> float:
    """d/dθ of the WGAN generator loss −E[D(θ + εz)] with a WGAN-GP critic trained between
    N(0, ε²) and N(θ, ε²) (λ = 10, Adam 1e-3, β = (0.5, 0.9))."""
    from ..nets import MLPDiscriminator
    from ..objectives import gradient_penalty, wasserstein_d_loss, wasserstein_g_loss

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    D = MLPDiscriminator(1, 64, 2)
    opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
    for _ in range(steps):
        real = eps * torch.randn(256, 1, generator=gen)
        fake = theta + eps * torch.randn(256, 1, generator=gen)
        loss = wasserstein_d_loss(D(real), D(fake)) + 10.0 * gradient_penalty(D, real, fake)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    th = torch.tensor(theta, requires_grad=True)
    (g,) = torch.autograd.grad(wasserstein_g_loss(None, D(th + eps * torch.randn(4096, 1, generator=gen))), th)
    return g.item()


def wgan_claims(eps: float = 0.01) -> tuple[list[Claim], dict]:
    """Example 1 of Arjovsky et al. (2017): p_data = N(0, ε²), p_θ = N(θ, ε²), ε = 0.01.

    For θ ≫ ε the supports do not overlap (to float64 precision): JSD = log 2 whatever θ, so
    the optimal discriminator's minimax loss is flat in θ and its gradient vanishes, while
    W1 = |θ| keeps pointing to θ = 0, and a WGAN-GP critic passes that slope of 1 on to G.
    """
    thetas = [0.25, 0.5, 1.0, 2.0, 4.0]
    pd = gauss(0.0, eps)
    jsds, w1s, g_mm, g_ns = [], [], [], []
    z = torch.randn(4096, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    for th in thetas:
        x, w = simpson_grid(-20 * eps, th + 20 * eps, 200001)
        pg = gauss(th, eps)
        jsds.append(jsd(pd.prob(x), pg.prob(x), w).item())
        w1s.append(wasserstein1_1d(gaussian_quantile(0.0, eps), gaussian_quantile(th, eps)))
        # G(z) = θ + εz against D = D* of the current θ, held fixed; differentiate through the samples.
        theta = torch.tensor(th, dtype=torch.float64, requires_grad=True)
        xs = theta + eps * z
        f_star = pd.log_prob(xs) - gauss(th, eps).log_prob(xs)  # log p_data − log p_g, D* fixed
        (gm,) = torch.autograd.grad(minimax_g_loss(None, f_star), theta, retain_graph=True)
        (gn,) = torch.autograd.grad(nonsaturating_g_loss(None, f_star), theta)
        g_mm.append(gm.item())
        g_ns.append(gn.item())
    critic = {th: _wgan_critic_gradient(th, eps) for th in (0.5, 1.0, 2.0)}
    far = max(critic.values(), key=lambda g: abs(abs(g) - 1))
    w1_err = max(abs(w - abs(t)) for w, t in zip(w1s, thetas))
    rows = [
        Claim(
            f"WGAN example, N(0,{eps}^2) vs N(theta,{eps}^2), theta in {thetas}: JSD = log 2 for every theta "
            "(value farthest from log 2)",
            math.log(2),
            min(jsds, key=lambda v: abs(v - math.log(2))),
            1e-9,
            all(abs(v - math.log(2)) <= 1e-9 for v in jsds),
        ),
        Claim(
            "WGAN example: minimax generator gradient d/dtheta E log(1 - D*(G(z))) with D = D* vanishes "
            "(largest |gradient|)",
            0.0,
            max(abs(g) for g in g_mm),
            1e-8,
            max(abs(g) for g in g_mm) <= 1e-8,
        ),
        Claim("WGAN example: W1 = |theta| via quantile functions (largest error)", 0.0, w1_err, 1e-9, w1_err <= 1e-9),
        Claim(
            "WGAN example: a trained WGAN-GP critic gives |d/dtheta| of the generator loss = 1 "
            f"at theta in {sorted(critic)} (value farthest from 1)",
            1.0,
            abs(far),
            0.15,
            all(abs(abs(g) - 1) <= 0.15 for g in critic.values()),
        ),
    ]
    fig = {"theta": thetas, "jsd": jsds, "w1": w1s, "g_minimax": g_mm, "g_nonsat": g_ns, "critic": critic}
    return rows, fig
