"""Data-parallel training under torchrun: two CPU processes (gloo) compute what one process computes
with the global batch, write one set of outputs, and checkpoints move between process counts."""

import os
import subprocess
import sys

import pytest

from gankit.checkpoint import load_checkpoint
from gankit.config import load_config
from gankit.stats import read_jsonl
from gankit.training import train
from helpers import assert_same_training

QUIET = ["train.progress=false", "train.tensorboard=false", "train.lr_schedule=constant"]
RING8 = ["train.eval_samples=200", "train.log_every=1", *QUIET]  # R1 (γ = 0.03) on: a penalty under DDP
DIGITS = [
    "model.batch_norm=false",
    "train.augment=",
    "train.eval_features=classifier",
    "train.eval_samples=200",
    "train.eval_every=4",
    "objective.name=wgan-gp",
    "model.conditional=true",
    "data.hflip=true",
    "train.log_every=1",
    "model.g_hidden=16",
    "model.d_hidden=16",
    *QUIET,
]  # no batch statistics: per-sample networks, so the split of the batch cannot matter


def _sets(args):
    return [x for a in args for x in ("--set", a)]


def gankit(nproc, *args, check=True):
    """Run the gankit command under torchrun with ``nproc`` CPU processes (or plainly with 1)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
        if nproc > 1
        else [sys.executable]
    )
    p = subprocess.run([*launcher, "-m", "gankit", *args], env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert p.returncode == 0, p.stderr[-3000:]
    return p


@pytest.mark.parametrize("preset,extra,batch", [("ring8", RING8, 32), ("digits", DIGITS, 8)])
def test_two_processes_match_one_with_the_global_batch(preset, extra, batch, tmp_path):
    steps = 4
    p = gankit(
        2,
        "train",
        "--preset",
        preset,
        *_sets([f"train.steps={steps}", f"train.batch_size={batch}", *extra]),
        "--out",
        str(tmp_path / "ddp"),
    )
    assert "batch %d per process, %d global" % (batch, 2 * batch) in p.stderr
    assert p.stdout.count("run written to") == 1  # rank 0 alone reports
    cfg = load_config(preset, overrides=[f"train.steps={steps}", f"train.batch_size={2 * batch}", *extra])
    train(cfg, tmp_path / "one")
    a = load_checkpoint(tmp_path / "one" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "last.pt")
    lr = max(cfg.train.lr_g, cfg.train.lr_d)  # the preset's Adam rate: the largest move one step can make
    for net in ("G", "D"):  # two processes sum the batch in another order than one: rounding differs
        assert_same_training(a[net], b[net], lr, steps)
    rows = read_jsonl(tmp_path / "ddp" / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, steps + 1))  # one writer: each step logged once
    ref = {r["step"]: r for r in read_jsonl(tmp_path / "one" / "metrics.jsonl")}
    for r in rows:  # the logged losses are the means over both processes
        assert r["loss/d"] == pytest.approx(ref[r["step"]]["loss/d"], rel=1e-4, abs=1e-5)
    if preset == "digits":  # evaluation: each process drew half of the 200 samples, rank 0 measured them all
        for k in ("fid", "precision", "coverage"):
            assert rows[-1][f"eval/classifier/{k}"] == pytest.approx(
                ref[steps][f"eval/classifier/{k}"], rel=1e-3, abs=1e-3
            )
    assert sorted(x.name for x in (tmp_path / "ddp" / "checkpoints").iterdir()) == ["last.pt", f"step_{steps:06d}.pt"]


def test_batch_norm_networks_train_under_two_processes(tmp_path):
    p = gankit(
        2,
        "train",
        "--preset",
        "digits",
        *_sets(
            [
                "train.steps=2",
                "train.batch_size=8",
                "train.eval_features=",
                "model.g_hidden=16",
                "model.d_hidden=16",
                *QUIET,
            ]
        ),
        "--out",
        str(tmp_path / "bn"),
    )
    assert p.stdout.count("run written to") == 1 and (tmp_path / "bn" / "report.html").is_file()


def test_a_checkpoint_moves_between_two_processes_and_one(tmp_path):
    common = [*RING8, "train.checkpoint_every=3"]
    gankit(
        1,
        "train",
        "--preset",
        "ring8",
        *_sets(["train.steps=6", "train.batch_size=32", *common]),
        "--out",
        str(tmp_path / "ref"),
    )
    ref = load_checkpoint(tmp_path / "ref" / "checkpoints" / "last.pt")
    # two processes for 3 steps, then one process for 3 more (the same global batch of 32)
    gankit(
        2,
        "train",
        "--preset",
        "ring8",
        *_sets(["train.steps=3", "train.batch_size=16", *common]),
        "--out",
        str(tmp_path / "two_one"),
    )
    gankit(1, "resume", str(tmp_path / "two_one"), "--steps", "6", "--set", "train.batch_size=32")
    # one process for 3 steps, then two processes for 3 more
    gankit(
        1,
        "train",
        "--preset",
        "ring8",
        *_sets(["train.steps=3", "train.batch_size=32", *common]),
        "--out",
        str(tmp_path / "one_two"),
    )
    gankit(2, "resume", str(tmp_path / "one_two"), "--steps", "6", "--set", "train.batch_size=16")
    lr = max(load_config("ring8").train.lr_g, load_config("ring8").train.lr_d)
    for run in ("two_one", "one_two"):
        got = load_checkpoint(tmp_path / run / "checkpoints" / "last.pt")
        assert got["step"] == 6
        for net in ("G", "D"):
            assert_same_training(ref[net], got[net], lr, 6)
    p = gankit(1, "resume", str(tmp_path / "one_two"), "--steps", "8", "--set", "model.z_dim=3", check=False)
    assert p.returncode == 2 and "train.* fields only" in p.stderr


def test_sync_bn_on_the_cpu_is_a_clear_error(tmp_path):
    p = gankit(
        2,
        "train",
        "--preset",
        "digits",
        *_sets(["train.steps=1", "train.sync_bn=true", "train.device=cpu", *QUIET]),
        "--out",
        str(tmp_path / "r"),
        check=False,
    )
    assert p.returncode != 0 and "gankit: error: train.sync_bn needs GPUs" in p.stderr  # from each process
