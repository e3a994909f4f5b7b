"""Sizes that cannot fit: refused up front with one line instead of a crash (or a swap storm) later."""

from __future__ import annotations

import os

from .errors import GankitError

__all__ = ["available_bytes", "require_bytes", "human_bytes"]


def available_bytes() -> int:
    """Memory this process could still get: MemAvailable of /proc/meminfo (Linux), else the physical
    memory, else a very large number (no check possible)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def human_bytes(n: float) -> str:
    """``1.5 GiB``-style size."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"


def require_bytes(nbytes: float, what: str) -> None:
    """A GankitError naming ``what`` when ``nbytes`` exceed the memory available now."""
    have = available_bytes()
    if nbytes > have:
        raise GankitError(f"{what} needs about {human_bytes(nbytes)} of memory, more than the "
                          f"{human_bytes(have)} available; choose a smaller size")
