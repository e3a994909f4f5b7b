"""The benchmarks run on the CPU (tiny sizes): their tables have every case and sane numbers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_throughput_smoke_prints_a_full_table():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--smoke", "--device", "cpu"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    rows = [line.split("|")[1:-1] for line in p.stdout.splitlines() if line.startswith("| dcgan64") or
            line.startswith("| sngan32")]
    assert [r[0].strip() for r in rows] == ["dcgan64", "sngan32"]
    dcgan = rows[0]
    assert float(dcgan[2]) == 2.48  # GFLOP per image of pytorch/examples' DCGAN-64 training step
    for r in rows:
        assert float(r[3].replace(",", "")) > 0 and float(r[4].replace(",", "")) > 0


def _run(script: str, *args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


def test_fast_vs_eager_smoke_compares_both_paths():
    rows = [line.split("|")[1:-1] for line in _run("fast_vs_eager.py", "--smoke").splitlines()
            if line.startswith(("| fp32", "| fast"))]
    assert [r[0].strip() for r in rows] == ["fp32 eager", "fast"]
    fids = [float(r[4]) for r in rows]
    assert all(f > 0 for f in fids)
    assert fids[1] == pytest.approx(fids[0], rel=0.05)  # 10 steps from one seed: bf16 barely moves it


def test_profile_step_smoke_names_the_costly_ops():
    out = _run("profile_step.py", "--device", "cpu", "--cases", "dcgan64:2", "--warmup", "1", "--steps", "1")
    assert "dcgan64 B=2, eager" in out and "ms/step wall" in out
    assert "aten::" in out  # the profiler's table of ops
