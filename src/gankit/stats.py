"""Statistics reported from where they arise, written by one collector.

Anywhere in the code: ``stats.report("loss/d", tensor_or_float)``. Values are kept as they
come (tensors stay on their device, so reporting never forces a host sync) and averaged per
name when the collector flushes, which writes one JSON object a line to ``metrics.jsonl`` and
the same scalars to TensorBoard (and to the trackers of :mod:`gankit.loggers`), with values given at the
flush (the learning rates) and the time columns: ``time/wall_s``, seconds of training since the run started
(continued by a resume from its last row), and ``time/img_per_s``, real images per second over the logging
interval (its evaluations, figures and checkpoints included). With no active collector, ``report`` does
nothing.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol, TextIO

import torch
from torch import Tensor

from .files import write_atomic

__all__ = ["report", "Collector", "Sink", "StepSums", "read_jsonl", "truncate_jsonl", "last_value", "LOCAL_PREFIXES"]

LOCAL_PREFIXES = ("toy/", "eval/", "raw/")  # statistics measured by one process only (rank 0's evaluations)
WALL, THROUGHPUT = "time/wall_s", "time/img_per_s"

_active: "Collector | None" = None


def report(name: str, value: Any) -> None:
    """Record one value of the statistic ``name`` for the current logging interval."""
    if _active is not None:
        _active.add(name, value)


class Sink(Protocol):
    """Where rows go besides metrics.jsonl and TensorBoard (see :class:`gankit.loggers.Tracker`)."""

    def log(self, row: dict[str, float], step: int) -> None:
        """Receive one row (the values written to metrics.jsonl) at ``step``."""

    def image(self, tag: str, path: Path, step: int) -> None:
        """Receive the picture at ``path`` as ``tag`` at ``step``."""

    def close(self, failed: bool = False) -> None:
        """End: the run ended (``failed``: by an exception); never raises."""


class Collector:
    """Averages reported values per name and writes them at ``flush(step)``.

    Use as a context manager: while open it is the target of :func:`report`. ``start_step``: the step a
    resumed run continues from (0 for a new run). ``images_per_step``: the real images one step trains on
    (all processes together); given, every row carries the time columns (see the module's docstring).
    ``sinks``: more destinations of the rows and images (the main process's trackers).
    """

    def __init__(
        self,
        run_dir: str | Path | None,
        tensorboard: bool = False,
        start_step: int = 0,
        images_per_step: int | None = None,
        sinks: Iterable[Sink] = (),
    ):
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._values: dict[str, list] = defaultdict(list)
        self._jsonl: TextIO | None = None
        self._tb: Any = None  # a SummaryWriter
        self.sinks = list(sinks)
        self.images_per_step = images_per_step
        self.step = start_step  # the step of the last row flushed
        self._wall0 = 0.0
        try:
            self._open(tensorboard, start_step)
        except BaseException:
            self.close(failed=True)  # the sinks given are ended too
            raise
        # the clock starts here, before the first step; a resume goes on from its last row's wall time
        self._t0 = self._last_t = time.perf_counter()
        self.last: dict[str, float] = {}

    def _open(self, tensorboard: bool, start_step: int) -> None:
        """Open metrics.jsonl (and the TensorBoard writer) in the run directory, if there is one."""
        if self.run_dir is None:
            return
        # O_NOFOLLOW: a metrics.jsonl planted as a symbolic link must not make gankit append elsewhere
        fd = os.open(self.run_dir / "metrics.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        self._jsonl = os.fdopen(fd, "a", buffering=1)
        if start_step and self.images_per_step is not None:
            self._wall0 = last_value(self.run_dir / "metrics.jsonl", WALL)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # imported only when used: slow

            # purge_step: a resumed run drops the events an interrupted one wrote after its checkpoint
            self._tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=start_step + 1 if start_step else None)

    def add(self, name: str, value: Any) -> None:
        """Keep one value (float, int or tensor; tensors are detached, not synced)."""
        self._values[name].append(value.detach() if torch.is_tensor(value) else value)

    def flush(
        self,
        step: int,
        reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
        given: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """Average what was reported since the last flush, write it, return it.

        ``reduce`` (data-parallel runs: the mean over processes) is applied to every statistic
        except those under ``LOCAL_PREFIXES``, which only one process reports; every process
        must call flush at the same steps. ``given``: values of ``step`` every process knows alike
        (the scheduled learning rates), written as they are. Nothing reported: no row (``given`` and
        the time columns do not make one).
        """
        row = self._means()
        if reduce is not None:
            shared = sorted(k for k in row if not k.startswith(LOCAL_PREFIXES))
            if shared:
                means = reduce(torch.tensor([row[k] for k in shared], dtype=torch.float64)).tolist()
                row.update(zip(shared, means))
        if not row:
            return row
        row.update(given or {})
        if self.images_per_step is not None:  # measured after the means were read: the interval's work is done
            row.update(self._times(step))
        self.step = step
        self.last.update(row)
        if self._jsonl is not None:
            assert self.run_dir is not None  # metrics.jsonl is opened only in a run directory
            clean = {k: (v if math.isfinite(v) else str(v)) for k, v in row.items()}
            try:
                self._jsonl.write(json.dumps({"step": step, **clean}) + "\n")
            except OSError as e:  # a full disk: say which file could not be written
                raise OSError(e.errno, e.strerror or str(e), str(self.run_dir / "metrics.jsonl")) from None
        if self._tb is not None:
            for k, v in row.items():
                self._tb.add_scalar(k, v, step)
        for sink in self.sinks:
            sink.log(row, step)
        return row

    def _means(self) -> dict[str, float]:
        """The mean of each name's values since the last flush (one host read a name); then restart."""
        row: dict[str, float] = {}
        for name, vals in self._values.items():
            tensors = [t for t in vals if torch.is_tensor(t)]
            if tensors:  # a float among tensors joins them as a 0-d tensor on their device
                v = (
                    torch.stack(
                        [
                            t.float().mean() if torch.is_tensor(t) else torch.tensor(float(t), device=tensors[0].device)
                            for t in vals
                        ]
                    )
                    .mean()
                    .item()
                )
            else:
                v = float(sum(vals) / len(vals))
            row[name] = v
        self._values.clear()
        return row

    def _times(self, step: int) -> dict[str, float]:
        """The time columns at ``step``: the wall time so far and the throughput since the last row."""
        now = time.perf_counter()
        out = {WALL: self._wall0 + (now - self._t0)}
        steps, seconds = step - self.step, now - self._last_t
        if steps > 0 and seconds > 0:
            out[THROUGHPUT] = steps * float(self.images_per_step or 0) / seconds
        self._last_t = now
        return out

    def image(self, tag: str, path: str | Path, step: int) -> None:
        """Send the picture at ``path`` (a PNG the run wrote: a sample figure) to TensorBoard and the
        sinks as ``tag`` at ``step``."""
        path = Path(path)
        if self._tb is not None:
            import numpy as np
            from PIL import Image

            with Image.open(path) as im:
                pixels = np.asarray(im.convert("RGB"))  # [H, W, 3] uint8
            self._tb.add_image(tag, pixels, step, dataformats="HWC")
        for sink in self.sinks:
            sink.image(tag, path, step)

    def close(self, failed: bool | None = None) -> None:
        """Flush files, end the sinks' runs and stop being the report target. ``failed`` (the sinks' runs
        end as failed): by default, whether an exception is being handled."""
        global _active
        if failed is None:
            failed = sys.exc_info()[0] is not None
        sinks, self.sinks = self.sinks, []
        for sink in sinks:  # first: a sink's close never raises, a file's may (a full disk)
            sink.close(failed)
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if _active is self:
            _active = None

    def __enter__(self) -> "Collector":
        global _active
        _active = self
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(failed=True if exc_type is not None else None)


def read_jsonl(path: str | Path, torn_ok: bool = False) -> list[dict]:
    """The rows of a ``metrics.jsonl`` file. ``torn_ok``: skip lines that are not JSON objects (a line
    a kill cut short) instead of failing, and read a missing file as no rows."""
    path = Path(path)
    if torn_ok and not path.is_file():
        return []
    rows = []
    text = path.read_bytes().decode("utf-8", errors="replace" if torn_ok else "strict")
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if not torn_ok:
                raise
            continue
        if isinstance(row, dict) or not torn_ok:
            rows.append(row)
    return rows


def last_value(path: str | Path, key: str, tail: int = 1 << 16) -> float:
    """The value of ``key`` in the last row of a ``metrics.jsonl`` that has it as a finite number, looked
    for in the file's last ``tail`` bytes (rows are short: a long run's file is not read whole); 0.0 if
    none has it. A link is not followed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return 0.0
    with os.fdopen(fd, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - tail))
        lines = f.read().splitlines()
    for line in reversed(lines):
        try:
            row = json.loads(line)
        except ValueError:  # a torn line, or the first line of the tail cut in two
            continue
        v = row.get(key) if isinstance(row, dict) else None
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            return float(v)
    return 0.0


def _step(row: dict) -> int | None:
    """A row's step if it is a whole number (not a bool), else None."""
    step = row.get("step")
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def truncate_jsonl(path: str | Path, last_step: int) -> None:
    """Drop the rows of a ``metrics.jsonl`` logged after ``last_step`` (what a resumed run redoes),
    a torn last line and rows without a whole-number step (a damaged or hand-edited line: nothing of
    gankit's); the file is replaced atomically."""
    path = Path(path)
    if path.is_file():
        keep = [row for row in read_jsonl(path, torn_ok=True) if ((s := _step(row)) is not None and s <= last_step)]
        write_atomic(path, "".join(json.dumps(row) + "\n" for row in keep))


class StepSums:
    """Per-step statistics summed on their device: ``add`` is one in-place kernel (no host sync, so
    it can sit inside a captured step); ``means`` reads the interval's means once and restarts.

    The last slot of the sum counts the steps, so replays of a captured ``add`` are counted too.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self.total: Tensor | None = None  # [len(names) + 1]: the sums, then the number of steps

    def add(self, values: dict[str, Tensor]) -> None:
        """Add one step's values (0-d tensors, the same names every step)."""
        v = torch.stack([x.detach().float() for x in values.values()])
        if self.total is None:
            self.names = list(values)
            self.total = torch.zeros(len(v) + 1, device=v.device)
        self.total.add_(torch.cat([v, v.new_ones(1)]))

    def means(self) -> dict[str, Tensor]:
        """Means since the last call, as 0-d device tensors (nothing is read here); then restart."""
        if self.total is None:
            return {}
        m = self.total[:-1] / self.total[-1].clamp(min=1.0)  # a new tensor: the sums can restart
        self.total.zero_()
        return dict(zip(self.names, m.unbind()))

    def current(self, names: tuple[str, ...]) -> dict[str, Tensor]:
        """The sums of ``names`` since the last ``means``, as 0-d device tensors (nothing is read
        here): a NaN or infinity in any step since then stays in its sum."""
        if self.total is None:
            return {}
        return {n: self.total[i] for i, n in enumerate(self.names) if n in names}
