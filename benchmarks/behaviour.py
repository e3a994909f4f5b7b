"""Does a refactor change what training computes? Train the `digits`, `ring8` (2,000 steps) and
`gauss1d` presets through the `gankit` command and print, for each, the last logged `loss/d` and
`loss/g` and the metrics of its eval.json, exactly as written (repr of the floats). Run it before
and after a change on the same machine: on the CPU the two outputs must be identical.

    python benchmarks/behaviour.py --out runs/behaviour-before > before.txt
    python benchmarks/behaviour.py --out runs/behaviour-after > after.txt && diff before.txt after.txt

Only the `gankit` command and the run directory's files are used, so the script runs unchanged on
either side of a refactor of the package's modules.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

RUNS = {"digits": [], "ring8": ["train.steps=2000"], "gauss1d": []}


def last_values(run: Path) -> dict[str, float]:
    """The last logged value of each key in the run's metrics.jsonl."""
    out: dict[str, float] = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        out.update({k: v for k, v in json.loads(line).items() if k != "step"})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/behaviour")
    ap.add_argument("--presets", nargs="*", default=list(RUNS))
    args = ap.parse_args()
    for name in args.presets:
        run = Path(args.out) / name
        shutil.rmtree(run, ignore_errors=True)
        sets = [a for s in [*RUNS[name], "train.progress=false", "train.tensorboard=false"] for a in ("--set", s)]
        subprocess.run(
            [sys.executable, "-m", "gankit", "train", "--preset", name, "--out", str(run), *sets],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        last = last_values(run)
        metrics = json.loads((run / "eval.json").read_text()).get("metrics", {})
        print(f"{name}: loss/d {last['loss/d']!r}, loss/g {last['loss/g']!r}")
        for key, m in sorted(metrics.items()):
            print(f"  {key}: value {m.get('value')!r}, raw G {m.get('raw')!r}")


if __name__ == "__main__":
    main()
