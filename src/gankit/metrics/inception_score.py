"""Inception Score (Salimans et al. 2016) from class probabilities, whichever classifier gave them."""

from __future__ import annotations

import numpy as np

__all__ = ["inception_score"]


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """IS = exp(E_x KL(p(y|x) ‖ p(y))), p(y) the mean of p(y|x) over the split; mean and s.d. over
    ``splits`` equal splits of probs [N, K]. Between 1 (every sample alike) and K (confident and
    spread evenly over the K classes)."""
    p = np.asarray(probs, np.float64)
    if p.ndim != 2 or np.any(p < 0) or not np.allclose(p.sum(1), 1.0, atol=1e-4):
        raise ValueError("probs must be [N, K] rows of probabilities")
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * (np.log(part) - np.log(py)), 0.0).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
