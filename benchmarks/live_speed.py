"""gankit live's speed (issue 22): the ring8 game served as `gankit live` serves it, its page open in headless
Chromium (Playwright pointed at Debian's chromium), for --seconds after a warm-up. Prints the training steps
per second the game kept and the page's redraws per second (its frame counter, window.gankitRedraws), and
optionally saves a screenshot.

    python benchmarks/live_speed.py [--preset ring8] [--seconds 20] [--screenshot docs/live.png]
    python benchmarks/live_speed.py --seconds 2 --set model.g_hidden=16 --set model.d_hidden=16   # a smoke run
"""

from __future__ import annotations

import argparse
import shutil
import socket
import threading
import time

import uvicorn
from playwright.sync_api import sync_playwright

from gankit.live.game import LiveGame
from gankit.live.serve import live_config
from gankit.live.server import make_app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="ring8")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--screenshot", default=None)
    args = ap.parse_args()

    game = LiveGame(live_config(args.preset, args.sets))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(game=game), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    game.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1200, "height": 950})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("window.gankitRedraws >= 1", timeout=60000)
            time.sleep(args.warmup)
            s0, r0, t0 = game.session.step_done, page.evaluate("window.gankitRedraws"), time.perf_counter()
            time.sleep(args.seconds)
            s1, r1, t1 = game.session.step_done, page.evaluate("window.gankitRedraws"), time.perf_counter()
            if args.screenshot:
                page.screenshot(path=args.screenshot)
            browser.close()
    finally:
        server.should_exit = True
        game.close()
    dt = t1 - t0
    print(f"| {args.preset} live, page open in headless Chromium | training steps/s | redraws/s |")
    print("|---|---|---|")
    print(f"| {dt:.1f} s measured after {args.warmup:g} s | {(s1 - s0) / dt:.1f} | {(r1 - r0) / dt:.1f} |")


if __name__ == "__main__":
    main()
