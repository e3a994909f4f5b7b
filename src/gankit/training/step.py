"""One training step as parts: Algorithm 1 of Goodfellow et al. (2014), k D updates then one G
update, followed by the EMA of G and the step's statistics.

    train_step:  k × d_update(batch, noise)  →  [ADA's p]  →  g_update(noise)  →  ema_update  →  sums.add(row)

Every part works on tensors already on the device and makes no host sync: the statistics are
summed on the device (:class:`gankit.stats.StepSums`), the EMA's weight is a device tensor filled
before the step, and every random draw is a torch op. On the fast path the whole step is therefore
recorded once in a CUDA graph and replayed (:func:`gankit.fast.cuda_graphed`). The order of random
draws is part of the contract: resume and data-parallel equivalence depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterator

import torch
from torch import Tensor, nn

from ..ada import ada_augment, ada_overfitting, ada_adjust
from ..augment import diff_augment
from ..data import to_model_range
from ..distributed import World, all_mean
from ..distributions import GaussianMixture
from ..ema import ema_update
from ..nets.biggan import ortho_reg
from ..objectives import Objective, gan_value, gradient_penalty, r1_penalty, r2_penalty
from ..stats import StepSums

__all__ = ["Batches", "StepParts", "DResult", "d_update", "g_update", "step_statistics", "train_step"]


@dataclass
class Batches:
    """Draws the step's inputs: real data, noise and labels, and the GP's mixing weights.

    Each draw is made for the global batch and sliced to this process's ``batch`` rows (see
    :mod:`gankit.distributed`); with one process the slice is the whole batch. Toy targets are sampled
    exactly; images are indexed from the dataset held on the device as uint8 [N, C, H, W], or taken from
    ``stream`` (:meth:`gankit.sources.StreamData.batches`: this process's rows, decoded by loader workers).
    """

    data: GaussianMixture | None  # the toy target, or None for images
    images: Tensor | None  # uint8 [N, C, H, W] on the device, or None for toy targets
    labels: Tensor | None  # [N] class labels (images only)
    num_classes: int  # classes the networks condition on; 0 = unconditional
    z_dim: int
    batch: int  # rows per process (train.batch_size)
    world: World
    device: torch.device
    hflip: bool = False
    channels_last: bool = False
    stream: Iterator[tuple[Tensor, Tensor]] | None = None  # uint8 [B, C, H, W] and labels [B], when streaming

    @property
    def global_batch(self) -> int:
        return self.batch * self.world.size

    def real(self) -> tuple[Tensor, Tensor | None]:
        """A real batch [B, ...] (images in [−1, 1]) and its labels [B] (None when unconditional)."""
        W, B, n = self.world, self.batch, self.global_batch
        if self.stream is not None:  # the loader's batch: already this process's rows, in the draw's order
            x8, y = next(self.stream)
            x, y = to_model_range(x8.to(self.device, non_blocking=True)), y.to(self.device, non_blocking=True)
        elif self.images is None:
            assert self.data is not None  # no images: a toy target
            return W.slice(self.data.sample(n), B).to(self.device), None  # [B, d]
        else:
            idx = W.slice(torch.randint(len(self.images), (n,), device=self.device), B)
            x = to_model_range(self.images[idx])  # [B, C, H, W]
            assert self.labels is not None  # image runs hold their labels
            y = self.labels[idx]
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.hflip:
            x = torch.where(W.slice(torch.rand(n, 1, 1, 1, device=self.device), B) < 0.5, x.flip(3), x)
        return x, y if self.num_classes else None

    def noise(self) -> tuple[Tensor, Tensor | None]:
        """Noise z [B, z_dim] and uniformly drawn labels [B] (None when unconditional); labels first."""
        W, B, n = self.world, self.batch, self.global_batch
        y = W.slice(torch.randint(self.num_classes, (n,), device=self.device), B) if self.num_classes else None
        return W.slice(torch.randn(n, self.z_dim, device=self.device), B), y

    def mixing(self) -> Tensor:
        """WGAN-GP's mixing weights ε [B] of x̂ = εx + (1 − ε)x̃."""
        return self.world.slice(torch.rand(self.global_batch, device=self.device), self.batch)


@dataclass
class StepParts:
    """What one step works with. ``G_par``/``D_par`` are the networks the updates call (DDP wrappers
    under torchrun, which average gradients in backward; else G and D themselves)."""

    G: nn.Module
    D: nn.Module
    G_par: nn.Module
    D_par: nn.Module
    opt_d: torch.optim.Optimizer
    opt_g: torch.optim.Optimizer
    objective: Objective
    batches: Batches
    amp: Callable[[], ContextManager]  # bf16 autocast on the fast path, else a no-op context
    d_steps: int = 1  # k of Algorithm 1
    gp_weight: float = 0.0  # λ of the WGAN-GP penalty
    r1_gamma: float = 0.0  # γ of R1: loss + γ/2 · E‖∇D(x)‖² on real data
    r2_gamma: float = 0.0  # γ of R2: loss + γ/2 · E‖∇D(x̃)‖² on fake data
    clip: float | None = None  # WGAN weight clipping of D's parameters to [−c, c]
    augment: str = ""  # DiffAugment policy applied to D's inputs, real and fake alike
    ada_p: Tensor | None = None  # ADA's augmentation probability [] on the device (None: no ADA)
    ada_target: float = 0.6  # ADA's target for r_t = E[sign(D(x_real))]
    ada_kimg: float = 500.0  # p moves by at most 1 per ada_kimg thousand real images
    ortho_reg: float = 0.0  # β of BigGAN's orthogonal regularisation of G
    reuse_fake: bool = False  # the last D step's fake batch also serves the G step
    accumulate: int = 1  # micro-batches of ``batch`` images summed into each D and G update
    G_ema: nn.Module | None = None  # the EMA copy (an AveragedModel's module), if any
    ema_count: Tensor | None = None  # its update count [] on the device
    ema_weight: Tensor | None = None  # 1 − β of this step's EMA update [] on the device, filled before the step
    sums: StepSums = field(default_factory=StepSums)

    def aug(self, x: Tensor) -> Tensor:
        """D's view of a batch [B, C, H, W]: DiffAugment's policy, then ADA's pipeline with probability p."""
        x = diff_augment(x, self.augment) if self.augment else x
        return ada_augment(x, self.ada_p) if self.ada_p is not None else x


@dataclass
class DResult:
    """What the D updates leave for the G update and the statistics (all of the last D update)."""

    real: Tensor  # [B, ...] the real batch
    y_real: Tensor | None  # its labels
    real_logits: Tensor  # [B] detached
    fake_logits: Tensor  # [B] detached
    fake_g: Tensor | None  # [B, ...] G's output with its graph (train.reuse_fake), else None
    loss_d: Tensor  # [] with the penalties
    penalties: dict[str, list[Tensor]]  # "loss/gp", "loss/r1", "loss/r2": one value per D update


def _d_micro(p: StepParts, keep: bool, penalties: dict[str, list[Tensor]]) -> tuple[Tensor, DResult]:
    """D's loss on one micro-batch, d_loss(D(x), D(G(z))) [+ λ·GP] [+ γ/2·R1] [+ γ/2·R2], and what it saw.
    Draws: real batch, noise (its labels unused), then ε for the GP."""
    real, y = p.batches.real()  # [B, ...], labels [B] or None
    with torch.set_grad_enabled(keep), p.amp():
        fake_g = (p.G_par if keep else p.G)(p.batches.noise()[0], y)
    fake = fake_g.detach().float()
    if p.r1_gamma > 0:
        real.requires_grad_(True)
    if p.r2_gamma > 0:
        fake.requires_grad_(True)
    with p.amp():
        real_logits, fake_logits = p.D_par(p.aug(real), y), p.D_par(p.aug(fake), y)  # [B], [B]
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    loss_d = p.objective.d_loss(real_logits, fake_logits)
    if p.gp_weight > 0:
        eps = p.batches.mixing()
        with p.amp():
            gp = gradient_penalty(lambda x: p.D_par(x, y).float(), real, fake, eps)
        penalties["loss/gp"].append(gp.detach())
        loss_d = loss_d + p.gp_weight * gp
    if p.r1_gamma > 0:
        r1 = r1_penalty(real_logits, real)
        penalties["loss/r1"].append(r1.detach())
        loss_d = loss_d + 0.5 * p.r1_gamma * r1
    if p.r2_gamma > 0:
        r2 = r2_penalty(fake_logits, fake)
        penalties["loss/r2"].append(r2.detach())
        loss_d = loss_d + 0.5 * p.r2_gamma * r2
    seen = DResult(real, y, real_logits.detach(), fake_logits.detach(), fake_g if keep else None, loss_d, penalties)
    return loss_d, seen


def d_update(p: StepParts, last: bool, penalties: dict[str, list[Tensor]]) -> DResult:
    """One update of D with G fixed: loss = d_loss(D(x), D(G(z))) [+ λ·GP] [+ γ/2·R1], then clipping.

    With ``accumulate`` > 1 the gradient is the mean over that many micro-batches of ``batch`` images
    (one optimiser step: the effective batch is their sum); the result describes the last one.
    ``last``: the step's last D update, whose fake batch keeps G's graph when ``reuse_fake`` (G then
    runs forward once a step, as pytorch/examples does). Conditional networks see the real batch's
    labels on both sides.
    """
    keep = p.reuse_fake and last
    p.opt_d.zero_grad(set_to_none=True)
    losses = []
    for _ in range(p.accumulate):
        loss_d, seen = _d_micro(p, keep, penalties)
        (loss_d / p.accumulate).backward()
        losses.append(loss_d.detach())
    p.opt_d.step()
    if p.clip is not None:
        with torch.no_grad():
            for w in p.D.parameters():
                w.clamp_(-p.clip, p.clip)
    if p.accumulate > 1:  # the mean over the micro-batches; one micro-batch's loss as it is
        seen.loss_d = torch.stack(losses).mean()
    return seen


def _g_micro(p: StepParts, d: DResult) -> Tensor:
    """G's adversarial loss on one micro-batch: g_loss(r, D(G(z))) (see :func:`g_update`)."""
    fake_g, y = d.fake_g, d.y_real
    if fake_g is None:
        z, y = p.batches.noise()
        with p.amp():
            fake_g = p.G_par(z, y)
    with p.amp():
        logits = p.D(p.aug(fake_g), y)  # D itself, not D_par: only G's gradients are averaged
    real_logits = d.real_logits
    if p.objective.g_uses_real:
        with torch.no_grad(), p.amp():
            real_logits = p.D(p.aug(d.real.detach()), d.y_real).float()
    return p.objective.g_loss(real_logits, logits.float())


def g_update(p: StepParts, d: DResult) -> Tensor:
    """One update of G through the fixed D: loss = g_loss(r, D(G(z))); returns the loss [].

    Fresh noise and labels (Algorithm 1) unless ``reuse_fake``. ``r``: for a relativistic objective
    D's logits on the D step's real batch under the updated D (constants for G), else the D step's
    last real logits, which the G loss ignores. G-side regularisers add to the loss here. With
    ``accumulate`` > 1 the gradient is the mean over that many micro-batches of fresh noise.
    """
    p.D.requires_grad_(False)  # gradients flow through D to G, D's own are not needed
    p.opt_g.zero_grad(set_to_none=True)
    losses = []
    for _ in range(p.accumulate):
        loss_g = _g_micro(p, d)
        (loss_g / p.accumulate).backward()
        losses.append(loss_g.detach())
    if p.ortho_reg > 0:  # β·Σ‖WWᵀ ⊙ (1 − I)‖²_F over G's weights, the shared class embedding aside
        (p.ortho_reg * ortho_reg(p.G, exclude=("shared",))).backward()
    p.opt_g.step()
    p.D.requires_grad_(True)
    return torch.stack(losses).mean()


def step_statistics(objective: Objective, d: DResult, loss_g: Tensor) -> dict[str, Tensor]:
    """The step's logged values (device tensors []): the losses, the penalties' means over the D
    updates and, for D trained by eq. 1's cross-entropy (σ(logit) is D(x)), V(D, G) on the last D
    batch (−log 4 at the equilibrium) and D's mean outputs on real and fake data."""
    row = {k: torch.stack(v).mean() for k, v in d.penalties.items() if v}
    row["loss/d"] = d.loss_d
    if objective.probabilistic:
        row["V"] = gan_value(d.real_logits, d.fake_logits)
        row["D/real"] = torch.sigmoid(d.real_logits).mean()
        row["D/fake"] = torch.sigmoid(d.fake_logits).mean()
    row["loss/g"] = loss_g
    return row


def ada_step(p: StepParts, d: DResult) -> dict[str, Tensor]:
    """ADA's adjustment after the D updates: r_t = E[sign(D(x_real))] of the last D batch (averaged over
    the data-parallel processes, so that every process keeps the same p), then p moves toward the target
    by the global batch's share of ada_kimg (:func:`gankit.ada.ada_adjust`). Returns the logged values."""
    assert p.ada_p is not None
    rt = ada_overfitting(d.real_logits)
    if p.batches.world.enabled:
        rt = all_mean(rt)
    ada_adjust(p.ada_p, rt, p.ada_target, p.batches.global_batch * p.accumulate, p.ada_kimg)
    return {"ada/p": p.ada_p.clone(), "ada/rt": rt}


def train_step(p: StepParts, ema_first: bool) -> None:
    """Algorithm 1's k D updates, ADA's p (when on), one G update, then the EMA of G (a copy of G when
    ``ema_first``) and the statistics, summed on the device."""
    penalties: dict[str, list[Tensor]] = {"loss/gp": [], "loss/r1": [], "loss/r2": []}
    for i in range(p.d_steps):
        d = d_update(p, i == p.d_steps - 1, penalties)
    ada = ada_step(p, d) if p.ada_p is not None else {}
    loss_g = g_update(p, d)
    if p.G_ema is not None:
        assert p.ema_weight is not None and p.ema_count is not None  # set together with G_ema
        ema_update(p.G_ema, p.G, p.ema_weight, p.ema_count, first=ema_first)
    p.sums.add({**step_statistics(p.objective, d, loss_g), **ada})
