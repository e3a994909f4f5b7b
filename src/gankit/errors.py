"""The one exception type that reaches a user as a single line.

Everything a user can get wrong (config, data, checkpoint, command line) raises
:class:`GankitError` with a message that names the problem; ``cli.main`` prints it
as ``gankit: error: <message>`` and exits with status 2, never with a traceback.
"""

from __future__ import annotations

import difflib
import re
from typing import Iterable


class GankitError(Exception):
    """A user-facing error: its message is the whole story, one line."""

    exit_code = 2


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters shown escaped (``\\n``), so that a name
    or path the user typed cannot split or garble a one-line message."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> GankitError:
    """The error for a name missing from a registry: lists the valid names and a close match."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return GankitError(f"unknown {kind} {name!r}{hint}; valid: {', '.join(valid)}")


def refusal(e: BaseException) -> str:
    """Why a file failed to load, in one line: for a weights-only refusal, what was refused in gankit's
    words (torch's own text suggests the unsafe way of loading it anyway)."""
    text = str(e)
    if "Weights only load failed" not in text:
        first = text.strip().splitlines()[0] if text.strip() else e.__class__.__name__
        return first[:200]
    found = re.search(r"(unsupported GLOBAL \S+|Unsupported global: \S+|Unsupported operand \S+)", text)
    what = f" ({found.group(1).rstrip('.')})" if found else ""
    return (
        f"it holds objects other than tensors and plain data{what}; gankit never unpickles those, "
        "since unpickling can run code, and will not load this file"
    )


class Diverged(GankitError):
    """Training produced a non-finite loss or parameter; the last good checkpoint is kept."""

    exit_code = 3


class StopNow(KeyboardInterrupt):
    """A second SIGINT or SIGTERM during training: stop at once (the last checkpoint stays); the
    command exits 128 + the signal's number, as a process killed by that signal would."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
