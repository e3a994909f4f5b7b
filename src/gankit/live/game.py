"""A toy run played live: a :class:`gankit.training.session.Session` stepped by one thread, with the controls
of GAN Lab (play, pause, one step, reset; objective, learning rates, k, batch) applied between steps, and
frames of what the page draws computed by the same thread, so that no frame sees a half-done step.

A frame (JSON-ready): the step, steps/s, the batch V(D, G) beside −log 4, JSD(p_data ‖ p_g) (1-D: exact by
the push-forward of a quadrature grid; 2-D: from 5,000 samples on a 64×64 grid), modes for ring8/grid25,
and the view: 1-D curves of p_data, p_g, D, D* and G's gradient at samples; 2-D D's heat map on a 48×48
grid, 500 samples of G and the gradient of −g_loss each receives (where G's update pushes them).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import Config
from ..distributions import GaussianMixture
from ..exact import jsd, optimal_discriminator, pushforward_masses_1d
from ..evaluate import evaluate_toy
from ..objectives import get_objective
from ..training.session import Session, start

__all__ = ["LiveGame", "CONTROLS"]

LOG4 = math.log(4.0)
CONTROLS = ("objective", "lr_g", "lr_d", "d_steps", "batch_size")  # changeable between steps
HEAT = 48  # heat-map cells a side (2-D)
SHOWN = 400  # samples drawn (2-D) or marked (1-D)
HISTORY = 2000  # points kept per curve


@dataclass
class LiveGame:
    """``cfg`` (a toy preset) trained step by step in a thread; ``run_dir`` receives checkpoints on request."""

    cfg: Config
    run_dir: Any = None
    frame_every: float = 0.14  # seconds between frames while playing
    playing: bool = True
    session: Session | None = None
    frame: dict = field(default_factory=dict)
    frames: int = 0  # frames computed
    history: list = field(default_factory=list)  # [step, loss_d, loss_g, V, jsd, modes]
    commands: queue.Queue = field(default_factory=queue.Queue)
    stop_event: threading.Event = field(default_factory=threading.Event)
    _rate: tuple[float, int] = (0.0, 0)  # (time, step) of the last rate measurement

    def __post_init__(self) -> None:
        self.session = start(self.cfg, self.run_dir)
        target = self.session.data
        assert isinstance(target, GaussianMixture)  # checked by the CLI: live plays toy targets
        self.target = target
        self.z = torch.randn(SHOWN, self.cfg.model.z_dim, generator=torch.Generator().manual_seed(7))
        self.meta = _meta(self.cfg, target) | {"writes": self.run_dir is not None}
        self._frame()

    # --- the thread ----------------------------------------------------------------------------------
    def run(self) -> None:
        """Step while playing, apply commands between steps, publish a frame every ``frame_every`` s.

        On one torch thread: the browser drawing the page and the server share the machine, and OpenMP
        threads that wait on a busy core make a small network's step several times slower."""
        torch.set_num_threads(1)
        last = time.perf_counter()
        while not self.stop_event.is_set():
            self._apply_commands()
            if not self.playing:
                self.stop_event.wait(0.02)
                continue
            assert self.session is not None
            self.session.advance()
            if time.perf_counter() - last >= self.frame_every:
                self._frame()
                last = time.perf_counter()

    def command(self, name: str, value: Any = None) -> None:
        """Queue a control: play, pause, step, reset, save, or one of :data:`CONTROLS` with its value."""
        self.commands.put((name, value))

    def _apply_commands(self) -> None:
        while True:
            try:
                name, value = self.commands.get_nowait()
            except queue.Empty:
                return
            if name in ("play", "pause"):
                self.playing = name == "play"
            elif name == "step":
                assert self.session is not None
                self.playing = False
                self.session.advance()
            elif name == "reset":
                self._reset()
            elif name == "save":
                self.save()
            else:
                self._set(name, value)
            self._frame()

    def _set(self, name: str, value: Any) -> None:
        """One control of :data:`CONTROLS`, on the running session and in its config (so a reset keeps it)."""
        s = self.session
        assert s is not None
        t = s.cfg.train
        if name == "objective":
            obj = get_objective(str(value))
            s.parts.objective = obj
            s.parts.gp_weight, s.parts.clip = obj.gp_weight, obj.clip
            s.cfg.objective.name = obj.name
        elif name in ("lr_g", "lr_d"):
            lr = float(value)
            opt, sched = (s.opts.opt_g, s.opts.sched_g) if name == "lr_g" else (s.opts.opt_d, s.opts.sched_d)
            for g in opt.param_groups:
                g["lr"] = g["initial_lr"] = lr
            sched.base_lrs = [lr for _ in sched.base_lrs]
            setattr(t, name, lr)
        elif name == "d_steps":
            s.parts.d_steps = t.d_steps = max(1, int(value))
        elif name == "batch_size":
            s.parts.batches.batch = t.batch_size = max(1, int(value))
        else:
            raise ValueError(f"unknown control {name!r}; the controls are {', '.join(CONTROLS)}")

    def _reset(self) -> None:
        """A fresh run with the current settings (the same seed: the same start). With a run directory the
        game so far is checkpointed there and the fresh run goes to the next free ``RUN-k``."""
        assert self.session is not None
        cfg = self.session.cfg
        self.save()
        self.session.close()
        if self.run_dir is not None:
            self.run_dir = _next_free(Path(self.run_dir))
        self.session = start(cfg, self.run_dir)
        self.history.clear()

    def save(self) -> None:
        """The checkpoint of the run directory (as ``gankit train`` writes it), if the game has one."""
        if self.session is not None and self.session.run is not None:
            self.session.checkpoint()

    def start(self) -> threading.Thread:
        """Run :meth:`run` in a daemon thread (the server's)."""
        self.thread = threading.Thread(target=self.run, name="gankit-live", daemon=True)
        self.thread.start()
        return self.thread

    def close(self) -> int | None:
        """Stop the loop after its step, then write the checkpoint (a live run stopped by Ctrl-C keeps its
        work) and end the session; returns the step it stopped at (None if closed before)."""
        self.stop_event.set()
        thread = getattr(self, "thread", None)
        if thread is not None:
            thread.join()
        if self.session is None:
            return None
        step = self.session.step_done
        self.save()
        self.session.close(stopped="live")
        self.session = None
        return step

    # --- frames ----------------------------------------------------------------------------------------
    def _frame(self) -> None:
        s = self.session
        assert s is not None
        G, D = s.G_sample, s.D
        stats = s.stats
        now = time.perf_counter()
        t0, step0 = self._rate
        rate = (s.step_done - step0) / (now - t0) if t0 and now > t0 else 0.0
        self._rate = (now, s.step_done)
        with torch.no_grad():
            view = _view_1d(self, G, D) if self.target.dim == 1 else _view_2d(self, G, D)
        row = {
            "step": s.step_done,
            "steps_per_s": rate,
            "playing": self.playing,
            "V": stats.get("V"),
            "loss_d": stats.get("loss/d"),
            "loss_g": stats.get("loss/g"),
            "settings": {k: getattr(s.cfg.train, k) for k in ("lr_g", "lr_d", "d_steps", "batch_size")}
            | {"objective": s.cfg.objective.name},
            **view,
        }
        self.history.append([s.step_done, row["loss_d"], row["loss_g"], row["V"], row["jsd"], row.get("modes")])
        del self.history[:-HISTORY]
        self.frame = row  # one assignment: a reader sees the old frame or the new one, whole
        self.frames += 1


def _next_free(run: Path) -> Path:
    """``run`` without its ``-k`` suffix, numbered with the first k ≥ 2 whose directory does not exist."""
    stem = run.name.rsplit("-", 1)[0] if run.name.rsplit("-", 1)[-1].isdigit() else run.name
    k = 2
    while (run.parent / f"{stem}-{k}").exists():
        k += 1
    return run.parent / f"{stem}-{k}"


def _meta(cfg: Config, target: GaussianMixture) -> dict:
    """What does not change during a game: the target's name, dimension, box and density (for the page)."""
    lo_t, hi_t = target.bounds(4.0 if target.dim == 2 else 6.0)
    pad = 0.1 * (hi_t - lo_t)  # room around the target's mass
    lo, hi = (lo_t - pad).tolist(), (hi_t + pad).tolist()
    out: dict[str, Any] = {"preset": cfg.data.name, "dim": target.dim, "lo": lo, "hi": hi, "log4": -LOG4}
    if target.dim == 1:
        x = torch.linspace(lo[0], hi[0], 400, dtype=torch.float64)
        out["x"], out["p_data"] = x.tolist(), target.prob(x[:, None]).tolist()
    else:
        xs, ys = _heat_axes(lo, hi)
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")
        pts = torch.stack([gx.flatten(), gy.flatten()], 1)
        out["density"] = target.log_prob(pts.double()).clamp(min=-30).tolist()  # [HEAT²] log p_data, rows of y
        out["modes"] = target.means.tolist() if target.discrete_modes else []
    return out


def _heat_axes(lo: list[float], hi: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell centres of the heat map along x and y [HEAT] each."""
    return tuple(  # type: ignore[return-value]
        torch.linspace(a, b, 2 * HEAT + 1)[1::2] for a, b in zip(lo, hi)
    )


def _gradient_at(game: LiveGame, G: torch.nn.Module, D: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """−∇_x g_loss at G's samples x [N, d]: the direction G's update moves each sample (per sample, so
    the loss's mean is undone by N)."""
    s = game.session
    assert s is not None
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        real = D(game.target.sample(len(x))).detach() if s.parts.objective.g_uses_real else None
        loss = s.parts.objective.g_loss(real, D(x)) * len(x)
        (grad,) = torch.autograd.grad(loss, x)
    return -grad


def _view_1d(game: LiveGame, G: torch.nn.Module, D: torch.nn.Module) -> dict:
    """p_g exact on the meta grid's bins, D and D* there, and G's samples with their gradients."""
    x = torch.tensor(game.meta["x"], dtype=torch.float64)
    edges = torch.cat([x[:1] - (x[1] - x[0]) / 2, (x[1:] + x[:-1]) / 2, x[-1:] + (x[1] - x[0]) / 2])
    width = (edges[1:] - edges[:-1]).double()
    p_g = pushforward_masses_1d(G, edges, n_z=2**14, z_dim=game.cfg.model.z_dim) / width  # density [400]
    p_data = torch.tensor(game.meta["p_data"], dtype=torch.float64)
    d_star = optimal_discriminator(p_data.clamp(min=1e-300).log(), p_g.clamp(min=1e-300).log())
    d = torch.sigmoid(D(x[:, None].float()).double())
    samples = G(game.z).double()
    grad = _gradient_at(game, G, D, samples.float())
    return {
        "jsd": jsd(p_data * width, p_g * width).item(),  # masses of the bins
        "p_g": p_g.tolist(),
        "D": d.tolist(),
        "D_star": d_star.tolist(),
        "samples": samples[:, 0].tolist()[:100],
        "grad": grad[:, 0].tolist()[:100],
    }


def _view_2d(game: LiveGame, G: torch.nn.Module, D: torch.nn.Module) -> dict:
    """D's heat map, G's samples and their gradients, JSD from 5,000 samples, and the mode statistics."""
    lo, hi = game.meta["lo"], game.meta["hi"]
    xs, ys = _heat_axes(lo, hi)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    heat = torch.sigmoid(D(torch.stack([gx.flatten(), gy.flatten()], 1)))  # [HEAT²]
    samples = G(game.z)  # [SHOWN, 2]
    grad = _gradient_at(game, G, D, samples)
    out = {
        "heat": [round(v, 3) for v in heat.tolist()],
        "samples": [[round(a, 4), round(b, 4)] for a, b in samples.tolist()],
        "grad": [[round(a, 4), round(b, 4)] for a, b in grad.tolist()],
    }
    # the sample statistics (5,000 more samples) every other frame, at half the frame rate: they are the
    # costliest part of a frame, and the training thread computes frames between its steps
    if game.frames % 2 == 0 or "jsd" not in game.frame or not game.playing:  # paused: every frame is fresh
        return out | _sample_statistics(game, G)
    return out | {k: game.frame[k] for k in ("jsd", "modes", "high_quality") if k in game.frame}


def _sample_statistics(game: LiveGame, G: torch.nn.Module) -> dict:
    """JSD(p_data ‖ p_g) on gankit's 64×64 grid from 5,000 samples of G and the mode statistics on 2,500: the
    training's toy evaluation (:func:`gankit.evaluate.evaluate_toy`) on fewer samples."""
    toy = evaluate_toy(G, game.target, game.cfg.model.z_dim, n_modes=2500, n_jsd=5000, seed=8)
    return {k.removeprefix("toy/"): v for k, v in toy.items() if k != "toy/kl_uniform"}
