"""Mode collapse on StackedMNIST (issue 18): the ablation of R3GAN's paper on the CPU. Train the DCGAN
of `mnist-dcgan` on `stacked_mnist` (1,000 modes) for the same number of steps with the
non-saturating loss, non-saturating + R1, RpGAN + R1 and RpGAN + R1 + R2, for a few seeds; print the
modes covered (of 1,000) and the KL of their histogram from uniform, on the papers' 26,000 samples,
beside the floor of the held-out real stacked digits.

    python benchmarks/stacked_ablation.py --root ../shared/data [--steps 2000] [--seeds 2] [--gamma 0.1]
    python benchmarks/stacked_ablation.py --root DIR --steps 2 --seeds 1 --samples 200 --width 8   # a smoke run

Runs go to --out (default runs/stacked_ablation/VARIANT-seedS); the table is printed in Markdown.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from gankit.config import load_config
from gankit.training import train


def variants(gamma: float) -> dict[str, list[str]]:
    """The compared objectives, as config overrides (γ for R1 and R2 alike)."""
    return {
        "non-saturating": ["objective.name=nonsaturating"],
        "non-saturating + R1": ["objective.name=nonsaturating", f"objective.r1_gamma={gamma}"],
        "RpGAN + R1": ["objective.name=rpgan", f"objective.r1_gamma={gamma}"],
        "RpGAN + R1 + R2": ["objective.name=rpgan", f"objective.r1_gamma={gamma}", f"objective.r2_gamma={gamma}"],
    }


def run(extra: list[str], args: argparse.Namespace, seed: int, out: Path) -> tuple[dict, float]:
    """(eval.json's metrics, seconds) of one run."""
    cfg = load_config(
        "mnist-dcgan",
        overrides=[
            "data.name=stacked_mnist",
            f"data.root={args.root}",
            f"model.g_hidden={args.width}",
            f"model.d_hidden={args.width}",
            *extra,
            f"train.steps={args.steps}",
            f"train.seed={seed}",
            f"train.eval_every={args.steps}",
            f"train.eval_samples={args.samples}",
            f"train.sample_every={args.steps}",
            f"train.checkpoint_every={args.steps}",
            "train.progress=false",
            "train.tensorboard=false",
        ],
    )
    t0 = time.perf_counter()
    train(cfg, out)
    return json.loads((out / "eval.json").read_text())["metrics"], time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data", help="the folder holding MNIST/raw")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, first-seed + 1, ...")
    ap.add_argument("--gamma", type=float, default=0.1, help="γ of R1 and R2")
    ap.add_argument("--samples", type=int, default=26000, help="samples per evaluation (the papers: 26,000)")
    ap.add_argument("--width", type=int, default=64, help="the DCGAN's width")
    ap.add_argument("--out", default="runs/stacked_ablation")
    args = ap.parse_args()
    print(
        f"stacked_mnist, DCGAN width {args.width}, {args.steps} steps, γ {args.gamma:g}, {args.seeds} seeds, "
        f"{args.samples} samples; torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print("| variant | modes per seed (floor) | KL from uniform per seed (floor) | FID per seed | seconds |")
    print("|---|---|---|---|---|")
    for name, extra in variants(args.gamma).items():
        slug = name.lower().replace(" + ", "-").replace(" ", "-")
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        rows = [run(extra, args, s, Path(args.out) / f"{slug}-seed{s}") for s in seeds]
        cell = lambda k, f: ", ".join(format(m[k]["value"], f) for m, _ in rows) + f" ({rows[0][0][k]['floor']:{f}})"  # noqa: E731
        secs = ", ".join(f"{t:.0f}" for _, t in rows)
        print(
            f"| {name} | {cell('modes', '.0f')} | {cell('kl_uniform', '.3g')} | {cell('fid', '.3g')} | {secs} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
