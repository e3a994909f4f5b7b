"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

__all__ = ["write_atomic", "fsync_dir"]


def write_atomic(path: str | Path, data: str | bytes | Callable[[BinaryIO], None], durable: bool = False) -> None:
    """Write ``data`` (text as UTF-8, bytes, or a function that writes into a binary file) to a
    temporary file beside ``path`` (a unique ``.NAME.*.tmp``, so concurrent writers never share one),
    then rename it over ``path``. ``durable``: fsync the file before the rename and the folder after,
    so the new file also survives a power loss. On any error the temporary file is removed and the
    old ``path`` is untouched."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def fsync_dir(folder: str | Path) -> None:
    """Make a folder's entries (a rename, a new link) durable."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
