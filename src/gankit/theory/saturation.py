"""Saturation (section 3 of Goodfellow et al. 2014): at a D that confidently rejects G's samples, the
gradient reaching G through log(1 − D(G(z))) is the one through −log D(G(z)) times D/(1 − D)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ..build import build_run
from ..config import Config
from ..distributions import GaussianMixture
from ..objectives import minimax_g_loss, nonsaturating_g_loss
from .claims import Claim
from .fixed_g import fit_discriminator

__all__ = ["saturation_claim", "confident_d_claim"]


def saturation_claim(G: nn.Module, D: nn.Module, n: int = 32) -> tuple[Claim, float]:
    """Per sample, ∂/∂θ log(1 − σ(f)) = −σ(f)·∂f/∂θ and ∂/∂θ −log σ(f) = −(1 − σ(f))·∂f/∂θ, f = D(G(z; θ)).

    Both are multiples of the same vector, so their norms are in the ratio σ(f)/(1 − σ(f)) = e^f.
    Measured in float64 per sample through the real loss functions and autograd.
    """
    G64, D64 = copy.deepcopy(G).double().requires_grad_(True), copy.deepcopy(D).double()
    params = list(G64.parameters())
    z = torch.randn(n, 1, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    predicted, measured, d_fake = [], [], []
    for i in range(n):
        f = D64(G64(z[i : i + 1]))
        g_mm = torch.autograd.grad(minimax_g_loss(None, f), params, retain_graph=True)
        g_ns = torch.autograd.grad(nonsaturating_g_loss(None, f), params)
        norm = lambda gs: torch.sqrt(sum(g.square().sum() for g in gs))  # noqa: E731
        measured.append((norm(g_mm) / norm(g_ns)).item())
        predicted.append(math.exp(f.item()))
        d_fake.append(torch.sigmoid(f).item())
    rel = max(abs(m / p - 1) for m, p in zip(measured, predicted))
    geo = lambda v: math.exp(sum(math.log(t) for t in v) / len(v))  # noqa: E731
    claim = Claim(
        f"saturation: |grad log(1-D(G(z)))| / |grad -log D(G(z))| = D/(1-D) at a confident D "
        f"(geometric mean over {n} samples; max relative error {rel:.1e})",
        geo(predicted),
        geo(measured),
        1e-6,
        rel <= 1e-6,
    )
    return claim, geo(d_fake)


def confident_d_claim(cfg: Config, target: GaussianMixture, G0: nn.Module) -> Claim:
    """:func:`saturation_claim` at the initial G ``G0`` against a fresh D (seed + 3) trained briefly to
    reject it, the mean D(G(z)) added to the row's text."""
    G0 = copy.deepcopy(G0).requires_grad_(False)
    torch.manual_seed(cfg.train.seed + 3)
    _, _, D_sat = build_run(cfg, torch.device("cpu"))
    fit_discriminator(D_sat, target.sample, lambda n: G0(torch.randn(n, 1)), steps=400, batch=512)
    sat, d_fake = saturation_claim(G0, D_sat)
    sat.check += f"; mean D(G(z)) = {d_fake:.1e}"
    return sat
