"""The benchmarks run on the CPU (tiny sizes): their tables have every case and sane numbers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_idx, write_image_folder

ROOT = Path(__file__).resolve().parents[1]


def test_throughput_smoke_prints_a_full_table():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--smoke", "--device", "cpu"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    rows = [
        line.split("|")[1:-1]
        for line in p.stdout.splitlines()
        if line.startswith("| dcgan64") or line.startswith("| sngan32")
    ]
    assert [r[0].strip() for r in rows] == ["dcgan64", "sngan32"]
    dcgan = rows[0]
    assert float(dcgan[2]) == pytest.approx(_dcgan64_step_gflop(), rel=0.02)
    for r in rows:
        assert float(r[3].replace(",", "")) > 0 and float(r[4].replace(",", "")) > 0


def _conv_flops(net, x) -> list[int]:
    """Forward FLOPs of each convolution of ``net`` on one input ``x``: 2·(weight entries)·(positions),
    the positions being the output's for a convolution and the input's for a transposed one."""
    import torch

    flops = []

    def count(m, inputs, out):
        positions = (inputs[0] if isinstance(m, torch.nn.ConvTranspose2d) else out).shape[2:].numel()
        flops.append(2 * m.weight.numel() * positions)

    hooks = [
        m.register_forward_hook(count)
        for m in net.modules()
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))
    ]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return flops


def _dcgan64_step_gflop() -> float:
    """GFLOP per image of the reference step (D on real, G, D on fake twice, G's backward) from the
    layer shapes: a backward pass costs two forwards (input and weight gradients) except where the
    input needs no gradient (the real and detached images into D's first layer, z into G's first),
    so the step is 9·F_D − 2·f_D1 + 3·F_G − f_G1 convolution FLOPs (batch norm is not counted)."""
    import torch

    from gankit.config import load_config
    from gankit.nets import build_nets

    cfg = load_config("mnist-dcgan", overrides=["data.resolution=64", "model.z_dim=100"])
    G, D = build_nets(cfg.model, (3, 64, 64))
    fg, fd = _conv_flops(G, torch.randn(1, 100)), _conv_flops(D, torch.randn(1, 3, 64, 64))
    return (9 * sum(fd) - 2 * fd[0] + 3 * sum(fg) - fg[0]) / 1e9


def _run(script: str, *args: str) -> str:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH", "")]),
    }
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True, env=env, timeout=600
    )
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


def test_fast_vs_eager_smoke_compares_both_paths():
    rows = [
        line.split("|")[1:-1]
        for line in _run("fast_vs_eager.py", "--smoke").splitlines()
        if line.startswith(("| fp32", "| fast"))
    ]
    assert [r[0].strip() for r in rows] == ["fp32 eager", "fast"]
    fids = [float(r[4]) for r in rows]
    assert all(f > 0 for f in fids)
    assert fids[1] == pytest.approx(fids[0], rel=0.05)  # 10 steps from one seed: bf16 barely moves it


def test_profile_step_smoke_names_the_costly_ops():
    out = _run("profile_step.py", "--device", "cpu", "--cases", "dcgan64:2", "--warmup", "1", "--steps", "1")
    assert "dcgan64 B=2, eager" in out and "ms/step wall" in out
    assert "aten::" in out  # the profiler's table of ops


def test_ada_digits_smoke_prints_the_three_variants(tmp_path):
    rows = [
        [c.strip() for c in line.split("|")[1:-1]]
        for line in _run("ada_digits.py", "--smoke", "--out", str(tmp_path)).splitlines()
        if line.startswith("| ") and not line.startswith("| variant")
    ]
    assert [r[0].split()[0] for r in rows] == ["DiffAugment", "ADA", "none"]
    assert float(rows[0][2]) > 0 and 0 <= float(rows[1][3]) <= 1 and rows[0][3] == "-"


def test_stacked_ablation_smoke_prints_the_four_objectives(tmp_path):
    """On a tiny stand-in MNIST (random 28×28 digits): 2 steps of each variant, modes on 20 samples."""
    import numpy as np

    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("t10k", 30)):
        write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    args = ["--root", str(tmp_path / "data"), "--steps", "2", "--seeds", "1", "--samples", "20", "--width", "8"]
    out = _run("stacked_ablation.py", *args, "--out", str(tmp_path / "runs"))
    rows = [
        [c.strip() for c in line.split("|")[1:-1]]
        for line in out.splitlines()
        if line.startswith("| ") and not line.startswith("| variant")
    ]
    assert [r[0] for r in rows] == ["non-saturating", "non-saturating + R1", "RpGAN + R1", "RpGAN + R1 + R2"]
    for r in rows:
        modes, floor = r[1].split(" (")
        assert 1 <= int(modes) <= 20 and 1 <= int(floor.rstrip(")")) <= 30  # at most one mode a sample


def test_streaming_smoke_compares_in_memory_and_streamed(tmp_path):
    """On a tiny folder of 32×32 PNGs: 4 steps each way, a ratio of step times."""
    write_image_folder(tmp_path / "folder", ("a", "b"), 8, 32)
    args = ["--root", str(tmp_path / "folder"), "--steps", "4", "--repeats", "1", "--width", "8"]
    out = _run("streaming.py", *args, "--out", str(tmp_path / "runs"))
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ") and "images/s" not in line]
    assert rows == ["in memory", "streamed"]
    assert float(out.rsplit(":", 1)[1]) > 0


def test_cpu_speed_smoke_prints_the_step_rates_and_the_ring8_race():
    out = _run("cpu_speed.py", "--smoke", "--skip-theory", "--skip-digits")
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in out.splitlines() if line.startswith("| ")}
    assert float(rows["plain PyTorch loop"][0]) > 0 and float(rows["gankit"][0]) > 0
    assert rows["`gankit train --preset ring8` (whole command)"][0].strip() == "6"  # the smoke run's steps
    assert "gankit's step rate / the plain loop's:" in out


def test_live_speed_smoke_counts_steps_and_redraws(chromium):
    pytest.importorskip("playwright.sync_api")
    out = _run(
        "live_speed.py", "--seconds", "1", "--warmup", "0.5", "--set", "model.g_hidden=16", "--set", "model.d_hidden=16"
    )
    row = [line.split("|")[2:4] for line in out.splitlines() if line.startswith("| ") and "measured" in line][0]
    assert float(row[0]) > 0 and float(row[1]) > 0


def test_ema_quality_smoke_keeps_each_ramp_as_a_run_with_it_would(tmp_path):
    out = _run(
        "ema_quality.py", "--smoke", "--out", str(tmp_path), "--set", "train.ema_rampup=0.05", "--ramps", "0.05,0.01"
    )
    tables = [t.strip().splitlines() for t in out.split("\n\n") if t.startswith("| step")]
    assert len(tables) == 3 and all(len(t) == 5 for t in tables)  # the run's EMA, then one a ramp; 2 evaluations
    run, same, shorter = tables
    assert run == same  # the copy with the run's own ramp samples what the run's G_ema does
    assert shorter != run
