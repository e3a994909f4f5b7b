"""Assertions shared by test modules (``tests/`` is on ``sys.path`` under pytest's default import mode)."""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import torch


def write_idx(path, array) -> None:
    """An IDX file (MNIST's format): magic (0, 0, dtype 0x08 = ubyte, number of dims), the dims as
    big-endian int32, the bytes."""
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, array.ndim]))
        f.write(np.array(array.shape, dtype=">i4").tobytes())
        f.write(array.astype(np.uint8).tobytes())


def write_image_folder(root, classes, per_class: int, size: int) -> None:
    """An image folder in ImageFolder's layout: ``per_class`` random RGB ``size``×``size`` PNGs named 00.png,
    01.png, ... (sorted as written) in a sub-folder of ``root`` per class, from one seeded generator."""
    from pathlib import Path

    from PIL import Image

    rng = np.random.default_rng(0)
    for c in classes:
        (Path(root) / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(Path(root) / c / f"{i:02d}.png")


def adam_step_bound(beta1: float, beta2: float, t: int) -> float:
    """The largest |m̂_t / √v̂_t| Adam can take at its step t (ε = 0), whatever the gradients.

    m_t = Σ a_i g_i and v_t = Σ b_i g_i² with a_i = (1 − β1)β1^(t−i), b_i = (1 − β2)β2^(t−i); by
    Cauchy–Schwarz |m_t| ≤ √(Σ a_i²/b_i)·√v_t, and the bias corrections multiply the ratio by
    √(1 − β2^t)/(1 − β1^t). At t = 1 the bound is 1 (the step is lr·sign(g)).
    """
    s = sum(((1 - beta1) * beta1 ** (t - i)) ** 2 / ((1 - beta2) * beta2 ** (t - i)) for i in range(1, t + 1))
    return math.sqrt(s) * math.sqrt(1 - beta2**t) / (1 - beta1**t)


def assert_same_training(a: dict, b: dict, lr: float, steps: int, betas: tuple[float, float] = (0.5, 0.999)) -> None:
    """Two state dicts trained by Adam for ``steps`` steps along computations that are equal up to
    floating-point rounding (another summation order: two processes, another thread count).

    Such a rounding difference can flip the sign of a near-zero gradient, and Adam's step, lr·m̂/√v̂,
    does not shrink with the gradient: that parameter may then differ by up to twice the largest step
    at each step (``adam_step_bound``), never more. Every other parameter agrees to rounding, so the
    median difference stays far below lr, while a real error (other data, a lost optimiser state)
    moves nearly every parameter by about lr a step.
    """
    worst = 2 * lr * sum(adam_step_bound(*betas, t) for t in range(1, steps + 1))
    diff = torch.cat([(a[k].float() - b[k].float()).abs().flatten() for k in a if a[k].is_floating_point()])
    assert diff.max().item() <= worst, (
        f"a parameter moved {diff.max().item():.3g} apart, more than Adam can ({worst:.3g})"
    )
    assert diff.median().item() <= lr / 100, f"median difference {diff.median().item():.3g}: not a rounding difference"


def find_chromium(known: tuple[str, ...] = ("/usr/bin/chromium",)) -> str | None:
    """Chromium's path: ``chromium`` on PATH, else the first executable of ``known`` (Debian's package,
    for a PATH without /usr/bin); None if there is none. Only looks: runs nothing."""
    found = shutil.which("chromium")
    if found:
        return found
    return next((p for p in known if os.path.isfile(p) and os.access(p, os.X_OK)), None)
