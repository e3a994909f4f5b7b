"""``gankit live``'s web server: a Starlette app on uvicorn serving the page (assets shipped in the package,
no CDN), the game's frames as server-sent events, its controls, and a followed run's rows and files.

Safe by default: the CLI binds 127.0.0.1; bound elsewhere, every request must carry the token printed in the
URL (``?token=``, kept in a same-site cookie by the page's first load). Files are served from the run
directory only, by Starlette's StaticFiles (no path out of it, symbolic links included). A closed tab ends
its event stream at the next frame; Ctrl-C stops uvicorn, then the game writes its checkpoint.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..registry import OBJECTIVES
from .follow import RunFollower
from .game import CONTROLS, LiveGame

__all__ = ["make_app", "STATIC"]

STATIC = Path(__file__).parent / "static"
COOKIE = "gankit_live_token"


class TokenCheck(BaseHTTPMiddleware):
    """Refuse (403) any request without the token, given as ``?token=`` or in the cookie the page sets."""

    def __init__(self, app, token: str):
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next):
        given = request.query_params.get("token") or request.cookies.get(COOKIE) or ""
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return PlainTextResponse("gankit live: this server needs the token printed with its URL\n", 403)
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        return response


def make_app(game: LiveGame | None = None, run: Path | None = None, token: str | None = None) -> Starlette:
    """The app of a live game (toy targets) or of a followed run directory (exactly one of them): the page
    and its assets, then the mode's own routes."""
    if (game is None) == (run is None):
        raise ValueError("make_app needs a game or a run directory, not both")

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    routes: list[Any] = [Route("/", page), Mount("/static", StaticFiles(directory=STATIC), name="static")]
    if game is not None:
        routes += _game_routes(game)
    else:
        assert run is not None  # one of the two, checked above
        routes += _run_routes(run)
    middleware = [Middleware(TokenCheck, token=token)] if token else []
    return Starlette(routes=routes, middleware=middleware)


def _game_routes(game: LiveGame) -> list[Any]:
    """A game's meta (the target, the controls, the objectives), its frames as events, and its controls."""

    async def meta(request: Request) -> Response:
        objectives = sorted(OBJECTIVES.names())
        return JSONResponse({"mode": "game", "controls": list(CONTROLS), **game.meta, "objectives": objectives})

    async def events(request: Request) -> Response:
        return StreamingResponse(_frames(request, game), media_type="text/event-stream")

    async def control(request: Request) -> Response:
        try:
            body = await request.json()
            name, value = str(body["name"]), body.get("value")
        except (ValueError, KeyError, TypeError):
            return PlainTextResponse('send JSON {"name": ..., "value": ...}\n', 400)
        problem = _check_control(name, value)
        if problem:
            return PlainTextResponse(problem + "\n", 400)
        game.command(name, value)
        return JSONResponse({"ok": True})

    return [Route("/api/meta", meta), Route("/api/events", events), Route("/api/control", control, methods=["POST"])]


def _run_routes(run: Path) -> list[Any]:
    """A followed run's meta, its rows and files (from the run directory only, no symbolic link out)."""
    follower = RunFollower(run)

    async def meta(request: Request) -> Response:
        return JSONResponse({"mode": "run", "run": run.name})

    async def run_state(request: Request) -> Response:
        try:
            since = int(request.query_params.get("since", "0"))
        except ValueError:
            return PlainTextResponse("since must be an integer\n", 400)
        return JSONResponse(await asyncio.to_thread(follower.state, since))

    files = StaticFiles(directory=run, follow_symlink=False)
    return [Route("/api/meta", meta), Route("/api/run", run_state), Mount("/files", files, name="files")]


def _check_control(name: str, value: Any) -> str | None:
    """Why a control request is refused, or None."""
    if name in ("play", "pause", "step", "reset", "save"):
        return None
    if name not in CONTROLS:
        return f"unknown control {name!r}"
    if name == "objective":
        return None if value in OBJECTIVES.names() else f"unknown objective {value!r}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return f"{name} must be a number"
    if not (v > 0 and v < 1e6) or (name in ("d_steps", "batch_size") and v != int(v)):
        return f"{name} out of range: {value!r}"
    if name in ("lr_g", "lr_d") and v > 1:
        return f"{name} above 1: {value!r}"
    return None


async def _frames(request: Request, game: LiveGame):
    """Server-sent events: each new frame once, as JSON; the history of curves with every 10th frame.
    Ends when the client goes (checked at each frame) or the game stops."""
    seen = -1
    while not await request.is_disconnected():
        if game.frames != seen:
            seen = game.frames
            frame = dict(game.frame)
            if seen % 10 == 0 or seen < 3:
                frame["history"] = list(game.history)
            yield f"data: {json.dumps(_finite(frame), allow_nan=False)}\n\n"
        if game.stop_event.is_set():
            return
        await asyncio.sleep(0.03)


def _finite(v: Any) -> Any:
    """``v`` with NaN and infinities as None (JSON has neither), through dicts and lists."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v
