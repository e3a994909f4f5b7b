"""Precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020).

All four describe the real and generated feature sets through k-nearest-neighbour balls: the
ball around a point reaches its k-th nearest neighbour within its own set.
"""

from __future__ import annotations

import numpy as np

__all__ = ["knn_radii", "precision_recall", "density_coverage"]


CHUNK = 1024  # rows of a distance matrix at a time: 10,000 × 10,000 pairs never sit in memory at once


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances [len(a), len(b)]."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.clip(sq, 0, None))


def knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point of x [N, D] to its k-th nearest other point of x."""
    x = np.asarray(x, np.float64)
    # column 0 of each sorted row is the point itself (distance 0), so the k-th neighbour is at index k
    return np.concatenate([np.partition(_dist(c, x), k, axis=1)[:, k] for c in np.array_split(x, _parts(x))])


def _parts(x: np.ndarray) -> int:
    return max(1, -(-len(x) // CHUNK))


def _ball_counts(centres: np.ndarray, radii: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(for each point: how many balls (centre, radius) hold it; for each ball: whether any point is in it)."""
    counts = np.zeros(len(points), dtype=np.int64)
    hit = []
    for c, r in zip(np.array_split(centres, _parts(centres)), np.array_split(radii, _parts(centres))):
        inside = _dist(c, points) <= r[:, None]  # [chunk of balls, points]
        counts += inside.sum(axis=0)
        hit.append(inside.any(axis=1))
    return counts, np.concatenate(hit)


def precision_recall(real, fake, k: int = 3) -> tuple[float, float]:
    """Precision: share of fakes inside some real k-NN ball; recall: share of reals inside some fake
    k-NN ball (Kynkäänniemi et al. 2019, k = 3)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    in_real, _ = _ball_counts(real, knn_radii(real, k), fake)
    in_fake, _ = _ball_counts(fake, knn_radii(fake, k), real)
    return float((in_real > 0).mean()), float((in_fake > 0).mean())


def density_coverage(real, fake, k: int = 5) -> tuple[float, float]:
    """Density: (1/(kM)) Σ_j #{real balls containing fake j} (≈ 1 when the sets match; above 1 when
    fakes crowd where reals are dense). Coverage: share of real balls holding at least one fake
    (Naeem et al. 2020, k = 5)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    counts, covered = _ball_counts(real, knn_radii(real, k), fake)
    return float(counts.sum() / (k * len(fake))), float(covered.mean())
