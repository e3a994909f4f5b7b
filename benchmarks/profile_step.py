"""Where a gankit training step's time goes: torch.profiler over timed steps of `gankit.training.train`,
eager and replayed from a CUDA graph, for the throughput benchmark's cases (benchmarks/throughput.py).

    python benchmarks/profile_step.py                          # GPU: DCGAN-64 at B=64 and 1024
    python benchmarks/profile_step.py --device cpu --cases dcgan64:8 --steps 3

For each case and mode it prints the wall time per step, the device's busy time per step (the sum
of kernel times: on a GPU, the gap between the two is launch and host overhead), and the ops that
take the most device (or CPU) time.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from gankit.training import train
from throughput import case_shape, fake_dataset, model_config, parse_cases, sync, with_train


def profile_case(model: str, batch: int, device: str, graph: bool, warmup: int, steps: int, rows: int) -> None:
    cfg = with_train(model_config(model, batch, device, warmup + steps), cuda_graph=graph)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    prof = profile(activities=acts)
    marks = {}

    def hook(step, G, D):
        if step == warmup:
            sync(device)
            prof.start()
            marks["t0"] = time.perf_counter()
        elif step == warmup + steps:
            sync(device)
            marks["t1"] = time.perf_counter()
            prof.stop()

    train(cfg, callback=hook, data=fake_dataset(case_shape(model)))
    wall = (marks["t1"] - marks["t0"]) / steps * 1e3
    events = prof.key_averages()
    key = "self_device_time_total" if device == "cuda" else "self_cpu_time_total"
    busy = sum(getattr(e, key) for e in events) / steps / 1e3 if device == "cuda" else float("nan")
    mode = "CUDA graph" if graph and device == "cuda" else "eager"
    print(
        f"\n## {model} B={batch}, {mode}: {wall:.2f} ms/step wall ({batch / wall * 1e3:,.0f} img/s), "
        f"device busy {busy:.2f} ms/step"
    )
    print(events.table(sort_by=key, row_limit=rows, max_name_column_width=60))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--cases", default="dcgan64:64,dcgan64:1024", help="model:batch, comma-separated")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rows", type=int, default=12)
    args = ap.parse_args()
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    print(f"device: {torch.cuda.get_device_name() if device == 'cuda' else 'CPU'}, torch {torch.__version__}")
    for model, batch in parse_cases(args.cases):
        for graph in (False, True) if device == "cuda" else (False,):
            profile_case(model, batch, device, graph, args.warmup, args.steps, args.rows)


if __name__ == "__main__":
    main()
