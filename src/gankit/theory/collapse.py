"""Mode collapse, counted honestly: the mass p_g puts near each mode of a multimodal target, per objective and
seed, with the rule that decides whether a mode is kept written in the row itself, and each row checked
against what the rows before it predict.

- ``bimodal1d`` (1-D): the mass of p_g within 3σ of each mode, exact up to 2/n_z per bin by gankit's
  push-forward of a quadrature grid over z (:func:`gankit.exact.pushforward_masses_1d`). p_data puts
  ½(2Φ(3) − 1) = 0.4987 there. A mode is kept when p_g puts at least a quarter of that there.
- ``ring8`` (2-D): gankit's mode statistics (:func:`gankit.metrics.toy.mode_stats`, the VEEGAN/PacGAN protocol)
  on 2,500 samples: the share of samples within 3σ of a mode (high quality) and each mode's share of them.
  A mode is kept when it receives at least a quarter of its fair share (1/8) of the high-quality samples.

The predictions (:data:`PREDICTIONS`): RpGAN + R1 + R2 keeps every mode in every seed (R3GAN's claim, Huang et
al. 2024: the regularised game converges locally, as the Dirac-GAN rows show); the unregularised games, which
do not converge locally, lose a mode in some seed, except minimax on ``bimodal1d``: its gradient D·∇logit is
weakest on the samples D rejects, so it herds them onto one mode no more often than the non-saturating loss,
whose (1 − D)·∇logit is strongest there. The same weighting makes the minimax generator slower: on ``ring8``
fewer of its samples reach the modes than of the non-saturating one's, in every seed.

The runs are independent (each seeded by ``train.seed``), so they run in parallel processes, one torch thread
each: the same numbers as one after the other.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import torch

from ..config import load_config
from ..distributions import GaussianMixture
from ..metrics.toy import mode_counts
from ..training import train
from .claims import Claim
from .grid import Grid

__all__ = ["OBJECTIVES", "RUNS", "PREDICTIONS", "KEEP", "collapse_claims"]

# name shown in the rows: config overrides. R1 and R2 weights: ring8's γ = 0.03 (its preset's R1); bimodal1d has
# no preset penalty, and its modes are 15× wider (0.3 against 0.02), so a D of the same shape has a 225× smaller
# ‖∇_x D‖²: the same strength of penalty needs γ ≈ 2, of which γ = 1 is the round value below.
OBJECTIVES = {
    "minimax": {"bimodal1d": ["objective.name=minimax"], "ring8": ["objective.name=minimax", "objective.r1_gamma=0"]},
    "nonsaturating": {
        "bimodal1d": ["objective.name=nonsaturating"],
        "ring8": ["objective.name=nonsaturating", "objective.r1_gamma=0"],
    },
    "rpgan+R1+R2": {
        "bimodal1d": ["objective.name=rpgan", "objective.r1_gamma=1.0", "objective.r2_gamma=1.0"],
        "ring8": ["objective.name=rpgan", "objective.r1_gamma=0.03", "objective.r2_gamma=0.03"],
    },
}
# (steps, seeds) of each target's runs, its preset's settings otherwise (ring8: Adam 3e-3 decaying linearly to 0
# over the run; no EMA copy, as the raw G is measured). Tried: bimodal1d 10 seeds, ring8 8. RpGAN + R1 + R2 kept
# every mode in all of them (smallest mass near a mode 0.163 against the threshold 0.125 on bimodal1d; smallest
# share 0.093 against 1/32 on ring8); the non-saturating loss lost a mode in 6 of 10 and 4 of 8, minimax on ring8
# in 6 of 8 (so that all seeds of a row keep every mode by chance with probability about 0.4^5 = 1% and
# 0.5^6 = 1.6%); minimax on bimodal1d in none. Minimax's high-quality share on ring8 was at most 0.64, the
# non-saturating one's at least 0.77.
RUNS = {"bimodal1d": (300, 5), "ring8": (1500, 6)}
KEEP = 1 / 4  # a mode is kept with at least a quarter of the mass p_data puts there (1-D) or of its fair share (2-D)

# objective: (target → prediction) for the share of seeds that keep every mode; "all" = 1, "some" = < 1 (a mode
# lost in some seed), "nonsaturating" = at least the non-saturating share
PREDICTIONS = {
    "minimax": {"bimodal1d": "nonsaturating", "ring8": "some"},
    "nonsaturating": {"bimodal1d": "some", "ring8": "some"},
    "rpgan+R1+R2": {"bimodal1d": "all", "ring8": "all"},
}
WHY = {
    "all": "predicted: all (R3GAN's claim: RpGAN + R1 + R2 converges locally)",
    "some": "predicted: < 1 (unregularised steps do not converge locally: a mode lost in some seed)",
    "nonsaturating": "predicted: >= the non-saturating share (minimax's D-weighted gradient herds rejected samples less)",
}


def measure_run(preset: str, name: str, seed: int, steps: int) -> dict:
    """Train ``preset`` with objective ``name`` from ``seed`` for ``steps`` steps; measure the
    mass p_g puts near each mode (``mass``: p_g's, exact in 1-D; in 2-D each mode's share of the high-quality
    samples), p_data's (``data``) and the high-quality share (``hq``, 2-D only)."""
    # no EMA copy: the rows measure the raw G, which the EMA never feeds back into (the same G with or without it)
    over = ["train.progress=false", "train.tensorboard=false", "train.eval_every=0", "train.ema_kimg=0"]
    over += [f"train.steps={steps}", f"train.seed={seed}"] + OBJECTIVES[name][preset]
    cfg = load_config(preset, overrides=over)
    res = train(cfg, None)
    target = res.target
    assert isinstance(target, GaussianMixture)  # both presets are toy targets
    if target.dim == 1:
        mass, data = _masses_1d(res.G, target)
        return {"mass": mass, "data": data, "hq": None}
    shares, hq = _masses_2d(res.G, target, cfg.model.z_dim)
    k = len(shares)
    return {"mass": shares, "data": [(1 - math.exp(-4.5)) / k] * k, "hq": hq}  # P(‖x − μ‖ ≤ 3σ) = 1 − e^(−9/2)


def _masses_1d(G: torch.nn.Module, target: GaussianMixture) -> tuple[list[float], list[float]]:
    """p_g's and p_data's mass within 3σ of each mode, p_g's by the exact push-forward."""
    grid = Grid(target)
    p_g = grid.p_g(G, n_z=2**18)
    out_g, out_d = [], []
    for mu, sd in zip(target.means[:, 0], target.stds[:, 0]):
        near = (grid.centres - mu).abs() <= 3 * sd
        out_g.append(p_g[near].sum().item())
        out_d.append(grid.p_data[near].sum().item())
    return out_g, out_d


def _masses_2d(G: torch.nn.Module, target: GaussianMixture, z_dim: int) -> tuple[list[float], float]:
    """Each mode's share of the high-quality samples among 2,500 (mode_stats' protocol), and the share of
    samples that are high quality."""
    with torch.no_grad():
        x = G(torch.randn(2500, z_dim, generator=torch.Generator().manual_seed(0)))
    counts, hq = mode_counts(x, target.means, target.stds[:, 0])
    return (counts / counts.sum().clamp(min=1)).tolist(), hq


def run_all(jobs: list[tuple[str, str, int, int]], workers: int | None = None) -> list[dict]:
    """:func:`measure_run` of each (preset, name, seed, steps), in order; in ``workers`` processes of one torch
    thread (default: one a core), or here when ``workers`` is 1. Spawned, not forked (a fork of a process that has run OpenMP can hang),
    so a script that calls this needs Python's ``if __name__ == "__main__":`` guard, as the ``gankit`` command has."""
    workers = min(len(jobs), workers or len(os.sched_getaffinity(0)))  # the cores this process may use
    if workers <= 1:
        return [measure_run(*job) for job in jobs]
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=spawn, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        return list(pool.map(measure_run, *zip(*jobs)))


def collapse_claims(
    runs: dict[str, tuple[int, int]] | None = None,
    workers: int | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> tuple[list[Claim], dict]:
    """The rows for each target of ``runs`` ({preset: (steps, seeds)}, default :data:`RUNS`), each objective of
    :data:`OBJECTIVES` trained from seeds 0, 1, ...; and the figure's data (the masses per objective and seed)."""
    runs = runs or RUNS
    for preset, (_, seeds) in runs.items():
        if preset not in RUNS or seeds < 1:
            raise ValueError(
                f"collapse runs: {preset!r} with {seeds} seeds; targets: {', '.join(RUNS)}, 1 seed or more"
            )
    t0 = time.perf_counter()
    jobs = [(p, name, s, n) for p, (n, seeds) in runs.items() for name in OBJECTIVES for s in range(seeds)]
    results = iter(run_all(jobs, workers))
    log(f"mode-collapse runs: {len(jobs)} in {time.perf_counter() - t0:.1f}s")
    rows: list[Claim] = []
    fig: dict = {}
    for preset, (n, seeds) in runs.items():
        measured = {name: [next(results) for _ in range(seeds)] for name in OBJECTIVES}
        rows += _target_rows(preset, n, measured, fig)
    return rows, fig


def _target_rows(preset: str, n: int, measured: dict[str, list[dict]], fig: dict) -> list[Claim]:
    """One target's rows: per objective the share of seeds that keep every mode against its prediction (the
    smallest mass near a mode per seed in the text), and on 2-D targets minimax's high-quality share against the
    non-saturating one's."""
    one_d = measured["minimax"][0]["hq"] is None
    k = len(measured["minimax"][0]["mass"])
    rule = (
        f"kept: p_g's mass within 3 sigma >= {KEEP:.2g} of p_data's there"
        if one_d
        else f"kept: >= {KEEP:.2g} of its fair share (1/{k}) of the samples within 3 sigma of a mode"
    )
    fig[preset] = {"mass": {}, "rule": rule, "data_mass": measured["minimax"][0]["data"]}
    bound = [KEEP * d for d in measured["minimax"][0]["data"]] if one_d else [KEEP / k] * k
    shares, details = {}, {}
    for name, per_seed in measured.items():
        kept = [all(m >= b for m, b in zip(r["mass"], bound)) for r in per_seed]
        shares[name] = sum(kept) / len(kept)
        fig[preset]["mass"][name] = [r["mass"] if one_d else [s * r["hq"] for s in r["mass"]] for r in per_seed]
        what = "mass near a mode" if one_d else "share of the high-quality samples at a mode"
        details[name] = f"smallest {what} per seed " + ", ".join(f"{min(r['mass']):.3g}" for r in per_seed)
    rows = [_kept_row(preset, name, n, shares, rule, details[name]) for name in measured]
    if not one_d:
        rows.append(_speed_row(preset, n, measured))
    return rows


def _kept_row(preset: str, name: str, n: int, shares: dict[str, float], rule: str, detail: str) -> Claim:
    """The share of seeds that keep every mode with objective ``name``, checked against its prediction in
    :data:`PREDICTIONS` (``shares``: every objective's share on this target, for the comparisons)."""
    share, pred = shares[name], PREDICTIONS[name][preset]
    if pred == "all":
        theory, passed = 1.0, share == 1.0
    elif pred == "some":
        theory, passed = 1.0, share < 1.0
    else:
        theory = shares[pred]
        passed = share >= theory
    return Claim(
        f"modes, {preset}, {name}, {n} steps: share of seeds that keep every mode ({rule}; {detail}); {WHY[pred]}",
        theory,
        share,
        0.0,
        passed,
    )


def _speed_row(preset: str, n: int, measured: dict[str, list[dict]]) -> Claim:
    """Saturation in real training: the largest high-quality share of the minimax runs below the smallest of the
    non-saturating runs (same seeds, same steps)."""
    mm = max(r["hq"] for r in measured["minimax"])
    ns = min(r["hq"] for r in measured["nonsaturating"])
    return Claim(
        f"modes, {preset}, {n} steps: share of samples within 3 sigma of a mode (high quality), largest over the "
        f"minimax seeds; predicted: below the smallest over the non-saturating seeds (theory column; the minimax "
        f"gradient D grad logit vanishes where D rejects)",
        ns,
        mm,
        0.0,
        mm < ns,
    )
