"""GAN objectives as small pure functions of the discriminator's logits.

Notation: ``r = D(x)`` are logits on a real batch, ``f = D(G(z))`` logits on a fake batch,
both of shape [B] (or [B, 1]); σ is the logistic sigmoid, so D's probability is σ(logit).
Both sides take ``(r, f)``: most G losses use f alone, a relativistic one (RpGAN) compares the two.
Every log-probability is written with softplus, which is exact and stable for any logit:

    log σ(t)     = −softplus(−t)
    log(1 − σ(t)) = −softplus(t)

A D loss is minimised by D, a G loss by G. Penalties that need D itself (gradient penalty,
R1) take the tensors they differentiate, never a network with state of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .registry import OBJECTIVES

__all__ = [
    "Objective",
    "OBJECTIVES",
    "get_objective",
    "gan_value",
    "gradient_penalty",
    "r1_penalty",
]


def gan_value(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Monte-Carlo V(D,G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))] (Goodfellow et al. 2014, eq. 1)."""
    return -F.softplus(-real_logits).mean() - F.softplus(fake_logits).mean()


# --- minimax (Goodfellow et al. 2014) --------------------------------------------------------
def minimax_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """D maximises V: loss = −V = E[softplus(−r)] + E[softplus(f)]; equals 2·log 2 at r = f = 0."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_g_loss(real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
    """G minimises E[log(1 − D(G(z)))] = −E[softplus(f)]: the saturating form, −log 2 at f = 0.

    d/df of −softplus(f) is −σ(f) = −D(G(z)): it vanishes as D grows confident that fakes are fake.
    """
    return -F.softplus(fake_logits).mean()


# --- non-saturating (Goodfellow et al. 2014, section 3) -------------------------------------
def nonsaturating_g_loss(real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
    """G maximises E[log D(G(z))]: loss = E[softplus(−f)], log 2 at f = 0.

    d/df is −(1 − σ(f)) = −(1 − D(G(z))): near −1 exactly where the minimax gradient vanishes.
    """
    return F.softplus(-fake_logits).mean()


# --- Wasserstein (Arjovsky et al. 2017; Gulrajani et al. 2017) ------------------------------
def wasserstein_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The critic maximises E[D(x)] − E[D(G(z))]: loss = E[f] − E[r]."""
    return fake_logits.mean() - real_logits.mean()


def wasserstein_g_loss(real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
    """G maximises E[D(G(z))]: loss = −E[f]."""
    return -fake_logits.mean()


# --- hinge (Lim & Ye 2017; Miyato et al. 2018) ----------------------------------------------
def hinge_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """loss = E[max(0, 1 − r)] + E[max(0, 1 + f)]; equals 2 at r = f = 0."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


# --- least squares (Mao et al. 2017, a = 0, b = c = 1) ---------------------------------------
def lsgan_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """loss = ½E[(r − 1)²] + ½E[f²]; equals ½ at r = f = 0."""
    return 0.5 * (real_logits - 1.0).square().mean() + 0.5 * fake_logits.square().mean()


def lsgan_g_loss(real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
    """loss = ½E[(f − 1)²]; equals ½ at f = 0."""
    return 0.5 * (fake_logits - 1.0).square().mean()


# --- relativistic pairing (RpGAN; Jolicoeur-Martineau 2019, Huang et al. 2024 eq. 2) ------------
def rpgan_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """D pulls each real logit above its paired fake one: loss = E[softplus(−(r − f))]; log 2 at r = f."""
    return F.softplus(fake_logits - real_logits).mean()


def rpgan_g_loss(real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
    """G pulls each fake logit above its paired real one: loss = E[softplus(−(f − r))]; log 2 at r = f.
    ``real_logits`` are constants for G (D's current logits on real data)."""
    if real_logits is None:
        raise ValueError("the rpgan G loss compares fake logits with real ones; real_logits is None")
    return F.softplus(real_logits - fake_logits).mean()


# --- penalties -------------------------------------------------------------------------------
def gradient_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, eps: Tensor | None = None
) -> Tensor:
    """WGAN-GP penalty E[(‖∇_x̂ D(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)x̃, ε ~ U[0,1] per sample.

    ``real`` and ``fake`` are [B, ...]; ``eps`` [B] is drawn here unless given (data-parallel
    training draws it for the global batch and passes each process its slice). The graph is kept
    so the penalty trains D; under DistributedDataParallel the per-sample input gradients stay
    local (they need no averaging) and the penalty's parameter gradients are averaged by the
    ordinary backward.
    """
    if eps is None:
        eps = torch.rand(real.shape[0], device=real.device, dtype=real.dtype)
    eps = eps.view((real.shape[0],) + (1,) * (real.dim() - 1)).to(real.dtype)
    x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1.0).square().mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): E[‖∇_x D(x)‖²] on real data; the loop adds γ/2 times this.

    ``real`` must have had ``requires_grad_(True)`` before ``real_logits = D(real)``.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.flatten(1).square().sum(dim=1).mean()


def r2_penalty(fake_logits: Tensor, fake: Tensor) -> Tensor:
    """R2 (Mescheder et al. 2018; with R1 the penalties of R3GAN, Huang et al. 2024): E[‖∇_x̃ D(x̃)‖²]
    on generated data x̃ = G(z), i.e. R1 on the fake batch; the loop adds γ/2 times this.

    ``fake`` must have had ``requires_grad_(True)`` (as a leaf cut from G) before ``fake_logits = D(fake)``.
    """
    return r1_penalty(fake_logits, fake)


@dataclass(frozen=True)
class Objective:
    """An objective's two sides and the D regularisers it comes with by default."""

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]  # (real_logits, fake_logits) → D's loss
    g_loss: Callable[[Tensor | None, Tensor], Tensor]  # (real_logits, fake_logits) → G's loss
    gp_weight: float = 0.0  # λ of the WGAN-GP gradient penalty
    clip: float | None = None  # WGAN weight clipping: D's parameters clamped to [−c, c]
    # D trained by the cross-entropy of eq. 1, so σ(logit) estimates D(x) and V(D, G) is the game's
    # value (−log 4 at the equilibrium); for other objectives neither means anything
    probabilistic: bool = False
    # the G loss reads D's logits on real data (relativistic): the G step computes them with the D of
    # that step; for the others it passes the D step's last real logits, which their G loss ignores
    g_uses_real: bool = False


# OBJECTIVES is gankit.registry's, which declares these names so that a config is checked without torch
for _obj in (
    Objective("minimax", minimax_d_loss, minimax_g_loss, probabilistic=True),
    Objective("nonsaturating", minimax_d_loss, nonsaturating_g_loss, probabilistic=True),
    Objective("wasserstein", wasserstein_d_loss, wasserstein_g_loss, clip=0.01),
    Objective("wgan-gp", wasserstein_d_loss, wasserstein_g_loss, gp_weight=10.0),
    Objective("hinge", hinge_d_loss, wasserstein_g_loss),
    Objective("lsgan", lsgan_d_loss, lsgan_g_loss),
    Objective("rpgan", rpgan_d_loss, rpgan_g_loss, g_uses_real=True),
):
    OBJECTIVES.register(_obj.name)(_obj)


def get_objective(name: str) -> Objective:
    """The objective registered as ``name``; an unknown name is a one-line error listing the valid ones."""
    return OBJECTIVES[name]
