"""gankit live: the game (controls between steps, frames), the server alone (token, path traversal, the event
stream ending, shutdown with a checkpoint), the page in headless Chromium (Playwright pointed at Debian's
chromium: it loads, plays, pauses, takes a control change, and a screenshot is saved), and the CLI's refusals."""

import json
import os
import socket
import threading
import time

import pytest
from starlette.testclient import TestClient

from gankit.checkpoint import load_checkpoint
from gankit.cli import main
from gankit.live.game import LiveGame
from gankit.live.serve import live_config, needs_token
from gankit.live.server import make_app

TINY = ["model.g_hidden=16", "model.d_hidden=16", "train.batch_size=64"]


@pytest.fixture
def game():
    g = LiveGame(live_config("ring8", TINY))
    yield g
    g.close()


def test_a_frame_has_the_view_and_the_numbers(game):
    f = game.frame
    assert f["step"] == 0 and 0 <= f["jsd"] <= 0.6932  # nats: JSD ≤ log 2
    assert len(f["heat"]) == 48 * 48 and all(0 <= v <= 1 for v in f["heat"])
    assert len(f["samples"]) == len(f["grad"]) == 400 and f["modes"] in range(9)
    assert game.meta["dim"] == 2 and len(game.meta["density"]) == 48 * 48


def test_controls_apply_between_steps(game):
    game.playing = False
    for name, value in (("lr_g", 0.01), ("d_steps", 3), ("batch_size", 32), ("objective", "hinge")):
        game.command(name, value)
    game.command("step")
    game._apply_commands()
    s = game.session
    assert s.step_done == 1 and s.parts.d_steps == 3 and s.parts.batches.batch == 32
    assert s.parts.objective.name == "hinge" and s.cfg.objective.name == "hinge"
    assert all(g["lr"] == 0.01 for g in s.opts.opt_g.param_groups)
    s.opts.sched_g.step()  # the schedule keeps the new rate
    assert all(g["lr"] == pytest.approx(0.01) for g in s.opts.opt_g.param_groups)
    assert game.frame["settings"] == {"lr_g": 0.01, "lr_d": 3e-3, "d_steps": 3, "batch_size": 32, "objective": "hinge"}
    game.command("reset")
    game._apply_commands()
    assert game.session.step_done == 0 and game.session.parts.d_steps == 3  # a reset keeps the settings


def test_a_one_dimensional_game_draws_exact_densities():
    g = LiveGame(live_config("gauss1d", TINY))
    try:
        f = g.frame
        assert len(f["p_g"]) == len(f["D_star"]) == len(g.meta["x"]) == 400
        assert all(0 <= d <= 1 for d in f["D_star"])
    finally:
        g.close()


def test_the_server_checks_controls_and_streams_frames(game):
    client = TestClient(make_app(game=game))
    assert client.get("/").status_code == 200 and "live.js" in client.get("/").text
    assert client.get("/static/live.js").status_code == 200
    meta = client.get("/api/meta").json()
    assert meta["mode"] == "game" and "rpgan" in meta["objectives"]
    assert client.post("/api/control", json={"name": "lr_g", "value": 0.002}).json() == {"ok": True}
    for bad in ({"name": "nope"}, {"name": "lr_g", "value": -1}, {"name": "objective", "value": "x"}, [1]):
        assert client.post("/api/control", json=bad).status_code == 400
    game.stop_event.set()  # the stream sends the current frame, then ends with the game
    with client.stream("GET", "/api/events") as r:
        body = b"".join(r.iter_bytes())
    frame = json.loads(body.decode().split("data: ", 1)[1].split("\n\n")[0])
    assert frame["step"] == 0 and "history" in frame


def test_a_token_is_needed_on_every_request_and_kept_in_a_cookie(game):
    client = TestClient(make_app(game=game, token="s3cret"))
    assert client.get("/").status_code == 403 and client.get("/api/meta").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    r = client.get("/?token=s3cret")
    assert r.status_code == 200 and "gankit_live_token" in r.headers["set-cookie"]
    assert client.get("/api/meta").status_code == 200  # the cookie now carries it
    assert needs_token("0.0.0.0") and needs_token("192.168.1.2") and not needs_token("127.0.0.1")
    assert not needs_token("localhost") and not needs_token("::1")


def test_no_file_outside_the_run_directory_is_served(tmp_path):
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / "config.yaml").write_text("data:\n  name: ring8\n")
    (run / "samples" / "step_000001.png").write_bytes(b"png")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", run / "link.txt")
    (run / "metrics.jsonl").write_text('{"step": 1, "loss/d": 1.0}\n{"step": 2, "loss/d": ')  # a line half-written
    client = TestClient(make_app(run=run))
    assert client.get("/files/samples/step_000001.png").content == b"png"
    for path in ("/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/..%2fsecret.txt", "/files/link.txt"):
        r = client.get(path)
        assert r.status_code == 404 and b"secret" not in r.content, path
    state = client.get("/api/run").json()
    assert [r["step"] for r in state["rows"]] == [1] and state["sample"] == "samples/step_000001.png"
    with open(run / "metrics.jsonl", "a") as f:
        f.write("1.5}\n")
    assert [r["step"] for r in client.get("/api/run?since=1").json()["rows"]] == [2]


def test_closing_a_game_stops_its_thread_and_writes_its_checkpoint(tmp_path):
    g = LiveGame(live_config("ring8", TINY), tmp_path / "run")
    g.start()
    time.sleep(0.5)
    g.close()
    assert not g.thread.is_alive()
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["step"] >= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["live", "--preset", "digits"], "plays toy targets"),
        (["live", "--preset", "ring9"], "unknown preset"),
        (["live", "NO_SUCH_RUN"], "not a run directory"),
        (["live", ".", "--set", "train.steps=3"], "--set and --out are for a live game"),
        (["live", "--port", "BUSY"], "cannot listen on 127.0.0.1:"),
    ],
)
def test_cli_refusals_are_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    busy = socket.create_server(("127.0.0.1", 0))  # a port another server holds
    args = [str(busy.getsockname()[1]) if a == "BUSY" else a for a in args]
    with busy, pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and message in err[0], err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(game):
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(game=game), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    game.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/", game
    server.should_exit = True
    thread.join(10)


def test_the_page_plays_pauses_and_takes_a_control_in_chromium(served, chromium, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, game = served
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 950})
        page.goto(url)
        page.wait_for_function("window.gankitRedraws >= 3", timeout=30000)
        step = lambda: int(page.inner_text("#step"))  # noqa: E731
        heat = lambda: page.evaluate("document.getElementById('view').toDataURL()")  # noqa: E731
        s0, h0 = step(), heat()
        page.wait_for_function(f"Number(document.getElementById('step').textContent) > {s0 + 100}", timeout=60000)
        assert heat() != h0  # the heat map moved with the steps
        page.click("#pause")
        page.wait_for_function("document.getElementById('play').disabled === false", timeout=10000)
        paused = step()
        time.sleep(1.0)
        assert step() == paused and not game.playing
        page.fill("#d_steps", "2")
        page.dispatch_event("#d_steps", "change")
        deadline = time.time() + 10
        while game.session.parts.d_steps != 2 and time.time() < deadline:
            time.sleep(0.05)
        assert game.session.parts.d_steps == 2
        page.click("#play")
        page.wait_for_function(f"Number(document.getElementById('step').textContent) > {paused}", timeout=30000)
        page.screenshot(path=str(tmp_path / "live.png"))
        browser.close()
    assert (tmp_path / "live.png").stat().st_size > 10000


def test_a_reset_with_a_run_directory_keeps_the_game_and_starts_the_next_one(tmp_path):
    g = LiveGame(live_config("ring8", TINY), tmp_path / "live")
    try:
        g.session.step(3)
        g.command("reset")
        g._apply_commands()
        assert load_checkpoint(tmp_path / "live" / "checkpoints" / "last.pt")["step"] == 3
        assert g.run_dir == tmp_path / "live-2" and g.session.step_done == 0
    finally:
        g.close()
    assert load_checkpoint(tmp_path / "live-2" / "checkpoints" / "last.pt")["step"] == 0


def test_ctrl_c_stops_the_server_and_writes_the_checkpoint(tmp_path):
    import signal
    import subprocess
    import sys

    port = _free_port()
    args = ["live", "--set", "model.g_hidden=16", "--set", "model.d_hidden=16", "--port", str(port)]
    p = subprocess.Popen(
        [sys.executable, "-m", "gankit", *args, "--out", str(tmp_path / "run")], stderr=subprocess.PIPE, text=True
    )
    try:
        assert "playing at http://127.0.0.1:" in p.stderr.readline()
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=60)[1]
    finally:
        p.kill()
    assert "checkpoint in" in err and "Traceback" not in err, err
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] >= 1
