"""Files of a run: atomic writes (a reader, or a crash, sees the old file or the new one, never half
of one) and the lock that keeps two processes out of one run directory."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, Callable

from .errors import GankitError

__all__ = [
    "write_atomic",
    "fsync_dir",
    "file_mode",
    "RunLock",
    "LOCK_NAME",
    "check_new_run_dir",
    "check_writable",
    "clear_unstarted_run",
]

LOCK_NAME = ".lock"
PROBE_BYTES = 1 << 20  # check_writable writes this much: about what gankit theory's figures need
_umask_lock = threading.Lock()


def file_mode() -> int:
    """The mode a new file gets from ``open()`` under the current umask (0644 under umask 022):
    ``mkstemp`` creates 0600 files, and an atomically written file must not differ from any other."""
    with _umask_lock:  # reading the umask means setting it; no other thread of ours may see the 0
        mask = os.umask(0)
        os.umask(mask)
    return 0o666 & ~mask


def write_atomic(
    path: str | Path, data: str | bytes | memoryview | Callable[[BinaryIO], None], durable: bool = False
) -> None:
    """Write ``data`` (text as UTF-8, bytes or a memoryview of them, or a function that writes into a
    binary file) to a temporary file beside ``path`` (a unique ``.NAME.*.tmp``, so concurrent writers
    never share one), then rename it over ``path``. ``durable``: fsync the file before the rename and
    the folder after, so the new file also survives a power loss. On any error the temporary file is
    removed and the old ``path`` is untouched."""
    path = Path(path)
    if path.is_dir():  # the rename would fail naming the temporary file, not the one the user gave
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
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
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        if e.filename in (None, tmp):  # say which file could not be written, not the temporary one
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise
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
        try:  # O_NOFOLLOW: a .lock planted as a symbolic link must not make gankit overwrite its target
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, file_mode())
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise GankitError(f"{self.path} is a symbolic link; gankit will not follow it (remove it)") from None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EACCES):
                who = f" (pid {holder})" if holder.isdigit() else ""
                raise GankitError(
                    f"run directory {self.path.parent} is in use by another gankit process{who}; "
                    "wait for it to finish or stop it first"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


# What a run writes before its first checkpoint: a run stopped (killed, diverged, failed) before that
# point holds no work, and may be started again in its folder.
UNSTARTED_FILES = {LOCK_NAME, "config.yaml", "metrics.jsonl", "eval.json", "report.html", "loggers.json"}
UNSTARTED_DIRS = {"samples", "tb", "checkpoints", "wandb", "mlruns"}  # wandb, mlruns: train.loggers' local files


def _unstarted(p: Path) -> bool:
    """Whether run directory ``p`` holds nothing but what a run writes before its first checkpoint."""
    for x in p.iterdir():
        if x.is_symlink() or (x.name not in UNSTARTED_FILES and x.name not in UNSTARTED_DIRS):
            return False
        if x.name in UNSTARTED_DIRS and (
            not x.is_dir() or any(f.suffix == ".pt" and not f.name.startswith(".") for f in x.rglob("*"))
        ):
            return False  # a checkpoint (or something that is not gankit's) is work: never overwritten
    return True


def check_new_run_dir(path: str | Path) -> Path:
    """``path`` if a new run may be written there: absent, empty but for a lock, or holding only what a
    run that never reached its first checkpoint wrote (config, logs, figures: no work to lose); else
    one GankitError line. A run with a checkpoint is never overwritten."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise GankitError(f"run directory {p} is a file; choose another --out")
    if p.is_dir() and not _unstarted(p):
        raise GankitError(
            f"run directory {p} already exists and is not empty; choose another --out "
            f"(or continue it with gankit resume {p})"
        )
    return p


def clear_unstarted_run(path: str | Path) -> bool:
    """Remove what a run that never reached its first checkpoint left in ``path`` (see
    :func:`check_new_run_dir`, which must have passed), so a new run starts clean (its metrics are not
    appended to the old ones); the lock stays. Whether anything was removed."""
    p = Path(path)
    if not p.is_dir():
        return False
    removed = False
    for x in p.iterdir():
        if x.name == LOCK_NAME:
            continue
        if x.is_dir():
            shutil.rmtree(x)
        else:
            x.unlink()
        removed = True
    return removed


def check_writable(folder: str | Path) -> Path:
    """``folder``, created if needed, once a file could be written in it; else one GankitError line
    (said up front, before a long computation whose results would have nowhere to go)."""
    p = Path(folder)
    probe = None
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=p)
        with os.fdopen(fd, "wb") as f:  # a full disk accepts an empty file: write what a result needs
            f.write(bytes(PROBE_BYTES))
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise GankitError(f"cannot write in {p}: {e.strerror or e}") from None
    finally:
        if probe is not None:
            Path(probe).unlink(missing_ok=True)
    return p
