"""Checkpoints: written atomically with a plain reason when the disk refuses, read weights-only, and
refused (one line) when a field has the wrong type or the weights are not finite."""

import os
import pickle

import pytest
import torch

from gankit.checkpoint import load_checkpoint, save_checkpoint, save_rotating
from gankit.errors import GankitError


def _state(**changes):
    state = {"G": {"w": torch.ones(2)}, "D": {"w": torch.ones(2)}, "G_ema": None, "ema_n": 0, "step": 3,
             "config": {}, "data_shape": [1, 8, 8], "num_classes": 10}
    state.update(changes)
    return state


def test_a_good_checkpoint_round_trips(tmp_path):
    save_checkpoint(_state(), tmp_path / "c.pt")
    assert load_checkpoint(tmp_path / "c.pt")["step"] == 3


@pytest.mark.parametrize("field,value", [
    ("step", "abc"), ("step", -1), ("step", 2.5), ("step", True), ("num_classes", "x"), ("num_classes", None),
    ("data_shape", None), ("data_shape", [1, 0, 8]), ("data_shape", "1x8x8"), ("data_shape", [1, 8]),
    ("config", "x"), ("G", {"w": "not a tensor"}), ("D", None), ("G_ema", [1, 2]), ("ema_n", "0"),
    ("config", {"train": [1]}), ("config", {"data": "ring8"}), ("data", [1]), ("data", {"name": 3}),
    ("ema_n", 2**70), ("step", 2**64), ("G", {"w": torch.ones(2, dtype=torch.complex64)}),
    ("D", {"w": torch.ones(2, 2).to_sparse()}),
])
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
