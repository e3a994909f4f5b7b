"""Feature networks (gankit.features) and the image evaluation built on them (gankit.evaluate)."""

import pickle

import numpy as np
import pytest
import torch

from gankit.data import ImageData, load_dataset, load_splits
from gankit.errors import GankitError
from gankit.evaluate import IMAGE_METRICS, feature_metrics
from gankit.features import FEATURES, cache_dir, data_hash, get_feature_net, inception_features
from gankit.metrics import gaussian_stats


def test_digits_halves_are_disjoint_and_cover_the_data():
    a, b, how = load_splits("digits")
    assert "halves" in how and len(a.images) + len(b.images) == 1797
    whole = load_dataset("digits").images.flatten(1)
    rows = lambda x: {tuple(r) for r in x.flatten(1).tolist()}  # noqa: E731
    assert rows(a.images) | rows(b.images) == rows(whole)
    assert load_splits("digits")[0].images.equal(a.images)  # the same halves every time


def test_classifier_learns_digits_is_cached_and_leaves_the_rng_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    a, b, _ = load_splits("digits")
    before = torch.get_rng_state()
    net = get_feature_net("classifier", a, b)
    assert torch.equal(torch.get_rng_state(), before)  # training ran on its own RNG
    acc = float(net.info.split("accuracy ")[1].split(",")[0])
    assert acc >= 0.9  # held-out half of the real digits
    assert (tmp_path / f"{net.key}.pt").is_file() and data_hash(a) in net.key
    feats, probs = net(b.images[:50])
    assert feats.shape == (50, 128) and probs.shape == (50, 10) and np.allclose(probs.sum(1), 1)
    assert (probs.argmax(1) == b.labels[:50].numpy()).mean() >= 0.8
    again = get_feature_net("classifier", a, b)  # loaded from the cache: same numbers
    assert np.allclose(again(b.images[:50])[0], feats)


def test_unknown_feature_network_lists_the_valid_ones():
    with pytest.raises(GankitError, match="classifier, inception"):
        FEATURES["vgg"]


def test_metrics_of_a_set_against_itself_are_perfect(tmp_path):
    rng = np.random.default_rng(0)
    f = rng.normal(size=(400, 8))
    probs = np.eye(4)[np.arange(400) % 4] * 0.96 + 0.01  # confident, balanced over 4 classes
    mu, sigma = gaussian_stats(f)
    m = feature_metrics({"mu": mu, "sigma": sigma, "feats": f}, f, probs)
    assert set(m) == set(IMAGE_METRICS)
    assert m["fid"] == pytest.approx(0, abs=1e-8)
    assert m["precision"] == m["recall"] == m["coverage"] == 1.0
    # each real k-NN ball holds its centre and its k neighbours: density = (k + 1)/k with k = 5
    assert m["density"] == pytest.approx(1.2, abs=1e-12)
    entropy = -(0.97 * np.log(0.97) + 3 * 0.01 * np.log(0.01))  # H(y|x); H(y) = log 4
    assert m["is"] == pytest.approx(np.exp(np.log(4) - entropy), rel=1e-9)


def test_missing_inception_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(GankitError, match="weights-inception-2015-12-05-6726825d.pth.*--inception-weights"):
        inception_features()
    with pytest.raises(GankitError, match="not found"):
        inception_features(weights=str(tmp_path / "nope.pth"))


class _Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch BOOM_RAN",))


def test_inception_weights_that_would_run_code_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "evil.pth"
    bad.write_bytes(pickle.dumps({"fc.weight": _Boom()}))
    with pytest.raises(GankitError, match="cannot load inception weights"):
        inception_features(weights=str(bad))
    assert not (tmp_path / "BOOM_RAN").exists()


def test_inception_from_a_weights_file_gives_2048_features(tmp_path, monkeypatch):
    # No real weights here: make a file with the right keys (random values) from torch-fidelity's module.
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    with monkeypatch.context() as m:
        m.setattr(tfi, "load_state_dict_from_url", lambda *a, **k: None)
        m.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
        module = tfi.FeatureExtractorInceptionV3("x", ["2048"])
    path = tmp_path / "weights.pth"
    torch.save(module.state_dict(), path)
    net = inception_features(weights=str(path))
    assert net.name == "inception" and "Inception-v3" in net.info
    grey = torch.randint(0, 256, (3, 1, 16, 16), dtype=torch.uint8)  # grey images: repeated to RGB
    feats, probs = net(grey)
    assert feats.shape == (3, 2048) and probs.shape == (3, 1008) and np.isfinite(feats).all()


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"


def test_data_hash_changes_with_one_pixel():
    d = load_dataset("digits")
    e = ImageData(d.images.clone(), d.labels, 10, "digits")
    e.images[0, 0, 0, 0] += 1
    assert data_hash(d) != data_hash(e) and data_hash(d) == data_hash(load_dataset("digits"))
