"""What the report knows of gankit's toy targets and toy metrics, without importing them.

:mod:`gankit.distributions` builds the targets and :func:`gankit.evaluate.evaluate_toy` measures G on
them, both with torch and the networks at hand; the report only reads a run's files, so the two facts
its captions need (a target's dimension and how many separate modes it has, and how many samples the
JSD is estimated from) are written down here. tests/test_report.py checks them against
``gankit.distributions.TARGETS`` and ``evaluate_toy``'s defaults, so a new target or a changed default
cannot go unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ToyTarget", "toy_target", "JSD_SAMPLES", "TOY_TARGETS"]

# name: (dimension of the sample space, separate modes the mode statistics count, or None for one
# continuous shape); "mixture1d" is not here: its components, and so its modes, are given in data.weights
TOY_TARGETS: dict[str, tuple[int, int | None]] = {"ring8": (2, 8), "grid25": (2, 25), "spiral": (2, None)}
MIXTURE = "mixture1d"  # 1-D: one mode a component, counted when there are two or more
JSD_SAMPLES = 50_000  # evaluate_toy's n_jsd: G's samples behind p_g's cell masses where no quadrature applies


@dataclass(frozen=True)
class ToyTarget:
    """A toy target as the report's captions need it."""

    dim: int  # d of the sample space R^d
    modes: int | None  # separate modes to count (ring8: 8); None for a continuous shape or a single Gaussian


def toy_target(data: Any) -> ToyTarget | None:
    """The toy target that a config's data section (a mapping, as read from config.yaml) names; None for
    image datasets, unknown names, and a mixture1d whose weights, means and stds are not lists of one
    non-zero length (training would refuse it: the count would be a guess)."""
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    name = data["name"]
    if name in TOY_TARGETS:
        return ToyTarget(*TOY_TARGETS[name])
    if name == MIXTURE:
        parts: list[Any] = [data.get(k) for k in ("weights", "means", "stds")]
        if all(isinstance(p, list) for p in parts) and len({len(p) for p in parts}) == 1 and parts[0]:
            k = len(parts[0])
            return ToyTarget(1, k if k > 1 else None)
    return None
