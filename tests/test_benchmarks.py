"""The throughput benchmark runs on the CPU (tiny batches): its table has every case and sane numbers."""

import os
import subprocess
import sys
from pathlib import Path

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
