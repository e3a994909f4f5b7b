"""``gankit report``: one self-contained HTML page for a run, for several runs, or for ``gankit theory``.

The page embeds every figure as a base64 PNG ``data:`` URI and carries its own small style
sheet: no script, no external file, no network request, so it opens offline and can be mailed.

What a directory holds decides the page:

* a training run (``config.yaml``, ``metrics.jsonl``, ``samples/step_*.png``, maybe ``eval.json``,
  which ``gankit eval`` or the end of training writes): the metric table with its floors, the last
  sample figure large and a strip of earlier ones, the curves (losses, D(x) on real and fake and
  the value V with −log 4 for the minimax objectives, for toy targets the JSD and the mode
  statistics, ``eval/<net>/<metric>`` series), the resolved config;
* a theory directory (``claims.json``, or ``figure1.png`` without ``config.yaml``): the claims
  table, pass and fail highlighted, and the figures;
* several training runs: their curves overlaid (one colour a run), their last sample figures
  side by side, one table of their metrics, and each config folded away.

Everything is optional inside a run directory: a section whose file or keys are missing is left
out, so a run still in progress (or one from an older version) gets a page too. What is there is
checked as it is read: a file that is not UTF-8, a line of metrics.jsonl that is not a JSON row with a
whole-number step, a value that is not a number a float holds (text, an object, a 400-digit integer),
a sample figure that is not a readable PNG, is left out, and a note on the page says what and where.
Nothing read stops the page, and nothing unreadable is shown as some other number.

Every metric names what it was measured on: the sampling generator (:data:`SAMPLER_RULE`), named from
config.yaml's ``train.ema_kimg`` and ``train.ema_rampup`` (or an older config's ``train.ema``) as
:func:`gankit.config.describe_ema` names it, the number of samples and the feature network (or exact
densities). A run with an EMA logs the raw G's metrics beside its EMA copy's (``raw/<key>`` beside
``<key>``): both are drawn in one panel, the raw G dashed, and eval.json's ``raw`` values get a column. ``V``, ``D/real`` and ``D/fake``
are drawn only for runs whose config.yaml names an objective of the minimax family
(:data:`GAME_KEYS`); other runs' pages say that these series were left out.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import GankitError
from .files import write_atomic

__all__ = ["write_report"]

LOG4 = math.log(4.0)
# σ(logit) is D(x), and V(D, G) the game's value (−log 4 at its equilibrium), only for a D trained by
# the cross-entropy of eq. 1: objectives minimax and nonsaturating. Runs of other objectives (older
# ones logged these series too) get no such curves.
GAME_KEYS = ("V", "D/real", "D/fake")
SAMPLER_RULE = ("Metrics, figures and samples of a run are computed on its sampling generator: the EMA copy "
                "of G (G_ema) when train.ema_kimg > 0 (train.ema > 0 in older configs), otherwise G itself; "
                "during training, a run with an EMA measures the raw G beside it.")
RAW_G = "G (raw)"  # the raw G of a run that keeps an EMA copy, where both are shown
RAW_PREFIX = "raw/"  # metrics.jsonl: the raw G's value of <key> is logged as raw/<key>
THEORY_FIGURES = {  # file: caption, in the order the page shows them
    "figure1.png": "Figure 1 of Goodfellow et al. (2014), measured: p_data, p_g, the trained D and D* = "
                   "p_data/(p_data + p_g) at four stages of training.",
    "curves.png": "JSD(p_data ‖ p_g) and C(G) = V(D*, G) against step: C(G) = −log 4 + 2·JSD falls to −log 4; "
                  "the training's own D stays below it.",
    "logit.png": "G fixed, D trained to convergence: its logit lies on log(p_data/p_g) where both densities have mass.",
    "proposition2.png": "Proposition 2: p_g moving onto p_data by descent on C(G) with D = D* at every step.",
    "wgan.png": "Arjovsky et al. (2017), example 1: JSD is flat at log 2 while W1 = |θ| keeps its slope; the "
                "generator's gradient under each objective.",
    "dynamics.png": "A bimodal target trained with the minimax and the non-saturating objective: final p_g and "
                    "the generator's gradient norm per step.",
}


# --- reading a directory -------------------------------------------------------------------------

# What the report takes from a run directory it checks as it reads: a value it cannot read (text where a
# number belongs, an integer beyond a float's range, a file that is not UTF-8, a damaged image) is left
# out and a note on the page says what and where; it never stops the page nor shows as another number.
MAX_STEP = 2**53  # the largest whole number up to which a float (the figures' step axis) holds each one exactly
MAX_PNG_BYTES = 64 * 2**20  # a sample figure is far smaller; a bigger file would only bloat the page
NON_FINITE = frozenset({"nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})  # text stats writes
MAX_PANELS = 40  # curve panels on a page: more would take minutes to draw and nobody would read them
TITLE_CHARS = 100  # a figure's title longer than this (a metric key can be any length) is cut
_UNREAD = object()  # _read_json's answer for a file that could not be read (JSON null is None)
# Lone surrogates (JSON's "\ud800" escapes, file names that are not UTF-8) cannot be written as UTF-8, and
# control characters other than whitespace (a "\u0000" in a key) are errors in HTML: both become U+FFFD.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]")


@dataclass
class _Run:
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
    ema: tuple[float, float | str | None] | str | None = None  # _ema_setting's answer, once asked

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


def _check_dir(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise GankitError(f"run directory not found: {p}")
    if not p.is_dir():
        raise GankitError(f"not a directory: {p}")
    return p


def _is_theory(p: Path) -> bool:
    return (p / "claims.json").is_file() or ((p / "figure1.png").is_file() and not (p / "config.yaml").is_file())


def _short(s: str, n: int = 60) -> str:
    """``s`` cut to ``n`` characters (a metric key may be thousands long), "…" marking the cut."""
    return s if len(s) <= n else s[:n - 1] + "…"


def _kind(v: Any) -> str:
    """What a value read from JSON or YAML is, in words, for a note on a value that cannot be used."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, int) and _number(v) is None:
        return "an integer beyond a float's range"
    if isinstance(v, (int, float)):
        return f"the number {_short(repr(v), 24)}"
    if isinstance(v, str):
        return "text"
    return {dict: "an object", list: "a list"}.get(type(v), f"a {type(v).__name__}")


def _number(v: Any) -> float | None:
    """A metric value as a float: a number a float can hold, or the text of a non-finite one ("nan", "inf",
    "-inf", as metrics.jsonl stores them); None for anything else (other text, true/false, null, an object,
    an integer beyond ±1.8e308, which float() would refuse or which no figure could show)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, float):
        return v
    if isinstance(v, int):
        try:
            return float(v)
        except OverflowError:
            return None
    if isinstance(v, str) and v.strip().lower() in NON_FINITE:
        return float(v)
    return None


def _finite(v: Any) -> float | None:
    """A finite number given as a number (a config value; text is not one), else None."""
    x = None if isinstance(v, str) else _number(v)
    return x if x is not None and math.isfinite(x) else None


def _whole(v: Any, lo: int = 0, hi: int = MAX_STEP) -> int | None:
    """A whole number in [lo, hi] (an integral float such as 5.0 included: JSON does not tell them apart),
    else None: a step or a sample count that is negative, fractional, non-finite, text or beyond ``hi``."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, float) and not v.is_integer():  # nan and ±inf included
        return None
    return int(v) if lo <= v <= hi else None


def _text(s: str) -> str:
    """``s`` with what a page cannot hold (see :data:`_UNWRITABLE`) replaced by U+FFFD."""
    return _UNWRITABLE.sub("\ufffd", s)


def _listed(items: list[str], k: int = 8) -> str:
    """The first ``k`` items, and how many more there are."""
    return ", ".join(items[:k]) + (f" and {len(items) - k} more" if len(items) > k else "")


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


def _read_json(path: Path, notes: list[str]) -> Any:
    """A JSON file's value, or _UNREAD and a note."""
    text = _read_text(path, notes)
    if text is None:
        return _UNREAD
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # not JSON, an integer of over 4300 digits, or nested too deep
        why = "nested too deeply" if isinstance(e, RecursionError) else _short(str(e), 100)
        notes.append(f"{path.name} could not be read: it is not valid JSON ({why}): left out")
        return _UNREAD


def _read_config(run: _Run) -> None:
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
        run.notes.append(f"config.yaml holds {_kind(cfg)}, not a mapping of settings: its settings are not used")


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
    if _whole(row.get("step")) is None:
        return None, f"without a step that is a whole number from 0 to 2^{MAX_STEP.bit_length() - 1}"
    return row, ""


def _add_row(row: dict, series: dict[str, tuple[array, array]], bad: dict[str, Counter]) -> None:
    """A row's values into ``series`` at its step; values that are not numbers counted in ``bad`` by key."""
    step = _whole(row["step"])
    for k, v in row.items():
        if k == "step":
            continue
        # null: a value JSON cannot write (NaN, ±inf, as eval.json stores them), a gap like "nan"
        x = math.nan if v is None else _number(v)
        if x is None:
            bad.setdefault(k, Counter())[_kind(v)] += 1
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
        notes.append(f"{sum(n for n, _ in lines.values())} line(s) of metrics.jsonl could not be read and were "
                     f"skipped: {whys}")
    if bad:
        keys = [f"{_text(_short(k))!r} ({', '.join(f'{kind} ×{n}' for kind, n in c.items())})" for k, c in bad.items()]
        notes.append(f"{sum(sum(c.values()) for c in bad.values())} value(s) in metrics.jsonl cannot be read as "
                     f"numbers and were skipped: {_listed(keys, 3)}")
    return series


def _read_metric(name: str, m: Any, bad: list[str]) -> dict:
    """One metric of eval.json as {"value", "floor", "better", "null"}: value and floor as floats (None when
    absent or unreadable), "better" as text, "null" whether the value is JSON null, which is how eval.json
    writes a value that is not finite; with "raw" (the raw G's value, which training writes beside its EMA
    copy's) also "raw" and "raw_null", read as the value is. What cannot be read is named in ``bad``."""
    m = m if isinstance(m, dict) else {"value": m}  # an older eval.json held bare values
    out = {"value": _number(m.get("value")), "floor": _number(m.get("floor")), "better": m.get("better"),
           "null": "value" in m and m["value"] is None}
    if out["value"] is None and not out["null"]:
        bad.append(f"{name}'s value ({_kind(m.get('value')) if 'value' in m else 'missing'})")
    if "raw" in m:
        out["raw"], out["raw_null"] = _number(m["raw"]), m["raw"] is None
        if out["raw"] is None and not out["raw_null"]:
            bad.append(f"{name}'s raw G value ({_kind(m['raw'])})")
    if out["floor"] is None and m.get("floor") is not None:  # null or absent: no floor (toy runs have none)
        bad.append(f"{name}'s floor ({_kind(m['floor'])})")
    if not isinstance(out["better"], (str, type(None))):
        bad.append(f"{name}'s better ({_kind(out['better'])})")
        out["better"] = None
    elif out["better"] is not None:
        out["better"] = _text(out["better"])
    return out


def _read_eval(path: Path, notes: list[str]) -> dict | None:
    """eval.json with what the page can use: n (a whole number), step, the texts features, features_info,
    split, source and generator (which one "value" measures: "G_ema" or "G"), and the metrics (:func:`_read_metric`). A field that cannot be read is left out and
    named in a note, so that the page never shows it as something else; None if there is no object."""
    ev = _read_json(path, notes)
    if ev is _UNREAD:
        return None
    if not isinstance(ev, dict):
        notes.append(f"eval.json holds {_kind(ev)}, not an object of metrics: left out")
        return None
    out: dict[str, Any] = {}
    bad: list[str] = []
    for key, ok in (("n", _whole(ev.get("n"), hi=2**63)), ("step", _whole(ev.get("step")))):
        if ok is not None:
            out[key] = ok
        elif ev.get(key) is not None:
            bad.append(f"{key} ({_kind(ev[key])})")
    for key in ("features", "features_info", "split", "source", "generator"):
        if isinstance(ev.get(key), str):
            out[key] = _text(ev[key])
        elif ev.get(key) is not None:
            bad.append(f"{key} ({_kind(ev[key])})")
            if key == "features":  # metrics measured on some feature network: not exact densities
                out[key] = "unknown"
            if key == "generator":  # named, but not readably: not taken for the sampling generator
                out[key] = _UNREAD
    ms = ev.get("metrics") if ev.get("metrics") is not None else {}
    if not isinstance(ms, dict):
        bad.append(f"metrics ({_kind(ms)}, not an object)")
        ms = {}
    out["metrics"] = {_text(name): _read_metric(_short(_text(name)), m, bad) for name, m in ms.items()}
    if bad:
        notes.append(f"eval.json: what could not be read is left out (shown as –): {_listed(bad)}")
    return out


def _png(path: Path) -> tuple[bytes | None, str]:
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
        return None, f"a damaged PNG ({_short(str(e) or type(e).__name__, 80)})"
    return data, ""


def _read_samples(folder: Path, notes: list[str]) -> list[tuple[int, Path, bytes]]:
    """The sample figures the page shows: the last that reads as a PNG, and up to seven earlier ones evenly
    spaced (see :func:`_strip`). Files named like sample figures that are not readable PNGs are skipped with
    a note; only the figures shown are read."""
    found = sorted((int(m.group(1)), f) for f in folder.glob("step_*.png")
                   for m in [re.fullmatch(r"step_([0-9]+)\.png", f.name)] if m)
    shown: list[tuple[int, Path, bytes]] = []
    bad: list[str] = []
    while found and not shown:  # the last readable one
        step, f = found.pop()
        data, why = _png(f)
        if data is None:
            bad.append(f"{_text(f.name)} ({why})")
        else:
            shown.append((step, f, data))
    for step, f in _strip(found + [shown[0][:2]], 8)[:-1] if shown else []:
        data, why = _png(f)
        if data is None:
            bad.append(f"{_text(f.name)} ({why})")
        else:
            shown.insert(-1, (step, f, data))
    if bad:
        notes.append(f"samples/: {len(bad)} file(s) named like sample figures were skipped: {_listed(bad)}")
    return shown


def _read_run(p: Path, name: str) -> _Run:
    if not (p / "config.yaml").is_file() and not (p / "metrics.jsonl").is_file():
        raise GankitError(f"{p} is not a gankit run directory (no config.yaml or metrics.jsonl) "
                          "nor a theory directory (no claims.json or figure1.png)")
    run = _Run(p, name)
    for f in ("config.yaml", "metrics.jsonl", "eval.json", "samples"):
        if (p / f).exists() and not ((p / f).is_dir() if f == "samples" else (p / f).is_file()):
            run.notes.append(f"{f} is not a {'folder' if f == 'samples' else 'file'}: left out")
    if (p / "config.yaml").is_file():
        _read_config(run)
    if (p / "metrics.jsonl").is_file():
        run.series = _read_series(p / "metrics.jsonl", run.notes)
    if not _game_objective(run):
        run.hidden = [k for k in GAME_KEYS if run.series.pop(k, None) is not None]
        for k in GAME_KEYS:  # a raw twin of a series not drawn is not drawn either
            run.series.pop(RAW_PREFIX + k, None)
    if run.hidden:
        objective = _cfg_text(run, "objective", "name")
        run.notes.append(f"{', '.join(run.hidden)} are logged in metrics.jsonl but not drawn: σ(logit) is D(x), "
                         "and V the game's value with −log 4 at its equilibrium, only when D is trained by the "
                         "cross-entropy of objectives minimax and nonsaturating; this run's objective is "
                         + (objective or "not named in config.yaml") + ".")
    if (p / "samples").is_dir():
        run.samples = _read_samples(p / "samples", run.notes)
    if (p / "eval.json").is_file():
        run.evaluation = _read_eval(p / "eval.json", run.notes)
    return run


def _names(paths: Sequence[Path]) -> list[str]:
    """Short labels for the runs: the directory name, with its parent where two names collide."""
    names = [p.resolve().name or str(p) for p in paths]
    if len(set(names)) < len(names):
        names = [f"{p.resolve().parent.name}/{p.resolve().name}" for p in paths]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    return names


def _cfg(run: _Run, section: str, key: str) -> Any:
    sec = run.config.get(section)
    return sec.get(key) if isinstance(sec, dict) else None


def _cfg_text(run: _Run, section: str, key: str) -> str | None:
    """A name from config.yaml (data, model, objective), or None when absent or not text."""
    v = _cfg(run, section, key)
    return _text(v) if isinstance(v, str) and v else None


def _toy_target(run: _Run):
    """The run's toy target (a GaussianMixture), or None for images, unknown or unreadable configs."""
    try:
        from .config import read_config
        from .distributions import make_target

        cfg = read_config(run.path / "config.yaml")
        if not cfg.data.is_toy:
            return None
        return make_target(cfg.data.name, **cfg.data.target_params())
    # a caption's detail: never stop the page (config.py turns a bad file into a GankitError; the rest is in case)
    except (GankitError, OSError, ValueError, TypeError, KeyError, ArithmeticError, RecursionError):
        return None


def _mode_count(run: _Run) -> int | None:
    """How many separate modes the run's toy target has (None for images, continuous shapes, or unknown)."""
    target = _toy_target(run)
    return len(target.weights) if target is not None and target.discrete_modes else None


def _game_objective(run: _Run) -> bool:
    """Whether config.yaml names an objective whose D is trained by eq. 1's cross-entropy (the
    minimax family), so that σ(logit) is D(x) and V(D, G) the game's value; False when unknown."""
    from .objectives import OBJECTIVES

    name = _cfg(run, "objective", "name")
    return isinstance(name, str) and name in OBJECTIVES and OBJECTIVES[name].probabilistic


def _ema_setting(run: _Run) -> tuple[float, float | str | None] | str:
    """The run's EMA as (train.ema_kimg, train.ema_rampup), or why config.yaml does not tell (in words,
    following "config.yaml"; a ramp-up that cannot be read is such words too). The train section is validated as training reads it (an old ``train.ema``
    decay migrated by :class:`gankit.config.TrainConfig`); where it does not validate, each EMA key is read
    on its own, so that a problem elsewhere in the config costs nothing and a bad EMA key is named."""
    if run.ema is None:
        run.ema = _read_ema(run)
    return run.ema


def _read_ema(run: _Run) -> tuple[float, float | str | None] | str:
    from pydantic import ValidationError

    from .config import TrainConfig, ema_half_life_kimg

    t = run.config.get("train")
    if not isinstance(t, dict) or ("ema_kimg" not in t and "ema" not in t):
        return "gives no train.ema_kimg"  # a resolved config names it: the default would be a guess
    try:
        cfg = TrainConfig.model_validate(t)
        return cfg.ema_kimg, cfg.ema_rampup
    # the train section does not validate (a field of another version, a hand edit): the EMA keys alone
    except (ValidationError, ValueError, TypeError, ArithmeticError, RecursionError):
        pass
    if "ema_kimg" in t and "ema" in t:
        return "gives both train.ema_kimg and train.ema (an old decay)"
    if "ema" in t:  # an older config: a constant decay per step
        d = _finite(t["ema"])
        if d is None or not 0 <= d < 1:
            return f"has train.ema {_kind(t['ema'])}, not a decay in [0, 1)"
        batch = _whole(t.get("batch_size", TrainConfig.model_fields["batch_size"].default), lo=1, hi=2**63)
        if d == 0:
            return 0.0, None
        return (ema_half_life_kimg(d, batch), None) if batch is not None else f"gives train.ema {d:g} with no batch size"
    kimg = _finite(t["ema_kimg"])
    if kimg is None or kimg < 0:
        return f"has train.ema_kimg {_kind(t['ema_kimg'])}, not a half-life of 0 kimg or more"
    ramp = t.get("ema_rampup", TrainConfig.model_fields["ema_rampup"].default)
    if ramp is not None and (_finite(ramp) is None or not _finite(ramp) > 0):
        return (kimg, f"has train.ema_rampup {_kind(ramp)}, not a ramp-up > 0 or null") if kimg > 0 else (0.0, None)
    return kimg, None if ramp is None else _finite(ramp)


def _sampler(run: _Run) -> str:
    """The generator behind the run's metrics, figures and samples, in words (see SAMPLER_RULE), as
    :func:`gankit.config.describe_ema` names it."""
    from .config import describe_ema

    ema = _ema_setting(run)
    if isinstance(ema, str):
        return f"G_ema or G (config.yaml {ema})"
    kimg, ramp = ema
    if isinstance(ramp, str):  # the half-life is known, the ramp-up is not
        return f"G_ema (EMA half-life {kimg:g} kimg; config.yaml {ramp})"
    return describe_ema(kimg, ramp)


def _keeps_ema(run: _Run) -> bool | None:
    """Whether config.yaml says the run keeps an EMA copy of G (None: it does not say)."""
    ema = _ema_setting(run)
    return None if isinstance(ema, str) else ema[0] > 0


def _ema_copy(run: _Run) -> str:
    """The run's EMA copy in words, where its values are shown beside the raw G's (raw/ series, eval.json's
    raw): its half-life when config.yaml names one, else just G_ema (raw values are logged only with one)."""
    return _sampler(run) if _keeps_ema(run) else "G_ema"


def _eval_generator(run: _Run) -> str:
    """The generator eval.json's values were measured on, in words: its "generator" ("G_ema" or "G"), named as
    config.yaml describes it; an older eval.json without one measured the sampling generator."""
    gen = (run.evaluation or {}).get("generator")
    if gen is None:
        return _sampler(run)
    if gen is _UNREAD:
        return "G_ema or G (eval.json's generator cannot be read)"
    if gen == "G_ema":
        return _ema_copy(run)
    if gen == "G":
        keeps = _keeps_ema(run)
        return RAW_G if keeps else "G (no EMA)" if keeps is False else "G"
    return gen  # another name, as written


def _eval_samples(run: _Run) -> str:
    """How many samples the metrics logged during training were measured on (train.eval_samples)."""
    n = _whole(_cfg(run, "train", "eval_samples"), lo=1, hi=2**63)
    return f"{n} samples" if n is not None else "train.eval_samples samples (not a count in config.yaml)"


def _jsd_basis(run: _Run) -> str:
    """How a toy run's JSD is computed, in words (see :func:`gankit.evaluate.evaluate_toy`)."""
    import inspect

    from .evaluate import evaluate_toy

    target = _toy_target(run)
    if target is not None and target.dim == 1 and _cfg(run, "model", "z_dim") == 1:
        p_g = "pushed through G on a quadrature grid over z"
    else:
        p_g = f"from {inspect.signature(evaluate_toy).parameters['n_jsd'].default:,} samples"
    return f"JSD from exact densities: p_data's grid-cell masses exact, p_g's {p_g}"


# --- HTML pieces ---------------------------------------------------------------------------------

STYLE = """
:root { --fg: #1f2933; --muted: #5f6b7a; --line: #dde2e8; --card: #fff; --pass: #e3f4e8; --fail: #fde2e1; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f6f8; color: var(--fg);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 2px; }
h2 { font-size: 18px; margin: 30px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.sub, figcaption, .caption, footer { color: var(--muted); font-size: 13px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px; }
.side { display: grid; gap: 14px; }
figure { margin: 0; }
figcaption { margin-top: 4px; }
img { display: block; max-width: 100%; height: auto; }
img.px { image-rendering: pixelated; }
.samples { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.strip { flex: 1 1 360px; }
.strip .caption { margin: 0 0 8px; }
.thumbs { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.thumbs img { width: 100%; }
.figs { display: grid; gap: 14px; }
table { border-collapse: collapse; background: var(--card); font-variant-numeric: tabular-nums; }
th, td { padding: 5px 12px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-weight: 600; background: #eef1f4; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.pass td.verdict { color: #17692e; font-weight: 600; }
tr.fail td { background: var(--fail); }
tr.fail td.verdict { color: #a4161a; font-weight: 700; }
tr.report td.verdict { color: var(--muted); }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600; font-size: 14px; }
.badge.ok { background: var(--pass); color: #17692e; }
.badge.bad { background: var(--fail); color: #a4161a; }
pre.cfg { columns: 250px; column-rule: 1px solid var(--line); }
pre { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px;
      overflow: auto; font-size: 13px; line-height: 1.4; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; }
.note { background: #fff8e1; border: 1px solid #f2d98b; border-radius: 6px; padding: 6px 10px; font-size: 14px; }
"""


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk (0, 0 if the bytes are not a PNG)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return 0, 0
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _img(data: bytes, alt: str, width: int | None = None) -> str:
    """An <img> holding ``data`` (PNG bytes) as a data URI, ``width`` pixels wide if given. Small
    images (grids of small pictures) are enlarged by a whole factor, and drawn with sharp pixels."""
    w, h = _png_size(data)
    if width is None and 0 < w < 400:
        width = w * max(1, 440 // w)
    cls = ' class="px"' if width and w and width > w and w < 400 else ""
    size = f' width="{width}" height="{round(h * width / w)}"' if width and w else ""
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<img src="{uri}" alt="{_e(alt)}"{size}{cls}>'


def _fmt(v: Any) -> str:
    x = _number(v)
    if x is None:
        return "–"
    if math.isfinite(x) and x == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.4g}"


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


def _table(head: list[str], rows: list[list[str]], first_number: int) -> str:
    """A table of HTML cells; columns from ``first_number`` on hold numbers (right-aligned)."""
    def row(cells: list[str], tag: str) -> str:
        return "<tr>" + "".join(f'<{tag} class="num">{c}</{tag}>' if i >= first_number else f"<{tag}>{c}</{tag}>"
                                for i, c in enumerate(cells)) + "</tr>"

    return "<table>" + row(head, "th") + "".join(row(r, "td") for r in rows) + "</table>"


def _notes(notes: list[str]) -> list[str]:
    return [f'<p class="note">{_e(n)}</p>' for n in notes]


# --- curves --------------------------------------------------------------------------------------

@dataclass
class _Panel:
    title: str
    keys: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    logy: bool = False
    hlines: list[tuple[float, str]] = field(default_factory=list)
    ylim: tuple[float, float] | None = None
    # what a run's values were measured on besides the generator (samples, features), for metrics of the
    # sampling generator: figure and caption name the generator before it
    measured: Callable[[_Run], str] | None = None
    caption: str = ""  # said under the figure
    twins: dict[str, str] = field(default_factory=dict)  # raw/<key> drawn in the panel: its <key>


GAME_CAPTION = ("Drawn for runs whose objective is minimax or nonsaturating only: there D is trained by "
                "cross-entropy, so σ(logit) is D(x) and V is the game's value.")
NOTE_CHARS = 80  # a figure's "measured on" line is wrapped at this many characters: a figure is 580 pixels wide


def _twin_of(key: str) -> str | None:
    """The series whose raw-G twin ``key`` is (raw/<key> → <key>), or None for a series of its own. One level
    only: raw/raw/x, which training never logs, is a series of its own."""
    if key.startswith(RAW_PREFIX) and len(key) > len(RAW_PREFIX) and not key[len(RAW_PREFIX):].startswith(RAW_PREFIX):
        return key[len(RAW_PREFIX):]
    return None


def _panels(runs: list[_Run]) -> tuple[list[_Panel], list[str]]:
    """The curve panels that the runs' metrics support, in reading order (the first MAX_PANELS), and the
    keys of the series left out. A raw/<key> series (the raw G's values beside its EMA copy's) joins the
    panel of <key>, never one of its own."""
    logged = {k for r in runs for k in r.series}
    present = {k for r in runs for k, (_, v) in r.series.items() if any(math.isfinite(x) for x in v)}
    # the series panels are made for: those with values to draw, or whose raw twin has them
    mains = {_twin_of(k) or k for k in present}
    twinned = {m for m in mains if RAW_PREFIX + m in logged}
    panels = [
        _Panel("losses", ["loss/d", "loss/g"], {"loss/d": "D loss", "loss/g": "G loss"}),
        _Panel("D(x) on real and on generated data", ["D/real", "D/fake"],
               {"D/real": "D(x), x real", "D/fake": "D(G(z))"}, hlines=[(0.5, "1/2")], ylim=(0, 1),
               caption=GAME_CAPTION),
        _Panel("value V(D, G)", ["V", "C(G)"], {"V": "V(D, G)", "C(G)": "-log 4 + 2 JSD (the value at D*)"},
               hlines=[(-LOG4, "-log 4")], caption=GAME_CAPTION),
        _Panel("penalties", ["loss/gp", "loss/r1"], {"loss/gp": "gradient penalty", "loss/r1": "R1"}),
        *_toy_panels(runs),
        *_eval_panels(mains, twinned),
    ]
    known = {k for p in panels for k in p.keys}
    panels += [_Panel(_short(k, TITLE_CHARS), [k], caption=f"The key has {len(k):,} characters; the title shows "
                      f"its first {TITLE_CHARS - 1}." if len(k) > TITLE_CHARS else "") for k in sorted(mains - known)]
    for p in panels:  # each series with its raw twin beside it
        p.twins = {RAW_PREFIX + k: k for k in p.keys if k in twinned}
        p.keys = [x for k in p.keys for x in ([k, RAW_PREFIX + k] if k in twinned else [k])]
    panels = [p for p in panels if any(k in present for k in p.keys)]
    return panels[:MAX_PANELS], [k for p in panels[MAX_PANELS:] for k in p.keys if k in present]


def _toy_panels(runs: list[_Run]) -> list[_Panel]:
    """JSD (exact densities) and the mode statistics (train.eval_samples samples) of toy runs."""
    toy = [r for r in runs if "toy/jsd" in r.series or RAW_PREFIX + "toy/jsd" in r.series]
    basis = "; ".join(dict.fromkeys(_jsd_basis(r) for r in toy)) + "." if toy else ""
    n_modes = _mode_count(runs[0]) if len(runs) == 1 else None
    return [
        _Panel("JSD(p_data || p_g), nats", ["toy/jsd"], {"toy/jsd": "JSD"}, logy=True,
               hlines=[(math.log(2), "log 2 (disjoint)")], measured=lambda r: "exact densities",
               caption=basis + " A lower bound on the continuous JSD (data-processing inequality)." if toy else ""),
        _Panel("modes covered" + (f" (of {n_modes})" if n_modes else ""), ["toy/modes"], {"toy/modes": "modes"},
               hlines=[(n_modes, f"all {n_modes}")] if n_modes else [], measured=_eval_samples),
        _Panel("high-quality samples (share within 3 sigma of a mode)", ["toy/high_quality"], ylim=(0, 1),
               measured=_eval_samples),
        _Panel("KL(mode histogram || uniform), nats", ["toy/kl_uniform"], measured=_eval_samples),
    ]


def _eval_panels(present: set[str], twinned: set[str] = frozenset()) -> list[_Panel]:
    """eval/<net>/<metric>: one panel a metric, a line a feature network; the four shares in [0, 1] together,
    unless the raw G's values are drawn beside them (``twinned``: then eight lines a run would be too many).
    Each names its feature network and train.eval_samples, the sample count behind it."""
    evals = sorted(k for k in present if k.startswith("eval/") and k.count("/") == 2)
    nets = sorted({k.split("/")[1] for k in evals})
    metrics = {k.split("/")[2] for k in evals}
    shares = [m for m in ("precision", "recall", "density", "coverage") if m in metrics]
    if any(k.split("/")[2] in shares for k in twinned if k in evals):
        shares_together = []
        singles = ("fid", "kid", "is", *shares)
    else:
        shares_together, singles = shares, ("fid", "kid", "is")
    groups = [[m] for m in singles if m in metrics] + ([shares_together] if shares_together else [])
    groups += [[m] for m in sorted(metrics - {"fid", "kid", "is", *shares})]
    panels = []
    for group in groups:
        keys = [f"eval/{net}/{m}" for m in group for net in nets]
        labels = {f"eval/{net}/{m}": " ".join(([net] if len(nets) > 1 or len(group) == 1 else [])
                                              + ([m] if len(group) > 1 else [])) for m in group for net in nets}

        def what(r: _Run, keys: list[str] = keys) -> str:
            used = sorted({k.split("/")[1] for k in keys if k in r.series or RAW_PREFIX + k in r.series})
            return f"{_eval_samples(r)}, {', '.join(used)} features"

        panels.append(_Panel(_short(f"{', '.join(group)} during training", TITLE_CHARS), keys, labels,
                             measured=what))
    return panels


def _with_derived(run: _Run) -> dict[str, tuple[Sequence[int], Sequence[float]]]:
    """The run's series plus C(G) = −log 4 + 2·JSD where the value V is shown beside a toy JSD."""
    series = dict(run.series)
    if "toy/jsd" in series and "V" in series:
        steps, j = series["toy/jsd"]
        series["C(G)"] = (steps, [-LOG4 + 2 * v for v in j])
    return series


def _generators(p: _Panel, run: _Run, short: bool = False) -> str | None:
    """The generator(s) behind a run's lines in panel ``p``, in words; None if the run has none there. With the
    raw G's values too, both (``short``: G_ema without its settings, which the legend gives)."""
    if not any(k in run.series for k in p.keys):
        return None
    if any(raw in run.series for raw in p.twins):
        return f"{'G_ema' if short else _ema_copy(run)} and {RAW_G}"
    return _sampler(run)


def _twin_labels(p: _Panel, runs: list[_Run]) -> dict[str, str]:
    """The legend's labels of a panel with raw twins, for one run: each line named by its generator (G_ema with
    its settings, G (raw)), after the metric where the panel holds several."""
    (run,) = runs
    shown = {p.twins.get(k, k) for k in p.keys if k in run.series}
    labels = dict(p.labels)
    for raw, key in p.twins.items():
        base = p.labels.get(key, key) if len(shown) > 1 else ""
        labels[key] = f"{base}, {_ema_copy(run)}" if base else _ema_copy(run)
        labels[raw] = f"{base}, {RAW_G}" if base else RAW_G
    return labels


def _curve_figures(runs: list[_Run]) -> tuple[list[str], list[str]]:
    """One <figure> a panel, and the keys of the series left out (see :func:`_panels`). What a panel's
    metric was measured on goes under its title when every run shown agrees, else beside each run's name
    in the legend; the caption says it either way, and names values too large for any axis. A series with
    its raw-G twin is drawn as two lines, the raw G's dashed, each named by its generator."""
    import textwrap

    from .plots import PLOT_LIMIT, plot_curves

    out = []
    panels, left_out = _panels(runs)
    for p in panels:
        named = [(r.name, _with_derived(r)) for r in runs]
        title, caption = p.title, p.caption
        if p.measured is not None:
            notes = {r.name: f"measured on {gen}: {p.measured(r)}" for r in runs
                     for gen in [_generators(p, r)] if gen is not None}
            short = {r.name: f"measured on {gen}: {p.measured(r)}" for r in runs
                     for gen in [_generators(p, r, short=True)] if gen is not None}
            if len(set(notes.values())) == 1:
                note = next(iter(notes.values()))
                title += "\n" + "\n".join(textwrap.wrap(next(iter(short.values())), NOTE_CHARS))
                said = note[:1].upper() + note[1:]
            else:
                named = [(f"{n}, {short[n]}" if n in short else n, s) for n, s in named]
                said = "; ".join(f"{n}: {t}" for n, t in notes.items())
            caption = f"{said}. {caption}".strip()
        labels, twin_labels = p.labels, ("G_ema", RAW_G)
        if p.twins and len(runs) == 1:
            labels = _twin_labels(p, runs)
        elif p.twins:  # several runs: colour a run, the raw G dashed; a run without an EMA draws G solid
            with_raw = [r for r in runs if any(raw in r.series for raw in p.twins)]
            plain = [r for r in runs if r not in with_raw and any(k in r.series for k in p.keys)]
            twin_labels = ("G_ema" + (", or G where the run keeps no EMA" if plain else ""), RAW_G)
            if with_raw:
                caption = (f"Dashed: the raw G ({RAW_G}) of {', '.join(r.name for r in with_raw)}, measured beside "
                           f"its EMA copy. {caption}").strip()
        buf = io.BytesIO()
        huge = plot_curves(named, p.keys, buf, title, labels=labels, logy=p.logy, hlines=p.hlines, ylim=p.ylim,
                           twins=p.twins, twin_labels=twin_labels)
        if huge:
            caption = (f"{huge:,} value(s) beyond ±{PLOT_LIMIT:g} are not drawn: no axis can hold them. "
                       + caption).strip()
        cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
        out.append(f'<figure class="card">{_img(buf.getvalue(), p.title, width=580)}{cap}</figure>')
    return out, left_out


def _curves_section(runs: list[_Run]) -> list[str]:
    """The training curves, with what they were computed on."""
    figs, left_out = _curve_figures(runs)
    if not figs:
        return []
    on = "; ".join(f"{r.name}: {_sampler(r)}" for r in runs) if len(runs) > 1 else _sampler(runs[0])
    raw = [r.name for r in runs if any(_twin_of(k) for k in r.series)]
    both = ((" Where the raw G's values are logged too (raw/ in metrics.jsonl"
             + (f": {', '.join(raw)}" if len(runs) > 1 else "")
             + f"), they are drawn beside the EMA copy's in the same panel, dashed and named {RAW_G}.") if raw else "")
    more = [f"{len(left_out):,} more series in metrics.jsonl are not drawn (a page holds {MAX_PANELS} panels): "
            + _listed([repr(_short(k)) for k in left_out], 3)] if left_out else []
    return ["<h2>Training curves</h2>",
            f'<p class="caption">Losses, penalties, D(x) and V are means over training batches of G and D. '
            f"{_e(SAMPLER_RULE)} The toy and eval/ metrics below are measured on {_e(on)}.{_e(both)}</p>",
            *_notes(more), f'<div class="grid">{"".join(figs)}</div>']


# --- sections ------------------------------------------------------------------------------------

def _summary(run: _Run) -> str:
    bits = [_cfg_text(run, "data", "name"), _cfg_text(run, "model", "name"), _cfg_text(run, "objective", "name")]
    steps = _whole(_cfg(run, "train", "steps"), lo=1, hi=2**63)
    line = " · ".join(_e(b) for b in bits if b)
    if steps is not None:
        line += f" · {_e(steps)} steps planned"
    if run.last_step is not None:
        line += f" · last logged step {run.last_step}"
    return line


def _better(m: dict) -> str:
    """Which way a metric is better, as eval.json says it: "lower" and "higher" get an arrow, any other
    wording (density's ideal is 1, say) is shown as written."""
    b = m.get("better")
    return "" if b is None else {"lower": "lower ↓", "higher": "higher ↑"}.get(b, b)


def _value(m: dict) -> str:
    """A metric's value as the table shows it: eval.json writes a value that is not finite as null."""
    return "non-finite" if m["null"] else _fmt(m["value"])


def _raw_value(m: dict) -> str:
    """The raw G's value of a metric (eval.json's "raw"), as :func:`_value` shows the value; – if none."""
    return "non-finite" if m.get("raw_null") else _fmt(m.get("raw"))


def _has_raw(metrics: dict) -> bool:
    """Whether eval.json's metrics carry the raw G's values (training wrote them, the run keeping an EMA)."""
    return any("raw" in m for m in metrics.values())


def _toy_eval(ev: dict) -> bool:
    """Whether an eval.json holds a toy run's exact-density metrics (no feature network)."""
    return ev.get("features") in (None, "", "none")


def _metric_basis(ev: dict, name: str) -> str:
    """What one metric of eval.json was measured on: its sample count and feature network (toy runs:
    exact densities for the JSD, n samples for the mode statistics)."""
    n = f"{ev['n']} samples" if ev.get("n") is not None else "n not recorded"
    if _toy_eval(ev):
        return "exact densities" if name == "jsd" else n
    return f"{n}, {ev['features']} features"


def _eval_caption(run: _Run) -> str:
    """The line above the metric table (HTML): generator, n, feature network, step, floor, source."""
    ev = run.evaluation or {}
    if _toy_eval(ev):
        net = _e(ev.get("features_info") or "no feature network")
    else:
        net = f"feature network: <b>{_e(ev['features'])}</b>" + (f" ({_e(ev['features_info'])})"
                                                                 if ev.get("features_info") else "")
    src = ev.get("source")
    origin = ("from eval.json, written at the end of training" if src == "training"
              else f"from eval.json (source: {_e(src)})" if src else "from eval.json")
    raw = f" (and, in the column raw G, on <b>{_e(RAW_G)}</b>)" if _has_raw(run.metrics) else ""
    info = [f"Measured on <b>{_e(_eval_generator(run))}</b>{raw}",
            f"n = {_e(ev['n'])} samples" if ev.get("n") is not None else "", net,
            f"at step {_e(ev['step'])}" if ev.get("step") is not None else "",
            f"floor: {_e(ev['split'])}" if ev.get("split") else "", origin]
    return " · ".join(i for i in info if i) + "."


def _eval_section(run: _Run) -> list[str]:
    """The metrics of eval.json beside their floors, each naming what it was measured on."""
    ev, metrics = run.evaluation or {}, run.metrics
    if not metrics:
        return []
    raw = _has_raw(metrics)
    rows = []
    for name, m in metrics.items():
        rows.append(f'<tr><td>{_e(name)}</td><td class="num">{_value(m)}</td>'
                    + (f'<td class="num">{_raw_value(m)}</td>' if raw else "")
                    + f'<td class="num">{_fmt(m["floor"])}</td><td>{_e(_better(m))}</td>'
                    f"<td>{_e(_metric_basis(ev, name))}</td></tr>")
    after = []
    if raw:
        after.append(f"raw G: the same metric of the raw G, measured at the same step on as many samples, beside "
                     f"its EMA copy {_ema_copy(run)}: whether the average helps.")
    if any(m["null"] or m.get("raw_null") for m in metrics.values()):
        after.append("non-finite: eval.json holds null for the value, as it writes NaN and ±infinity.")
    if any(m["floor"] is not None for m in metrics.values()):
        after.append("The floor is the same metric measured on held-out real images against the reference: "
                     "what a perfect generator would read with that many samples.")
    if _toy_eval(ev) and "jsd" in metrics:
        after.append(_jsd_basis(run) + ".")
    after.append(SAMPLER_RULE)
    step, last = ev.get("step"), run.last_step
    stale = [f"eval.json measures step {step}, but the run has logged up to step {last}: "
             "gankit eval RUN_DIR measures its newest weights."] if step is not None and last and step < last else []
    return ["<h2>Metrics</h2>", f'<p class="caption">{_eval_caption(run)}</p>',
            '<table><tr><th>metric</th><th class="num">value</th>'
            + ('<th class="num">raw G</th>' if raw else "")
            + '<th class="num">floor</th><th>better</th><th>measured on</th></tr>' + "".join(rows) + "</table>",
            f'<p class="caption">{_e(" ".join(after))}</p>', *_notes(stale)]


def _strip(samples: list[tuple[int, Path]], k: int = 8) -> list[tuple[int, Path]]:
    """Up to ``k`` evenly spaced sample figures, the first and the last included."""
    if len(samples) <= k:
        return samples
    idx = sorted({round(i * (len(samples) - 1) / (k - 1)) for i in range(k)})
    return [samples[i] for i in idx]


def _samples_section(run: _Run) -> list[str]:
    """The last sample figure large, a strip of earlier ones, and the generator that drew them."""
    if not run.samples:
        return []
    step, last, data = run.samples[-1]
    by = f"drawn by {_sampler(run)}"  # G_ema or G: see SAMPLER_RULE
    big = (f'<figure class="card">{_img(data, f"samples at step {step}")}'
           f"<figcaption>step {step}: the last sample figure (samples/{_e(last.name)}), {_e(by)}</figcaption></figure>")
    strip = ""
    if len(run.samples) > 1:  # _read_samples chose them: the first and the last included, evenly spaced
        thumbs = "".join(f'<figure>{_img(png, f"samples at step {s}", width=200)}'
                         f"<figcaption>step {s}</figcaption></figure>" for s, _, png in run.samples)
        strip = (f'<div class="card strip"><p class="caption">Over training, from the same fixed noise, '
                 f'{_e(by)}</p><div class="thumbs">{thumbs}</div></div>')
    return ["<h2>Samples</h2>", f'<p class="caption">Samples {_e(by)}. {_e(SAMPLER_RULE)}</p>',
            f'<div class="samples">{big}{strip}</div>']


def _run_page(run: _Run) -> str:
    body = [f"<h1>{_e(run.name)}</h1>", f'<p class="sub">{_summary(run)}</p>', *_notes(run.notes)]
    body += _eval_section(run)
    body += _samples_section(run)
    curves = _curves_section([run])
    body += curves
    if not curves and not run.series:
        body += ['<p class="note">No metrics logged yet (metrics.jsonl is missing or empty).</p>']
    if run.config_text is not None:
        body += ["<h2>Config</h2>", f'<pre class="cfg">{_e(run.config_text)}</pre>']
    body.append(f"<footer><p>gankit report of {_e(run.path.resolve())}</p></footer>")
    return _page(f"gankit report: {run.name}", body)


def _runs_table(runs: list[_Run]) -> list[str]:
    """The comparison's table: one row a run, its eval.json metrics (with what they were measured on)."""
    metric_names = list(dict.fromkeys(m for r in runs for m in r.metrics))
    better = {m: " / ".join(dict.fromkeys(b for r in runs if m in r.metrics for b in [_better(r.metrics[m])] if b))
              for m in metric_names}
    toy = any("toy/jsd" in r.series for r in runs)
    head = (["run", "data", "model", "objective", "sampling generator", "metrics measured on", "last step"]
            + (["JSD (last)"] if toy else []) + [f"{m} ({better[m]})" if better[m] else m for m in metric_names])
    rows = []
    for r in runs:
        ev = r.evaluation or {}
        basis = ("–" if not r.metrics else _metric_basis(ev, "") if not _toy_eval(ev)
                 else f"JSD: exact densities; modes: {_metric_basis(ev, 'modes')}")
        if r.metrics and _eval_generator(r) != _sampler(r):  # gankit eval --generator raw, say
            basis = f"{_eval_generator(r)}, {basis}"
        cells = [_e(r.name), _e(_cfg_text(r, "data", "name") or "–"), _e(_cfg_text(r, "model", "name") or "–"),
                 _e(_cfg_text(r, "objective", "name") or "–"), _e(_sampler(r)), _e(basis), _fmt(r.last_step)]
        if toy:
            cells.append(_fmt(r.last("toy/jsd")))
        cells += [_value(r.metrics[m]) + (f'<br><span class="caption">raw G {_raw_value(r.metrics[m])}</span>'
                                          if "raw" in r.metrics[m] else "") if m in r.metrics else "–"
                  for m in metric_names]
        rows.append(cells)
    table = _table([_e(h) for h in head], rows, first_number=6)
    raw = (" Below a value, raw G: the same metric of the raw G, which training measures beside its EMA copy."
           if any(_has_raw(r.metrics) for r in runs) else "")
    return ["<h2>Runs</h2>", table,
            f'<p class="caption">Metrics from each run\'s eval.json, measured on its sampling generator unless the '
            f"column metrics measured on names another.{_e(raw)} {_e(SAMPLER_RULE)}</p>"]


def _compare_page(runs: list[_Run]) -> str:
    names = ", ".join(r.name for r in runs)
    body = [f"<h1>{len(runs)} runs compared</h1>", f'<p class="sub">{_e(names)}</p>']
    for r in runs:
        body += _notes([f"{r.name}: {n}" for n in r.notes])
    body += _runs_table(runs)
    with_samples = [r for r in runs if r.samples]
    if with_samples:
        cols = min(len(with_samples), 3)
        figs = "".join(
            f'<figure class="card">{_img(r.samples[-1][2], f"{r.name} samples")}'
            f"<figcaption><b>{_e(r.name)}</b>, step {r.samples[-1][0]}, drawn by {_e(_sampler(r))}</figcaption>"
            "</figure>" for r in with_samples)
        body += ["<h2>Last samples</h2>", f'<p class="caption">{_e(SAMPLER_RULE)}</p>',
                 f'<div class="side" style="grid-template-columns: repeat({cols}, 1fr)">{figs}</div>']
    body += _curves_section(runs)
    body.append("<h2>Configs</h2>")
    for r in runs:
        text = r.config_text if r.config_text is not None else "(no config.yaml)"
        body.append(f'<details><summary>{_e(r.name)}</summary><pre class="cfg">{_e(text)}</pre></details>')
    body.append("<footer><p>gankit report of " + _e(", ".join(str(r.path.resolve()) for r in runs)) + "</p></footer>")
    return _page(f"gankit report: {names}", body)


def _claim_row(i: int, c: dict, bad: list[str]) -> tuple[str, str]:
    """Claim ``i`` of claims.json as a table row, and its verdict: "pass", "fail", "report" (a measurement
    with no prediction: tolerance null) or "unknown" (passed is not true/false, so no verdict can be shown).
    A value that cannot be read is shown as – and named in ``bad``."""
    check = c.get("check", "")
    if not isinstance(check, str):
        bad.append(f"claim {i}'s check ({_kind(check)})")
        check = "–"
    cells = []
    for k in ("theory", "measured", "tolerance"):
        x = _number(c.get(k))
        if x is None and c.get(k) is not None:  # null: no prediction (theory) or no tolerance (report only)
            bad.append(f"claim {i}'s {k} ({_kind(c[k])})")
        cells.append("–" if x is None else f"{x:.6g}")
    passed = c.get("passed")
    if c.get("tolerance") is None:
        verdict = "report"
    elif isinstance(passed, bool):  # not bool(): the text "false" would read as a pass
        verdict = "pass" if passed else "fail"
    else:
        bad.append(f"claim {i}'s passed ({_kind(passed)}, not true/false)")
        verdict = "unknown"
    cls, label = {"report": ("report", "report"), "pass": ("pass", "pass"), "fail": ("fail", "FAIL"),
                  "unknown": ("fail", "unknown")}[verdict]
    return (f'<tr class="{cls}"><td>{_e(check)}</td>' + "".join(f'<td class="num">{x}</td>' for x in cells)
            + f'<td class="verdict">{label}</td></tr>'), verdict


def _claims_section(claims: list, notes: list[str]) -> list[str]:
    """The claims table under a badge counting the checks that pass."""
    rows, verdicts, bad = [], Counter(), []
    for i, c in enumerate(claims, 1):
        if not isinstance(c, dict):
            bad.append(f"claim {i} ({_kind(c)}, not an object: left out)")
            continue
        row, verdict = _claim_row(i, c, bad)
        rows.append(row)
        verdicts[verdict] += 1
    if bad:
        notes.append(f"claims.json: what could not be read is shown as –: {_listed(bad)}")
    passed, checked = verdicts["pass"], verdicts["pass"] + verdicts["fail"]
    unknown = f", {verdicts['unknown']} without a verdict that can be read" if verdicts["unknown"] else ""
    badge = "ok" if passed == checked and not unknown else "bad"
    return ["<h2>Claims</h2>",
            f'<p><span class="badge {badge}">{passed} of {checked} checks pass{unknown}</span> '
            '<span class="caption">rows marked “report” are measurements with no prediction to compare'
            "</span></p>",
            '<table><tr><th>claim</th><th class="num">theory</th><th class="num">measured</th>'
            '<th class="num">tolerance</th><th>result</th></tr>' + "".join(rows) + "</table>"]


def _theory_figures(p: Path, notes: list[str]) -> list[str]:
    """The directory's figures, those gankit theory writes first, each with its caption; a file named
    *.png that is not a readable PNG is skipped with a note."""
    pngs = [p / f for f in THEORY_FIGURES if (p / f).exists()]
    pngs += sorted(f for f in p.glob("*.png") if f.name not in THEORY_FIGURES)
    figs, bad = [], []
    for f in pngs:
        data, why = _png(f)
        if data is None:
            bad.append(f"{_text(f.name)} ({why})")
            continue
        figs.append(f'<figure class="card">{_img(data, f.name)}<figcaption><b>{_e(f.name)}</b> '
                    f"{_e(THEORY_FIGURES.get(f.name, ''))}</figcaption></figure>")
    if bad:
        notes.append(f"{len(bad)} figure file(s) were skipped: {_listed(bad, 3)}")
    return ["<h2>Figures</h2>", f'<div class="figs">{"".join(figs)}</div>'] if figs else []


def _theory_page(p: Path) -> str:
    notes: list[str] = []
    body = []
    if not (p / "claims.json").is_file():
        body.append('<p class="note">No claims.json in this directory: figures only.</p>')
    else:
        claims = _read_json(p / "claims.json", notes)
        if isinstance(claims, list):
            body += _claims_section(claims, notes)
        elif claims is not _UNREAD:
            notes.append(f"claims.json holds {_kind(claims)}, not a list of claims: left out")
    body += _theory_figures(p, notes)
    head = [f"<h1>gankit theory: {_e(p.resolve().name)}</h1>",
            '<p class="sub">The claims of Goodfellow et al. (2014), each measured beside its prediction</p>',
            *_notes(notes)]  # last: reading the claims and the figures adds to them
    return _page(f"gankit theory: {p.resolve().name}",
                 head + body + [f"<footer><p>gankit report of {_e(p.resolve())}</p></footer>"])


# --- the entry point -----------------------------------------------------------------------------

def write_report(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> Path:
    """Write the HTML report of one or more directories and return its path.

    One directory (a training run or a ``gankit theory --out`` directory): the page goes to
    ``DIR/report.html`` unless ``out`` is given. Several training runs: a comparison page, by
    default ``FIRST_RUN/compare.html``. Raises :class:`GankitError` for a missing directory, one
    that is neither a run nor a theory directory, a theory directory among several, or an
    ``out`` that does not end in ``.html``.
    """
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    if not run_dirs:
        raise GankitError("report needs at least one run directory")
    paths = [_check_dir(d) for d in run_dirs]
    if out is not None and Path(out).suffix.lower() not in (".html", ".htm"):
        raise GankitError(f"the report is an HTML page: --out must end in .html, got {out}")
    if len(paths) == 1 and _is_theory(paths[0]):
        page = _theory_page(paths[0])
        target = Path(out) if out is not None else paths[0] / "report.html"
    else:
        for p in paths:
            if len(paths) > 1 and _is_theory(p):
                raise GankitError(f"{p} is a theory directory; compare training runs only, or report it alone")
        runs = [_read_run(p, n) for p, n in zip(paths, _names(paths))]
        if len(runs) == 1:
            page = _run_page(runs[0])
            target = Path(out) if out is not None else paths[0] / "report.html"
        else:
            page = _compare_page(runs)
            target = Path(out) if out is not None else paths[0] / "compare.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, _text(page))  # a reader never sees half a page
    return target
