"""Precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020).

All four describe the real and generated feature sets through k-nearest-neighbour balls: the
ball around a point reaches its k-th nearest neighbour within its own set.
"""

from __future__ import annotations

import numpy as np

__all__ = ["knn_radii", "precision_recall", "density_coverage"]


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances [len(a), len(b)]."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.clip(sq, 0, None))


def knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point of x [N, D] to its k-th nearest other point of x."""
    d = _dist(x, x)
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself


def precision_recall(real, fake, k: int = 3) -> tuple[float, float]:
    """Precision: share of fakes inside some real k-NN ball; recall: share of reals inside some fake
    k-NN ball (Kynkäänniemi et al. 2019, k = 3)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    d = _dist(real, fake)  # [N_real, N_fake]
    precision = (d <= knn_radii(real, k)[:, None]).any(axis=0).mean()
    recall = (d <= knn_radii(fake, k)[None, :]).any(axis=1).mean()
    return float(precision), float(recall)


def density_coverage(real, fake, k: int = 5) -> tuple[float, float]:
    """Density: (1/(kM)) Σ_j #{real balls containing fake j} (≈ 1 when the sets match; above 1 when
    fakes crowd where reals are dense). Coverage: share of real balls holding at least one fake
    (Naeem et al. 2020, k = 5)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    inside = _dist(real, fake) <= knn_radii(real, k)[:, None]  # [N_real, N_fake]
    return float(inside.sum() / (k * len(fake))), float(inside.any(axis=1).mean())
