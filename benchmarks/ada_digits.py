"""DiffAugment against ADA on the 1,797 digits (issue 17): train the `digits` preset for the same
number of steps with DiffAugment's translation (the preset), with ADA instead (`train.augment=`,
`train.ada_target=0.6`) and with neither, for a few seeds; print the final classifier FID of G_ema
beside its floor (held-out real digits against the reference), and ADA's final p.

    python benchmarks/ada_digits.py [--seeds 2] [--steps 3000] [--ada-kimg 100]
    python benchmarks/ada_digits.py --smoke      # 20 steps, tiny nets: checks the script

Runs go to --out (default runs/ada_digits/VARIANT-seedS); the table is printed in Markdown.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from gankit.config import load_config
from gankit.stats import read_jsonl
from gankit.training import train


def variants(ada_kimg: float) -> dict[str, list[str]]:
    """The compared settings, as config overrides of the digits preset."""
    return {
        "DiffAugment (translation)": [],
        f"ADA (target 0.6, {ada_kimg:g} kimg)": [
            "train.augment=",
            "train.ada_target=0.6",
            f"train.ada_kimg={ada_kimg}",
        ],
        "none": ["train.augment="],
    }


def run(extra: list[str], steps: int, seed: int, out: Path, smoke: bool) -> tuple[float, float, float | None, float]:
    """(FID, its floor, ADA's final p or None, seconds) of one run."""
    tiny = ["model.g_hidden=8", "model.d_hidden=8", "train.eval_samples=200"] if smoke else []
    cfg = load_config(
        "digits",
        overrides=[
            *extra,
            *tiny,
            f"train.steps={steps}",
            f"train.seed={seed}",
            f"train.eval_every={steps}",
            f"train.sample_every={steps}",
            f"train.checkpoint_every={steps}",
            "train.progress=false",
            "train.tensorboard=false",
        ],
    )
    t0 = time.perf_counter()
    train(cfg, out)
    seconds = time.perf_counter() - t0
    fid = json.loads((out / "eval.json").read_text())["metrics"]["fid"]
    ps = [r["ada/p"] for r in read_jsonl(out / "metrics.jsonl") if "ada/p" in r]
    return fid["value"], fid["floor"], ps[-1] if ps else None, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--ada-kimg", type=float, default=100.0, help="ADA's speed (the paper: 500)")
    ap.add_argument("--out", default="runs/ada_digits")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.seeds, args.steps = 1, 20
    print(
        f"digits, {args.steps} steps, {args.seeds} seeds; torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print("| variant | FID per seed (classifier features; floor) | mean | ADA's final p | seconds |")
    print("|---|---|---|---|---|")
    for name, extra in variants(args.ada_kimg).items():
        rows = [
            run(extra, args.steps, s, Path(args.out) / f"{name.split()[0].lower()}-seed{s}", args.smoke)
            for s in range(args.seeds)
        ]
        fids = ", ".join(f"{f:.3g} ({fl:.2g})" for f, fl, _, _ in rows)
        ps = ", ".join(f"{p:.2f}" for _, _, p, _ in rows if p is not None) or "-"
        mean = statistics.mean(f for f, _, _, _ in rows)
        print(f"| {name} | {fids} | {mean:.3g} | {ps} | {', '.join(f'{t:.0f}' for *_, t in rows)} |", flush=True)


if __name__ == "__main__":
    main()
