"""What a training checkpoint holds (gankit.training.state) and its format (gankit.checkpoint)."""

from __future__ import annotations

import pytest
import torch

from gankit.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from gankit.config import load_config
from gankit.errors import GankitError
from gankit.training import start

QUIET = ["train.progress=false", "train.tensorboard=false", "train.sample_every=0", "train.eval_every=0"]


@pytest.fixture
def saved(tmp_path):
    """A ring8 run with an EMA, checkpointed after 3 steps: (config, checkpoint path)."""
    cfg = load_config("ring8", overrides=[*QUIET, "train.steps=10", "train.ema_kimg=0.5", "train.checkpoint_every=3"])
    run = start(cfg, tmp_path / "run")
    run.step(3)
    run.close()
    return cfg, tmp_path / "run" / "checkpoints" / "last.pt"


def test_a_checkpoint_restores_networks_optimisers_ema_and_random_stream(saved, tmp_path):
    cfg, path = saved
    state = load_checkpoint(path)
    assert state["format"] == CHECKPOINT_FORMAT and state["step"] == 3 and state["ema_n"] == 3
    resumed = start(cfg, tmp_path / "run", resume=True)
    assert resumed.step_done == 3
    for net, key in ((resumed.G, "G"), (resumed.D, "D"), (resumed.G_ema.module, "G_ema")):
        assert all(torch.equal(v, state[key][k]) for k, v in net.state_dict().items())
    assert resumed.opts.opt_d.state_dict()["state"].keys() == state["opt_d"]["state"].keys()
    assert torch.equal(torch.get_rng_state(), state["rng"]["torch"])  # restored last: the next draw is step 4's
    resumed.close()


def test_a_checkpoint_without_a_format_is_read_as_format_1_and_migrated(saved, tmp_path):
    _, path = saved
    state = load_checkpoint(path)
    del state["format"]
    old = tmp_path / "old.pt"
    save_checkpoint(state, old)
    assert load_checkpoint(old)["format"] == CHECKPOINT_FORMAT


@pytest.mark.parametrize(
    "fmt, words",
    [
        (CHECKPOINT_FORMAT + 1, "newer than this gankit reads"),
        ("2", "not a version number"),
        (0, "not a version number"),
        (True, "not a version number"),
    ],
)
def test_a_checkpoint_of_an_unknown_format_is_one_line(saved, tmp_path, fmt, words):
    _, path = saved
    state = load_checkpoint(path)
    state["format"] = fmt
    bad = tmp_path / "bad.pt"
    save_checkpoint(state, bad)
    with pytest.raises(GankitError, match=words) as e:
        load_checkpoint(bad)
    assert "\n" not in str(e.value)
