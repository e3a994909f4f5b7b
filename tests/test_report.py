"""The HTML report: what each page holds, and the pages opened in headless Chromium.

Chromium is Debian's ``chromium`` package, which ``make test`` installs before pytest runs; the
browser tests are skipped where it is missing (a test never installs anything). Each page is opened in a tab driven
over the DevTools protocol, which lists every request the page makes: the test asks that there
be none besides the page's own file, that every <img> decoded to a picture, and that a
screenshot of the viewport has the requested size and is not blank. A control page shows that
the request and image checks do fail on a page that fetches something or holds a broken image.
"""

from __future__ import annotations

import base64
import fcntl
import html
import io
import json
import math
import os
import re
import select
import shutil
import subprocess
import sys
import time
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from helpers import find_chromium
import torch
from PIL import Image

from gankit.theory import Claim, claims_json
from gankit.config import describe_ema, ema_half_life_kimg, load_config
from gankit.errors import GankitError
from gankit.report import RAW_G, SAMPLER_RULE, THEORY_FIGURES, write_report
from gankit.training import train

DOCS = Path(__file__).parents[1] / "docs"
QUIET = ["train.progress=false", "train.tensorboard=false"]
WINDOW = (1200, 3000)


# --- runs and pages ------------------------------------------------------------------------------


def _fill_in(run: Path) -> None:
    """Give a run the files and keys that training and ``gankit eval`` write but this short run
    has not: a value estimate V, an eval/<net>/<metric> series, and eval.json. Keys already there
    are kept."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for i, row in enumerate(rows):
        row.setdefault("V", -1.0 - 0.3 * (1 - math.exp(-i / 3)))
        if i % 3 == 2:
            row.setdefault("eval/classifier/fid", 90.0 / (i + 1))
            row.setdefault("eval/classifier/kid", "nan" if i == 2 else 0.1 / (i + 1))  # non-finite, stored as text
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if not (run / "eval.json").exists():
        (run / "eval.json").write_text(
            json.dumps(
                {
                    "features": "classifier",
                    "features_info": "test classifier",
                    "n": 500,
                    "step": rows[-1]["step"],
                    "metrics": {
                        "fid": {"value": 41.25, "floor": 0.75, "better": "lower"},
                        "kid": {"value": 0.0375, "floor": 0.0004, "better": "lower"},
                        "precision": {"value": 0.625, "better": "higher"},  # no floor: shown as –
                        "recall": {"value": "nan", "floor": 0.9},
                    },
                }
            )
        )


def _theory_dir(root: Path) -> Path:
    """A theory directory from the figures in docs/ and a claims.json of three kinds of row."""
    d = root / "theory"
    d.mkdir()
    for name in THEORY_FIGURES:
        shutil.copy(DOCS / name, d / name)
    rows = [
        Claim("V(D*,G) = -log 4 + 2 JSD", -1.16345, -1.16345, 1e-6, True),
        Claim("a check that failed", 0.0, 0.5, 0.02, False),
        Claim("modes kept (of 2)", None, 2.0, None, True),
    ]
    (d / "claims.json").write_text(json.dumps(claims_json(rows)))
    return d


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report")
    toy, digits = root / "ring8", root / "digits"
    torch.set_num_threads(1)  # module fixtures run before conftest's per-test one
    torch.manual_seed(0)
    train(
        load_config(
            "ring8",
            None,
            [
                "train.steps=20",
                "train.batch_size=64",
                "train.eval_every=5",
                "train.sample_every=5",
                "train.log_every=2",
                "train.checkpoint_every=0",
                "train.eval_samples=500",
                "train.ema_kimg=0",  # the page of a run without an EMA of G
                "model.g_hidden=32",
                "model.d_hidden=32",
                *QUIET,
            ],
        ),
        toy,
    )
    train(
        load_config(
            "digits",
            None,
            [
                "train.steps=10",
                "train.batch_size=16",
                "train.sample_every=3",
                "train.log_every=1",
                "train.checkpoint_every=0",
                "train.eval_features=''",
                "model.g_hidden=8",
                "model.d_hidden=8",
                *QUIET,
            ],
        ),
        digits,
    )
    _fill_in(digits)
    return {"ring8": toy, "digits": digits, "theory": _theory_dir(root)}


@pytest.fixture(scope="module")
def pages(runs) -> dict[str, Path]:
    return {
        "digits": write_report([runs["digits"]]),
        "ring8": write_report([str(runs["ring8"])]),
        "compare": write_report([runs["ring8"], runs["digits"]]),
        "theory": write_report([runs["theory"]], runs["theory"].parent / "theory.html"),
    }


# --- the page, read as text ----------------------------------------------------------------------


class _Refs(HTMLParser):
    """Every tag name, and every attribute value that could make a browser fetch something."""

    URL_ATTRS = {
        "src",
        "href",
        "srcset",
        "poster",
        "data",
        "action",
        "formaction",
        "background",
        "xlink:href",
        "manifest",
        "ping",
        "cite",
        "longdesc",
        "usemap",
        "icon",
    }

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.alts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in self.URL_ATTRS:
                self.urls.append(v or "")
            if k == "alt":
                self.alts.append(v or "")


def _refs(page: Path) -> _Refs:
    p = _Refs()
    p.feed(page.read_text(encoding="utf-8"))
    return p


def test_default_paths(runs, pages):
    assert pages["digits"] == runs["digits"] / "report.html"
    assert pages["compare"] == runs["ring8"] / "compare.html"
    assert pages["theory"].name == "theory.html"


@pytest.mark.parametrize("name", ["digits", "ring8", "compare", "theory"])
def test_page_is_self_contained(pages, name):
    """Nothing outside the file: every URL is an embedded PNG, no script, style sheet link, frame or import."""
    text = pages[name].read_text(encoding="utf-8")
    refs = _refs(pages[name])
    assert refs.urls and all(u.startswith("data:image/png;base64,") for u in refs.urls), [
        u[:60] for u in refs.urls if not u.startswith("data:")
    ]
    assert not {"script", "link", "iframe", "object", "embed", "base"} & set(refs.tags)
    assert "@import" not in text and "url(" not in text


def test_run_page_contents(pages):
    text = pages["digits"].read_text(encoding="utf-8")
    alts = _refs(pages["digits"]).alts
    # config, metric table with floors and feature network, samples (last large + strip), curves
    assert "<h2>Config</h2>" in text and "name: digits" in text
    for cell in ("fid", "41.25", "0.75", "lower ↓", "recall", "nan", "feature network: <b>classifier</b>", "n = 500"):
        assert cell in text, cell
    steps = [3, 6, 9, 10]
    assert alts.count("samples at step 10") == 2  # large, and last of the strip
    assert all(f"samples at step {s}" in alts for s in steps)
    for panel in (
        "losses",
        "D(x) on real and on generated data",
        "value V(D, G)",
        "fid during training",
        "kid during training",
    ):
        assert panel in alts, panel
    assert not any("JSD" in a or "modes" in a for a in alts)  # no toy panels on an image run


def test_toy_page_has_toy_panels(pages):
    alts = _refs(pages["ring8"]).alts
    assert "JSD(p_data || p_g), nats" in alts and "modes covered (of 8)" in alts


def test_compare_page(pages):
    text = pages["compare"].read_text(encoding="utf-8")
    assert text.count("<details>") == 2 and "<summary>ring8</summary>" in text and "<summary>digits</summary>" in text
    assert "ring8 samples" in _refs(pages["compare"]).alts and "digits samples" in _refs(pages["compare"]).alts
    assert "2 runs compared" in text


def test_theory_page(pages):
    text = pages["theory"].read_text(encoding="utf-8")
    assert "1 of 2 checks pass" in text
    assert text.count('<tr class="pass">') == 1 and text.count('<tr class="fail">') == 1
    assert text.count('<tr class="report">') == 1
    assert sorted(_refs(pages["theory"]).alts) == sorted(THEORY_FIGURES)


def test_bad_directories_are_one_line_errors(tmp_path, runs):
    with pytest.raises(GankitError, match="run directory not found: .*nope"):
        write_report([tmp_path / "nope"])
    with pytest.raises(GankitError, match="not a gankit run directory"):
        write_report([tmp_path])
    (tmp_path / "file").write_text("")
    with pytest.raises(GankitError, match="not a directory"):
        write_report([tmp_path / "file"])
    with pytest.raises(GankitError, match="theory directory"):
        write_report([runs["ring8"], runs["theory"]])
    with pytest.raises(GankitError, match=r"must end in \.html"):
        write_report([runs["ring8"]], tmp_path / "report.pdf")
    with pytest.raises(GankitError, match="at least one"):
        write_report([])


# --- what the figures and tables say -------------------------------------------------------------


def _copy_run(src: Path, dst: Path, objective: str | None = None, keys: dict | None = None) -> Path:
    """A copy of run ``src`` at ``dst``: config.yaml's objective.name replaced by ``objective`` if given,
    and ``keys`` added to every line of metrics.jsonl that lacks them (as older versions logged)."""
    import yaml

    shutil.copytree(src, dst)
    if objective is not None:
        cfg = yaml.safe_load((dst / "config.yaml").read_text())
        cfg["objective"]["name"] = objective
        (dst / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    rows = [json.loads(line) for line in (dst / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        for k, v in (keys or {}).items():
            row.setdefault(k, v)
    (dst / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return dst


def _config(run: Path) -> dict:
    """The run's config.yaml as a dict."""
    import yaml

    return yaml.safe_load((run / "config.yaml").read_text())


def _section(page: Path, heading: str) -> str:
    """The page's HTML from <h2>heading</h2> to the next <h2> (or the end); '' if there is no such heading."""
    parts = re.split(r"(?=<h2>)", page.read_text(encoding="utf-8"))
    return next((p for p in parts if p.startswith(f"<h2>{heading}</h2>")), "")


def _captions(page: Path) -> dict[str, str]:
    """Each curve figure's alt text (its title) → its caption, unescaped."""
    found = re.findall(
        r'<figure class="card"><img [^>]*?alt="([^"]*)"[^>]*>(?:<figcaption>(.*?)</figcaption>)?',
        page.read_text(encoding="utf-8"),
    )
    return {html.unescape(alt): html.unescape(cap) for alt, cap in found}


@pytest.fixture
def drawn(monkeypatch) -> list[list[tuple[str, bool]]]:
    """Every figure saved during the test, as the (text, parsed as math?) of each of its texts: titles,
    labels, legends, tick labels (drawn first, so that they exist) and annotations."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    figures: list[list[tuple[str, bool]]] = []
    save = Figure.savefig

    def spy(self, *args, **kwargs):
        self.canvas.draw()
        figures.append([(t.get_text(), t.get_parse_math()) for t in self.findobj(Text) if t.get_text()])
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return figures


def _figure(figures: list[list[tuple[str, bool]]], title: str) -> list[str]:
    """The texts of the one figure drawn whose texts include ``title``."""
    found = [[t for t, _ in f] for f in figures if any(t == title for t, _ in f)]
    assert len(found) == 1, f"{len(found)} figures titled {title!r}"
    return found[0]


RULE = html.escape(SAMPLER_RULE)  # as the page writes it
MATH_NAME = r"_run $\foo$ $x^$ a\b_c $"  # a directory name matplotlib would parse as (broken) math text
MATH_KEY = r"custom/$\alpha$_x^$ \n $"  # and a metric key


def test_mathtext_in_names_and_keys_stays_plain_text(runs, tmp_path, drawn):
    """Run names and metric keys holding $...$, ^, backslashes and underscores are written as they are:
    the report is written, the page shows them (escaped), every figure text is plain (never parsed
    as math), and a name starting with "_" is not dropped from a legend."""
    from gankit.plots import plot_curves

    run = _copy_run(runs["digits"], tmp_path / MATH_NAME, keys={MATH_KEY: 0.5})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        single = write_report([run])
        compare = write_report([run, runs["ring8"]], tmp_path / "compare.html")
        plot_curves(
            [(MATH_NAME, {MATH_KEY: ([1, 2, 3], [1e-3, 1.0, 10.0])})], [MATH_KEY], io.BytesIO(), MATH_KEY, logy=True
        )  # a log axis: its tick labels must be plain numbers too
    assert not [str(w.message) for w in caught if "legend" in str(w.message)]
    for page in (single, compare):
        text = page.read_text(encoding="utf-8")
        assert html.escape(MATH_NAME) in text
    assert MATH_KEY in _refs(single).alts  # the key's own panel, titled with the key
    texts = [t for f in drawn for t in f]
    assert texts and not [t for t, math_text in texts if math_text]  # no text of any figure parsed as math
    assert MATH_KEY in {t for t, _ in texts}  # the panel's title, as written
    assert " " + MATH_NAME in {t for t, _ in texts}  # the compare page's legend keeps the run
    assert not [t for t, _ in texts if "mathdefault" in t]  # log-axis ticks written as plain numbers


def test_game_curves_only_for_the_minimax_family(runs, tmp_path, drawn):
    """V, D/real, D/fake and −log 4 mean D(x) and the game's value only when D is trained by cross-entropy
    (minimax, nonsaturating): a hinge run's page leaves them out and says so, even though its
    metrics.jsonl has them; a page comparing both draws them for the nonsaturating run only."""
    game = {"V": -1.3, "D/real": 0.6, "D/fake": 0.4}
    nonsat = _copy_run(runs["ring8"], tmp_path / "nonsat", "nonsaturating", game)
    hinge = _copy_run(runs["ring8"], tmp_path / "hinge", "hinge", game)
    game_panels = {"value V(D, G)", "D(x) on real and on generated data"}
    assert game_panels <= set(_refs(write_report([nonsat])).alts)
    assert "-log 4" in _figure(drawn, "value V(D, G)")
    drawn.clear()
    alts = _refs(write_report([hinge])).alts
    assert not game_panels & set(alts) and "losses" in alts
    text = (hinge / "report.html").read_text(encoding="utf-8")
    assert "V, D/real, D/fake are logged in metrics.jsonl but not drawn" in text and "objective is hinge" in text
    hinge_texts = {t for f in drawn for t, _ in f}
    assert "losses" in hinge_texts and not {"-log 4", "1/2", "D(x), x real", "V(D, G)"} & hinge_texts
    drawn.clear()
    compare = write_report([hinge, nonsat], tmp_path / "compare.html")
    assert game_panels <= set(_refs(compare).alts)
    for title in game_panels:
        legend = _figure(drawn, title)
        assert "nonsat" in legend and "hinge" not in legend
    assert "-log 4" in _figure(drawn, "value V(D, G)")


def test_metric_table_names_what_each_metric_was_measured_on(runs, tmp_path):
    """eval.json's table: each metric with its sample count and feature network, the floor's split, the
    sampling generator (G_ema for an EMA run) and the rule behind it, and "better" as eval.json
    words it (density's ideal is 1, not "higher")."""
    run = _copy_run(runs["digits"], tmp_path / "digits")
    near = "near 1 (the real images' own density)"
    (run / "eval.json").write_text(
        json.dumps(
            {
                "features": "classifier",
                "features_info": "test classifier",
                "n": 640,
                "step": 10,
                "split": "digits: test (360 held-out images for the floor)",
                "metrics": {
                    "fid": {"value": 41.25, "floor": 0.75, "better": "lower"},
                    "density": {"value": 0.81, "floor": 0.97, "better": near},
                },
            }
        )
    )
    page = write_report([run])
    t = _config(run)["train"]
    assert t["ema_kimg"] > 0  # the digits preset keeps an EMA copy of G
    table = _section(page, "Metrics")
    on = describe_ema(t["ema_kimg"], t["ema_rampup"])
    assert on.startswith("G_ema (EMA half-life ")
    assert f"Measured on <b>{on}</b>" in table and RULE in table  # an eval.json without "generator": the config's
    assert '<th class="num">raw G</th>' not in table  # nor "raw" values: no column for them
    assert "n = 640 samples" in table and "feature network: <b>classifier</b>" in table
    assert "360 held-out images for the floor" in table
    rows = dict(re.findall(r"<tr><td>(\w+)</td>(.*?)</tr>", table))
    assert set(rows) == {"fid", "density"}
    assert all("<td>640 samples, classifier features</td>" in r for r in rows.values())
    assert f"<td>{near}</td>" in rows["density"].replace("&#x27;", "'") and "higher" not in rows["density"]
    assert "<td>lower ↓</td>" in rows["fid"]
    compare = write_report([run, runs["ring8"]], tmp_path / "compare.html")
    assert f"density ({near})" in compare.read_text(encoding="utf-8").replace("&#x27;", "'")


def test_curves_and_samples_name_generator_samples_and_features(pages, runs):
    """Curves of metrics logged during training name the feature network and train.eval_samples, toy
    metrics say exact densities (JSD) or the sample count (modes), and each says which generator it
    was measured on, as the sample grids do: G_ema for the digits run, G for ring8 (no EMA)."""
    for name, toy in (("digits", False), ("ring8", True)):
        cfg = _config(runs[name])["train"]
        on = describe_ema(cfg["ema_kimg"], cfg["ema_rampup"])
        assert on == ("G (no EMA)" if name == "ring8" else "G_ema (EMA half-life 20 kimg, ramp-up 0.01)")
        n = cfg["eval_samples"]
        samples = _section(pages[name], "Samples")
        assert f"drawn by {on}" in samples and RULE in samples
        assert RULE in _section(pages[name], "Training curves")
        captions = _captions(pages[name])
        if toy:
            assert captions["JSD(p_data || p_g), nats"].startswith(f"Measured on {on}: exact densities.")
            for title in ("modes covered (of 8)", "high-quality samples (share within 3 sigma of a mode)"):
                assert captions[title].startswith(f"Measured on {on}: {n} samples"), title
        else:
            for title in ("fid during training", "kid during training"):
                assert captions[title].startswith(f"Measured on {on}: {n} samples, classifier features"), title
        assert not captions["losses"]  # training-batch statistics: no generator to name


def test_eval_json_from_training_is_shown_and_its_absence_is_no_error(runs, tmp_path):
    """The run's final metrics come from eval.json whoever wrote it: one that training wrote (never passed
    to gankit eval) gives the table; without eval.json the page has no table and nothing broken."""
    run = _copy_run(runs["ring8"], tmp_path / "ring8")
    (run / "eval.json").unlink(missing_ok=True)
    page = write_report([run])
    assert "<h2>Metrics</h2>" not in page.read_text(encoding="utf-8")
    assert "eval.json" not in page.read_text(encoding="utf-8")  # nothing said of it, nothing broken
    last = max(json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines())
    n = _config(run)["train"]["eval_samples"]
    (run / "eval.json").write_text(
        json.dumps(
            {
                "features": "none",
                "features_info": "exact densities (no feature network)",
                "n": n,
                "step": last,
                "split": "exact target",
                "source": "training",
                "metrics": {
                    "jsd": {"value": 0.0123, "floor": None, "better": "lower"},
                    "modes": {"value": 7, "floor": None, "better": "higher"},
                },
            }
        )
    )
    table = _section(write_report([run]), "Metrics")
    rows = dict(re.findall(r"<tr><td>(\w+)</td>(.*?)</tr>", table))
    assert '<td class="num">0.0123</td>' in rows["jsd"] and "<td>exact densities</td>" in rows["jsd"]
    assert '<td class="num">7</td>' in rows["modes"] and f"<td>{n} samples</td>" in rows["modes"]
    assert "written at the end of training" in table and "JSD from exact densities" in table
    assert f"at step {last}" in table and "not drawn" not in table
    assert 'class="note"' not in table  # the step is the last one: nothing stale
    ev = json.loads((run / "eval.json").read_text())
    (run / "eval.json").write_text(json.dumps({**ev, "step": last - 5}))
    assert f"eval.json measures step {last - 5}, but the run has logged up to step {last}" in _section(
        write_report([run]), "Metrics"
    )


# --- the EMA copy and the raw G ------------------------------------------------------------------

EMA_ON = describe_ema(20, 0.05)  # how the pages name the EMA copy of the runs below


def _ema_run(
    root: Path, runs, name: str, rows: list[dict], ema_kimg: float = 20, evaluation: dict | None = None, **train
) -> Path:
    """A run directory written by hand, as training with an EMA would leave it (training is slow): the digits
    run's config.yaml with train.ema_kimg (ramp-up 0.05) and ``train`` set, metrics.jsonl of ``rows``, and
    ``evaluation`` as eval.json."""
    import yaml

    run = root / name
    run.mkdir()
    cfg = _config(runs["digits"])
    cfg["train"].update(ema_kimg=ema_kimg, ema_rampup=0.05, **train)
    (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if evaluation is not None:
        (run / "eval.json").write_text(json.dumps(evaluation))
    return run


def _ema_rows(raw: bool = True, shift: float = 0.0) -> list[dict]:
    """Six logged steps of an image run evaluated during training; with ``raw``, the raw G's values beside
    (worse than the EMA copy's, as they usually are)."""
    rows = []
    for s in range(1, 7):
        row = {
            "step": s,
            "loss/d": 1 / s,
            "loss/g": s / 10,
            "eval/classifier/fid": 60 / s + shift,
            "eval/classifier/kid": 0.1 / s,
            "eval/classifier/precision": 0.1 * s,
            "eval/classifier/recall": 0.05 * s,
        }
        if raw:
            row.update(
                {
                    "raw/eval/classifier/fid": 80 / s + shift,
                    "raw/eval/classifier/precision": 0.08 * s,
                    "raw/eval/classifier/recall": 0.04 * s,
                }
            )
        rows.append(row)
    return rows


@pytest.fixture
def lines(monkeypatch) -> dict[str, dict]:
    """Every figure saved during the test, by its axes' title: {"lines": [(label, line style, colour, steps,
    values)], "legend": [its texts]}."""
    from matplotlib.colors import to_hex
    from matplotlib.figure import Figure

    found: dict[str, dict] = {}
    save = Figure.savefig

    def spy(self, *args, **kwargs):
        for ax in self.axes:
            legend = ax.get_legend()
            found[ax.get_title()] = {  # the reference levels, black and dotted, left out
                "lines": [
                    (
                        ln.get_label(),
                        ln.get_linestyle(),
                        to_hex(ln.get_color()),
                        np.asarray(ln.get_xdata(), float).tolist(),
                        np.asarray(ln.get_ydata(), float).tolist(),
                    )
                    for ln in ax.get_lines()
                    if to_hex(ln.get_color()) != "#000000"
                ],
                "legend": [t.get_text() for t in legend.get_texts()] if legend else [],
            }
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return found


def _panel(lines: dict[str, dict], title: str) -> dict:
    """The one figure whose title is ``title`` or begins with ``title`` and a line break."""
    (found,) = [v for t, v in lines.items() if t == title or t.startswith(title + "\n")]
    return found


def test_both_generators_are_drawn_in_one_panel(runs, tmp_path, lines):
    """A series with a raw/ twin (the raw G's values, which training logs beside its EMA copy's) is drawn in
    one panel with it: the EMA copy's line solid and named as config.yaml's EMA setting names it, the raw
    G's dashed in the same colour, named G (raw). No raw/ series gets a panel of its own, also where its
    series has no panel of the page's (a custom key) or logged no finite value; the shares, drawn
    together without twins, get a panel each with them."""
    rows = _ema_rows()
    for r in rows:
        r.update(
            {
                "custom/x": 1.0,
                "raw/custom/x": 2.0,
                "raw/only/raw": 3.0,
                "eval/classifier/is": "nan",
                "raw/eval/classifier/is": 4.0,
            }
        )
    run = _ema_run(tmp_path, runs, "ema", rows)
    page = write_report([run])
    steps = [r["step"] for r in rows]
    fid = _panel(lines, "fid during training")
    assert [(lab, ls) for lab, ls, *_ in fid["lines"]] == [(EMA_ON, "-"), (RAW_G, "--")]
    (_, _, main_colour, x, y), (_, _, raw_colour, x_raw, y_raw) = fid["lines"]
    assert main_colour == raw_colour and x == x_raw == steps
    assert y == [r["eval/classifier/fid"] for r in rows] and y_raw == [r["raw/eval/classifier/fid"] for r in rows]
    assert fid["legend"] == [EMA_ON, RAW_G]
    for title in ("precision during training", "recall during training", "custom/x", "is during training"):
        assert [lab for lab, *_ in _panel(lines, title)["lines"]] == [EMA_ON, RAW_G], title
    assert [lab for lab, *_ in _panel(lines, "only/raw")["lines"]] == [RAW_G]  # the raw G alone: its series is absent
    kid = _panel(lines, "kid during training")  # no twin: one line, as before
    assert [ls for _, ls, *_ in kid["lines"]] == ["-"] and kid["legend"] == []
    alts = _refs(page).alts
    assert not [a for a in alts if "raw/" in a] and not [t for t in lines if t.startswith("raw/")]
    assert not [a for a in alts if a.startswith("precision, recall")]
    assert "fid during training\nmeasured on G_ema and G (raw): 2500 samples, classifier features" in lines
    caption = _captions(page)["fid during training"]
    assert caption.startswith(f"Measured on {EMA_ON} and {RAW_G}: 2500 samples, classifier features")
    assert _captions(page)["kid during training"].startswith(f"Measured on {EMA_ON}: 2500 samples")
    assert "drawn beside the EMA copy&#x27;s in the same panel, dashed and named G (raw)" in _section(
        page, "Training curves"
    )


def test_compare_draws_each_raw_g_dashed_in_its_runs_colour(runs, tmp_path, lines):
    """Several runs: a colour a run, the raw G dashed in its run's colour; the legend names the runs, the
    solid lines (G_ema, or G for a run without an EMA) and the dashed ones, and the caption says whose
    raw G is drawn."""
    a = _ema_run(tmp_path, runs, "a", _ema_rows())
    b = _ema_run(tmp_path, runs, "b", _ema_rows(shift=5.0), ema_kimg=10)
    c = _ema_run(tmp_path, runs, "c", _ema_rows(raw=False, shift=9.0), ema_kimg=0)
    page = write_report([a, b, c], tmp_path / "compare.html")
    fid = _panel(lines, "fid during training")
    colour = {y[0]: (ls, col) for _, ls, col, _, y in fid["lines"]}
    first = {"a": 60.0, "b": 65.0, "c": 69.0}
    for run, raw in (("a", 80.0), ("b", 85.0)):
        assert colour[first[run]][0] == "-" and colour[raw] == ("--", colour[first[run]][1]), run
    assert colour[first["c"]][0] == "-" and len(fid["lines"]) == 5  # c: G only, no raw line
    assert len({col for _, col in colour.values()}) == 3
    assert fid["legend"][-2:] == ["G_ema, or G where the run keeps no EMA", RAW_G]
    assert all(any(t.startswith(f"{run}, measured on") for t in fid["legend"]) for run in "abc")
    caption = _captions(page)["fid during training"]
    assert caption.startswith(f"Dashed: the raw G ({RAW_G}) of a, b, measured beside its EMA copy.")
    for said in (
        f"a: measured on {EMA_ON} and {RAW_G}",
        f"b: measured on {describe_ema(10, 0.05)} and {RAW_G}",
        "c: measured on G (no EMA)",
    ):
        assert said in caption, said
    table = html.unescape(_section(page, "Runs"))
    assert EMA_ON in table and describe_ema(10, 0.05) in table and "G (no EMA)" in table


def test_metric_table_shows_the_raw_g_and_names_the_generator(runs, tmp_path):
    """eval.json written by training of a run with an EMA: a column raw G beside the value (null: non-finite;
    a metric without one: –), and the line above the table names eval.json's generator as config.yaml
    describes it, and the raw G beside it. The comparison shows the raw G's value under the value."""
    metrics = {
        "fid": {"value": 41.25, "floor": 0.75, "better": "lower", "raw": 45.5},
        "kid": {"value": 0.0375, "floor": 0.0004, "better": "lower", "raw": None},
        "is": {"value": 2.5, "floor": 3.0, "better": "higher"},
    }
    run = _ema_run(
        tmp_path,
        runs,
        "ema",
        _ema_rows(),
        evaluation={**EVAL, "step": 6, "generator": "G_ema", "source": "training", "metrics": metrics},
    )
    page = write_report([run])
    table = _section(page, "Metrics")
    assert f"Measured on <b>{EMA_ON}</b> (and, in the column raw G, on <b>{RAW_G}</b>)" in table
    assert '<th class="num">value</th><th class="num">raw G</th><th class="num">floor</th>' in table
    rows = _metric_rows(page)
    assert rows["fid"][:4] == ["41.25", "45.5", "0.75", "lower ↓"]
    assert rows["kid"][:3] == ["0.0375", "non-finite", "0.0004"] and rows["is"][:3] == ["2.5", "–", "3"]
    assert (
        f"raw G: the same metric of the raw G, measured at the same step on as many samples, beside its EMA "
        f"copy {EMA_ON}" in html.unescape(table)
    )
    assert not _page_notes(page)
    compare = write_report([run, runs["digits"]], tmp_path / "compare.html")
    runs_table = html.unescape(_section(compare, "Runs"))
    assert '41.25<br><span class="caption">raw G 45.5</span>' in runs_table
    assert "Below a value, raw G: the same metric of the raw G" in runs_table


@pytest.mark.parametrize(
    "ema_kimg, change, on, note",
    [
        (20, {"generator": "G"}, RAW_G, None),  # gankit eval --generator raw: the raw G, no raw column
        (20, {"generator": "G_ema"}, EMA_ON, None),
        (20, {}, EMA_ON, None),  # an older eval.json: the sampling generator, as config.yaml names it
        (0, {}, "G (no EMA)", None),
        (0, {"generator": "G"}, "G (no EMA)", None),
        (20, {"generator": ["G"]}, "G_ema or G (eval.json's generator cannot be read)", "generator (a list)"),
        (
            20,
            {"generator": "G_ema", "metrics": {"fid": {"value": 41.25, "raw": "45"}}},
            EMA_ON,
            "fid's raw G value (text)",
        ),
    ],
)
def test_metric_table_names_eval_jsons_generator(runs, tmp_path, ema_kimg, change, on, note):
    """The line above the table names the generator eval.json measured ("generator"), as config.yaml describes
    it: G_ema with its half-life, the raw G of a run with an EMA, G (no EMA); without "generator" the
    sampling generator config.yaml names. A generator or a raw value that cannot be read is named in a note,
    never taken for another. A comparison names a generator other than the sampling one beside the metrics."""
    run = _ema_run(
        tmp_path, runs, "run", _ema_rows(raw=False), ema_kimg=ema_kimg, evaluation={**EVAL, "step": 6, **change}
    )
    page = write_report([run])
    table = _section(page, "Metrics")
    raw = "raw" in str(change.get("metrics"))
    said = f" (and, in the column raw G, on <b>{RAW_G}</b>)" if raw else ""
    assert f"Measured on <b>{html.escape(on)}</b>{said} · n = 500" in table
    assert ('<th class="num">raw G</th>' in table) == raw
    notes = [n for n in _page_notes(page) if n.startswith("eval.json")]
    assert (note is None and not notes) or (note is not None and note in notes[0]), notes
    if note and "raw" in note:
        assert _metric_rows(page)["fid"][:2] == ["41.25", "–"]
    if on == RAW_G:
        compare = write_report([run, runs["digits"]], tmp_path / "compare.html")
        assert f"{RAW_G}, 500 samples, classifier features" in html.unescape(_section(compare, "Runs"))


def test_an_old_config_with_an_ema_decay_is_named_right(runs, tmp_path):
    """A run directory of an older version holds train.ema (a decay per step), not train.ema_kimg: the pages
    name its EMA copy as training now reads that config (the same average: a half-life of B·ln ½ / ln d
    images, no ramp-up), in the table line, the samples, the curves and the comparison; ema 0 is G."""
    import yaml

    run = _copy_run(runs["digits"], tmp_path / "old")
    cfg = _config(run)
    del cfg["train"]["ema_kimg"], cfg["train"]["ema_rampup"]
    cfg["train"]["ema"] = 0.999
    (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    on = describe_ema(ema_half_life_kimg(0.999, cfg["train"]["batch_size"]), None)
    assert on == "G_ema (EMA half-life 11.0848 kimg)"  # batch 16
    page = write_report([run])
    assert f"Measured on <b>{on}</b>" in _section(page, "Metrics")
    assert f"drawn by {on}" in _section(page, "Samples")
    assert f"measured on {on}." in _section(page, "Training curves")
    assert _captions(page)["fid during training"].startswith(f"Measured on {on}: ")
    compare = write_report([run, runs["ring8"]], tmp_path / "compare.html")
    assert f"<td>{on}</td>" in _section(compare, "Runs") and "<td>G (no EMA)</td>" in _section(compare, "Runs")
    cfg["train"]["ema"] = 0
    (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert "drawn by G (no EMA)" in _section(write_report([run]), "Samples")


def test_training_with_an_ema_reports_both_generators(tmp_path, lines):
    """The loop's own files: a ring8 run with train.ema_kimg logs raw/toy/... beside toy/..., and its page
    draws both in the toy panels, names G_ema as describe_ema does, and shows eval.json's raw column."""
    cfg = load_config(
        "ring8",
        None,
        [
            "train.steps=10",
            "train.batch_size=64",
            "train.eval_every=5",
            "train.sample_every=5",
            "train.log_every=5",
            "train.checkpoint_every=0",
            "train.eval_samples=200",
            "model.g_hidden=16",
            "model.d_hidden=16",
            "train.ema_kimg=0.5",
            *QUIET,
        ],
    )
    train(cfg, tmp_path / "run")
    page = tmp_path / "run" / "report.html"
    write_report([tmp_path / "run"], page)
    logged = {k for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines() for k in json.loads(line)}
    assert {"toy/jsd", "raw/toy/jsd", "toy/modes", "raw/toy/modes"} <= logged
    on = describe_ema(0.5, 0.05)
    for title in ("JSD(p_data || p_g), nats", "modes covered (of 8)"):
        assert [lab for lab, *_ in _panel(lines, title)["lines"]] == [on, RAW_G], title
    assert not [a for a in _refs(page).alts if "raw" in a]
    assert f"Measured on <b>{on}</b> (and, in the column raw G, on <b>{RAW_G}</b>)" in _section(page, "Metrics")
    assert len(_metric_rows(page)["jsd"]) == 5  # value, raw G, floor, better, measured on


# --- damaged and hostile run directories ---------------------------------------------------------

GOOD_ROWS = [{"step": s, "loss/d": 1 / s, "loss/g": s / 10} for s in range(1, 6)]
BIG = int("9" * 400)  # an integer no float holds: float() raises OverflowError


def _small_run(root: Path, runs, lines: list = (), name: str = "run") -> Path:
    """A run directory: the digits run's config.yaml, and a metrics.jsonl of GOOD_ROWS then ``lines``
    (text or bytes, one a line)."""
    run = root / name
    run.mkdir()
    shutil.copy(runs["digits"] / "config.yaml", run / "config.yaml")
    text = [json.dumps(r).encode() for r in GOOD_ROWS] + [ln if isinstance(ln, bytes) else ln.encode() for ln in lines]
    (run / "metrics.jsonl").write_bytes(b"".join(t + b"\n" for t in text))
    return run


def _page_notes(page: Path) -> list[str]:
    """The notes the page shows, unescaped."""
    return [html.unescape(n) for n in re.findall(r'<p class="note">(.*?)</p>', page.read_text(encoding="utf-8"))]


@pytest.fixture
def curves(monkeypatch) -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """Every figure saved during the test: each axes' title → the (label, steps, values) of its lines."""
    from matplotlib.figure import Figure

    found: dict[str, list] = {}
    save = Figure.savefig

    def spy(self, *args, **kwargs):
        for ax in self.axes:
            found[ax.get_title()] = [
                (ln.get_label(), np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float))
                for ln in ax.get_lines()
            ]
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return found


def _drawn(curves, title: str, label: str) -> tuple[list[float], list[float]]:
    """The steps and values of the line ``label`` in the figure titled ``title``."""
    ((x, y),) = [(x, y) for lab, x, y in curves[title] if lab == label]
    return x.tolist(), y.tolist()


GOOD_D_LOSS = ([r["step"] for r in GOOD_ROWS], [r["loss/d"] for r in GOOD_ROWS])


@pytest.mark.parametrize(
    "line, why",
    [
        (b"\xff\xfe", "not UTF-8 text"),
        (b'{"step": 6, "loss/d": "\xff"}', "not UTF-8 text"),
        ('{"step": 6, "loss/d": 7', "not JSON"),  # a line being written
        ("[" * 100_000, "not JSON"),  # nested too deeply for the parser
        ('{"step": 1%s, "loss/d": 7}' % ("0" * 5000), "not JSON"),  # beyond Python's 4300-digit limit
        ("[6, 7]", "not a JSON object"),
        ("7", "not a JSON object"),
        *[
            ('{"step": %s, "loss/d": 7}' % s, "without a step")
            for s in (
                "Infinity",
                "-Infinity",
                "NaN",
                "-3",
                "2.5",
                '"6"',
                "true",
                "null",
                str(BIG),
                str(2**53 + 1),
                '{"a": 6}',
            )
        ],
        ('{"loss/d": 7}', "without a step"),
    ],
)
def test_metrics_lines_that_cannot_be_read_are_skipped_with_a_note(runs, tmp_path, curves, line, why):
    """A line of metrics.jsonl that is not UTF-8, not JSON, not an object, or has no step that is a whole
    number from 0 to 2^53 is skipped: the note counts it and names the first such line, and the curves
    hold exactly the good rows (its loss/d of 7 is drawn at no step)."""
    run = _small_run(tmp_path, runs, [line])
    notes = _page_notes(write_report([run]))
    said = [n for n in notes if "line(s) of metrics.jsonl could not be read" in n]
    assert len(said) == 1 and said[0].startswith("1 line(s)") and why in said[0], notes
    assert f"(the first at line {len(GOOD_ROWS) + 1})" in said[0]
    assert _drawn(curves, "losses", "D loss") == GOOD_D_LOSS


def test_a_step_written_as_a_whole_float_is_read(runs, tmp_path, curves):
    """JSON does not tell 6 from 6.0: a step written 6.0 is step 6, with no note."""
    run = _small_run(tmp_path, runs, ['{"step": 6.0, "loss/d": 0.5}', '{"step": %d, "loss/d": 0.25}' % 2**53])
    assert _page_notes(write_report([run])) == []
    assert _drawn(curves, "losses", "D loss") == (GOOD_D_LOSS[0] + [6, 2**53], GOOD_D_LOSS[1] + [0.5, 0.25])


@pytest.mark.parametrize(
    "value, kind",
    [
        (str(BIG), "an integer beyond a float's range"),
        (str(-BIG), "an integer beyond a float's range"),
        ('"hello"', "text"),
        ('"12"', "text"),
        ('{"a": 1}', "an object"),
        ("[1]", "a list"),
        ("true", "true/false"),
    ],
)
def test_metric_values_that_are_not_numbers_are_skipped_with_a_note(runs, tmp_path, curves, value, kind):
    """A value that is not a number a float holds is skipped (the note names its key and kind); the row's
    other values are drawn at its step."""
    run = _small_run(tmp_path, runs, ['{"step": 6, "loss/d": %s, "loss/g": 0.75}' % value])
    notes = _page_notes(write_report([run]))
    assert notes == [f"1 value(s) in metrics.jsonl cannot be read as numbers and were skipped: 'loss/d' ({kind} ×1)"]
    assert _drawn(curves, "losses", "D loss") == GOOD_D_LOSS
    steps, values = _drawn(curves, "losses", "G loss")
    assert steps[-1] == 6 and values[-1] == 0.75


@pytest.mark.parametrize("value", ['"nan"', '"inf"', '"-inf"', "NaN", "Infinity", "-Infinity", "null"])
def test_non_finite_metric_values_leave_gaps(runs, tmp_path, curves, value):
    """Non-finite values (as text, which the collector writes; as JSON's NaN and Infinity; as null, which is
    how eval.json writes them) are no error: a gap in the curve, and no note."""
    run = _small_run(tmp_path, runs, ['{"step": 6, "loss/d": %s}' % value, '{"step": 7, "loss/d": 0.5}'])
    assert _page_notes(write_report([run])) == []
    steps, values = _drawn(curves, "losses", "D loss")
    assert steps == GOOD_D_LOSS[0] + [6, 7] and not math.isfinite(values[-2]) and values[-1] == 0.5


def test_values_beyond_any_axis_are_left_out_and_said(runs, tmp_path, curves):
    """±1e308 is a float but no axis can span it: such values leave gaps, and the caption counts them."""
    from gankit.plots import PLOT_LIMIT

    huge = [PLOT_LIMIT * 10, -PLOT_LIMIT * 10]
    run = _small_run(tmp_path, runs, [json.dumps({"step": 6 + i, "loss/d": v}) for i, v in enumerate(huge)])
    page = write_report([run])
    steps, values = _drawn(curves, "losses", "D loss")
    assert steps[-2:] == [6, 7] and all(math.isnan(v) for v in values[-2:]) and values[:-2] == GOOD_D_LOSS[1]
    assert _captions(page)["losses"].startswith(f"{len(huge)} value(s) beyond ±{PLOT_LIMIT:g} are not drawn")


def test_long_keys_many_keys_and_unencodable_text(runs, tmp_path, curves):
    """A 10,000-character key gets a panel with a cut title (the caption says so); keys beyond the page's
    MAX_PANELS are named in a note, not drawn; a lone surrogate or a control character in a key is
    written as U+FFFD in the figure and on the page."""
    from gankit.report import MAX_PANELS, TITLE_CHARS

    long_key, odd_key = "k" * 10_000, "odd\ud800\x00key"
    extra = [f"x{i:03d}" for i in range(MAX_PANELS + 5)]
    row = {"step": 6, long_key: 1.0, odd_key: 2.0, **dict.fromkeys(extra, 3.0)}
    run = _small_run(tmp_path, runs, [json.dumps(row)])
    page = write_report([run])
    drawn = [t for t in curves if t]  # every panel drawn, by title
    assert len(drawn) == MAX_PANELS
    short = long_key[: TITLE_CHARS - 1] + "…"
    assert short in drawn
    assert _captions(page)[short] == f"The key has 10,000 characters; the title shows its first {TITLE_CHARS - 1}."
    assert "odd\ufffd\ufffdkey" in drawn
    shown = {t for t in drawn if t.startswith("x")}
    (note,) = [n for n in _page_notes(page) if "more series" in n]
    assert note.startswith(f"{len(extra) - len(shown)} more series in metrics.jsonl are not drawn")
    assert "odd\ufffd\ufffdkey" in page.read_text(encoding="utf-8")


def test_a_huge_log_is_drawn_thinned_with_its_spikes_and_gaps(runs, tmp_path, curves):
    """A log of many rows is drawn as each step interval's smallest and largest value: at most three points
    an interval, the spike and the gap of the full curve still there, the same range."""
    from gankit.plots import THIN_BUCKETS

    n = 10 * THIN_BUCKETS
    spike, gap = n // 3, 2 * n // 3
    rows = [
        {"step": s, "loss/d": 100.0 if s == spike else "nan" if s == gap else math.sin(s / 50), "loss/g": 0.5}
        for s in range(len(GOOD_ROWS) + 1, n + 1)
    ]
    run = _small_run(tmp_path, runs, [json.dumps(r) for r in rows])
    assert _page_notes(write_report([run])) == []
    steps, values = _drawn(curves, "losses", "D loss")
    finite = [v for v in values if math.isfinite(v)]
    every = [r["loss/d"] for r in GOOD_ROWS] + [r["loss/d"] for r in rows if r["step"] != gap]
    assert len(steps) <= 3 * THIN_BUCKETS < n
    assert max(finite) == 100.0 and min(finite) == min(every)
    nan_at = [s for s, v in zip(steps, values) if math.isnan(v)]
    assert len(nan_at) == 1 and abs(nan_at[0] - gap) <= n / THIN_BUCKETS
    assert steps == sorted(steps) and steps[0] == 1 and steps[-1] == n


@pytest.mark.parametrize(
    "content, said, shown",
    [
        (None, "config.yaml could not be read: it is not UTF-8 text", False),  # the run's own, and \xff\xfe after it
        (b"\x00\x01\x02\xff\xfe", "config.yaml could not be read: it is not UTF-8 text (byte 3 is not)", False),
        (b"- data\n- model\n", "config.yaml holds a list, not a mapping of settings", True),
        (b"42\n", "config.yaml holds the number 42, not a mapping of settings", True),
        (b"[" * 10_000, "config.yaml is not valid YAML", True),
        (b"train: {ema: 2020-99-99}\n", "config.yaml is not valid YAML", True),  # PyYAML: a ValueError
    ],
)
def test_config_that_cannot_be_read(runs, tmp_path, content, said, shown):
    """A config.yaml that is not UTF-8 is neither shown nor used; one that is not YAML, or not a mapping, is
    shown but its settings are not used; the note says which, and the sampling generator is unknown."""
    run = _small_run(tmp_path, runs)
    cfg = run / "config.yaml"
    cfg.write_bytes(cfg.read_bytes() + b"\xff\xfe\n" if content is None else content)
    page = write_report([run])
    assert [n for n in _page_notes(page) if n.startswith(said)], _page_notes(page)
    assert ("<h2>Config</h2>" in page.read_text(encoding="utf-8")) == shown
    assert "G_ema or G (config.yaml gives no train.ema_kimg)" in _section(page, "Training curves")


@pytest.mark.parametrize(
    "key, ema, why",
    [
        *[
            ("ema_kimg", v, f"has train.ema_kimg {w}")
            for v, w in (
                (".nan", "the number nan"),
                (".inf", "the number inf"),
                (str(BIG), "an integer beyond a float's range"),
                ("'20'", "text"),
                ("[20]", "a list"),
                ("-1", "the number -1"),
            )
        ],
        ("ema_kimg", "20", "G_ema (EMA half-life 20 kimg, ramp-up 0.01)"),  # unreadable elsewhere: the EMA still named
        ("ema_rampup", "'x'", "G_ema (EMA half-life 20 kimg; config.yaml has train.ema_rampup text"),
        *[
            ("ema", v, f"has train.ema {w}, not a decay in [0, 1)")
            for v, w in (
                (".nan", "the number nan"),
                (".inf", "the number inf"),
                (str(BIG), "an integer beyond a float's range"),
                ("'0.5'", "text"),
                ("[0.5]", "a list"),
                ("1.5", "the number 1.5"),
            )
        ],
    ],
)
def test_config_values_that_are_not_what_they_should_be(runs, tmp_path, key, ema, why):
    """A train.ema_kimg that is not a half-life ≥ 0, or an older config's train.ema that is not a decay in
    [0, 1), names no generator (the page says what it holds), and a train.ema_rampup that is not a ramp
    names the EMA without one; names and counts that are not text or whole numbers are left out of the
    summary, and none of them stops the EMA keys that can be read from being read."""
    import yaml

    run = _small_run(tmp_path, runs)
    cfg = _config(run)
    cfg["train"].update(steps=-4, eval_samples=BIG)
    cfg["data"]["name"] = ["digits"]
    if key == "ema":  # an older config: the decay, and no ema_kimg, ema_rampup
        del cfg["train"]["ema_kimg"], cfg["train"]["ema_rampup"]
    cfg["train"][key] = "EMA_HERE"
    (run / "config.yaml").write_text(yaml.safe_dump(cfg).replace("EMA_HERE", ema), encoding="utf-8")
    page = write_report([run])
    text = html.unescape(page.read_text(encoding="utf-8"))
    assert why in text
    if key == "ema_kimg" and why.startswith("has"):
        assert f"G_ema or G (config.yaml {why}, not a half-life of 0 kimg or more)" in text
    sub = re.search(r'<p class="sub">(.*?)</p>', text).group(1)
    assert "steps planned" not in sub and "digits" not in sub and "last logged step 5" in sub


def _metric_rows(page: Path) -> dict[str, list[str]]:
    """The metric table's rows: name → its cells after the name, unescaped."""
    table = _section(page, "Metrics")
    return {
        html.unescape(name): [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", rest)]
        for name, rest in re.findall(r"<tr><td>(.*?)</td>(.*?)</tr>", table)
    }


EVAL = {
    "features": "classifier",
    "features_info": "test classifier",
    "n": 500,
    "step": 5,
    "metrics": {
        "fid": {"value": 41.25, "floor": 0.75, "better": "lower"},
        "kid": {"value": 0.0375, "floor": 0.0004, "better": "lower"},
    },
}


@pytest.mark.parametrize(
    "change, said, fid",
    [
        (
            {"metrics": {**EVAL["metrics"], "fid": {"value": BIG, "floor": 0.75}}},
            "fid's value (an integer beyond",
            ["–", "0.75"],
        ),
        (
            {"metrics": {**EVAL["metrics"], "fid": {"value": 41.25, "floor": -BIG}}},
            "fid's floor (an integer beyond",
            ["41.25", "–"],
        ),
        (
            {"metrics": {**EVAL["metrics"], "fid": {"value": "41.25", "floor": 0.75}}},
            "fid's value (text)",
            ["–", "0.75"],
        ),
        ({"metrics": {**EVAL["metrics"], "fid": {"value": {"a": 1}}}}, "fid's value (an object)", ["–", "–"]),
        ({"metrics": {**EVAL["metrics"], "fid": {"floor": 0.75}}}, "fid's value (missing)", ["–", "0.75"]),
        ({"metrics": {**EVAL["metrics"], "fid": BIG}}, "fid's value (an integer beyond", ["–", "–"]),
        (
            {"metrics": {**EVAL["metrics"], "fid": {"value": 41.25, "better": ["lower"]}}},
            "fid's better (a list)",
            ["41.25", "–", ""],
        ),
        ({"n": BIG}, "n (an integer beyond", None),
        ({"n": "500"}, "n (text)", None),
        ({"n": -1}, "n (the number -1)", None),
        ({"step": BIG}, "step (an integer beyond", None),
        ({"step": 2.5}, "step (the number 2.5)", None),
        ({"features": ["classifier"]}, "features (a list)", None),
        ({"split": {"a": 1}}, "split (an object)", None),
    ],
)
def test_eval_json_values_that_cannot_be_read(runs, tmp_path, change, said, fid):
    """What eval.json holds that cannot be read is shown as – (never as another number, never as a crash)
    and named in a note; the rest of the table stands."""
    run = _small_run(tmp_path, runs)
    (run / "eval.json").write_text(json.dumps({**EVAL, **change}))
    page = write_report([run])
    (note,) = [n for n in _page_notes(page) if n.startswith("eval.json")]
    assert note.startswith("eval.json: what could not be read is left out (shown as –): ") and said in note
    rows = _metric_rows(page)
    assert rows["kid"][:3] == ["0.0375", "0.0004", "lower ↓"]
    if fid is not None:
        assert rows["fid"][: len(fid)] == fid
    caption = html.unescape(_section(page, "Metrics"))
    key = next(iter(change))
    if key == "n":
        assert "n = " not in caption and "n not recorded" in rows["kid"][-1]
    if key == "step":
        assert "at step" not in caption
    if key == "features":  # measured on some network: not taken for exact densities
        assert "feature network: <b>unknown</b>" in caption and rows["kid"][-1] == "500 samples, unknown features"


@pytest.mark.parametrize(
    "content, said",
    [
        (b"[1, 2]", "eval.json holds a list, not an object of metrics"),
        (b"null", "eval.json holds null, not an object of metrics"),
        (b'"fid"', "eval.json holds text, not an object of metrics"),
        (b'{"metrics": [1]}', "metrics (a list, not an object)"),
        (b"\xff\xfe{}", "eval.json could not be read: it is not UTF-8 text (byte 0 is not)"),
        (b"[" * 100_000, "eval.json could not be read: it is not valid JSON (nested too deeply)"),
        (b'{"metrics": {"fid": {"value": 1', "eval.json could not be read: it is not valid JSON"),
    ],
)
def test_eval_json_that_is_not_an_object_of_metrics(runs, tmp_path, content, said):
    """An eval.json that cannot be read, or holds no object of metrics, gives no table and a note."""
    run = _small_run(tmp_path, runs)
    (run / "eval.json").write_bytes(content)
    page = write_report([run])
    assert [n for n in _page_notes(page) if said in n], _page_notes(page)
    assert "<h2>Metrics</h2>" not in page.read_text(encoding="utf-8")


def test_eval_json_null_values_are_non_finite(runs, tmp_path):
    """eval.json writes a value that is not finite as null: the table says "non-finite" (not –, which is a
    missing floor), and no note; a null floor is no floor. The comparison table says it too."""
    run = _small_run(tmp_path, runs)
    metrics = {"fid": {"value": None, "floor": 0.75, "better": "lower"}, "kid": {"value": 0.5, "floor": None}}
    (run / "eval.json").write_text(json.dumps({**EVAL, "metrics": metrics}))
    page = write_report([run])
    assert not [n for n in _page_notes(page) if "eval.json" in n]
    rows = _metric_rows(page)
    assert rows["fid"][:2] == ["non-finite", "0.75"] and rows["kid"][:2] == ["0.5", "–"]
    assert "eval.json holds null for the value" in html.unescape(_section(page, "Metrics"))
    compare = write_report([run, runs["digits"]], tmp_path / "compare.html")
    assert "non-finite" in _section(compare, "Runs")


def test_unencodable_text_in_eval_json_and_run_names(runs, tmp_path):
    """A lone surrogate (JSON's "\\ud800", a directory name that is not UTF-8) cannot be written as UTF-8: the
    page shows U+FFFD instead, in the table and in the compare page's legend."""
    run = _small_run(tmp_path, runs, name=os.fsdecode(b"run-\xff"))
    (run / "eval.json").write_text(json.dumps({**EVAL, "features_info": "net\ud800", "metrics": {"f\udfffid": 1.5}}))
    page = write_report([run])
    text = page.read_text(encoding="utf-8")
    assert "net\ufffd" in text and "f\ufffdid" in text and "run-\ufffd" in text
    compare = write_report([run, _small_run(tmp_path, runs, name="other")], tmp_path / "compare.html")
    assert "run-\ufffd" in compare.read_text(encoding="utf-8")


def test_sample_files_that_are_not_pngs_are_skipped(runs, tmp_path):
    """Files named like sample figures that are a folder, a dangling link, not a PNG, or a truncated PNG are
    skipped with a note naming each: the last readable figure is shown large, the strip keeps the others."""
    run = _copy_run(runs["digits"], tmp_path / "run")
    samples = run / "samples"
    good = sorted(samples.glob("step_*.png"))
    steps = [int(p.stem.split("_")[1]) for p in good]
    last, digits = steps[-1], len(good[0].stem.split("_")[1])
    bad = {last + 1: "not a PNG image", last + 2: "not a file", last + 3: "a damaged PNG", last + 4: "not a file"}
    name = {s: f"step_{s:0{digits}d}.png" for s in bad}
    (samples / name[last + 1]).write_text("not a png")
    (samples / name[last + 2]).mkdir()
    (samples / name[last + 3]).write_bytes(good[-1].read_bytes()[:200])  # truncated
    (samples / name[last + 4]).symlink_to(tmp_path / "nowhere.png")
    good[1].write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # a PNG signature, then nothing readable
    page = write_report([run])
    (note,) = [n for n in _page_notes(page) if n.startswith("samples/")]
    assert note.startswith(f"samples/: {len(bad) + 1} file(s) named like sample figures were skipped")
    bad[steps[1]], name[steps[1]] = "a damaged PNG", good[1].name
    for s, why in bad.items():
        assert f"{name[s]} ({why}" in note, (name[s], note)
    alts = _refs(page).alts
    assert alts.count(f"samples at step {last}") == 2  # large, and the strip's last
    assert f"samples at step {steps[1]}" not in alts
    assert all(f"samples at step {s}" in alts for s in steps if s != steps[1])


def test_theory_files_that_cannot_be_read(runs, tmp_path):
    """claims.json with values no float holds, text where a number or true/false belongs, and rows that are
    not objects: shown as – or as no verdict (never as a pass), named in a note; a figure that is a folder,
    not a PNG or truncated is skipped with a note, the others shown."""
    d = tmp_path / "theory"
    shutil.copytree(runs["theory"], d)
    claims = [
        {"check": "huge", "theory": BIG, "measured": 1.0, "tolerance": 0.1, "passed": True},
        {"check": "text verdict", "theory": 1.0, "measured": 1.0, "tolerance": 0.1, "passed": "false"},
        {"check": ["x"], "theory": "abc", "measured": {}, "tolerance": None, "passed": True},
        5,
    ]
    (d / "claims.json").write_text(json.dumps(claims))
    (d / "figure1.png").unlink()
    (d / "figure1.png").mkdir()
    (d / "extra.png").write_text("no")
    (d / "curves.png").write_bytes((runs["theory"] / "curves.png").read_bytes()[:300])
    page = write_report([d])
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))
    assert "1 of 1 checks pass, 1 without a verdict that can be read" in text
    (cn,) = [n for n in _page_notes(page) if n.startswith("claims.json")]
    for said in (
        "claim 1's theory (an integer beyond",
        "claim 2's passed (text, not true/false)",
        "claim 3's check (a list)",
        "claim 3's theory (text)",
        "claim 3's measured (an object)",
        "claim 4 (the number 5, not an object",
    ):
        assert said in cn, said
    (fn,) = [n for n in _page_notes(page) if "figure file(s) were skipped" in n]
    assert fn.startswith("3 figure file(s)") and "figure1.png (not a file)" in fn
    assert "extra.png (not a PNG image)" in fn and "curves.png (a damaged PNG" in fn
    assert sorted(_refs(page).alts) == sorted(set(THEORY_FIGURES) - {"figure1.png", "curves.png"})


@pytest.mark.parametrize("content", [b"\xff\xfe", b"[" * 100_000, b'{"a": 1}'])
def test_claims_json_that_cannot_be_read(runs, tmp_path, content):
    """claims.json that is not UTF-8, nested too deeply, or not a list: a note, no table, the figures shown."""
    d = tmp_path / "theory"
    shutil.copytree(runs["theory"], d)
    (d / "claims.json").write_bytes(content)
    page = write_report([d])
    assert [n for n in _page_notes(page) if n.startswith("claims.json")]
    assert "<h2>Claims</h2>" not in page.read_text(encoding="utf-8")
    assert sorted(_refs(page).alts) == sorted(THEORY_FIGURES)


def test_files_of_the_wrong_type(runs, tmp_path):
    """metrics.jsonl or eval.json that is a folder, samples/ that is a file: each is named in a note."""
    run = _small_run(tmp_path, runs)
    (run / "metrics.jsonl").unlink()
    for name in ("metrics.jsonl", "eval.json"):
        (run / name).mkdir()
    (run / "samples").write_text("")
    notes = _page_notes(write_report([run]))
    for said in ("metrics.jsonl is not a file", "eval.json is not a file", "samples is not a folder"):
        assert [n for n in notes if n.startswith(said)], said


def test_cli_report_of_the_hostile_runs_is_no_traceback(runs, tmp_path, capsys):
    """The cases first found: gankit report writes the page (exit 0) for invalid UTF-8 in config.yaml and
    metrics.jsonl, a step of Infinity, and 400-digit integers as a step, a value and an eval.json value."""
    from gankit.cli import main

    run = _small_run(
        tmp_path,
        runs,
        [
            b"\xff\xfe",
            '{"step": Infinity, "loss/d": 1}',
            '{"step": %d, "loss/d": 1}' % BIG,
            '{"step": 6, "loss/d": %d}' % BIG,
        ],
    )
    with open(run / "config.yaml", "ab") as f:
        f.write(b"\xff\xfe\n")
    (run / "eval.json").write_text(json.dumps({**EVAL, "metrics": {"fid": {"value": BIG}}}))
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(run)])
    assert exit_.value.code == 0
    assert "Traceback" not in capsys.readouterr().err
    notes = _page_notes(run / "report.html")
    assert len(notes) == 4, notes  # config.yaml, the three lines, the value, eval.json


# --- the page, opened in Chromium ----------------------------------------------------------------


def test_find_chromium_only_looks(monkeypatch, tmp_path):
    """Finding the browser runs nothing: no apt-get, no subprocess at all."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"finding chromium ran a process: {args}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    exe = tmp_path / "chromium"
    assert find_chromium((str(exe),)) is None
    exe.write_text("#!/bin/sh\n")
    assert find_chromium((str(exe),)) is None  # not executable
    exe.chmod(0o755)
    assert find_chromium((str(exe),)) == str(exe)
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/bin/chromium" if name == "chromium" else None)
    assert find_chromium((str(exe),)) == "/opt/bin/chromium"


def _above_4(fd: int) -> int:
    """The same pipe end under a number of 10 or more."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class _Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
    the browser reads NUL-terminated JSON commands on fd 3 and writes replies and events on fd 4).

    The protocol reports every request a page makes (``Network.requestWillBeSent``), whatever its
    scheme and whether or not it could succeed, and only the page's: the browser's own update and
    time checks, which a proxy or packet capture would also see, are not attributed to it. They go
    to a closed local port anyway, so nothing leaves the machine.
    """

    def __init__(self, exe: str, profile: Path, timeout: float = 60.0):
        cmd_r, self._cmd_w = os.pipe()
        self._ev_r, ev_w = os.pipe()
        cmd_r, ev_w = (_above_4(fd) for fd in (cmd_r, ev_w))  # so that moving them to 3 and 4 clobbers neither
        args = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # bash (not sh: dash takes one-digit fds only) moves the pipe ends to fds 3 and 4
        self._proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{cmd_r} 4>&{ev_w} {cmd_r}<&- {ev_w}>&-', *args],
            pass_fds=(cmd_r, ev_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(cmd_r)
        os.close(ev_w)
        self._timeout, self._buf, self._id = timeout, b"", 0
        self.events: list[dict] = []

    def _read(self) -> dict:
        deadline = time.monotonic() + self._timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._ev_r], [], [], left)[0]:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._ev_r, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited (status {self._proc.poll()})")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        while True:
            for e in self.events:
                if e.get("method") == method:
                    return e
            self.events.append(self._read())

    def open(self, url: str, width: int, height: int) -> str:
        """Load ``url`` in a new tab of the given viewport and wait for its load event; the session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network", "Page", "Runtime"):
            self.send(f"{domain}.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        self.events.clear()
        self.send("Page.navigate", {"url": url}, session)
        self.wait_for("Page.loadEventFired")
        return session

    def requests(self) -> list[str]:
        """URLs the page asked for since it was opened (the page's own file included)."""
        return [
            e["params"]["request"]["url"] if e["method"] == "Network.requestWillBeSent" else e["params"]["url"]
            for e in self.events
            if e.get("method") in ("Network.requestWillBeSent", "Network.webSocketCreated")
        ]

    def evaluate(self, expression: str, session: str):
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        return reply["result"]["value"]

    def screenshot(self, session: str) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"}, session)["data"])

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._cmd_w)
        os.close(self._ev_r)


@pytest.fixture
def browser(chromium, tmp_path):
    b = _Browser(chromium, tmp_path / "profile")
    yield b
    b.close()


# [images that finished loading with a decoded size, images in the page]
COUNT_IMAGES = (
    "[document.images.length, Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length]"
)


def _offsite(requests: list[str], page: Path) -> list[str]:
    """Requests other than the page's own file and images embedded in it."""
    return [u for u in requests if u != page.as_uri() and not u.startswith("data:")]


@pytest.mark.parametrize("name", ["digits", "ring8", "compare", "theory"])
def test_page_renders_offline_in_chromium(browser, pages, name):
    page = pages[name]
    session = browser.open(page.as_uri(), *WINDOW)
    total, shown = browser.evaluate(COUNT_IMAGES, session)
    assert total == len(_refs(page).alts) > 0
    assert shown == total, f"{total - shown} of {total} images did not render"
    assert page.as_uri() in browser.requests()  # the protocol does report the page's loads...
    assert _offsite(browser.requests(), page) == []  # ...and there is no other

    with Image.open(io.BytesIO(browser.screenshot(session))) as im:
        assert im.size == WINDOW
        px = np.asarray(im.convert("RGB")).astype(np.int32)  # [H, W, 3]
    colours = (px[..., 0] << 16) | (px[..., 1] << 8) | px[..., 2]
    background = np.bincount(colours.ravel()).argmax()
    assert (colours != background).mean() > 0.05, "the screenshot is (nearly) blank"
    assert len(np.unique(colours)) > 200  # figures, not only text on a background


def test_browser_checks_catch_a_fetch_and_a_broken_image(browser, tmp_path):
    """The control: a remote image and a stylesheet are seen as requests, and the remote image
    and a corrupt PNG count as not rendered."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><link rel="stylesheet" href="https://gankit-test.invalid/s.css">'
        '</head><body><img src="http://gankit-test.invalid/x.png" alt="remote">'
        '<img src="data:image/png;base64,iVBORw0KGgoAAAAN" alt="corrupt"></body></html>'
    )
    session = browser.open(page.as_uri(), 400, 300)
    assert browser.evaluate(COUNT_IMAGES, session) == [2, 0]
    assert sorted(_offsite(browser.requests(), page)) == [
        "http://gankit-test.invalid/x.png",
        "https://gankit-test.invalid/s.css",
    ]


# --- what the report depends on ------------------------------------------------------------------


def test_pages_import_no_layer_that_trains_or_samples(runs, tmp_path):
    """The report reads files: writing each kind of page imports neither the training loop, the networks,
    the run builder, nor what samples G or measures it (gankit.generate, gankit.evaluate), nor the toy
    targets themselves (gankit.distributions)."""
    script = (
        "import sys\n"
        "from gankit.report import write_report\n"
        "write_report([sys.argv[1]], sys.argv[4] + '/a.html')\n"
        "write_report(sys.argv[1:3], sys.argv[4] + '/b.html')\n"
        "write_report([sys.argv[3]], sys.argv[4] + '/c.html')\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('gankit.'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(runs["ring8"]), str(runs["digits"]), str(runs["theory"]), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert "gankit.report.curves" in loaded  # the curves were drawn
    banned = {
        "gankit.training",
        "gankit.nets",
        "gankit.build",
        "gankit.generate",
        "gankit.evaluate",
        "gankit.distributions",
        "gankit.figures",
        "gankit.theory",
    }
    assert not {m for m in loaded if any(m == b or m.startswith(b + ".") for b in banned)}


def test_the_report_knows_every_toy_target():
    """The report names a toy target's modes and the JSD's sample count without importing gankit.distributions
    or gankit.evaluate: its table must agree with them, for every registered target."""
    import inspect

    from gankit.distributions import TARGETS, make_target
    from gankit.evaluate import evaluate_toy
    from gankit.report import JSD_SAMPLES, ToyTarget, toy_target

    mixtures = [
        {"weights": [1.0], "means": [2.0], "stds": [0.5]},
        {"weights": [0.5, 0.5], "means": [-2.0, 2.0], "stds": [0.3, 0.3]},
        {"weights": [1, 2, 3], "means": [-3, 0, 3], "stds": [1, 1, 1]},
    ]
    for name in TARGETS.names():
        for params in mixtures if name == "mixture1d" else [{}]:
            target = make_target(name, **params)
            want = ToyTarget(target.dim, len(target.weights) if target.discrete_modes else None)
            assert toy_target({"name": name, **params}) == want, name
    assert inspect.signature(evaluate_toy).parameters["n_jsd"].default == JSD_SAMPLES
    for data in ({"name": "digits"}, {"name": "mixture1d", "weights": [1, 1], "means": [0.0]}, None, {"name": 3}):
        assert toy_target(data) is None
