"""The HTML report: what each page holds, and the pages opened in headless Chromium.

Chromium is Debian's ``chromium`` package; the session fixture installs it with apt-get when it
is missing (about 20 s on a machine with a Debian mirror). Each page is opened in a tab driven
over the DevTools protocol, which lists every request the page makes: the test asks that there
be none besides the page's own file, that every <img> decoded to a picture, and that a
screenshot of the viewport has the requested size and is not blank. A control page shows that
the request and image checks do fail on a page that fetches something or holds a broken image.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import math
import os
import select
import shutil
import subprocess
import tempfile
import time
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
from gankit.report import THEORY_FIGURES, write_report
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
    assert "<h2>Metrics</h2>" not in pages["ring8"].read_text(encoding="utf-8")  # no eval.json: no table


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


# --- the page, opened in Chromium ----------------------------------------------------------------

@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Chromium; installs Debian's package if missing (one process at a time)."""
    with open(Path(tempfile.gettempdir()) / "gankit-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers: one apt-get, the other waits
        found = shutil.which("chromium")
        if found:
            return found
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            pytest.skip("chromium is not installed, and installing it needs apt-get as root")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                                                    "chromium"]):
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
            assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}"
        found = shutil.which("chromium")
        assert found, "apt-get installed chromium but it is not on PATH"
        return found


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
