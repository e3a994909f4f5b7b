"""StackedMNIST's mode metrics: the pure core (gankit.metrics.modes) and the labelling of each colour
channel (gankit.evaluate.ModeCounter), on constructed samples whose modes are known."""

import math

import numpy as np
import pytest
import torch

from gankit.evaluate import ModeCounter
from gankit.features import FeatureNet
from gankit.metrics import mode_coverage


def test_every_mode_equally_often_is_1000_modes_and_zero_kl():
    vals = mode_coverage(np.repeat(np.arange(1000), 26), 1000)
    assert vals == {"modes": 1000.0, "kl_uniform": pytest.approx(0.0, abs=1e-12)}


def test_ten_modes_equally_often_read_10_modes_and_kl_log_100():
    # p̂ = 1/10 on 10 of 1,000 modes: KL = Σ 0.1·log(1000·0.1) = log 100
    vals = mode_coverage(np.repeat(np.arange(0, 1000, 100), 2600), 1000)
    assert vals["modes"] == 10 and vals["kl_uniform"] == pytest.approx(math.log(100), rel=1e-12)


def test_26000_uniform_draws_cover_nearly_every_mode_with_small_kl():
    """Real stacked digits: 26 expected per mode, so P(a mode is missed) = (1 − 1/1000)^26000 ≈ e^−26
    and every mode is hit; the multinomial noise gives KL ≈ (K − 1)/(2N) ≈ 0.019."""
    labels = np.random.default_rng(0).integers(0, 1000, 26000)
    vals = mode_coverage(labels, 1000)
    assert vals["modes"] == 1000 and 0.01 < vals["kl_uniform"] < 0.03


@pytest.mark.parametrize("bad", [[-1], [1000], []])
def test_labels_outside_the_modes_are_refused(bad):
    with pytest.raises(ValueError, match=r"\[0, 1000\)"):
        mode_coverage(bad, 1000)


def _reader() -> FeatureNet:
    """A stand-in MNIST classifier for single channels: an image whose pixels all equal 20·d reads as
    digit d (logits peak at d)."""

    def embed(x: torch.Tensor):
        d = x.float().mean(dim=(1, 2, 3)) / 20  # [n]
        logits = -(torch.arange(10).float()[None, :] - d[:, None]).square()  # [n, 10]
        return torch.zeros(len(x), 1), logits

    return FeatureNet("stand-in", "digits as grey levels", "x", embed, dim=1, classes=10)


def _stacked(digits: np.ndarray) -> torch.Tensor:
    """uint8 [N, 3, 4, 4] whose channel k is constant 20 · digits[:, k]."""
    return (torch.as_tensor(digits, dtype=torch.uint8) * 20)[:, :, None, None].expand(-1, -1, 4, 4).contiguous()


def test_each_channel_is_labelled_and_the_mode_is_100a_10b_c():
    counter = ModeCounter(_reader(), {}, 0)
    digits = np.array([[3, 1, 4], [1, 5, 9], [0, 0, 7]])
    assert counter.labels(_stacked(digits)).tolist() == [314, 159, 7]


def test_real_stacked_digits_read_about_1000_modes_and_samples_of_10_modes_read_10():
    counter = ModeCounter(_reader(), {}, 0)
    rng = np.random.default_rng(1)
    real = counter.measure(_stacked(rng.integers(0, 10, (26000, 3))))
    assert real["modes"] == 1000 and real["kl_uniform"] < 0.03
    ten = rng.integers(0, 10, 26000)  # a generator that only draws a == b == c: modes 0, 111, ..., 999
    collapsed = counter.measure(_stacked(np.stack([ten, ten, ten], axis=1)))
    assert collapsed["modes"] == 10 and collapsed["kl_uniform"] == pytest.approx(math.log(100), abs=0.01)


def test_the_record_gives_the_mode_metrics_their_floor_and_direction():
    from gankit.evaluate import ImageEvaluator, image_record

    counter = ModeCounter(_reader(), {"modes": 1000.0, "kl_uniform": 0.05}, 10000)
    ev = ImageEvaluator(_reader(), {}, {"fid": 0.5}, 100, "train vs test", counter)
    rec = image_record(ev, {"fid": 3.0, "modes": 10.0, "kl_uniform": 4.6}, 26000, 7, "stacked_mnist")
    assert rec["metrics"]["modes"] == {"value": 10.0, "floor": 1000.0, "better": "higher"}
    assert rec["metrics"]["kl_uniform"] == {"value": 4.6, "floor": 0.05, "better": "lower"}
    assert rec["metrics"]["fid"]["floor"] == 0.5 and rec["n"] == 26000
