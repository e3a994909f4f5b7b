"""In memory against streamed (issue 20): the step of `cifar10-dcgan` on an image folder held in memory
(data.in_memory=true) and read batch by batch through a DataLoader (data.in_memory=false), back to
back and alternating, on the same machine. Prints the images per second of each (the median over the
logged intervals after the first, from metrics.jsonl's time/img_per_s) and the ratio of step times.

    python benchmarks/streaming.py --root ../shared/data/cifar10-test [--steps 300] [--repeats 2]
    python benchmarks/streaming.py --root DIR --steps 4 --repeats 1 --width 8    # a smoke run

Runs go to --out (default runs/streaming/MODE-R); the table is printed in Markdown.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from gankit.config import load_config
from gankit.stats import read_jsonl
from gankit.training import train

MODES = {"in memory": "true", "streamed": "false"}


def rate(args: argparse.Namespace, in_memory: str, out: Path) -> float:
    """Median images/s over the logged intervals after the first (which holds the start-up)."""
    cfg = load_config(
        "cifar10-dcgan",
        overrides=[
            "data.name=imagefolder",
            f"data.root={args.root}",
            "data.resolution=32",
            f"data.in_memory={in_memory}",
            f"data.workers={args.workers}",
            f"model.g_hidden={args.width}",
            f"model.d_hidden={args.width}",
            f"train.steps={args.steps}",
            f"train.log_every={max(1, args.steps // 6)}",
            "train.eval_features=none",
            "train.sample_every=0",
            f"train.checkpoint_every={args.steps}",
            "train.progress=false",
            "train.tensorboard=false",
        ],
    )
    train(cfg, out)
    rows = [r["time/img_per_s"] for r in read_jsonl(out / "metrics.jsonl") if "time/img_per_s" in r]
    return statistics.median(rows[1:] if len(rows) > 1 else rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data/cifar10-test", help="an image folder (class sub-folders)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--width", type=int, default=64, help="the DCGAN's width")
    ap.add_argument("--workers", type=int, default=1, help="the loader's worker processes when streamed")
    ap.add_argument("--out", default="runs/streaming")
    args = ap.parse_args()
    print(
        f"cifar10-dcgan (width {args.width}) on {args.root}, {args.steps} steps, {args.repeats} repeats, "
        f"{args.workers} worker(s); torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    rates: dict[str, list[float]] = {m: [] for m in MODES}
    for r in range(args.repeats):
        for mode, flag in MODES.items():
            rates[mode].append(rate(args, flag, Path(args.out) / f"{flag}-{r}"))
    print("| data | images/s per repeat | median |")
    print("|---|---|---|")
    for mode, vals in rates.items():
        print(f"| {mode} | {', '.join(f'{v:.0f}' for v in vals)} | {statistics.median(vals):.0f} |")
    ratio = statistics.median(rates["in memory"]) / statistics.median(rates["streamed"])
    print(f"\nstreamed step time / in-memory step time: {ratio:.3f}")


if __name__ == "__main__":
    main()
