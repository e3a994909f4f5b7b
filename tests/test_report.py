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
import time
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.claims import Claim, claims_json
from gankit.config import load_config
from gankit.errors import GankitError
from gankit.plots import plot_toy_panels
from gankit.report import SAMPLER_RULE, THEORY_FIGURES, write_report
from gankit.train import train

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
        (run / "eval.json").write_text(json.dumps({
            "features": "classifier", "features_info": "test classifier", "n": 500, "step": rows[-1]["step"],
            "metrics": {"fid": {"value": 41.25, "floor": 0.75, "better": "lower"},
                        "kid": {"value": 0.0375, "floor": 0.0004, "better": "lower"},
                        "precision": {"value": 0.625, "better": "higher"},  # no floor: shown as –
                        "recall": {"value": "nan", "floor": 0.9}}}))


def _theory_dir(root: Path) -> Path:
    """A theory directory from the figures in docs/ and a claims.json of three kinds of row."""
    d = root / "theory"
    d.mkdir()
    for name in THEORY_FIGURES:
        shutil.copy(DOCS / name, d / name)
    rows = [Claim("V(D*,G) = -log 4 + 2 JSD", -1.16345, -1.16345, 1e-6, True),
            Claim("a check that failed", 0.0, 0.5, 0.02, False),
            Claim("modes kept (of 2)", None, 2.0, None, True)]
    (d / "claims.json").write_text(json.dumps(claims_json(rows)))
    return d


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report")
    toy, digits = root / "ring8", root / "digits"
    torch.set_num_threads(1)  # module fixtures run before conftest's per-test one
    torch.manual_seed(0)
    train(load_config("ring8", None, [
        "train.steps=20", "train.batch_size=64", "train.eval_every=5", "train.sample_every=5", "train.log_every=2",
        "train.checkpoint_every=0", "train.eval_samples=500", "model.g_hidden=32", "model.d_hidden=32", *QUIET]), toy)
    train(load_config("digits", None, [
        "train.steps=10", "train.batch_size=16", "train.sample_every=3", "train.log_every=1",
        "train.checkpoint_every=0", "train.eval_features=''", "model.g_hidden=8", "model.d_hidden=8", *QUIET]), digits)
    _fill_in(digits)
    return {"ring8": toy, "digits": digits, "theory": _theory_dir(root)}


@pytest.fixture(scope="module")
def pages(runs) -> dict[str, Path]:
    return {"digits": write_report([runs["digits"]]),
            "ring8": write_report([str(runs["ring8"])]),
            "compare": write_report([runs["ring8"], runs["digits"]]),
            "theory": write_report([runs["theory"]], runs["theory"].parent / "theory.html")}


# --- the page, read as text ----------------------------------------------------------------------

class _Refs(HTMLParser):
    """Every tag name, and every attribute value that could make a browser fetch something."""

    URL_ATTRS = {"src", "href", "srcset", "poster", "data", "action", "formaction", "background", "xlink:href",
                 "manifest", "ping", "cite", "longdesc", "usemap", "icon"}

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
    assert refs.urls and all(u.startswith("data:image/png;base64,") for u in refs.urls), \
        [u[:60] for u in refs.urls if not u.startswith("data:")]
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
    for panel in ("losses", "D(x) on real and on generated data", "value V(D, G)", "fid during training",
                  "kid during training"):
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
    found = re.findall(r'<figure class="card"><img [^>]*?alt="([^"]*)"[^>]*>(?:<figcaption>(.*?)</figcaption>)?',
                       page.read_text(encoding="utf-8"))
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
        plot_curves([(MATH_NAME, {MATH_KEY: ([1, 2, 3], [1e-3, 1.0, 10.0])})], [MATH_KEY], io.BytesIO(), MATH_KEY,
                    logy=True)  # a log axis: its tick labels must be plain numbers too
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
    (run / "eval.json").write_text(json.dumps({
        "features": "classifier", "features_info": "test classifier", "n": 640, "step": 10,
        "split": "digits: test (360 held-out images for the floor)",
        "metrics": {"fid": {"value": 41.25, "floor": 0.75, "better": "lower"},
                    "density": {"value": 0.81, "floor": 0.97, "better": near}}}))
    page = write_report([run])
    ema = _config(run)["train"]["ema"]
    assert ema > 0  # the digits preset keeps an EMA copy of G
    table = _section(page, "Metrics")
    assert f"Measured on <b>G_ema (EMA decay {ema:g})</b>" in table and RULE in table
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
        on = f"G_ema (EMA decay {cfg['ema']:g})" if cfg["ema"] > 0 else "G (no EMA)"
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
    (run / "eval.json").write_text(json.dumps({
        "features": "none", "features_info": "exact densities (no feature network)", "n": n, "step": last,
        "split": "exact target", "source": "training",
        "metrics": {"jsd": {"value": 0.0123, "floor": None, "better": "lower"},
                    "modes": {"value": 7, "floor": None, "better": "higher"}}}))
    table = _section(write_report([run]), "Metrics")
    rows = dict(re.findall(r"<tr><td>(\w+)</td>(.*?)</tr>", table))
    assert '<td class="num">0.0123</td>' in rows["jsd"] and "<td>exact densities</td>" in rows["jsd"]
    assert '<td class="num">7</td>' in rows["modes"] and f"<td>{n} samples</td>" in rows["modes"]
    assert "written at the end of training" in table and "JSD from exact densities" in table
    assert f"at step {last}" in table and "not drawn" not in table
    assert 'class="note"' not in table  # the step is the last one: nothing stale
    ev = json.loads((run / "eval.json").read_text())
    (run / "eval.json").write_text(json.dumps({**ev, "step": last - 5}))
    assert f"eval.json measures step {last - 5}, but the run has logged up to step {last}" in \
        _section(write_report([run]), "Metrics")


# --- the page, opened in Chromium ----------------------------------------------------------------

def _find_chromium(known: tuple[str, ...] = ("/usr/bin/chromium",)) -> str | None:
    """Chromium's path: ``chromium`` on PATH, else the first executable of ``known`` (Debian's package,
    for a PATH without /usr/bin); None if there is none."""
    found = shutil.which("chromium")
    if found:
        return found
    return next((p for p in known if os.path.isfile(p) and os.access(p, os.X_OK)), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Chromium. Installing it is the set-up's job (``make test``), never a test's."""
    found = _find_chromium()
    if found is None:
        pytest.skip("chromium is not installed (make test installs it)")
    return found


def test_find_chromium_only_looks(monkeypatch, tmp_path):
    """Finding the browser runs nothing: no apt-get, no subprocess at all."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"finding chromium ran a process: {args}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    exe = tmp_path / "chromium"
    assert _find_chromium((str(exe),)) is None
    exe.write_text("#!/bin/sh\n")
    assert _find_chromium((str(exe),)) is None  # not executable
    exe.chmod(0o755)
    assert _find_chromium((str(exe),)) == str(exe)
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/bin/chromium" if name == "chromium" else None)
    assert _find_chromium((str(exe),)) == "/opt/bin/chromium"


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
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                f"--user-data-dir={profile}", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                "--remote-debugging-pipe", "about:blank"]
        # bash (not sh: dash takes one-digit fds only) moves the pipe ends to fds 3 and 4
        self._proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{cmd_r} 4>&{ev_w} {cmd_r}<&- {ev_w}>&-', *args],
            pass_fds=(cmd_r, ev_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        self.events.clear()
        self.send("Page.navigate", {"url": url}, session)
        self.wait_for("Page.loadEventFired")
        return session

    def requests(self) -> list[str]:
        """URLs the page asked for since it was opened (the page's own file included)."""
        return [e["params"]["request"]["url"] if e["method"] == "Network.requestWillBeSent" else e["params"]["url"]
                for e in self.events if e.get("method") in ("Network.requestWillBeSent", "Network.webSocketCreated")]

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
COUNT_IMAGES = ("[document.images.length,"
                " Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length]")


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
    page.write_text('<!DOCTYPE html><html><head><link rel="stylesheet" href="https://gankit-test.invalid/s.css">'
                    '</head><body><img src="http://gankit-test.invalid/x.png" alt="remote">'
                    '<img src="data:image/png;base64,iVBORw0KGgoAAAAN" alt="corrupt"></body></html>')
    session = browser.open(page.as_uri(), 400, 300)
    assert browser.evaluate(COUNT_IMAGES, session) == [2, 0]
    assert sorted(_offsite(browser.requests(), page)) == ["http://gankit-test.invalid/x.png",
                                                         "https://gankit-test.invalid/s.css"]


# --- the toy figure the training loop draws ------------------------------------------------------

@pytest.mark.parametrize("preset", ["gauss1d", "ring8"])
def test_plot_toy_panels_leaves_rng_and_modes_alone(preset, tmp_path):
    cfg = load_config(preset, None, ["train.steps=2", "train.batch_size=16", "model.g_hidden=16",
                                     "model.d_hidden=16", *QUIET])
    res = train(cfg)
    res.G.train()
    res.D.train()
    state = torch.get_rng_state()
    path = tmp_path / "panels.png"
    plot_toy_panels(res.G, res.D, res.target, cfg.model.z_dim, path, f"{preset}, step 2", n=4096)
    assert torch.equal(torch.get_rng_state(), state)
    assert res.G.training and res.D.training
    with Image.open(path) as im:
        w, h = im.size
    assert (w, h) == ((750, 380) if preset == "gauss1d" else (1000, 460))


@pytest.mark.parametrize("preset", ["gauss1d", "ring8"])
def test_plot_toy_panels_draws_d_as_a_probability_only_when_asked(preset, tmp_path, drawn):
    """σ(logit) is D(x), with D* its optimum and ½ its equilibrium, only for the minimax family: with
    ``probabilistic=False`` (a hinge critic) the figure shows D's raw output and no D*, sigmoid or ½."""
    cfg = load_config(preset, None, ["train.steps=2", "train.batch_size=16", "model.g_hidden=16",
                                     "model.d_hidden=16", "objective.name=hinge", *QUIET])
    res = train(cfg)
    sizes = []
    for probabilistic in (True, False):
        path = tmp_path / f"panels-{probabilistic}.png"
        plot_toy_panels(res.G, res.D, res.target, cfg.model.z_dim, path, "t", n=4096, probabilistic=probabilistic)
        with Image.open(path) as im:
            sizes.append(im.size)
    as_probability, as_score = ({t for t, _ in f} for f in drawn)
    said = [lambda t: "D*" in t, lambda t: "sigmoid" in t or t == "D(x)", lambda t: "not a probability" in t]
    assert [any(map(s, as_probability)) for s in said] == [preset == "gauss1d", True, False]  # D* in 1-D only
    assert [any(map(s, as_score)) for s in said] == [False, False, True]
    assert sizes[0] == sizes[1]
