"""``gankit theory``'s run: every experiment in turn, the rows of the claims table, and the figures."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch

from ..build import build_run
from ..config import Config, load_config
from ..distributions import GaussianMixture
from ..exact import jsd
from ..training import train
from .claims import Claim
from .equilibrium import equilibrium_claims
from .fixed_g import fixed_g_claims
from .grid import Grid, with_rest
from .identity import identity_claims
from .proposition2 import proposition2_claims
from .saturation import confident_d_claim
from .snapshots import Snapshots
from .training_figures import write_training_figures
from .wgan import wgan_claims

__all__ = ["run_claims", "partial_overlap_step", "THEORY_PRESET", "OVERLAP_JSD"]

THEORY_PRESET = "gauss1d"  # p_data = N(2, 0.5²), an MLP G from z ~ N(0, 1): every density exact on a 1-D grid
OVERLAP_JSD = 0.1  # nats: the fixed-G experiment's G, p_g overlapping p_data in part (JSD runs from 0 to log 2)


def run_claims(
    out_dir: str | Path | None = None,
    log: Callable[[str], None] = lambda s: None,
    cfg: Config | None = None,
    instability: bool = False,
) -> list[Claim]:
    """Run the experiment, return the rows, and write the figures to ``out_dir`` if given. ``instability``
    (``gankit theory --all``) adds the rows of :func:`gankit.theory.instability.instability_claims` after them.

    Runs on one CPU thread: the networks are tiny, so extra threads only add overhead, and on
    a loaded machine OpenMP threads that wait on each other can make the run many times slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = _run_claims(out_dir, log, cfg)
        if instability:
            from .instability import instability_claims

            rows += instability_claims(out_dir, log)
        return rows
    finally:
        torch.set_num_threads(threads)


def _run_claims(out_dir: str | Path | None, log: Callable[[str], None], cfg: Config | None) -> list[Claim]:
    """:func:`run_claims` on the thread it set. The order of the experiments is part of the result: those
    that train draw from torch's global generator, each reseeding it (seed + 1, + 2, + 3) where it starts."""
    t0 = time.perf_counter()

    def done(what: str) -> None:
        log(f"{what} ({time.perf_counter() - t0:.1f}s)")

    cfg = cfg or load_config(THEORY_PRESET, overrides=["train.progress=false", "train.tensorboard=false"])
    steps = cfg.train.steps
    snaps = Snapshots(keep={0, steps // 4, steps}, every=max(1, steps // 40))

    rows = identity_claims()
    done("identity rows done")

    # The full GAN run (Algorithm 1), keeping snapshots for the fixed-G experiment and the figure.
    result = train(cfg, None, callback=snaps)
    done(f"GAN trained for {steps} steps")
    assert isinstance(result.target, GaussianMixture)  # the theory's configs are 1-D toy targets
    grid = Grid(result.target)
    torch.manual_seed(cfg.train.seed + 1)
    snaps.use(*build_run(cfg, torch.device("cpu"))[1:])  # shells to load snapshots into
    fixed_step = partial_overlap_step(grid, snaps)
    mid_step = max(fixed_step, steps // 4)

    fixed = fixed_g_claims(cfg, grid, result.target, snaps, fixed_step)  # Proposition 1
    rows += fixed.rows
    done("fixed-G rows done")
    rows += equilibrium_claims(grid, result.G, result.D, steps)  # Theorem 1 at the end of training
    rows.append(confident_d_claim(cfg, result.target, snaps.load(0)[0]))  # saturation at the initial G
    done("Theorem 1 rows done")

    prop2_rows, prop2_fig = proposition2_claims()
    wgan_rows, wgan_fig = wgan_claims()
    rows += prop2_rows + wgan_rows
    done("Proposition 2 and WGAN rows done")

    if out_dir is not None:
        from ..plots import plot_logit, plot_proposition2, plot_wgan

        out = Path(out_dir)
        write_training_figures(out, grid, snaps, fixed, fixed_step, mid_step, steps)
        plot_logit(fixed.logit_fig, out / "logit.png")
        plot_proposition2(prop2_fig, out / "proposition2.png")
        plot_wgan(wgan_fig, out / "wgan.png")
        done(f"figures written to {out_dir}")
    return rows


def partial_overlap_step(grid: Grid, snaps: Snapshots) -> int:
    """The first snapshot's step at which JSD(p_data ‖ p_g) ≤ :data:`OVERLAP_JSD`, exact on the grid (else the
    last): an early G whose p_g overlaps p_data in part, chosen by its state rather than by a step count, so
    that Proposition 1's experiment starts from the same situation whatever the seed or learning rate."""
    p_data = with_rest(grid.p_data)
    for step in snaps.steps:
        if jsd(p_data, with_rest(grid.p_g(snaps.load(step)[0], n_z=2**16))).item() <= OVERLAP_JSD:
            return step
    return snaps.steps[-1]
