"""Files of a run: atomic writes (a reader, or a crash, sees the old file or the new one, never half
of one) and the lock that keeps two processes out of one run directory."""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, Callable

from .errors import GankitError

__all__ = ["write_atomic", "fsync_dir", "file_mode", "RunLock", "LOCK_NAME", "check_new_run_dir", "check_writable"]

LOCK_NAME = ".lock"
_umask_lock = threading.Lock()


def file_mode() -> int:
    """The mode a new file gets from ``open()`` under the current umask (0644 under umask 022):
    ``mkstemp`` creates 0600 files, and an atomically written file must not differ from any other."""
    with _umask_lock:  # reading the umask means setting it; no other thread of ours may see the 0
        mask = os.umask(0)
        os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, data: str | bytes | Callable[[BinaryIO], None], durable: bool = False) -> None:
    """Write ``data`` (text as UTF-8, bytes, or a function that writes into a binary file) to a
    temporary file beside ``path`` (a unique ``.NAME.*.tmp``, so concurrent writers never share one),
    then rename it over ``path``. ``durable``: fsync the file before the rename and the folder after,
    so the new file also survives a power loss. On any error the temporary file is removed and the
    old ``path`` is untouched."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())
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


class RunLock:
    """An exclusive lock on a run directory (``flock`` on ``RUN/.lock``), held while a process trains
    or resumes it: a second process gets one line instead of interleaving metrics and overwriting
    checkpoints. The kernel drops the lock when the holder exits, even by SIGKILL, so a killed run
    never stays locked."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, file_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EACCES):
                who = f" (pid {holder})" if holder.isdigit() else ""
                raise GankitError(f"run directory {self.path.parent} is in use by another gankit process{who}; "
                                  "wait for it to finish or stop it first") from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def check_new_run_dir(path: str | Path) -> Path:
    """``path`` if a new run may be written there (absent, or an empty folder but for a lock); else one
    GankitError line. Never reuse a run: its checkpoints and metrics would be overwritten."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise GankitError(f"run directory {p} is a file; choose another --out")
    if p.is_dir() and any(x.name != LOCK_NAME for x in p.iterdir()):
        raise GankitError(f"run directory {p} already exists and is not empty; choose another --out "
                          f"(or continue it with gankit resume {p})")
    return p


def check_writable(folder: str | Path) -> Path:
    """``folder``, created if needed, once a file could be written in it; else one GankitError line
    (said up front, before a long computation whose results would have nowhere to go)."""
    p = Path(folder)
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise GankitError(f"cannot write in {p}: {e.strerror or e}") from None
    return p
