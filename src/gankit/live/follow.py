"""Following a run directory while another process trains it: the rows of ``metrics.jsonl`` as they are
appended (read from where the last read stopped; a line still being written is left for the next read),
the newest sample grid and ``eval.json``."""

from __future__ import annotations

import json
import threading
from pathlib import Path

__all__ = ["RunFollower"]


class RunFollower:
    """The rows and files of ``run``, read incrementally; safe to call from several request handlers."""

    def __init__(self, run: Path):
        self.run = Path(run)
        self.rows: list[dict] = []
        self._offset = 0
        self._lock = threading.Lock()

    def _read_rows(self) -> None:
        path = self.run / "metrics.jsonl"
        try:
            with open(path, "rb") as f:
                if f.seek(0, 2) < self._offset:  # the file was replaced (a new run): start over
                    self._offset, self.rows = 0, []
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return
        done = chunk.rfind(b"\n") + 1  # complete lines only
        for line in chunk[:done].splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a damaged line is skipped, not fatal to the page
            if isinstance(row, dict):
                self.rows.append(row)
        self._offset += done

    def state(self, since: int = 0) -> dict:
        """Rows from index ``since`` on, their total, the newest sample grid's path (relative to the run) and
        eval.json's content (or None)."""
        with self._lock:
            self._read_rows()
            rows = self.rows[max(0, since) :]
            total = len(self.rows)
        grids = sorted((self.run / "samples").glob("*.png")) if (self.run / "samples").is_dir() else []
        try:
            evaluation = json.loads((self.run / "eval.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            evaluation = None
        return {
            "run": self.run.name,
            "rows": rows,
            "total": total,
            "sample": f"samples/{grids[-1].name}" if grids else None,
            "eval": evaluation,
        }
