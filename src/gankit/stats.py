"""Statistics reported from where they arise, written by one collector.

Anywhere in the code: ``stats.report("loss/d", tensor_or_float)``. Values are kept as they
come (tensors stay on their device, so reporting never forces a host sync) and averaged per
name when the collector flushes, which writes one JSON object a line to ``metrics.jsonl`` and
the same scalars to TensorBoard. With no active collector, ``report`` does nothing.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor

from .files import write_atomic

__all__ = ["report", "Collector", "StepSums", "read_jsonl", "truncate_jsonl", "LOCAL_PREFIXES"]

LOCAL_PREFIXES = ("toy/", "eval/", "raw/")  # statistics measured by one process only (rank 0's evaluations)

_active: "Collector | None" = None


def report(name: str, value: Any) -> None:
    """Record one value of the statistic ``name`` for the current logging interval."""
    if _active is not None:
        _active.add(name, value)


class Collector:
    """Averages reported values per name and writes them at ``flush(step)``.

    Use as a context manager: while open it is the target of :func:`report`.
    """

    def __init__(self, run_dir: str | Path | None, tensorboard: bool = False, start_step: int = 0):
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._values: dict[str, list] = defaultdict(list)
        self._jsonl = None
        self._tb = None
        if self.run_dir is not None:
            # O_NOFOLLOW: a metrics.jsonl planted as a symbolic link must not make gankit append elsewhere
            fd = os.open(self.run_dir / "metrics.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
            self._jsonl = os.fdopen(fd, "a", buffering=1)
            if tensorboard:
                from torch.utils.tensorboard import SummaryWriter  # imported only when used: slow

                # purge_step: a resumed run drops the events an interrupted one wrote after its checkpoint
                self._tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=start_step + 1 if start_step else None)
        self.last: dict[str, float] = {}

    def add(self, name: str, value: Any) -> None:
        """Keep one value (float, int or tensor; tensors are detached, not synced)."""
        self._values[name].append(value.detach() if torch.is_tensor(value) else value)

    def flush(self, step: int, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, float]:
        """Average what was reported since the last flush, write it, return it.

        ``reduce`` (data-parallel runs: the mean over processes) is applied to every statistic
        except those under ``LOCAL_PREFIXES``, which only one process reports; every process
        must call flush at the same steps.
        """
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
        if reduce is not None:
            shared = sorted(k for k in row if not k.startswith(LOCAL_PREFIXES))
            if shared:
                means = reduce(torch.tensor([row[k] for k in shared], dtype=torch.float64)).tolist()
                row.update(zip(shared, means))
        if not row:
            return row
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
        return row

    def close(self) -> None:
        """Flush files and stop being the report target."""
        global _active
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

    def __exit__(self, *exc) -> None:
        self.close()


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
