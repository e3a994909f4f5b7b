"""Training throughput (images per second) of gankit's step against a reference step written the
way pytorch/examples' dcgan/main.py writes it: fp32, eager, sigmoid + BCELoss, a `.item()` on every
loss each step. One training step = D on a real batch, D on a fake batch, one G update, so img/s
= batch / step time for both. Same networks, same batch, same device, measured in the same run.

    python benchmarks/throughput.py               # GPU if there is one: DCGAN-64 B=64,256,1024; SNGAN-32 B=64,256
    python benchmarks/throughput.py --device cpu  # CPU, small batches
    python benchmarks/throughput.py --smoke       # seconds: the CI check that it runs
    python benchmarks/throughput.py --variants --cases dcgan64:64,dcgan64:1024   # which part of the fast path buys what

gankit's step is `gankit.training.train` itself (timed between two steps through its callback, after a
warm-up), so the number is what a user's run gets, logging and EMA included.
FLOPs per image come from torch's FlopCounterMode over one reference step; the share of the
chip's peak uses `--peak-tflops` (default 790, an H100's dense bf16 figure, on CUDA).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from gankit.config import load_config
from gankit.data import ImageData, to_model_range
from gankit.nets import build_nets
from gankit.training import train

CASES_GPU = [("dcgan64", 64), ("dcgan64", 256), ("dcgan64", 1024), ("sngan32", 64), ("sngan32", 256)]
CASES_CPU = [("dcgan64", 16), ("dcgan64", 32), ("sngan32", 16)]
CASES_SMOKE = [("dcgan64", 2), ("sngan32", 2)]
# --variants: gankit's step with the fast path's parts switched on one by one (train.* overrides)
VARIANTS = {
    "fp32 eager": {"fast": False},
    "bf16 + channels_last + fused Adam, eager": {"fast": True, "cuda_graph": False},
    "+ CUDA graph (the default)": {"fast": True, "cuda_graph": True},
    "+ CUDA graph + torch.compile": {"fast": True, "cuda_graph": True, "compile": True},
    "+ CUDA graph + reuse_fake": {"fast": True, "cuda_graph": True, "reuse_fake": True},
    "+ CUDA graph + compile + reuse_fake": {"fast": True, "cuda_graph": True, "compile": True, "reuse_fake": True},
}


def case_shape(model: str) -> tuple[int, int, int]:
    """The images of a case: RGB 64×64 for DCGAN-64 (as pytorch/examples), 32×32 for SNGAN-32 (CIFAR-10)."""
    return (3, 64, 64) if model == "dcgan64" else (3, 32, 32)


def parse_cases(text: str) -> list[tuple[str, int]]:
    """``"dcgan64:64,sngan32:256"`` → [("dcgan64", 64), ("sngan32", 256)]."""
    return [(m, int(b)) for m, b in (c.split(":") for c in text.split(","))]


def with_train(cfg, **fields):
    """``cfg`` with some train.* fields replaced (e.g. batch_size=2, fast=False)."""
    return cfg.model_copy(update={"train": cfg.train.model_copy(update=fields)})


def model_config(name: str, batch: int, device: str, steps: int):
    """The config of one case: DCGAN-64 as pytorch/examples (z 100, width 64, Adam(2e-4, 0.5)), or
    SNGAN-32 (hinge, spectral norm, Adam(2e-4, (0, 0.9))); one D step per G step, no EMA, no eval."""
    common = [
        f"train.batch_size={batch}",
        f"train.device={device}",
        f"train.steps={steps}",
        "train.ema_kimg=0",
        "train.d_steps=1",
        "train.progress=false",
        "train.tensorboard=false",
        "train.eval_features=",
        "train.log_every=1000000",
        "train.lr_schedule=constant",
        "data.hflip=false",
    ]
    if name == "dcgan64":
        return load_config("mnist-dcgan", overrides=["data.resolution=64", "model.z_dim=100", *common])
    return load_config("cifar10-sngan", overrides=[*common])


def fake_dataset(shape: tuple[int, int, int], n: int = 2048) -> ImageData:
    """Random uint8 images: throughput does not depend on what the pixels show."""
    g = torch.Generator().manual_seed(0)
    return ImageData(
        torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g),
        torch.zeros(n, dtype=torch.long),
        10,
        "random",
    )


def reference_step_fn(cfg, shape, device, images=None):
    """A step as pytorch/examples writes it, over gankit's networks (the same parameters); returns
    ``step()`` with ``step.G`` the generator it trains. ``images``: uint8 [N, C, H, W] (default random)."""
    torch.manual_seed(0)
    G, D = (m.to(device) for m in build_nets(cfg.model, shape))
    t = cfg.train
    opt_d = torch.optim.Adam(D.parameters(), lr=t.lr_d, betas=(t.beta1, t.beta2))
    opt_g = torch.optim.Adam(G.parameters(), lr=t.lr_g, betas=(t.beta1, t.beta2))
    bce = nn.BCELoss()
    images = (fake_dataset(shape).images if images is None else images).to(device)
    hinge = cfg.objective.name == "hinge"

    def step() -> None:
        B = t.batch_size
        real = to_model_range(images[torch.randint(len(images), (B,), device=device)])
        ones, zeros = torch.ones(B, device=device), torch.zeros(B, device=device)
        D.zero_grad()
        out_real = D(real)
        err_real = nn.functional.relu(1 - out_real).mean() if hinge else bce(torch.sigmoid(out_real), ones)
        err_real.backward()
        fake = G(torch.randn(B, cfg.model.z_dim, device=device))
        out_fake = D(fake.detach())
        err_fake = nn.functional.relu(1 + out_fake).mean() if hinge else bce(torch.sigmoid(out_fake), zeros)
        err_fake.backward()
        opt_d.step()
        G.zero_grad()
        out = D(fake)
        err_g = -out.mean() if hinge else bce(torch.sigmoid(out), ones)
        err_g.backward()
        opt_g.step()
        _ = (err_real + err_fake).item(), err_g.item(), out_real.mean().item(), out_fake.mean().item()  # host syncs

    step.G = G
    return step


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_reference(cfg, shape, device, warmup: int, steps: int) -> float:
    step = reference_step_fn(cfg, shape, device)
    for _ in range(warmup):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return cfg.train.batch_size * steps / (time.perf_counter() - t0)


def time_gankit(cfg, shape, device, warmup: int, steps: int, **train_fields) -> float:
    """img/s of `train()` between its callbacks at steps ``warmup`` and ``warmup + steps``;
    ``train_fields`` override cfg.train (e.g. fast=False)."""
    cfg = with_train(cfg, **train_fields)
    marks = {}

    def clock(step, G, D):
        if step in (warmup, warmup + steps):
            sync(device)
            marks[step] = time.perf_counter()

    train(cfg, callback=clock, data=fake_dataset(shape))
    return cfg.train.batch_size * steps / (marks[warmup + steps] - marks[warmup])


def flops_per_image(cfg, shape, device) -> float:
    """FLOPs of one reference training step per image (FlopCounterMode counts matmuls and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    small = with_train(cfg, batch_size=2)
    step = reference_step_fn(small, shape, device)
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--peak-tflops", type=float, default=None)
    ap.add_argument("--smoke", action="store_true", help="tiny batches and 2 steps: checks that it runs")
    ap.add_argument("--cases", default=None, help="model:batch, comma-separated (default: the device's)")
    ap.add_argument(
        "--variants", action="store_true", help="also time gankit with the fast path's parts switched on one by one"
    )
    args = ap.parse_args()
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    cases = CASES_SMOKE if args.smoke else CASES_GPU if device == "cuda" else CASES_CPU
    if args.cases:
        cases = parse_cases(args.cases)
    warmup = args.warmup if args.warmup is not None else (1 if args.smoke else 10 if device == "cuda" else 2)
    steps = args.steps if args.steps is not None else (2 if args.smoke else 50 if device == "cuda" else 5)
    peak = args.peak_tflops if args.peak_tflops is not None else (790.0 if device == "cuda" else None)
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(
        f"device: {name}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads; "
        f"{warmup} warm-up + {steps} timed steps per row"
    )
    print("| model | batch | GFLOP/img | reference img/s | gankit img/s | ratio | gankit TFLOP/s | share of peak |")
    print("|---|---|---|---|---|---|---|---|")
    for model, batch in cases:
        cfg = model_config(model, batch, device, warmup + steps)
        shape = case_shape(model)
        gflop = flops_per_image(cfg, shape, device) / 1e9
        ref = time_reference(cfg, shape, device, warmup, steps)
        ours = time_gankit(cfg, shape, device, warmup, steps)
        tflops = ours * gflop / 1e3
        share = f"{tflops / peak:.1%}" if peak else "–"
        print(
            f"| {model} | {batch} | {gflop:.2f} | {rate(ref)} | {rate(ours)} | {ours / ref:.2f} | {tflops:.3g} | {share} |",
            flush=True,
        )
    if args.variants:
        print("\n| model | batch | " + " | ".join(VARIANTS) + " |")
        print("|---|---|" + "---|" * len(VARIANTS))
        for model, batch in cases:
            cfg = model_config(model, batch, device, warmup + steps)
            rates = [rate(time_gankit(cfg, case_shape(model), device, warmup, steps, **v)) for v in VARIANTS.values()]
            print(f"| {model} | {batch} | " + " | ".join(rates) + " |", flush=True)


def rate(x: float) -> str:
    """Images per second: thousands separated when large, three significant digits when small."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


if __name__ == "__main__":
    main()
