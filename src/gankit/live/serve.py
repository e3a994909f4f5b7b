"""Starting ``gankit live``: the game's config, the token, uvicorn, and the checkpoint at the end."""

from __future__ import annotations

import ipaddress
import secrets
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


def _serve(make: Callable[[str | None], Any], host: str, port: int, say: Callable[[str], None], what: str) -> None:
    """Serve ``make(token)`` on uvicorn until Ctrl-C; the token (random, printed in the URL) only when ``host``
    is reachable from elsewhere."""
    import uvicorn

    token = secrets.token_urlsafe(16) if needs_token(host) else None
    app = make(token)
    url = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
    say(f"gankit live: {what} at {url} (Ctrl-C stops it)")
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")).run()


def serve_game(cfg: Config, run_dir: Path | None, host: str, port: int, say: Callable[[str], None]) -> None:
    """Play ``cfg`` live until Ctrl-C; then its checkpoint goes to the game's run directory (if any)."""
    from .game import LiveGame
    from .server import make_app

    game = LiveGame(cfg, run_dir)
    game.start()
    try:
        _serve(lambda token: make_app(game=game, token=token), host, port, say, f"{cfg.data.name} playing")
    finally:
        step = game.close()
        if game.run_dir is not None:  # a reset moves the game to the next RUN-k
            say(f"gankit live: stopped at step {step}; checkpoint in {game.run_dir}")


def serve_run(run: Path, host: str, port: int, say: Callable[[str], None]) -> None:
    """Serve the page that follows ``run`` until Ctrl-C."""
    from .server import make_app

    if not (run / "config.yaml").is_file():
        raise GankitError(f"{run} is not a run directory (no config.yaml)")
    _serve(lambda token: make_app(run=run, token=token), host, port, say, f"following {run}")
