"""G's exponential moving average (the copy that samples): the ramped decay of stylegan2-ada
(a half-life in thousands of images, at most a share of the images seen) and an update that
needs no host sync, so that it can run inside a CUDA graph."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ema_beta", "ema_update"]


def ema_beta(step: int, batch: int, ema_kimg: float, ema_rampup: float | None) -> float:
    """β of the EMA update after step ``step`` (1, 2, ...) with ``batch`` images a step:
    W_ema ← β·W_ema + (1 − β)·W, as stylegan2-ada's training loop computes it (Karras et al. 2020).

    The average's half-life is h = 1000·ema_kimg images, capped at ema_rampup × the images seen before
    this step, n = (step − 1)·batch; then β = ½^(batch / h), so the weight of an update halves every h
    images. With the ramp, step 1 has h = 0, β = 0 (the average starts as a copy of G), and for a while
    h = ema_rampup·n: the average spans the last ema_rampup share of training and follows G closely
    while G changes fast. Plain Python on the step count: no host sync.
    """
    half = 1000.0 * ema_kimg
    if ema_rampup is not None:
        half = min(half, (step - 1) * batch * ema_rampup)
    return 0.5 ** (batch / max(half, 1e-8))


def _power_iteration_state(name: str) -> bool:
    """Whether a buffer (by its name in the module) is spectral norm's u or v (torch.nn.utils.parametrizations)."""
    return ".parametrizations." in f".{name}" and name.rsplit(".", 1)[-1] in ("_u", "_v")


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, weight: Tensor | float, count: Tensor, first: bool) -> None:
    """W_ema ← W_ema + weight·(W − W_ema) = β·W_ema + (1 − β)·W with weight = 1 − β (see
    :func:`ema_beta`), over parameters and buffers (a copy when ``first``; spectral norm's u and v are
    always copied); ``count`` [] += 1.

    ``weight`` may be a 0-d tensor on the device, filled before each step: a CUDA graph replaying the
    update then reads the step's own weight. With a constant weight and no spectral norm this is the update of
    ``AveragedModel(use_buffers=True, multi_avg_fn=get_ema_multi_avg_fn(1 − weight))``, value for value,
    without its ``bool(n_averaged == 0)``: the caller knows from the step count whether this is the
    first update, so no host sync is needed and the update can be captured.
    """
    # spectral norm's power-iteration vectors (parametrizations' u and v buffers) are copied, not averaged:
    # an average of unit vectors is shorter than 1, so σ = uᵀWv would be underestimated and the EMA copy's
    # weights W/σ blown up (a BigGAN G_ema at FID 51 where its raw G had 4.2)
    pairs: list[tuple[Tensor, Tensor]] = list(zip(ema.parameters(), model.parameters()))
    for (name, a), w in zip(ema.named_buffers(), model.buffers()):
        if _power_iteration_state(name):
            a.copy_(w)
        else:
            pairs.append((a, w))
    if first:
        for a, w in pairs:
            a.copy_(w)
    else:
        floats = [(a, w) for a, w in pairs if a.is_floating_point()]
        if floats:
            # ignored: torch's stubs omit the 0-d tensor that the Scalar overload accepts at run time
            torch._foreach_lerp_([a for a, _ in floats], [w for _, w in floats], weight)  # type: ignore[arg-type]
        for a, w in pairs:
            if not a.is_floating_point():  # e.g. batch norm's step counter, as AveragedModel does it
                a.copy_(a * (1.0 - weight) + w * weight)
    count.add_(1)
