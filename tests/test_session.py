"""A run driven one step at a time (gankit.training.session): start, step, read, checkpoint, stop,
resume, and the same result as one uninterrupted train()."""

from __future__ import annotations

import pytest
import torch

from gankit.checkpoint import load_checkpoint
from gankit.config import load_config
from gankit.errors import GankitError
from gankit.stats import read_jsonl
from gankit.training import Session, start, train

QUIET = ["train.progress=false", "train.tensorboard=false"]
# ring8 with an EMA (so the EMA's ramp, its first update and its count are part of what must match),
# statistics every 10 steps and an evaluation every 20; figures off (they only read the networks)
RING8 = [
    *QUIET,
    "train.steps=60",
    "train.log_every=10",
    "train.eval_every=20",
    "train.sample_every=0",
    "train.checkpoint_every=0",
    "train.ema_kimg=0.5",
    "train.eval_samples=200",
    "train.batch_size=64",
]


def _checkpoint_tensors(path):
    state = load_checkpoint(path)
    return state, {f"{net}.{k}": v for net in ("G", "D", "G_ema") for k, v in state[net].items()}


def test_a_driven_run_paused_checkpointed_and_resumed_ends_bit_identical_to_train(tmp_path):
    cfg = load_config("ring8", overrides=RING8)
    train(cfg, tmp_path / "once")

    run = start(cfg, tmp_path / "driven")
    assert isinstance(run, Session) and run.step_done == 0 and run.stats == {}
    assert run.step(25) == 25
    # a pause: the latest statistics (logged at step 20, with the evaluation) and networks can be read
    assert set(run.stats) >= {"loss/d", "loss/g", "toy/jsd", "raw/toy/jsd"}
    assert run.G_sample is not run.G and not run.finished
    saved = run.checkpoint()
    assert load_checkpoint(saved)["step"] == 25
    run.step(5)  # steps past the checkpoint, then stopped: the resume starts from step 25 again
    result = run.close(stopped="paused")
    assert result.step == 30 and result.stopped == "paused"

    again = start(cfg, tmp_path / "driven", resume=True)
    assert again.step_done == 25
    assert again.step(1000) == 60 and again.finished
    final = again.close()
    assert final.step == 60 and final.stopped is None

    a, ta = _checkpoint_tensors(tmp_path / "once" / "checkpoints" / "last.pt")
    b, tb = _checkpoint_tensors(tmp_path / "driven" / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 60 and a["ema_n"] == b["ema_n"] == 60
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
    last_a, last_b = (
        {k: v for k, v in read_jsonl(folder / "metrics.jsonl")[-1].items() if not k.startswith("time/")}
        for folder in (tmp_path / "once", tmp_path / "driven")
    )
    assert last_a == last_b  # the same statistics and metrics at the last step, to the last bit (times aside)
    assert (tmp_path / "once" / "eval.json").read_text() == (tmp_path / "driven" / "eval.json").read_text()


def test_a_session_holds_its_run_directory_until_closed(tmp_path):
    cfg = load_config("ring8", overrides=RING8)
    with start(cfg, tmp_path / "run") as run:
        run.step(2)
        with pytest.raises(GankitError, match="in use"):
            start(cfg, tmp_path / "run", resume=True)
        run.checkpoint()
        run.close()
    resumed = start(cfg, tmp_path / "run", resume=True)  # the lock is free once closed
    assert resumed.step_done == 2
    resumed.close()


def test_a_session_without_a_run_directory_trains_in_memory(tmp_path):
    cfg = load_config("ring8", overrides=RING8)
    run = start(cfg)
    before = [p.detach().clone() for p in run.G.parameters()]
    run.step(3)
    assert run.checkpoint() is None and run.step_done == 3  # nothing to write to
    assert any(not torch.equal(a, b) for a, b in zip(before, run.G.parameters()))
    assert run.close().step == 3
