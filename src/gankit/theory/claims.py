"""The claims table: one :class:`Claim` a row, printed as text or written as JSON (claims.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Claim", "format_table", "claims_json"]


@dataclass
class Claim:
    """One row of the table: what the theory predicts, what was measured, and whether they agree."""

    check: str
    theory: float | None  # None: a measurement reported for itself, with nothing to compare
    measured: float
    tolerance: float | None
    passed: bool


def format_table(rows: list[Claim]) -> str:
    """The rows as an aligned text table."""
    head = ("claim", "theory", "measured", "tolerance", "pass")
    body = [
        (
            r.check,
            "-" if r.theory is None else f"{r.theory:.6g}",
            f"{r.measured:.6g}",
            "-" if r.tolerance is None else f"{r.tolerance:g}",
            "report" if r.tolerance is None else ("yes" if r.passed else "NO"),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [head] + body) for i in range(1, 5)]
    lines = []
    for row in [head] + body:
        nums = "  ".join(c.rjust(wd) for c, wd in zip(row[1:], widths))
        lines.append(f"{nums}  {row[0]}")
    return "\n".join(lines)


def claims_json(rows: list[Claim]) -> list[dict]:
    """The rows as JSON-ready dicts with keys check, theory, measured, tolerance, passed."""
    return [asdict(r) for r in rows]
