"""Does `gankit sample --class K` give images of class K? A classifier trained on real digits says.

Trains a digits preset (`digits` with `model.conditional=true`, or `digits-biggan`, conditional as
shipped; or uses --run), draws N samples of each class through the `gankit sample` command, shrinks
them back to 8×8 and classifies them with an SVM fitted on the real digits (its held-out accuracy on
real digits is printed for scale).

    python benchmarks/conditional_digits.py [--preset digits-biggan] [--run RUN_DIR] [--n 100] [--set K=V]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", help="an existing conditional digits run (default: train one)")
    ap.add_argument("--n", type=int, default=100, help="samples per class")
    ap.add_argument("--preset", default="digits")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    gankit = [sys.executable, "-m", "gankit"]
    tmp = Path(tempfile.mkdtemp(prefix="cond-digits-"))
    run = Path(args.run) if args.run else tmp / "run"
    if not args.run:
        t0 = time.time()
        subprocess.run(
            gankit
            + [
                "train",
                "--preset",
                args.preset,
                "--set",
                "model.conditional=true",
                "--set",
                "train.progress=false",
                *[a for kv in args.sets for a in ("--set", kv)],
                "--out",
                str(run),
            ],
            check=True,
        )
        print(f"trained {run} in {time.time() - t0:.0f} s")

    d = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(d.data, d.target, test_size=0.3, random_state=0)
    clf = SVC(gamma=0.001).fit(x_tr, y_tr)
    print(f"classifier accuracy on held-out real digits: {clf.score(x_te, y_te):.3f}")

    rows = []
    for k in range(10):
        out = tmp / f"class{k}.npy"
        subprocess.run(
            gankit + ["sample", str(run), "--n", str(args.n), "--class", str(k), "--seed", str(k), "--out", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        x = torch.from_numpy(np.load(out)).float()  # [n, 1, R, R] in 0..255 (R: the preset's resolution)
        x8 = torch.nn.functional.interpolate(x, size=8, mode="area")[:, 0]  # back to the 8×8 grid
        feats = (x8 * 16.0 / 255.0).reshape(len(x8), -1).numpy()  # sklearn's 0..16 grey levels
        rows.append((k, float((clf.predict(feats) == k).mean())))
    for k, acc in rows:
        print(f"--class {k}: {acc:.2f} classified as {k}")
    print(f"mean: {np.mean([a for _, a in rows]):.3f} over {10 * args.n} samples")


if __name__ == "__main__":
    main()
