"""Proposition 1: with G fixed, D trained to convergence is D* = p_data/(p_data + p_g); its value V(D, G)
reaches C(G) = max_D V(D, G), and its logit lies on log(p_data/p_g)."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..build import build_run
from ..config import Config
from ..distributions import GaussianMixture
from ..exact import virtual_training_criterion
from ..objectives import minimax_d_loss
from .claims import Claim
from .grid import Grid, with_rest
from .snapshots import Snapshots

__all__ = ["fit_discriminator", "mc_value", "logit_claim", "fixed_g_claims", "FixedG"]


def fit_discriminator(
    D: nn.Module,
    sample_real: Callable[[int], Tensor],
    sample_fake: Callable[[int], Tensor],
    steps: int = 2500,
    batch: int = 2048,
    lr: float = 2e-3,
) -> nn.Module:
    """Train D alone (G fixed) on the minimax D loss until it settles: Adam, cosine decay to 0.

    Fresh samples every step, so D fits the densities, not a finite sample.
    """
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        loss = minimax_d_loss(D(sample_real(batch)), D(sample_fake(batch)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return D


def mc_value(D: nn.Module, G: nn.Module, target: GaussianMixture, n: int = 2**20) -> tuple[float, float]:
    """Monte-Carlo V(D, G) = mean log D(x) + mean log(1 − D(G(z))) and its standard error."""
    with torch.no_grad():
        a = -F.softplus(-D(target.sample(n))).double()  # log D(x), x ~ p_data
        b = -F.softplus(D(G(torch.randn(n, 1)))).double()  # log(1 − D(G(z))), z ~ p_z
    return (a.mean() + b.mean()).item(), math.sqrt(a.var().item() / n + b.var().item() / n)


def logit_claim(grid: Grid, p_g: Tensor, D: nn.Module) -> tuple[Claim, dict]:
    """The logit form: with D = σ(f), the pointwise maximiser of p_data·log σ(f) + p_g·log(1 − σ(f))
    is f* = log(p_data/p_g) (set the derivative p_data·(1 − σ(f)) − p_g·σ(f) to zero).

    Compared where both densities are at least 1% of their peaks; error weighted by (p_data+p_g)/2.
    """
    mask = (grid.p_data >= 0.01 * grid.p_data.max()) & (p_g >= 0.01 * p_g.max())
    f_star = grid.p_data.log() - p_g.log()
    f = grid.logits(D)
    w = 0.5 * (grid.p_data + p_g)[mask]
    err = (((f - f_star)[mask]).abs() * w).sum().item() / w.sum().item()
    claim = Claim(
        "G fixed: D's logit = log(p_data/p_g) where both densities are >= 1% of their peaks; "
        "mean |f - f*| weighted by (p_data+p_g)/2, nats",
        0.0,
        err,
        0.1,
        err <= 0.1,
    )
    fig = {
        "x": grid.centres.numpy(),
        "f": f.numpy(),
        "f_star": torch.where(mask, f_star, torch.nan).numpy(),
        "p_data": (grid.p_data / grid.width).numpy(),
        "p_g": (p_g / grid.width).numpy(),
    }
    return claim, fig


@dataclass
class FixedG:
    """What the fixed-G experiment gives: its rows, the logit figure's data, and the networks figure 1 draws."""

    rows: list[Claim]
    logit_fig: dict  # see logit_claim
    G: nn.Module  # G at the fixed step, frozen
    D_early: nn.Module  # the training's D at that step
    D_conv: nn.Module  # D trained to convergence against it


def fixed_g_claims(cfg: Config, grid: Grid, target: GaussianMixture, snaps: Snapshots, step: int) -> FixedG:
    """G frozen at training step ``step`` (early: p_g overlaps p_data only in part), a fresh D (seed + 2)
    trained against it to convergence: D = D* (weighted mean |D − D*| ≤ 0.02), its Monte-Carlo V(D, G)
    within 0.02 of C(G) and not above it beyond 3 s.e., and its logit on log(p_data/p_g)."""
    G_snap, D_snap = snaps.load(step)
    G_fixed = copy.deepcopy(G_snap).requires_grad_(False)
    D_early = copy.deepcopy(D_snap)
    torch.manual_seed(cfg.train.seed + 2)
    _, _, D_conv = build_run(cfg, torch.device("cpu"))
    fit_discriminator(D_conv, target.sample, lambda n: G_fixed(torch.randn(n, 1)))
    p_g = grid.p_g(G_fixed)  # [B]
    pd, pg = with_rest(grid.p_data), with_rest(p_g)  # [B + 1]
    w = 0.5 * (grid.p_data + p_g)  # (p_data + p_g)/2 as bin masses
    d_star = grid.d_star(p_g)
    d_conv = torch.sigmoid(grid.logits(D_conv))
    err = ((d_conv - d_star).abs() * w).sum().item() / w.sum().item()
    rows = [
        Claim(
            f"G fixed (step {step}): D trained to convergence = D*; mean |D - D*| weighted by (p_data+p_g)/2",
            0.0,
            err,
            0.02,
            err <= 0.02,
        )
    ]
    c_fixed = virtual_training_criterion(pd, pg).item()
    v_mc, se = mc_value(D_conv, G_fixed, target)
    rows.append(
        Claim(
            f"G fixed: Monte-Carlo V(D,G) of that D (2^20 samples, s.e. {se:.1e}) = C(G), never above it beyond 3 s.e.",
            c_fixed,
            v_mc,
            0.02,
            abs(v_mc - c_fixed) <= 0.02 and v_mc <= c_fixed + 3 * se,
        )
    )
    logit_row, logit_fig = logit_claim(grid, p_g, D_conv)
    rows.append(logit_row)
    return FixedG(rows, logit_fig, G_fixed, D_early, D_conv)
