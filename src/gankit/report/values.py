"""Values read from a run's files, checked: numbers a float holds, whole steps, text a page can hold.

What the report takes from a run directory it checks as it reads: a value it cannot read (text where a
number belongs, an integer beyond a float's range, a file that is not UTF-8, a damaged image) is left
out and a note on the page says what and where; it never stops the page nor shows as another number.
These are the checks, and the words the notes use for what was found instead.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_STEP = 2**53  # the largest whole number up to which a float (the figures' step axis) holds each one exactly
NON_FINITE = frozenset({"nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})  # text stats writes
UNREAD = object()  # read_json's answer for a file that could not be read (JSON null is None)
# Lone surrogates (JSON's "\ud800" escapes, file names that are not UTF-8) cannot be written as UTF-8, and
# control characters other than whitespace (a "\u0000" in a key) are errors in HTML: both become U+FFFD.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]")


def shorten(s: str, n: int = 60) -> str:
    """``s`` cut to ``n`` characters (a metric key may be thousands long), "…" marking the cut."""
    return s if len(s) <= n else s[: n - 1] + "…"


def kind_of(v: Any) -> str:
    """What a value read from JSON or YAML is, in words, for a note on a value that cannot be used."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, int) and as_number(v) is None:
        return "an integer beyond a float's range"
    if isinstance(v, (int, float)):
        return f"the number {shorten(repr(v), 24)}"
    if isinstance(v, str):
        return "text"
    containers: dict[type, str] = {dict: "an object", list: "a list"}
    return containers.get(type(v), f"a {type(v).__name__}")


def as_number(v: Any) -> float | None:
    """A metric value as a float: a number a float can hold, or the text of a non-finite one ("nan", "inf",
    "-inf", as metrics.jsonl stores them); None for anything else (other text, true/false, null, an object,
    an integer beyond ±1.8e308, which float() would refuse or which no figure could show)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, float):
        return v
    if isinstance(v, int):
        try:
            return float(v)
        except OverflowError:
            return None
    if isinstance(v, str) and v.strip().lower() in NON_FINITE:
        return float(v)
    return None


def finite_number(v: Any) -> float | None:
    """A finite number given as a number (a config value; text is not one), else None."""
    x = None if isinstance(v, str) else as_number(v)
    return x if x is not None and math.isfinite(x) else None


def whole_number(v: Any, lo: int = 0, hi: int = MAX_STEP) -> int | None:
    """A whole number in [lo, hi] (an integral float such as 5.0 included: JSON does not tell them apart),
    else None: a step or a sample count that is negative, fractional, non-finite, text or beyond ``hi``."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, float) and not v.is_integer():  # nan and ±inf included
        return None
    return int(v) if lo <= v <= hi else None


def writable(s: str) -> str:
    """``s`` with what a page cannot hold (see :data:`_UNWRITABLE`) replaced by U+FFFD."""
    return _UNWRITABLE.sub("\ufffd", s)


def listed(items: list[str], k: int = 8) -> str:
    """The first ``k`` items, and how many more there are."""
    return ", ".join(items[:k]) + (f" and {len(items) - k} more" if len(items) > k else "")
