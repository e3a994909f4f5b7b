"""Does the EMA generator ever hurt? (issue 15) Train a preset for a few seeds; at every evaluation
gankit measures the EMA copy of G and the raw G on the same seeded noise (classifier features, FID
and the rest); print both per step and seed, and whether the EMA's FID is ever worse than the raw G's
by more than the run-to-run noise (the spread of the raw G's FID over the seeds at that step).

``--ramps 0.05,0.02`` also keeps, beside the run's own EMA, one EMA copy of G per ramp-up (the run's
half-life, ``train.ema_kimg``, capped at that share of the images seen), updated after every step by
the same ``gankit.ema`` functions and measured on the same noise: the EMA never feeds back into
training, so each copy is what a run with that ``train.ema_rampup`` would sample from.

    python benchmarks/ema_quality.py --preset cifar10-dcgan --steps 2000 --every 500 \\
        --set data.name=imagefolder --set data.root=../shared/data/cifar10-test
    python benchmarks/ema_quality.py --preset mnist-dcgan --steps 1000 --set data.root=../shared/data \\
        --ramps 0.05,0.02,0.005
    python benchmarks/ema_quality.py --smoke          # digits, a few steps: checks the script

Runs go to --out (default runs/ema_quality/PRESET-seedS); the tables are printed in Markdown.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch

from gankit.config import describe_ema, load_config
from gankit.ema import ema_beta, ema_update
from gankit.errors import GankitError
from gankit.files import check_new_run_dir
from gankit.training.session import due, start


def run_seed(
    preset: str, steps: int, every: int, seed: int, sets: list[str], ramps: list[float], out: Path
) -> tuple[dict, float]:
    """{step: {"raw": FID of the raw G, "run": of the run's G_ema, ramp: of the EMA copy with that ramp}}
    of one seed's run, and its wall time in seconds."""
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
    t = cfg.train
    key = f"eval/{t.eval_features}/fid"
    batch = t.batch_size * t.accumulate
    copies: dict[float, torch.nn.Module] = {}
    counts = {r: torch.zeros((), dtype=torch.long) for r in ramps}
    fids: dict[int, dict] = {}
    t0 = time.perf_counter()
    with start(cfg, out) as s:
        while not s.finished:
            s.advance()
            step = s.step_done
            for r in ramps:  # as the step's own update: the first copies G, then W ← W + (1 − β)(G − W)
                first = r not in copies
                if first:
                    copies[r] = copy.deepcopy(s.G)
                ema_update(copies[r], s.G, 1.0 - ema_beta(step, batch, t.ema_kimg, r), counts[r], first)
            if due(step, every, steps):  # the run measured G_ema and G at this step (train.eval_every)
                assert s.evaluation is not None
                row = {"raw": s.stats[f"raw/{key}"], "run": s.stats[key]}
                fids[step] = row | {r: s.evaluation.measure_one(m)[key] for r, m in copies.items()}
        s.close()
    return fids, time.perf_counter() - t0


def table(results: list[dict], which: float | str) -> int:
    """Print one generator's table (``which``: "run" or a ramp) against the raw G; the number of
    evaluations where it was worse than the raw G by more than the noise."""
    seeds = len(results)
    head = " | ".join(f"seed {s}: G_ema / G" for s in range(seeds))
    print(f"| step | {head} | noise (raw G's spread) | EMA worse by more than the noise |")
    print("|---|" + "---|" * (seeds + 2))
    worst = 0
    for step in sorted(results[0]):
        pairs = [(r[step][which], r[step]["raw"]) for r in results]
        noise = max(p[1] for p in pairs) - min(p[1] for p in pairs)
        bad = [ema - raw > noise for ema, raw in pairs]
        worst += any(bad)
        cells = " | ".join(f"{ema:.3g} / {raw:.3g}" for ema, raw in pairs)
        print(f"| {step} | {cells} | {noise:.3g} | {'yes' if any(bad) else 'no'} |")
    print(f"evaluations where the EMA was worse beyond the noise: {worst} of {len(results[0])}\n")
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="digits")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--every", type=int, default=250, help="steps between evaluations")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--ramps", default="", help="comma-separated ramp-ups measured beside the run's own EMA")
    ap.add_argument("--out", default="runs/ema_quality")
    ap.add_argument("--smoke", action="store_true", help="digits, 20 steps, tiny networks")
    args = ap.parse_args()
    if args.smoke:
        args.preset, args.steps, args.every = "digits", 20, 10
        args.sets += ["model.g_hidden=8", "model.d_hidden=8", "train.eval_samples=200"]
        args.ramps = args.ramps or "0.01"
    ramps = list(dict.fromkeys(float(r) for r in args.ramps.split(",") if r))  # each once: one copy a ramp
    cfg = load_config(args.preset, overrides=args.sets)
    if cfg.train.ema_kimg <= 0 or not cfg.train.eval_features:
        raise SystemExit("ema_quality: the preset needs an EMA (train.ema_kimg > 0) and train.eval_features")
    outs = [Path(args.out) / f"{args.preset}-seed{seed}" for seed in range(args.seeds)]
    try:  # every seed's directory before the first run: as gankit train, a run directory is never written over
        for out in outs:
            check_new_run_dir(out)
    except GankitError as e:
        raise SystemExit(f"ema_quality: {e}") from None
    results, times = [], []
    for seed, out in enumerate(outs):
        fids, seconds = run_seed(args.preset, args.steps, args.every, seed, args.sets, ramps, out)
        results.append(fids)
        times.append(seconds)
    t = cfg.train
    print(
        f"{args.preset}, {args.steps} steps, batch {t.batch_size}; FID ({t.eval_features} features, "
        f"{t.eval_samples} samples); {args.seeds} seeds; {', '.join(f'{s:.0f}' for s in times)} s; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads\n"
    )
    print(f"The run's {describe_ema(t.ema_kimg, t.ema_rampup)}:\n")
    table(results, "run")
    for r in ramps:
        print(f"{describe_ema(t.ema_kimg, r)}, kept beside it:\n")
        table(results, r)


if __name__ == "__main__":
    main()
