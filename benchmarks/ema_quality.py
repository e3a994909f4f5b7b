"""Does the EMA generator ever hurt? (issue 15) Train a preset for a few seeds; at every evaluation
gankit measures the EMA copy of G and the raw G on the same seeded noise (classifier features, FID
and the rest); print both per step and seed, and whether the EMA's FID is ever worse than the raw G's
by more than the run-to-run noise (the spread of the raw G's FID over the seeds at that step).

    python benchmarks/ema_quality.py --preset cifar10-dcgan --steps 2000 --every 500 \\
        --set data.name=imagefolder --set data.root=../shared/data/cifar10-test
    python benchmarks/ema_quality.py --preset mnist-dcgan --steps 1000 --set data.root=../shared/data
    python benchmarks/ema_quality.py --smoke          # digits, a few steps: checks the script

Runs go to --out (default runs/ema_quality/PRESET-seedS); the table is printed in Markdown.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from gankit.config import describe_ema, load_config
from gankit.stats import read_jsonl
from gankit.training import train


def run_seed(preset: str, steps: int, every: int, seed: int, sets: list[str], out: Path) -> tuple[dict, float]:
    """{step: (FID of G_ema, FID of the raw G)} of one seed's run, and its wall time in seconds."""
    cfg = load_config(
        preset,
        overrides=[
            *sets,
            f"train.steps={steps}",
            f"train.eval_every={every}",
            f"train.seed={seed}",
            "train.progress=false",
            "train.tensorboard=false",
            f"train.checkpoint_every={steps}",
            f"train.sample_every={every}",
        ],
    )
    t0 = time.perf_counter()
    train(cfg, out)
    seconds = time.perf_counter() - t0
    key = f"eval/{cfg.train.eval_features}/fid"
    rows = [r for r in read_jsonl(out / "metrics.jsonl") if key in r]
    return {r["step"]: (r[key], r[f"raw/{key}"]) for r in rows}, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="digits")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--every", type=int, default=250, help="steps between evaluations")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default="runs/ema_quality")
    ap.add_argument("--smoke", action="store_true", help="digits, 20 steps, tiny networks")
    args = ap.parse_args()
    if args.smoke:
        args.preset, args.steps, args.every = "digits", 20, 10
        args.sets += ["model.g_hidden=8", "model.d_hidden=8", "train.eval_samples=200"]
    cfg = load_config(args.preset, overrides=args.sets)
    if cfg.train.ema_kimg <= 0 or not cfg.train.eval_features:
        raise SystemExit("ema_quality: the preset needs an EMA (train.ema_kimg > 0) and train.eval_features")
    results, times = [], []
    for seed in range(args.seeds):
        fids, seconds = run_seed(
            args.preset, args.steps, args.every, seed, args.sets, Path(args.out) / f"{args.preset}-seed{seed}"
        )
        results.append(fids)
        times.append(seconds)
    t = cfg.train
    print(
        f"{args.preset}, {args.steps} steps, batch {t.batch_size}, {describe_ema(t.ema_kimg, t.ema_rampup)}; "
        f"FID ({t.eval_features} features, {t.eval_samples} samples); {args.seeds} seeds; "
        f"{', '.join(f'{s:.0f}' for s in times)} s; torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    head = " | ".join(f"seed {s}: G_ema / G" for s in range(args.seeds))
    print(f"| step | {head} | noise (raw G's spread) | EMA worse by more than the noise |")
    print("|---|" + "---|" * (args.seeds + 2))
    worst = 0
    for step in sorted(results[0]):
        pairs = [r[step] for r in results]
        noise = max(p[1] for p in pairs) - min(p[1] for p in pairs)
        bad = [ema - raw > noise for ema, raw in pairs]
        worst += any(bad)
        cells = " | ".join(f"{ema:.3g} / {raw:.3g}" for ema, raw in pairs)
        print(f"| {step} | {cells} | {noise:.3g} | {'yes' if any(bad) else 'no'} |")
    print(f"evaluations where the EMA was worse beyond the noise: {worst} of {len(results[0])}")


if __name__ == "__main__":
    main()
