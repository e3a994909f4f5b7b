"""Does the fast path train as well as the fp32 eager path? Train one preset both ways from the same
seeds for the same number of steps and compare the metrics of issue 5 (classifier features) that
each run logs at its last step, with the wall time of each run.

    python benchmarks/fast_vs_eager.py --root /path/with/MNIST            # mnist-dcgan, 2 seeds (GPU)
    python benchmarks/fast_vs_eager.py --smoke                            # digits, a few steps, CPU

On a GPU "fast" is the default path (bf16, channels_last, fused Adam, CUDA graph); on the CPU it is
forced on (no CUDA graph there).
"""

from __future__ import annotations

import argparse
import time

import torch

from gankit.config import load_config
from gankit.build import load_data
from gankit.training import train

METRICS = ("fid", "kid", "precision", "recall", "coverage")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mnist-dcgan")
    ap.add_argument("--root", default="../shared/data")
    ap.add_argument("--steps", type=int, default=None, help="default: the preset's")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--n", type=int, default=5000, help="samples for the metrics")
    ap.add_argument("--smoke", action="store_true", help="digits, 10 steps, 1 seed, 200 samples")
    args = ap.parse_args()
    preset = "digits" if args.smoke else args.preset
    steps = 10 if args.smoke else args.steps
    seeds = 1 if args.smoke else args.seeds
    common = [
        f"data.root={args.root}",
        "train.eval_features=classifier",
        "train.eval_every=0",
        f"train.eval_samples={200 if args.smoke else args.n}",
        "train.progress=false",
        "train.tensorboard=false",
        "train.sample_every=0",
        "train.checkpoint_every=0",
    ]
    if steps is not None:
        common.append(f"train.steps={steps}")
    data = load_data(load_config(preset, overrides=common))  # loaded once, shared by every run
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(
        f"device: {torch.cuda.get_device_name() if device == 'cuda' else 'CPU'}, torch {torch.__version__}; "
        f"{preset}, {seeds} seed(s), metrics at the last step (classifier features)"
    )
    print("| path | seed | steps | wall s | " + " | ".join(METRICS) + " |")
    print("|---|---|---|---|" + "---|" * len(METRICS))
    for seed in range(seeds):
        for name, fast in (("fp32 eager", "false"), ("fast", "true")):
            cfg = load_config(preset, overrides=[*common, f"train.seed={seed}", f"train.fast={fast}"])
            t0 = time.perf_counter()
            res = train(cfg, data=data)
            wall = time.perf_counter() - t0
            vals = " | ".join(f"{res.stats.get(f'eval/classifier/{m}', float('nan')):.4g}" for m in METRICS)
            print(f"| {name} | {seed} | {res.step} | {wall:.1f} | {vals} |", flush=True)


if __name__ == "__main__":
    main()
