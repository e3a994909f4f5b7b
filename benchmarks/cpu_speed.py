"""Fast on a laptop (issue 21): gankit against the plain PyTorch loop everybody writes first, back to back
on the same CPU, and the wall times of `gankit theory` and of the default `gankit train`.

The reference: the Unrolled-GAN notebook's settings without unrolling (z = 256, G and D MLPs of two tanh
layers of 128, batch 512, Adam 1e-3 for G and 1e-4 for D, β₁ = 0.5, the non-saturating loss written with
BCEWithLogits, G's forward pass shared by both updates) on ring8 (8 modes on a circle of radius 2, σ = 0.02).

1. step rate: the reference's step and gankit's on the same sizes (the ring8 preset with the reference's
   model, batch, rates and loss), alternating in one process, 5 rounds; medians and their ratio;
2. time to quality on ring8 (8/8 modes and >= 90% of 2,500 samples within 3σ of a mode, the VEEGAN/PacGAN
   protocol): the reference trained until it gets there (checked every --check steps, the checks not timed,
   nor its start-up), and the whole command `gankit train --preset ring8` (start-up, evaluations, figures,
   checkpoints and report included), with its final score;
3. `gankit theory` and `gankit train` (digits) as commands: wall time and result.

    python benchmarks/cpu_speed.py                      # all of it (about 5 minutes on 2 cores)
    python benchmarks/cpu_speed.py --skip-theory --skip-digits
    python benchmarks/cpu_speed.py --smoke              # a few steps of each part: checks the script

Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from gankit.config import load_config
from gankit.features import cache_dir
from gankit.distributions import ring8 as ring8_target
from gankit.metrics.toy import mode_stats
from gankit.stats import read_jsonl
from gankit.training.session import start

# the reference's sizes and rates, as gankit overrides of the ring8 preset
SAME_STEP = [
    "model.z_dim=256",
    "model.g_hidden=128",
    "model.g_layers=2",
    "model.g_act=tanh",
    "model.d_hidden=128",
    "model.d_layers=2",
    "model.d_act=tanh",
    "objective.name=nonsaturating",
    "objective.r1_gamma=0",
    "train.batch_size=512",
    "train.lr_g=1e-3",
    "train.lr_d=1e-4",
    "train.beta1=0.5",
    "train.lr_schedule=constant",
    "train.reuse_fake=true",
    "train.ema_kimg=0",
]
QUIET = ["train.progress=false", "train.tensorboard=false", "train.eval_every=0", "train.sample_every=0"]


def ring8(n: int) -> torch.Tensor:
    """n points [n, 2] of ring8: 8 Gaussians (σ = 0.02) at radius 2."""
    angle = 2 * math.pi * torch.randint(8, (n,)) / 8
    return 2.0 * torch.stack([angle.cos(), angle.sin()], 1) + 0.02 * torch.randn(n, 2)


def reference(seed: int) -> tuple[Callable[[], None], nn.Module]:
    """The plain loop's step (a closure) and its G."""
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(256, 128), nn.Tanh(), nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, 2))
    D = nn.Sequential(nn.Linear(2, 128), nn.Tanh(), nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(512, 1), torch.zeros(512, 1)

    def step() -> None:
        x, z = ring8(512), torch.randn(512, 256)
        fake = G(z)
        loss_d = bce(D(x), ones) + bce(D(fake.detach()), zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = bce(D(fake), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    return step, G


def score(G: nn.Module, z_dim: int) -> tuple[int, float]:
    """(modes covered, high-quality share) of 2,500 samples, against gankit's ring8 target's modes."""
    target = ring8_target()
    with torch.no_grad():
        x = G(torch.randn(2500, z_dim, generator=torch.Generator().manual_seed(1)))
    s = mode_stats(x, target.means, target.stds[:, 0])
    return s["modes"], s["high_quality"]


def step_rates(rounds: int, steps: int) -> tuple[list[float], list[float]]:
    """Steps/s of the reference and of gankit on the same sizes, alternating ``rounds`` times."""
    ref_step, _ = reference(0)
    cfg = load_config("ring8", overrides=[*SAME_STEP, *QUIET, "train.steps=100000000", "train.checkpoint_every=0"])
    run = start(cfg, None)
    for _ in range(20):  # warm-up: allocator, first Adam steps
        ref_step()
    run.step(20)
    ref, ours = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            ref_step()
        ref.append(steps / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        run.step(steps)
        ours.append(steps / (time.perf_counter() - t0))
    return ref, ours


def reference_to_quality(max_steps: int, check: int) -> tuple[int | None, float, tuple[int, float]]:
    """The reference trained until 8/8 modes and >= 90% high quality: (step or None, training seconds, last score)."""
    step, G = reference(0)
    seconds, last = 0.0, (0, 0.0)
    for done in range(check, max_steps + 1, check):
        t0 = time.perf_counter()
        for _ in range(check):
            step()
        seconds += time.perf_counter() - t0
        last = score(G, 256)
        if last[0] == 8 and last[1] >= 0.9:
            return done, seconds, last
    return None, seconds, last


def command(args: list[str]) -> tuple[float, int]:
    """Wall seconds and exit code of ``python -m gankit ARGS``."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr[-2000:], file=sys.stderr)
    return time.perf_counter() - t0, p.returncode


def last_row(run: Path, key: str) -> dict:
    """The last row of RUN/metrics.jsonl that has ``key``."""
    rows = read_jsonl(run / "metrics.jsonl")
    return next(r for r in reversed(rows) if key in r)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--round-steps", type=int, default=300)
    ap.add_argument("--max-ref-steps", type=int, default=40000, help="the reference's budget to reach the score")
    ap.add_argument("--check", type=int, default=1000, help="steps between the reference's checks")
    ap.add_argument("--skip-theory", action="store_true")
    ap.add_argument("--skip-digits", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="a few steps of each part, tiny networks")
    args = ap.parse_args()
    tiny = ["--set", "train.steps=6", "--set", "model.g_hidden=8", "--set", "model.d_hidden=8"] if args.smoke else []
    if args.smoke:
        args.rounds, args.round_steps, args.max_ref_steps, args.check = 1, 5, 10, 5
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")

    ref, ours = step_rates(args.rounds, args.round_steps)
    r, o = statistics.median(ref), statistics.median(ours)
    print("| step on the reference's sizes (z 256, 2×128 tanh, batch 512) | steps/s (median) |")
    print("|---|---|")
    print(f"| plain PyTorch loop | {r:.1f} |\n| gankit | {o:.1f} |")
    print(f"\ngankit's step rate / the plain loop's: {o / r:.2f} ({args.rounds} rounds of {args.round_steps} steps)\n")

    with tempfile.TemporaryDirectory() as tmp:
        hit, ref_s, (ref_modes, ref_hq) = reference_to_quality(args.max_ref_steps, args.check)
        run = Path(tmp) / "ring8"
        wall, code = command(["train", "--preset", "ring8", "--set", "train.progress=false", *tiny, "--out", str(run)])
        row = last_row(run, "toy/modes") if code == 0 else {}
        print("| ring8: time to 8/8 modes, >= 90% high quality | steps | seconds | modes | high quality |")
        print("|---|---|---|---|---|")
        when = f"{hit:,}" if hit else f"not by {args.max_ref_steps:,}"
        print(f"| plain PyTorch loop (training only) | {when} | {ref_s:.1f} | {ref_modes} | {ref_hq:.3f} |")
        steps = load_config("ring8").train.steps if not args.smoke else 6
        modes, hq = row.get("toy/modes", 0), row.get("toy/high_quality", 0.0)
        print(f"| `gankit train --preset ring8` (whole command) | {steps:,} | {wall:.1f} | {int(modes)} | {hq:.3f} |")
        if hit:
            print(f"\nthe plain loop's time to the score / gankit's whole command: {ref_s / wall:.2f}\n")
        else:
            print(f"\nthe plain loop did not reach the score in {ref_s:.0f} s: ratio above {ref_s / wall:.2f}\n")

        if not args.skip_theory:
            wall, code = command(["theory", "--out", str(Path(tmp) / "theory")])
            print(f"`gankit theory`: {wall:.1f} s, {'every row passed' if code == 0 else 'a row FAILED'}")
        if not args.skip_digits:
            cached = any(cache_dir().glob("classifier-*.pt"))
            run = Path(tmp) / "digits"
            wall, code = command(["train", "--set", "train.progress=false", *tiny, "--out", str(run)])
            fid = last_row(run, "eval/classifier/fid")["eval/classifier/fid"] if code == 0 else float("nan")
            note = "a classifier was cached" if cached else "no classifier cached before: its training included"
            print(f"`gankit train` (digits): {wall:.1f} s, classifier FID of G_ema {fid:.3f} ({note})")


if __name__ == "__main__":
    main()
