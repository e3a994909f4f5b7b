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


# --- caches that do not check out are rebuilt ---------------------------------------------------------------

def _quick_train(calls):
    """An untrained, seeded classifier in place of training one (these tests are about the cache), counting calls."""
    from gankit.features import Classifier

    def fake_train(train, test, seed=0, log=None):
        calls.append(1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = Classifier(train.shape[0], train.shape[1], train.num_classes)
        return net.eval(), 0.75

    return fake_train


def _state(path):
    return torch.load(path, weights_only=True)


CLASSIFIER_DAMAGE = {
    "garbage bytes": lambda p: p.write_bytes(b"\x00garbage" * 10),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:100]),
    "wrong keys": lambda p: torch.save({"weights": _state(p)["net"], "acc": 0.9}, p),
    "renamed layer": lambda p: torch.save({**_state(p), "net": {k.replace("head", "fc"): v
                                                                for k, v in _state(p)["net"].items()}}, p),
    "head of the wrong shape": lambda p: torch.save({**_state(p), "net": {**_state(p)["net"],
                                                                          "head.weight": torch.zeros(7, 128)}}, p),
    "NaN accuracy": lambda p: torch.save({**_state(p), "accuracy": float("nan")}, p),
    "text accuracy": lambda p: torch.save({**_state(p), "accuracy": "x"}, p),
    "accuracy above 1": lambda p: torch.save({**_state(p), "accuracy": 3.0}, p),
    "infinite weight": lambda p: torch.save({**_state(p), "net": {**_state(p)["net"],
                                                                  "head.bias": torch.full((10,), float("inf"))}}, p),
    "another class count": lambda p: torch.save({**_state(p), "num_classes": 7}, p),
}


@pytest.mark.parametrize("damage", list(CLASSIFIER_DAMAGE))
def test_a_damaged_cached_classifier_is_retrained_and_recached(tmp_path, monkeypatch, damage):
    import gankit.features

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    calls, lines = [], []
    monkeypatch.setattr(gankit.features, "train_classifier", _quick_train(calls))
    a, b, _ = load_splits("digits")
    first = get_feature_net("classifier", a, b)
    path = tmp_path / f"{first.key}.pt"
    assert calls == [1] and path.is_file()
    CLASSIFIER_DAMAGE[damage](path)
    again = get_feature_net("classifier", a, b, log=lines.append)
    assert calls == [1, 1]  # trained again, not a traceback
    assert any("unusable" in line for line in lines) and any("rebuilt and re-cached" in line for line in lines)
    assert np.array_equal(again(b.images[:20])[0], first(b.images[:20])[0]) and "accuracy 0.7500" in again.info
    lines.clear()
    get_feature_net("classifier", a, b, log=lines.append)  # the rewritten entry is good: no third training
    assert calls == [1, 1] and lines == []


def _digits_evaluator(tmp_path, monkeypatch, lines):
    import gankit.features
    from gankit.config import load_config
    from gankit.evaluate import image_evaluator

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(gankit.features, "train_classifier", _quick_train([]))
    return image_evaluator(load_config("digits"), "classifier", n=300, log=lines.append)


FLOOR_DAMAGE = {
    "a metric that is text": '{"fid": "x"}',
    "metrics missing": '{"fid": 1.0}',
    "not an object": "[1, 2, 3]",
    "not JSON": "\x00\x01 garbage",
    "NaN": None,  # every metric present, one NaN (json writes NaN; it is not a number to trust)
    "a boolean": None,
}


@pytest.mark.parametrize("damage", list(FLOOR_DAMAGE))
def test_a_damaged_cached_floor_is_computed_again(tmp_path, monkeypatch, damage):
    import json

    lines = []
    ev = _digits_evaluator(tmp_path, monkeypatch, lines)
    (path,) = tmp_path.glob("floor2-*.json")
    text = FLOOR_DAMAGE[damage]
    if damage == "NaN":
        text = json.dumps({**ev.floor, "kid": float("nan")})
    elif damage == "a boolean":
        text = json.dumps({**ev.floor, "precision": True})
    path.write_text(text)
    lines.clear()
    again = _digits_evaluator(tmp_path, monkeypatch, lines)
    assert again.floor == pytest.approx(ev.floor, rel=1e-12) and set(again.floor) == set(IMAGE_METRICS)
    assert any("cached floor" in line and "unusable" in line for line in lines)
    assert json.loads(path.read_text()) == pytest.approx(ev.floor, rel=1e-12)  # rewritten


def _savez(path, **arrays):
    with open(path, "wb") as f:  # np.savez appends .npz to a name; a file object keeps the name
        np.savez(f, **arrays)


def _npy(path, a):
    with open(path, "wb") as f:
        np.save(f, a)


REF_DAMAGE = {
    "garbage bytes": lambda ref, p: p.write_bytes(b"not a zip file at all"),
    "no feats": lambda ref, p: _savez(p, mu=ref["mu"], sigma=ref["sigma"]),
    "mu of another width": lambda ref, p: _savez(p, **{**ref, "mu": ref["mu"][:5]}),
    "a NaN in sigma": lambda ref, p: _savez(p, **{**ref, "sigma": np.where(np.eye(len(ref["mu"])) > 0, np.nan,
                                                                             ref["sigma"])}),
    "an asymmetric sigma": lambda ref, p: _savez(p, **{**ref, "sigma": ref["sigma"] + np.triu(ref["sigma"] + 1)}),
    "fewer reference features": lambda ref, p: _savez(p, **{**ref, "feats": ref["feats"][:50]}),
    "features of another width": lambda ref, p: _savez(p, mu=ref["mu"][:64], sigma=ref["sigma"][:64, :64],
                                                       feats=ref["feats"][:, :64]),
    "text arrays": lambda ref, p: _savez(p, **{**ref, "mu": np.array(["a"] * len(ref["mu"]))}),
    "a plain .npy": lambda ref, p: _npy(p, ref["mu"]),
}


@pytest.mark.parametrize("damage", list(REF_DAMAGE))
def test_damaged_cached_reference_statistics_are_computed_again(tmp_path, monkeypatch, damage):
    lines = []
    ev = _digits_evaluator(tmp_path, monkeypatch, lines)
    (path,) = tmp_path.glob("ref-*.npz")
    REF_DAMAGE[damage](ev.ref, path)
    lines.clear()
    again = _digits_evaluator(tmp_path, monkeypatch, lines)
    assert any("cached reference statistics" in line and "unusable" in line for line in lines)
    for k in ("mu", "sigma", "feats"):
        assert np.array_equal(again.ref[k], ev.ref[k])
    with np.load(path) as z:  # rewritten whole
        assert all(np.array_equal(z[k], ev.ref[k]) for k in ("mu", "sigma", "feats"))


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path, monkeypatch):
    lines = []
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    ev = _digits_evaluator(blocker, monkeypatch, lines)
    assert set(ev.floor) == set(IMAGE_METRICS) and np.isfinite(list(ev.floor.values())).all()
    assert sum("cannot cache" in line for line in lines) == 3  # classifier, reference statistics, floor
