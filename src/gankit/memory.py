"""Sizes that cannot fit: refused up front with one line instead of a crash (or a swap storm) later."""

from __future__ import annotations

import os
import re

from .errors import GankitError

__all__ = ["available_bytes", "require_bytes", "human_bytes", "is_out_of_memory", "describe_error"]


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
        raise GankitError(
            f"{what} needs about {human_bytes(nbytes)} of memory, more than the "
            f"{human_bytes(have)} available; choose a smaller size"
        )


def is_out_of_memory(e: BaseException) -> bool:
    """Whether ``e`` is a failed allocation: Python's MemoryError, torch's OutOfMemoryError (CUDA), or the
    RuntimeError torch's CPU allocator raises ("can't allocate memory")."""
    if isinstance(e, MemoryError):
        return True
    import torch

    if isinstance(e, torch.OutOfMemoryError):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text.lower())


def describe_error(e: BaseException) -> str:
    """One line for an error a user can act on: out of memory (with torch's own numbers), an OSError's
    reason and file, or a GankitError's message."""
    if is_out_of_memory(e):
        first = (str(e).strip().splitlines() or [""])[0]
        want = re.search(r"tried to allocate [0-9.]+ ?\w+", first)
        detail = f" ({want.group(0)})" if want else ""
        return (
            f"out of memory{detail}: use a smaller train.batch_size, network (model.g_hidden, "
            "model.d_hidden) or sample count"
        )
    if isinstance(e, OSError):
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        return f"{e.strerror or e}{where}"
    return str(e)
