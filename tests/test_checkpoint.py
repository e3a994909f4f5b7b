"""Checkpoints: written atomically with a plain reason when the disk refuses, read weights-only, and
refused (one line) when a field has the wrong type or the weights are not finite."""

import os
import pickle

import pytest
import torch

from gankit.checkpoint import (
    check_training_state,
    load_checkpoint,
    remove_partial_writes,
    rng_state,
    save_checkpoint,
    save_rotating,
    set_rng_state,
)
from gankit.errors import GankitError


def _state(**changes):
    state = {
        "G": {"w": torch.ones(2)},
        "D": {"w": torch.ones(2)},
        "G_ema": None,
        "ema_n": 0,
        "step": 3,
        "config": {},
        "data_shape": [1, 8, 8],
        "num_classes": 10,
    }
    state.update(changes)
    return state


def test_a_good_checkpoint_round_trips(tmp_path):
    save_checkpoint(_state(), tmp_path / "c.pt")
    assert load_checkpoint(tmp_path / "c.pt")["step"] == 3


@pytest.mark.parametrize(
    "field,value",
    [
        ("step", "abc"),
        ("step", -1),
        ("step", 2.5),
        ("step", True),
        ("num_classes", "x"),
        ("num_classes", None),
        ("data_shape", None),
        ("data_shape", [1, 0, 8]),
        ("data_shape", "1x8x8"),
        ("data_shape", [1, 8]),
        ("config", "x"),
        ("G", {"w": "not a tensor"}),
        ("D", None),
        ("G_ema", [1, 2]),
        ("ema_n", "0"),
        ("config", {"train": [1]}),
        ("config", {"data": "ring8"}),
        ("data", [1]),
        ("data", {"name": 3}),
        ("ema_n", 2**70),
        ("step", 2**64),
        ("G", {"w": torch.ones(2, dtype=torch.complex64)}),
        ("D", {"w": torch.ones(2, 2).to_sparse()}),
    ],
)
def test_fields_of_the_wrong_type_are_one_line(tmp_path, field, value):
    save_checkpoint(_state(**{field: value}), tmp_path / "c.pt")
    with pytest.raises(GankitError, match=f"damaged: field '{field}'") as e:
        load_checkpoint(tmp_path / "c.pt")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("net,bad", [("G", float("nan")), ("D", float("inf")), ("G_ema", float("-inf"))])
def test_non_finite_weights_are_refused(tmp_path, net, bad):
    state = _state(G_ema={"w": torch.ones(2)})
    state[net] = {"w": torch.tensor([1.0, bad])}
    save_checkpoint(state, tmp_path / "c.pt")
    with pytest.raises(GankitError, match=rf"non-finite weights \({net}\.w\)"):
        load_checkpoint(tmp_path / "c.pt")


class _Code:
    def __reduce__(self):
        return (os.system, ("true",))


@pytest.mark.parametrize("writer", ["pickle", "torch"])
def test_a_refused_pickle_says_what_was_refused_and_never_suggests_the_unsafe_way(tmp_path, writer, recwarn):
    path = tmp_path / "c.pt"
    if writer == "pickle":
        path.write_bytes(pickle.dumps({"G": _Code()}))
    else:
        torch.save({"G": _Code()}, path)
    with pytest.raises(GankitError) as e:
        load_checkpoint(path)
    msg = str(e.value)
    assert "\n" not in msg and "will not load" in msg and "tensors and plain data" in msg
    assert "weights_only" not in msg and "Re-running" not in msg
    assert not [w for w in recwarn if "pickle" in str(w.message)]  # torch's warnings stay quiet


def test_a_full_disk_before_any_checkpoint_says_so_plainly(tmp_path, monkeypatch):
    import gankit.files

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gankit.files.os, "replace", full)
    (tmp_path / "ck").mkdir()
    with pytest.raises(GankitError) as e:
        save_rotating(_state(), tmp_path / "ck", 3, keep=1)
    msg = str(e.value)
    assert "No space left on device" in msg and "no checkpoint of this run has been written yet" in msg
    assert "enforce" not in msg and "intact" not in msg
    assert not list((tmp_path / "ck").iterdir())  # nothing half-written left behind


def test_a_stray_file_among_the_checkpoints_is_left_alone(tmp_path):
    (tmp_path / "step_abc.pt").write_bytes(b"not ours")
    for step in (1, 2, 3):
        save_rotating(_state(step=step), tmp_path, step, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "step_000002.pt", "step_000003.pt", "step_abc.pt"]


def _same(a, b):
    """Equal nested data, tensors compared exactly (dtype and values)."""
    if torch.is_tensor(a):
        return torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def test_every_field_round_trips_exactly(tmp_path):
    g = torch.randn(3, 4)
    state = _state(
        G={"w": g, "n": torch.tensor(7, dtype=torch.long)},
        G_ema={"w": g * 0.5, "n": torch.tensor(7)},
        ema_n=4,
        config={"data": {"name": "ring8"}, "train": {"seed": 0, "lr_g": 2e-4}},
        data={"name": "ring8", "fingerprint": None},
        rng=rng_state(),
        opt_g={"state": {0: {"exp_avg": torch.rand(2)}}, "param_groups": [{"lr": 1e-3, "params": [0]}]},
    )
    save_checkpoint(state, tmp_path / "c.pt")
    back = load_checkpoint(tmp_path / "c.pt")
    assert _same({k: back[k] for k in state}, state)  # (loading may add what it derives, e.g. a format number)
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed, none is left


def test_save_rotating_keeps_the_newest_n_and_last_names_the_newest(tmp_path):
    paths = [save_rotating(_state(step=s), tmp_path, s, keep=3) for s in range(1, 6)]
    assert [p.name for p in paths] == [f"step_{s:06d}.pt" for s in range(1, 6)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "last.pt",
        "step_000003.pt",
        "step_000004.pt",
        "step_000005.pt",
    ]
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 5
    assert [load_checkpoint(tmp_path / f"step_{s:06d}.pt")["step"] for s in (3, 4, 5)] == [3, 4, 5]
    save_rotating(_state(step=10), tmp_path, 10, keep=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "step_000010.pt"]


def test_remove_partial_writes_deletes_temporary_files_and_never_a_checkpoint(tmp_path):
    save_rotating(_state(step=1), tmp_path, 1, keep=2)
    left = [tmp_path / ".step_000002.pt.abc123.tmp", tmp_path / ".last.pt.link.tmp", tmp_path / ".last.pt.x.tmp"]
    for p in left:  # what a writer killed between its write and its rename leaves
        p.write_bytes(b"half a checkpoint")
    remove_partial_writes(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "step_000001.pt"]
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 1
    remove_partial_writes(tmp_path)  # nothing left to remove: no error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "step_000001.pt"]


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all\n", "torch:list", "torch:partial"])
def test_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path, content):
    path = tmp_path / "c.pt"
    if content == "torch:list":
        torch.save([torch.ones(2)], path)
    elif content == "torch:partial":
        state = _state()
        del state["D"]
        torch.save(state, path)
    else:
        path.write_bytes(content)
    with pytest.raises(GankitError) as e:
        load_checkpoint(path)
    msg = str(e.value)
    assert msg.startswith(f"cannot load checkpoint {path}: ") and "\n" not in msg
    if isinstance(content, str):  # torch files holding plain data, but not a checkpoint's mapping
        assert msg.endswith("not a gankit checkpoint")


def test_a_missing_checkpoint_and_a_folder_are_one_line(tmp_path):
    for path in (tmp_path / "none.pt", tmp_path):
        with pytest.raises(GankitError, match="checkpoint not found") as e:
            load_checkpoint(path)
        assert "\n" not in str(e.value)


def test_required_keys_replace_the_training_checks(tmp_path):
    save_checkpoint({"features": torch.ones(3), "n": 3}, tmp_path / "c.pt")
    assert load_checkpoint(tmp_path / "c.pt", required=("features",))["n"] == 3
    with pytest.raises(GankitError, match="not a gankit checkpoint"):
        load_checkpoint(tmp_path / "c.pt", required=("features", "labels"))
    with pytest.raises(GankitError, match="not a gankit checkpoint"):
        load_checkpoint(tmp_path / "c.pt")  # by default: a training checkpoint


@pytest.mark.parametrize("field", ["step", "num_classes", "data_shape", "config", "G", "D"])
def test_check_training_state_refuses_a_missing_field(field):
    state = _state()
    del state[field]
    with pytest.raises(GankitError, match=f"damaged: field '{field}'") as e:
        check_training_state(state, "where.pt")
    assert "where.pt" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    "field,value", [("G_ema", {"w": 1.0}), ("data", "ring8"), ("ema_n", -1), ("data_shape", [1, 8, True])]
)
def test_check_training_state_refuses_a_wrong_type(field, value):
    with pytest.raises(GankitError, match=f"damaged: field '{field}'"):
        check_training_state(_state(**{field: value}), "where.pt")


def test_check_training_state_accepts_what_is_optional():
    state = _state()
    for optional in ("G_ema", "ema_n"):
        del state[optional]
    check_training_state(state, "where.pt")  # no EMA, no data record: an older or EMA-less run
    check_training_state(_state(data={"name": "digits", "fingerprint": "0123abcd"}, data_shape=(2,)), "w.pt")


def test_rng_state_round_trips_through_a_checkpoint(tmp_path):
    state = rng_state()
    assert torch.is_tensor(state["torch"]) and ("cuda" in state) == torch.cuda.is_available()
    expected = torch.rand(5)
    save_checkpoint(_state(rng=state), tmp_path / "c.pt")
    torch.manual_seed(12345)  # move the global RNG elsewhere
    assert not torch.equal(torch.rand(5), expected)
    set_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert torch.equal(torch.rand(5), expected)
    if torch.cuda.is_available():
        set_rng_state(state)
        assert torch.equal(torch.cuda.get_rng_state(), state["cuda"])


def test_a_checkpoint_from_before_a_config_field_existed_reads_it_as_its_default(tmp_path):
    """A field added to gankit later (here objective.r2_gamma) is absent from an older checkpoint's
    config: it is read as its default, so the run still samples and resumes; a config that sets it to
    something else is still refused, in one line."""
    from gankit.checkpoint import check_compatible
    from gankit.config import load_config

    cfg = load_config("ring8").model_dump(mode="json")
    old = {**cfg, "objective": {k: v for k, v in cfg["objective"].items() if k != "r2_gamma"}}
    state = {"config": old, "data_shape": [2], "num_classes": 0}
    check_compatible(state, cfg, (2,), 0, tmp_path / "last.pt")
    changed = {**cfg, "objective": {**cfg["objective"], "r2_gamma": 1.0}}
    with pytest.raises(GankitError, match=r"another config \(objective.r2_gamma differ\)"):
        check_compatible(state, changed, (2,), 0, tmp_path / "last.pt")
