"""Issue 5's check on MNIST: the classifier's accuracy, and every metric for real test images (the
floor), a trained mnist-dcgan run and an untrained generator, with the ordering each should show.

    python benchmarks/metrics_mnist.py --root ../shared/data --run runs/mnist-dcgan [--n 10000]

The run is any finished `gankit train --preset mnist-dcgan --set data.root=...` directory.
"""

from __future__ import annotations

import argparse
import time

import torch

from gankit.config import load_config
from gankit.evaluate import IMAGE_METRICS, image_evaluator
from gankit.runs import load_generator
from gankit.build import build_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data")
    ap.add_argument("--run", required=True, help="a trained mnist-dcgan run directory")
    ap.add_argument("--n", type=int, default=10000)
    args = ap.parse_args()

    t0 = time.time()
    cfg = load_config("mnist-dcgan", overrides=[f"data.root={args.root}"])
    ev = image_evaluator(cfg, "classifier", n=args.n, log=print)
    print(f"features: {ev.net.info} ({time.time() - t0:.0f} s incl. training if not cached)")
    G, run_cfg, n_cls, step = load_generator(args.run)
    _, G0, _ = build_run(cfg, torch.device("cpu"))  # the same architecture, untrained (seed train.seed)
    rows = {
        "real test split (floor)": ev.floor,
        f"mnist-dcgan, {step} steps (EMA G)": ev(G, run_cfg.model.z_dim, n_cls, args.n),
        "untrained G": ev(G0, cfg.model.z_dim, 0, args.n),
    }
    names = list(IMAGE_METRICS)
    print("| samples | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for label, m in rows.items():
        print(f"| {label} | " + " | ".join(f"{m[k]:.4g}" for k in names) + " |")
    floor, trained, untrained = rows.values()
    for k in names:
        sign = 1 if IMAGE_METRICS[k] == "lower" else -1
        ok = sign * floor[k] < sign * trained[k] < sign * untrained[k]
        print(f"{k}: floor {'<' if sign > 0 else '>'} trained {'<' if sign > 0 else '>'} untrained: {ok}")
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
