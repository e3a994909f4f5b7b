"""Metrics: pure math on samples or features, separate from how those were produced.

The feature network is never chosen here: every function takes arrays, so a number is only as
standard as the features it was given.
"""

from .fid import frechet_distance, gaussian_stats
from .inception_score import inception_score
from .kid import kernel_distance, polynomial_mmd2
from .modes import mode_coverage
from .prdc import density_coverage, precision_recall
from .toy import grid_jsd, mode_stats

__all__ = [
    "frechet_distance",
    "gaussian_stats",
    "kernel_distance",
    "polynomial_mmd2",
    "inception_score",
    "precision_recall",
    "density_coverage",
    "grid_jsd",
    "mode_stats",
    "mode_coverage",
]
