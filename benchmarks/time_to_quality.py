"""Time to quality (issue 7): train `mnist-dcgan` with gankit's step and with the pytorch/examples-style
reference step (benchmarks/throughput.py) for the same wall-clock budget, measure FID (gankit's
MNIST classifier features; the metric of issue 5) at fixed moments, and report when gankit first
reached the reference's final FID.

    python benchmarks/time_to_quality.py --root ../shared/data --budget 300   # on a GPU
    python benchmarks/time_to_quality.py --smoke                             # digits, seconds, CPU

Only training time counts: the clock stops while a checkpoint of the generator is measured (gankit's
clock is read every 25 steps on a GPU, so its FID moments fall up to 25 steps after a mark).
gankit's run is `gankit.training.train` itself (its default fast path on a GPU), stopped by its
callback when the budget is spent.
"""

from __future__ import annotations

import argparse
import time

import torch

from gankit.config import load_config
from gankit.evaluate import image_evaluator
from gankit.build import load_data
from gankit.training import train
from throughput import reference_step_fn, sync


class _BudgetSpent(Exception):
    pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data")
    ap.add_argument("--budget", type=float, default=300.0, help="training seconds for each of the two runs")
    ap.add_argument("--points", type=int, default=10, help="moments at which FID is measured")
    ap.add_argument("--n", type=int, default=5000, help="samples per FID")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--smoke", action="store_true", help="digits, a few seconds, on the CPU")
    args = ap.parse_args()
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    preset, extra = (
        ("digits", ["train.augment=", "train.ema_kimg=0"])
        if args.smoke
        else ("mnist-dcgan", [f"data.root={args.root}", "train.ema_kimg=0"])
    )
    budget, n = (8.0, 500) if args.smoke else (args.budget, args.n)
    cfg = load_config(
        preset,
        overrides=[
            *extra,
            f"train.batch_size={args.batch}",
            f"train.device={device}",
            "train.steps=100000000",
            "train.eval_features=",
            "train.log_every=100000000",
            "train.progress=false",
            "train.tensorboard=false",
            "train.d_steps=1",
        ],
    )
    data = load_data(cfg)
    ev = image_evaluator(cfg, "classifier", n=n, log=print)
    marks = [budget * (i + 1) / args.points for i in range(args.points)]
    print(
        f"device: {torch.cuda.get_device_name() if device == 'cuda' else 'CPU'}, torch {torch.__version__}; "
        f"{preset}, batch {args.batch}, budget {budget:.0f} s each; FID with {ev.net.info}"
    )

    def fid(G) -> float:
        return ev(G, cfg.model.z_dim, 0, n)["fid"]

    curves: dict[str, list[tuple[float, int, float]]] = {"reference": [], "gankit": []}

    # --- the reference step, timed in a plain loop ---------------------------------------------------
    step = reference_step_fn(cfg, data.shape, device, images=data.images)
    spent, k, i = 0.0, 0, 0
    while i < len(marks):
        sync(device)
        t0 = time.perf_counter()
        step()
        sync(device)
        spent += time.perf_counter() - t0
        k += 1
        if spent >= marks[i]:
            curves["reference"].append((spent, k, fid(step.G)))
            i += 1

    # --- gankit's loop, timed between callbacks (measurement time excluded) -------------------------
    # The clock is read (a host sync) every CHECK steps only: gankit's step itself never waits on the GPU.
    state = {"spent": 0.0, "i": 0, "t0": None}
    CHECK = 1 if args.smoke or device == "cpu" else 25

    def clock(s, G, D):
        if s % CHECK:
            return
        sync(device)
        now = time.perf_counter()
        if state["t0"] is not None:
            state["spent"] += now - state["t0"]
        if s > 0 and state["spent"] >= marks[state["i"]]:
            curves["gankit"].append((state["spent"], s, fid(G)))
            state["i"] += 1
            if state["i"] == len(marks):
                raise _BudgetSpent
        sync(device)
        state["t0"] = time.perf_counter()

    try:
        train(cfg, callback=clock, data=data)
    except _BudgetSpent:
        pass

    print("| run | training s | steps | FID |")
    print("|---|---|---|---|")
    for name, rows in curves.items():
        for t, s, f in rows:
            print(f"| {name} | {t:.1f} | {s} | {f:.3f} |")
    target = curves["reference"][-1][2]
    first = next(((t, s) for t, s, f in curves["gankit"] if f <= target), None)
    if first is None:
        print(f"gankit did not reach the reference's final FID {target:.3f} within the budget")
    else:
        print(
            f"gankit reached the reference's final FID {target:.3f} after {first[0]:.1f} s "
            f"({first[0] / curves['reference'][-1][0]:.2f} of the reference's time, step {first[1]})"
        )


if __name__ == "__main__":
    main()
