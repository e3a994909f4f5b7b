"""What a training run tells its user while it runs, on stderr (stdout is kept for results).

On a terminal: a tqdm bar. Without one (nohup, a scheduler, CI, ``docker logs``) a bar is
unreadable and tqdm would print it only now and then, so plain lines are printed instead: one at
least every tenth of the run and every ``every_s`` seconds, with step/total, steps/s, time left
and the losses last logged.
"""

from __future__ import annotations

import sys
import time
from typing import Mapping, TextIO

__all__ = ["Progress", "format_duration", "note"]


def note(line: str, stream: TextIO | None = None) -> None:
    """A line for the user on stderr. A stderr that cannot be written (a closed pipe, a full disk)
    drops the line: what the user sees must never stop the training it describes."""
    try:
        print(line, file=stream if stream is not None else sys.stderr, flush=True)
    except (OSError, ValueError):  # ValueError: a closed file
        pass


def format_duration(seconds: float) -> str:
    """``1h02m``, ``4m05s`` or ``12s``."""
    s = int(round(max(seconds, 0.0)))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class Progress:
    """Progress of steps ``start + 1 .. total``: call :meth:`step` after each step, :meth:`close` at the end."""

    def __init__(
        self,
        start: int,
        total: int,
        enabled: bool,
        stream: TextIO | None = None,
        every_s: float = 30.0,
        clock=time.monotonic,
    ):
        self.start, self.total, self.every_s, self.clock = start, total, every_s, clock
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.bar = None
        if enabled and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, desc="train", unit="step", file=self.stream, dynamic_ncols=True)
        self.t0 = self.last = clock()
        self.next_tenth = start + self._tenth()

    def _tenth(self) -> int:
        return max(1, -(-self.total // 10))  # ⌈total / 10⌉

    def step(self, step: int, losses: Mapping[str, float], logged: bool = False) -> None:
        """Step ``step`` is done; ``losses``: the latest logged values (shown as they are);
        ``logged``: whether they were logged at this step (refreshes the bar's numbers)."""
        if not self.enabled:
            return
        if self.bar is not None:
            try:
                if logged:
                    self.bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
                self.bar.update(1)
            except (OSError, ValueError):  # the terminal went away: train on without a bar
                self.bar, self.enabled = None, False
            return
        now = self.clock()
        if step < self.total and step < self.next_tenth and now - self.last < self.every_s:
            return
        while self.next_tenth <= step:
            self.next_tenth += self._tenth()
        self.last = now
        rate = (step - self.start) / max(now - self.t0, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else float("inf")
        parts = [
            f"train: step {step}/{self.total} ({100 * step / self.total:.0f}%)",
            f"{rate:.3g} steps/s",
            f"ETA {format_duration(eta)}" if eta != float("inf") else "ETA ?",
        ]
        parts += [f"{k} {v:.4g}" for k, v in losses.items()]
        note(", ".join(parts), self.stream)

    def close(self) -> None:
        """Close the bar (plain lines need nothing)."""
        if self.bar is not None:
            try:
                self.bar.close()
            except (OSError, ValueError):
                pass
