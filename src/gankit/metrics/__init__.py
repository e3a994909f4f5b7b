"""Metrics: pure math on samples or features, separate from how those were produced."""

from .toy import grid_jsd, mode_stats

__all__ = ["grid_jsd", "mode_stats"]
