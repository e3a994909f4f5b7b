"""Starting ``gankit live``: the game's config, the token, uvicorn, and the checkpoint at the end."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from pathlib import Path
from typing import Any, Callable

from ..config import Config, load_config
from ..errors import GankitError

__all__ = ["live_config", "serve_game", "serve_run", "needs_token"]

LIVE_STEPS = 10**9  # a live game runs until stopped: its schedules see no end


def live_config(preset: str, overrides: list[str]) -> Config:
    """A toy preset as a live game plays it: no end (train.steps 10⁹, constant rates, unless --set), logs
    every 10 steps, a checkpoint only when asked or at the end, no sample figures or evaluations on the way."""
    base = [
        f"train.steps={LIVE_STEPS}",
        "train.lr_schedule=constant",
        "train.log_every=10",
        "train.checkpoint_every=0",
        "train.sample_every=0",
        "train.eval_every=0",
        "train.progress=false",
        "train.tensorboard=false",
    ]
    cfg = load_config(preset, overrides=base + list(overrides))
    if not cfg.data.is_toy:
        raise GankitError(
            f"gankit live plays toy targets (a preset such as ring8, grid25, gauss1d); {preset!r} trains on "
            "images: train it with gankit train and follow it with gankit live RUN_DIR"
        )
    return cfg


def needs_token(host: str) -> bool:
    """Whether a server bound to ``host`` is reachable from elsewhere (anything but loopback)."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port``, bound before anything starts (a busy port is one line, not a
    server's log after the game began); port 0 picks a free one."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as e:
        why = os.strerror(e.errno) if e.errno else str(e)
        raise GankitError(f"cannot listen on {host}:{port} ({why}); choose another --port or --host")


def _serve(
    sock: socket.socket, make: Callable[[str | None], Any], host: str, say: Callable[[str], None], what: str
) -> None:
    """Serve ``make(token)`` on uvicorn from ``sock`` until Ctrl-C; the token (random, printed in the URL) only
    when ``host`` is reachable from elsewhere."""
    import uvicorn

    token = secrets.token_urlsafe(16) if needs_token(host) else None
    app = make(token)
    url = f"http://{host}:{sock.getsockname()[1]}/" + (f"?token={token}" if token else "")
    say(f"gankit live: {what} at {url} (Ctrl-C stops it)")
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])


def serve_game(cfg: Config, run_dir: Path | None, host: str, port: int, say: Callable[[str], None]) -> None:
    """Play ``cfg`` live until Ctrl-C; then its checkpoint goes to the game's run directory (if any)."""
    from .game import LiveGame
    from .server import make_app

    sock = _listen(host, port)
    game = LiveGame(cfg, run_dir)
    game.start()
    try:
        _serve(sock, lambda token: make_app(game=game, token=token), host, say, f"{cfg.data.name} playing")
    finally:
        step = game.close()
        if game.run_dir is not None:  # a reset moves the game to the next RUN-k
            say(f"gankit live: stopped at step {step}; checkpoint in {game.run_dir}")


def serve_run(run: Path, host: str, port: int, say: Callable[[str], None]) -> None:
    """Serve the page that follows ``run`` until Ctrl-C."""
    from .server import make_app

    if not (run / "config.yaml").is_file():
        raise GankitError(f"{run} is not a run directory (no config.yaml)")
    sock = _listen(host, port)
    _serve(sock, lambda token: make_app(run=run, token=token), host, say, f"following {run}")
