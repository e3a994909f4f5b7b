"""The training loop: Algorithm 1 of Goodfellow et al. (2014), one readable function.

    for each step:
        k = train.d_steps times:  sample real x and noise z, update D on d_loss(D(x), D(G(z)))
                                   (+ gradient penalty, + R1, then weight clipping if any)
        once:                      sample noise z, update G on g_loss(D(G(z)))
        then: statistics, evaluation, sample figure, checkpoint, each on its own period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import math

import torch
from torch import nn
from tqdm import tqdm

from . import stats
from .checkpoint import rng_state, save_checkpoint
from .config import Config, save_config
from .distributions import GaussianMixture, make_target
from .errors import GankitError
from .evaluate import evaluate_toy, generate
from .nets import build_nets
from .objectives import get_objective, gradient_penalty, r1_penalty

__all__ = ["train", "TrainResult", "resolve_device", "build_run", "due", "lr_factor"]

SAMPLE_SEED = 2014  # the fixed noise behind every sample figure of a run


@dataclass
class TrainResult:
    """What a finished run leaves in memory (the run directory holds the rest)."""

    G: nn.Module
    D: nn.Module
    target: GaussianMixture
    config: Config
    stats: dict[str, float] = field(default_factory=dict)


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when there is a GPU, else the CPU; asking for CUDA without one is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise GankitError("train.device=cuda but no CUDA GPU is available; use train.device=cpu or auto")
    return torch.device(name)


def build_run(cfg: Config, device: torch.device) -> tuple[GaussianMixture, nn.Module, nn.Module]:
    """The target and fresh networks of a config, seeded by ``train.seed``."""
    torch.manual_seed(cfg.train.seed)
    target = make_target(cfg.data.name, **cfg.data.target_params())
    G, D = build_nets(cfg.model, (target.dim,))
    return target, G.to(device), D.to(device)


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """Multiplier of the learning rates for the update after ``step`` of ``steps`` updates."""
    frac = step / steps
    if schedule == "linear":
        return 1.0 - frac
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    return 1.0


def due(step: int, every: int, last: int) -> bool:
    """Whether a periodic action runs after ``step``: every ``every`` steps (0 = never) and at the end."""
    return step == last or (every > 0 and step % every == 0)


def train(cfg: Config, run_dir: str | Path | None = None,
          callback: Callable[[int, nn.Module, nn.Module], None] | None = None) -> TrainResult:
    """Train a GAN as ``cfg`` says; write the run into ``run_dir`` when one is given.

    ``callback(step, G, D)``, if given, is called after every step (0 included), e.g. to take
    snapshots; it must not change the networks.
    """
    t = cfg.train
    device = resolve_device(t.device)
    target, G, D = build_run(cfg, device)
    obj = get_objective(cfg.objective.name)
    gp_weight = cfg.objective.gp_weight if cfg.objective.gp_weight is not None else obj.gp_weight
    clip = cfg.objective.clip if cfg.objective.clip is not None else obj.clip
    r1_gamma = cfg.objective.r1_gamma
    opt_g = torch.optim.Adam(G.parameters(), lr=t.lr_g, betas=(t.beta1, t.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=t.lr_d, betas=(t.beta1, t.beta2))
    schedules = [torch.optim.lr_scheduler.LambdaLR(o, lambda s: lr_factor(t.lr_schedule, s, t.steps))
                 for o in (opt_d, opt_g)]
    z_dim = cfg.model.z_dim

    run = Path(run_dir) if run_dir is not None else None
    if run is not None:
        (run / "samples").mkdir(parents=True, exist_ok=True)
        (run / "checkpoints").mkdir(exist_ok=True)
        save_config(cfg, run / "config.yaml")

    def noise(n: int) -> torch.Tensor:
        return torch.randn(n, z_dim, device=device)

    if callback is not None:
        callback(0, G, D)
    bar = tqdm(range(1, t.steps + 1), desc="train", unit="step", disable=True if not t.progress else None,
               dynamic_ncols=True)
    with stats.Collector(run, tensorboard=t.tensorboard and run is not None) as collector:
        for step in bar:
            # --- D steps: k updates of the discriminator with G fixed --------------------------
            D.requires_grad_(True)
            for _ in range(t.d_steps):
                real = target.sample(t.batch_size).to(device)  # [B, d]
                with torch.no_grad():
                    fake = G(noise(t.batch_size))  # [B, d]
                if r1_gamma > 0:
                    real.requires_grad_(True)
                real_logits, fake_logits = D(real), D(fake)  # [B], [B]
                loss_d = obj.d_loss(real_logits, fake_logits)
                if gp_weight > 0:
                    gp = gradient_penalty(D, real, fake)
                    stats.report("loss/gp", gp)
                    loss_d = loss_d + gp_weight * gp
                if r1_gamma > 0:
                    r1 = r1_penalty(real_logits, real)
                    stats.report("loss/r1", r1)
                    loss_d = loss_d + 0.5 * r1_gamma * r1
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                if clip is not None:
                    with torch.no_grad():
                        for p in D.parameters():
                            p.clamp_(-clip, clip)
            stats.report("loss/d", loss_d)
            stats.report("D/real", torch.sigmoid(real_logits.detach()).mean())
            stats.report("D/fake", torch.sigmoid(fake_logits.detach()).mean())

            # --- G step: one update of the generator through the fixed D -----------------------
            D.requires_grad_(False)  # gradients flow through D to G but D's own are not needed
            loss_g = obj.g_loss(D(G(noise(t.batch_size))))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            stats.report("loss/g", loss_g)
            for sched in schedules:
                sched.step()

            # --- evaluation: toy metrics on their own seeded noise (training RNG untouched) ----
            if due(step, t.eval_every, t.steps):
                for k, v in evaluate_toy(G, target, z_dim, n_modes=t.eval_samples).items():
                    stats.report(k, v)

            # --- logging --------------------------------------------------------------------------
            if due(step, t.log_every, t.steps) or due(step, t.eval_every, t.steps):
                row = collector.flush(step)
                bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in row.items() if k.startswith("loss/")},
                                refresh=False)

            # --- sample figure from fixed noise ----------------------------------------------------
            if run is not None and due(step, t.sample_every, t.steps):
                from .plots import plot_toy_samples  # matplotlib only when figures are written

                x = generate(G, t.eval_samples, z_dim, seed=SAMPLE_SEED)
                plot_toy_samples(target, x, run / "samples" / f"step_{step:06d}.png",
                                 f"{target.name}, {cfg.objective.name}, step {step}")

            # --- checkpoint ----------------------------------------------------------------------
            if run is not None and due(step, t.checkpoint_every, t.steps):
                save_checkpoint({
                    "G": G.state_dict(), "D": D.state_dict(),
                    "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                    "step": step, "rng": rng_state(), "config": cfg.model_dump(mode="json"),
                }, run / "checkpoints" / "last.pt")

            if callback is not None:
                callback(step, G, D)
    D.requires_grad_(True)
    return TrainResult(G, D, target, cfg, dict(collector.last))
