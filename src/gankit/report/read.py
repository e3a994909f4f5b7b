"""Reading a directory: a training run (config.yaml, metrics.jsonl, samples/step_*.png, eval.json) into a
:class:`Run`, and telling a theory directory from one.

Everything is optional inside a run directory: a part whose file or keys are missing is left empty, so
a run still in progress (or one from an older version) gets a page too. What is there is checked as it
is read: a file that is not UTF-8, a line of metrics.jsonl that is not a JSON row with a whole-number
step, a value that is not a number a float holds (text, an object, a 400-digit integer), a sample figure
that is not a readable PNG, is left out, and a note (``Run.notes``) says what and where.
"""

from __future__ import annotations

import io
import json
import math
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..errors import GankitError
from .describe import GAME_KEYS, RAW_PREFIX, game_objective, setting_text
from .values import MAX_STEP, UNREAD, as_number, kind_of, listed, shorten, whole_number, writable


MAX_PNG_BYTES = 64 * 2**20  # a sample figure is far smaller; a bigger file would only bloat the page


@dataclass
class Run:
    """What a training run directory holds, read once; every part may be missing."""

    path: Path
    name: str
    config_text: str | None = None
    config: dict = field(default_factory=dict)
    series: dict[str, tuple[array, array]] = field(default_factory=dict)  # key: (steps, values)
    samples: list[tuple[int, Path, bytes]] = field(default_factory=list)  # shown (step, png, its bytes), by step
    evaluation: dict | None = None  # eval.json as _read_eval checked it
    notes: list[str] = field(default_factory=list)  # problems met while reading, shown on the page
    hidden: list[str] = field(default_factory=list)  # GAME_KEYS logged but not drawn (not the minimax family)
    ema: tuple[float, float | str | None] | str | None = None  # ema_setting's answer, once asked

    def last(self, key: str) -> float | None:
        """The last finite value of ``key``, if any."""
        for v in reversed(self.series.get(key, ([], []))[1]):
            if math.isfinite(v):
                return v
        return None

    @property
    def metrics(self) -> dict:
        """eval.json's {metric: {value, floor, better, null}} as _read_metric checked them ({} when absent)."""
        return (self.evaluation or {}).get("metrics", {})

    @property
    def last_step(self) -> int | None:
        """The largest step logged (rows out of order, as after a hand edit, included)."""
        steps = [max(s) for s, _ in self.series.values() if s]
        return max(steps) if steps else None


def check_dir(path: str | Path) -> Path:
    """``path`` as a Path; a GankitError when it does not exist or is not a directory."""
    p = Path(path)
    if not p.exists():
        raise GankitError(f"run directory not found: {p}")
    if not p.is_dir():
        raise GankitError(f"not a directory: {p}")
    return p


def is_theory(p: Path) -> bool:
    """Whether ``p`` is a ``gankit theory --out`` directory: claims.json, or figure1.png and no config.yaml."""
    return (p / "claims.json").is_file() or ((p / "figure1.png").is_file() and not (p / "config.yaml").is_file())


def _read_text(path: Path, notes: list[str]) -> str | None:
    """A file's text, or None and a note when it cannot be read or is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as e:
        notes.append(f"{path.name} could not be read ({e.strerror or e}): left out")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        notes.append(f"{path.name} could not be read: it is not UTF-8 text (byte {e.start:,} is not): left out")
        return None


def read_json(path: Path, notes: list[str]) -> Any:
    """A JSON file's value, or UNREAD and a note."""
    text = _read_text(path, notes)
    if text is None:
        return UNREAD
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # not JSON, an integer of over 4300 digits, or nested too deep
        why = "nested too deeply" if isinstance(e, RecursionError) else shorten(str(e), 100)
        notes.append(f"{path.name} could not be read: it is not valid JSON ({why}): left out")
        return UNREAD


def _read_config(run: Run) -> None:
    """config.yaml's text (shown on the page) and its settings (read for captions), when it has them."""
    import yaml

    run.config_text = _read_text(run.path / "config.yaml", run.notes)
    if run.config_text is None:
        return
    try:
        cfg = yaml.safe_load(run.config_text)
    except (yaml.YAMLError, ValueError, RecursionError):  # PyYAML raises ValueError for a date like 2020-99-99
        run.notes.append("config.yaml is not valid YAML: its settings are not used")
        return
    if isinstance(cfg, dict):
        run.config = cfg
    elif cfg is not None:
        run.notes.append(f"config.yaml holds {kind_of(cfg)}, not a mapping of settings: its settings are not used")


def _parse_row(raw: bytes) -> tuple[dict | None, str]:
    """One line of metrics.jsonl as (row, "") or (None, why it cannot be read); a blank line is (None, "")."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    if not text.strip():
        return None, ""
    try:
        row = json.loads(text)
    except (ValueError, RecursionError):  # a line being written, an integer of over 4300 digits, deep nesting
        return None, "not JSON"
    if not isinstance(row, dict):
        return None, "not a JSON object"
    if whole_number(row.get("step")) is None:
        return None, f"without a step that is a whole number from 0 to 2^{MAX_STEP.bit_length() - 1}"
    return row, ""


def _add_row(row: dict, series: dict[str, tuple[array, array]], bad: dict[str, Counter]) -> None:
    """A row's values into ``series`` at its step; values that are not numbers counted in ``bad`` by key."""
    step = whole_number(row["step"])
    for k, v in row.items():
        if k == "step":
            continue
        # null: a value JSON cannot write (NaN, ±inf, as eval.json stores them), a gap like "nan"
        x = math.nan if v is None else as_number(v)
        if x is None:
            bad.setdefault(k, Counter())[kind_of(v)] += 1
            continue
        steps, values = series.get(k) or series.setdefault(k, (array("q"), array("d")))  # 16 bytes a point
        steps.append(step)
        values.append(x)


def _read_series(path: Path, notes: list[str]) -> dict[str, tuple[array, array]]:
    """metrics.jsonl as {key: (steps, values)}. A line that cannot be read (a line being written, bytes that
    are not UTF-8, a row without a whole-number step) and a value that is not a number are skipped, each
    kind counted in a note."""
    series: dict[str, tuple[array, array]] = {}
    lines: dict[str, list[int]] = {}  # why lines were skipped: [how many, the first's number]
    bad: dict[str, Counter] = {}
    try:
        with open(path, "rb") as f:  # bytes, so that a line that is not UTF-8 costs only that line
            for no, raw in enumerate(f, 1):
                row, why = _parse_row(raw)
                if why:
                    lines.setdefault(why, [0, no])[0] += 1
                if row is not None:
                    _add_row(row, series, bad)
    except OSError as e:
        notes.append(f"metrics.jsonl could not be read to its end ({e.strerror or e}): the curves stop there")
    if lines:
        whys = "; ".join(f"{n} {why} (the first at line {first:,})" for why, (n, first) in lines.items())
        notes.append(
            f"{sum(n for n, _ in lines.values())} line(s) of metrics.jsonl could not be read and were skipped: {whys}"
        )
    if bad:
        keys = [
            f"{writable(shorten(k))!r} ({', '.join(f'{kind} ×{n}' for kind, n in c.items())})" for k, c in bad.items()
        ]
        notes.append(
            f"{sum(sum(c.values()) for c in bad.values())} value(s) in metrics.jsonl cannot be read as "
            f"numbers and were skipped: {listed(keys, 3)}"
        )
    return series


def _read_metric(name: str, m: Any, bad: list[str]) -> dict:
    """One metric of eval.json as {"value", "floor", "better", "null"}: value and floor as floats (None when
    absent or unreadable), "better" as text, "null" whether the value is JSON null, which is how eval.json
    writes a value that is not finite; with "raw" (the raw G's value, which training writes beside its EMA
    copy's) also "raw" and "raw_null", read as the value is. What cannot be read is named in ``bad``."""
    m = m if isinstance(m, dict) else {"value": m}  # an older eval.json held bare values
    out = {
        "value": as_number(m.get("value")),
        "floor": as_number(m.get("floor")),
        "better": m.get("better"),
        "null": "value" in m and m["value"] is None,
    }
    if out["value"] is None and not out["null"]:
        bad.append(f"{name}'s value ({kind_of(m.get('value')) if 'value' in m else 'missing'})")
    if "raw" in m:
        out["raw"], out["raw_null"] = as_number(m["raw"]), m["raw"] is None
        if out["raw"] is None and not out["raw_null"]:
            bad.append(f"{name}'s raw G value ({kind_of(m['raw'])})")
    if out["floor"] is None and m.get("floor") is not None:  # null or absent: no floor (toy runs have none)
        bad.append(f"{name}'s floor ({kind_of(m['floor'])})")
    if not isinstance(out["better"], (str, type(None))):
        bad.append(f"{name}'s better ({kind_of(out['better'])})")
        out["better"] = None
    elif out["better"] is not None:
        out["better"] = writable(out["better"])
    return out


def _read_eval(path: Path, notes: list[str]) -> dict | None:
    """eval.json with what the page can use: n (a whole number), step, the texts features, features_info,
    split, source and generator (which one "value" measures: "G_ema" or "G"), and the metrics
    (:func:`_read_metric`). A field that cannot be read is left out and named in a note, so that the page
    never shows it as something else; None if there is no object."""
    ev = read_json(path, notes)
    if ev is UNREAD:
        return None
    if not isinstance(ev, dict):
        notes.append(f"eval.json holds {kind_of(ev)}, not an object of metrics: left out")
        return None
    out: dict[str, Any] = {}
    bad: list[str] = []
    for key, ok in (("n", whole_number(ev.get("n"), hi=2**63)), ("step", whole_number(ev.get("step")))):
        if ok is not None:
            out[key] = ok
        elif ev.get(key) is not None:
            bad.append(f"{key} ({kind_of(ev[key])})")
    for key in ("features", "features_info", "split", "source", "generator"):
        if isinstance(ev.get(key), str):
            out[key] = writable(ev[key])
        elif ev.get(key) is not None:
            bad.append(f"{key} ({kind_of(ev[key])})")
            if key == "features":  # metrics measured on some feature network: not exact densities
                out[key] = "unknown"
            if key == "generator":  # named, but not readably: not taken for the sampling generator
                out[key] = UNREAD
    ms = ev.get("metrics") if ev.get("metrics") is not None else {}
    if not isinstance(ms, dict):
        bad.append(f"metrics ({kind_of(ms)}, not an object)")
        ms = {}
    out["metrics"] = {writable(name): _read_metric(shorten(writable(name)), m, bad) for name, m in ms.items()}
    if bad:
        notes.append(f"eval.json: what could not be read is left out (shown as –): {listed(bad)}")
    return out


def read_png(path: Path) -> tuple[bytes | None, str]:
    """A PNG file's bytes, or (None, why not): not a regular file, unreadable, too large, or not a PNG that
    Pillow can check (its structure and every chunk's checksum), which a browser would show broken."""
    try:
        if not path.is_file():  # a folder, a FIFO (reading it would wait forever), a dangling link
            return None, "not a file"
        size = path.stat().st_size
        if size > MAX_PNG_BYTES:
            return None, f"{size:,} bytes, too large for a figure"
        data = path.read_bytes()
    except OSError as e:
        return None, f"unreadable: {e.strerror or e}"
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None, "not a PNG image"
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as im:
            im.verify()
    except Exception as e:  # Pillow reports damage as OSError, SyntaxError, ValueError, EOFError, struct.error...
        return None, f"a damaged PNG ({shorten(str(e) or type(e).__name__, 80)})"
    return data, ""


def _read_samples(folder: Path, notes: list[str]) -> list[tuple[int, Path, bytes]]:
    """The sample figures the page shows: the last that reads as a PNG, and up to seven earlier ones evenly
    spaced (see :func:`_strip`). Files named like sample figures that are not readable PNGs are skipped with
    a note; only the figures shown are read."""
    found = sorted(
        (int(m.group(1)), f)
        for f in folder.glob("step_*.png")
        for m in [re.fullmatch(r"step_([0-9]+)\.png", f.name)]
        if m
    )
    shown: list[tuple[int, Path, bytes]] = []
    bad: list[str] = []
    while found and not shown:  # the last readable one
        step, f = found.pop()
        data, why = read_png(f)
        if data is None:
            bad.append(f"{writable(f.name)} ({why})")
        else:
            shown.append((step, f, data))
    for step, f in _strip(found + [shown[0][:2]], 8)[:-1] if shown else []:
        data, why = read_png(f)
        if data is None:
            bad.append(f"{writable(f.name)} ({why})")
        else:
            shown.insert(-1, (step, f, data))
    if bad:
        notes.append(f"samples/: {len(bad)} file(s) named like sample figures were skipped: {listed(bad)}")
    return shown


def _strip(samples: list[tuple[int, Path]], k: int = 8) -> list[tuple[int, Path]]:
    """Up to ``k`` evenly spaced sample figures, the first and the last included."""
    if len(samples) <= k:
        return samples
    idx = sorted({round(i * (len(samples) - 1) / (k - 1)) for i in range(k)})
    return [samples[i] for i in idx]


def read_run(p: Path, name: str) -> Run:
    """The run directory ``p``, read once and checked, named ``name`` on the page. The series of
    :data:`GAME_KEYS` (and their raw twins) are dropped, with a note, unless the objective is of the minimax
    family. A GankitError when ``p`` holds neither config.yaml nor metrics.jsonl."""
    if not (p / "config.yaml").is_file() and not (p / "metrics.jsonl").is_file():
        raise GankitError(
            f"{p} is not a gankit run directory (no config.yaml or metrics.jsonl) "
            "nor a theory directory (no claims.json or figure1.png)"
        )
    run = Run(p, name)
    for f in ("config.yaml", "metrics.jsonl", "eval.json", "samples"):
        if (p / f).exists() and not ((p / f).is_dir() if f == "samples" else (p / f).is_file()):
            run.notes.append(f"{f} is not a {'folder' if f == 'samples' else 'file'}: left out")
    if (p / "config.yaml").is_file():
        _read_config(run)
    if (p / "metrics.jsonl").is_file():
        run.series = _read_series(p / "metrics.jsonl", run.notes)
    if not game_objective(run):
        run.hidden = [k for k in GAME_KEYS if run.series.pop(k, None) is not None]
        for k in GAME_KEYS:  # a raw twin of a series not drawn is not drawn either
            run.series.pop(RAW_PREFIX + k, None)
    if run.hidden:
        objective = setting_text(run, "objective", "name")
        run.notes.append(
            f"{', '.join(run.hidden)} are logged in metrics.jsonl but not drawn: σ(logit) is D(x), "
            "and V the game's value with −log 4 at its equilibrium, only when D is trained by the "
            "cross-entropy of objectives minimax and nonsaturating; this run's objective is "
            + (objective or "not named in config.yaml")
            + "."
        )
    if (p / "samples").is_dir():
        run.samples = _read_samples(p / "samples", run.notes)
    if (p / "eval.json").is_file():
        run.evaluation = _read_eval(p / "eval.json", run.notes)
    return run


def run_names(paths: Sequence[Path]) -> list[str]:
    """Short labels for the runs: the directory name, with its parent where two names collide."""
    names = [p.resolve().name or str(p) for p in paths]
    if len(set(names)) < len(names):
        names = [f"{p.resolve().parent.name}/{p.resolve().name}" for p in paths]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    return names
