"""Feature networks (gankit.features) and the image evaluation built on them (gankit.evaluate)."""

import json
import pickle

import numpy as np
import pytest
import torch

from gankit.data import ImageData, load_dataset, load_splits
from gankit.errors import GankitError
from gankit.evaluate import IMAGE_METRICS, feature_metrics
from gankit.features import FEATURES, cache_dir, classifier_digest, data_hash, get_feature_net, inception_features
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


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_inception_weights_that_would_run_code_are_refused_in_gankits_words(tmp_path, monkeypatch, writer):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "evil.pth"
    if writer == "pickle":
        bad.write_bytes(pickle.dumps({"fc.weight": _Boom()}))
    else:
        torch.save({"fc.weight": _Boom(), "fc.bias": torch.zeros(3)}, bad)
    with pytest.raises(GankitError, match="cannot load inception weights") as e:
        inception_features(weights=str(bad))
    assert not (tmp_path / "BOOM_RAN").exists()
    msg = str(e.value)
    # gankit.checkpoint.refusal's reason, not torch's text, which invites re-running with weights_only=False
    assert "\n" not in msg and "will not load" in msg and "unpickl" in msg
    assert "weights_only" not in msg and "Re-running" not in msg


NOT_A_STATE_DICT = {
    "a tensor": (lambda: torch.zeros(3), "it holds a Tensor"),
    "a list of tensors": (lambda: [torch.zeros(2), torch.ones(2)], "it holds a list"),
    "a number": (lambda: 5, "it holds a int"),
    "an empty mapping": (lambda: {}, "it holds an empty mapping"),
    "names of numbers": (lambda: {"fc.weight": 1.0}, "not all names of tensors"),
    "a nested mapping": (lambda: {"fc": {"weight": torch.zeros(2)}}, "not all names of tensors"),
    "integer keys": (lambda: {0: torch.zeros(2)}, "not all names of tensors"),
    "a NaN weight": (lambda: {"fc.weight": torch.tensor([1.0, float("nan")])}, "non-finite values in fc.weight"),
}


@pytest.mark.parametrize("content", list(NOT_A_STATE_DICT))
def test_inception_weights_that_are_not_a_state_dict_are_one_line(tmp_path, content):
    make, expected = NOT_A_STATE_DICT[content]
    path = tmp_path / "w.pth"
    torch.save(make(), path)
    torch.load(path, weights_only=True)  # each loads weights-only: the refusal is gankit's check
    with pytest.raises(GankitError, match="cannot load inception weights") as e:
        inception_features(weights=str(path))
    assert expected in str(e.value) and "\n" not in str(e.value)


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


def _save(path, state, resign=False):
    """Save an edited cached classifier; with ``resign``, with the digest of its edited content: a forgery
    that passes the digest, so that only the range checks stand between it and the evaluation."""
    if resign:
        state = {**state, "digest": classifier_digest(path.name, state["net"], state["accuracy"], state["num_classes"])}
    torch.save(state, path)


def _bn_var(p, value, resign):
    """Every BatchNorm running variance of the cached classifier set to ``value``."""
    state = _state(p)
    state["net"] = {k: torch.full_like(v, value) if k.endswith("running_var") else v for k, v in state["net"].items()}
    _save(p, state, resign)


CLASSIFIER_DAMAGE = {
    "garbage bytes": lambda p: p.write_bytes(b"\x00garbage" * 10),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:100]),
    "wrong keys": lambda p: torch.save({"weights": _state(p)["net"], "acc": 0.9}, p),
    # (re-signed: the digest would catch these first; the checks behind it must hold on their own)
    "renamed layer": lambda p: _save(
        p, {**_state(p), "net": {k.replace("head", "fc"): v for k, v in _state(p)["net"].items()}}, resign=True
    ),
    "head of the wrong shape": lambda p: _save(
        p, {**_state(p), "net": {**_state(p)["net"], "head.weight": torch.zeros(7, 128)}}, resign=True
    ),
    "NaN accuracy": lambda p: torch.save({**_state(p), "accuracy": float("nan")}, p),
    "text accuracy": lambda p: torch.save({**_state(p), "accuracy": "x"}, p),
    "accuracy above 1": lambda p: torch.save({**_state(p), "accuracy": 3.0}, p),
    "infinite weight": lambda p: _save(
        p, {**_state(p), "net": {**_state(p)["net"], "head.bias": torch.full((10,), float("inf"))}}, resign=True
    ),
    "another class count": lambda p: torch.save({**_state(p), "num_classes": 7}, p),
    # well-formed but not what was cached: caught by the digest the entry stores of its own content
    "BatchNorm variances of -1": lambda p: _bn_var(p, -1.0, resign=False),
    "a weight scaled by 2": lambda p: _save(
        p, {**_state(p), "net": {**_state(p)["net"], "head.weight": 2 * _state(p)["net"]["head.weight"]}}
    ),
    "another accuracy": lambda p: _save(p, {**_state(p), "accuracy": 0.99}),
    "no digest (an older gankit)": lambda p: _save(p, {k: v for k, v in _state(p).items() if k != "digest"}),
    "the entry of another name": lambda p: (
        _save(p.with_name("other.pt"), _state(p), resign=True) or p.write_bytes(p.with_name("other.pt").read_bytes())
    ),
    # ... and when the digest is forged too, by the ranges: a variance is positive
    "BatchNorm variances of -1, re-signed": lambda p: _bn_var(p, -1.0, resign=True),
    "BatchNorm variances of 0, re-signed": lambda p: _bn_var(p, 0.0, resign=True),
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


def _floor_entry(path, floor, resign=True, digest=None):
    """The text of a floor cache entry holding ``floor``: with the digest of that content (``resign``: a
    forgery that passes the digest, so that only the range checks stand in its way), or ``digest``."""
    from gankit.evaluate import floor_digest

    return json.dumps({"metrics": floor, "digest": floor_digest(path.name, floor) if resign else digest})


def _edited(ev, path, resign, **changes):
    """The floor entry with ``changes`` to its metrics, keeping the old digest unless ``resign``."""
    old = json.loads(path.read_text())["digest"]
    return _floor_entry(path, {**ev.floor, **changes}, resign, old)


FLOOR_DAMAGE = {
    "a metric that is text": lambda ev, p: '{"metrics": {"fid": "x"}, "digest": "0"}',
    "metrics missing": lambda ev, p: _floor_entry(p, {"fid": 1.0}),
    "not an object": lambda ev, p: "[1, 2, 3]",
    "not JSON": lambda ev, p: "\x00\x01 garbage",
    "deeply nested JSON": lambda ev, p: "[" * 100_000 + "]" * 100_000,
    # every metric present, one NaN (json writes NaN; it is not a number to trust)
    "NaN": lambda ev, p: _floor_entry(p, {**ev.floor, "kid": float("nan")}, resign=False, digest="0"),
    "a boolean": lambda ev, p: _floor_entry(p, {**ev.floor, "precision": True}),
    "a 400-digit integer": lambda ev, p: _floor_entry(p, {**ev.floor, "fid": 10**400}),
    "1e400 (infinite once read)": lambda ev, p: _floor_entry(p, ev.floor).replace(repr(ev.floor["fid"]), "1e400"),
    # the flat object an older gankit wrote, with no digest: recomputed once, then cached with one
    "an older gankit's entry": lambda ev, p: json.dumps(ev.floor),
    # well-formed numbers edited by hand: the stored digest no longer matches ...
    "fid of -5": lambda ev, p: _edited(ev, p, False, fid=-5.0),
    "precision of 7": lambda ev, p: _edited(ev, p, False, precision=7.0),
    "fid halved": lambda ev, p: _edited(ev, p, False, fid=ev.floor["fid"] / 2),
    "a digest of another entry": lambda ev, p: _floor_entry(p.with_name("floor2-other.json"), ev.floor),
    # ... and with the digest forged too, the ranges the math gives each metric stop them
    "fid of -5, re-signed": lambda ev, p: _edited(ev, p, True, fid=-5.0),
    "precision of 7, re-signed": lambda ev, p: _edited(ev, p, True, precision=7.0),
    "recall of -0.5, re-signed": lambda ev, p: _edited(ev, p, True, recall=-0.5),
    "coverage of 1.5, re-signed": lambda ev, p: _edited(ev, p, True, coverage=1.5),
    "density of -1, re-signed": lambda ev, p: _edited(ev, p, True, density=-1.0),
    "density of 61 (above 300/5), re-signed": lambda ev, p: _edited(ev, p, True, density=61.0),
    "IS of 0.5, re-signed": lambda ev, p: _edited(ev, p, True, **{"is": 0.5}),
    "IS above the 10 classes, re-signed": lambda ev, p: _edited(ev, p, True, **{"is": 10.5}),
    "kid of -1e6, re-signed": lambda ev, p: _edited(ev, p, True, kid=-1e6),
}


@pytest.mark.parametrize("damage", list(FLOOR_DAMAGE))
def test_a_damaged_cached_floor_is_computed_again(tmp_path, monkeypatch, damage):
    lines = []
    ev = _digits_evaluator(tmp_path, monkeypatch, lines)
    (path,) = tmp_path.glob("floor2-*.json")
    path.write_text(FLOOR_DAMAGE[damage](ev, path))
    lines.clear()
    again = _digits_evaluator(tmp_path, monkeypatch, lines)
    assert again.floor == pytest.approx(ev.floor, rel=1e-12) and set(again.floor) == set(IMAGE_METRICS)
    assert sum("cached floor" in line and "unusable" in line for line in lines) == 1, lines
    entry = json.loads(path.read_text())  # rewritten, with the digest of its content
    assert entry["metrics"] == pytest.approx(ev.floor, rel=1e-12)
    lines.clear()
    _digits_evaluator(tmp_path, monkeypatch, lines)  # and the rewritten entry checks out
    assert lines == []


def test_fresh_cache_entries_check_out_and_carry_their_digests(tmp_path, monkeypatch):
    from gankit.evaluate import floor_bounds, floor_digest, floor_problem, reference_digest, reference_problem

    lines = []
    ev = _digits_evaluator(tmp_path, monkeypatch, lines)
    assert any("training the digits classifier" in line for line in lines)
    lines.clear()
    again = _digits_evaluator(tmp_path, monkeypatch, lines)
    assert lines == [] and again.floor == ev.floor  # nothing recomputed: no legitimate entry is called wrong
    (floor_path,) = tmp_path.glob("floor2-*.json")
    entry = json.loads(floor_path.read_text())
    assert entry["digest"] == floor_digest(floor_path.name, ev.floor)
    (ref_path,) = tmp_path.glob("ref-*.npz")
    with np.load(ref_path, allow_pickle=False) as z:
        ref = {k: z[k] for k in z.files}
    assert str(ref["digest"]) == reference_digest(ref_path.name, ref)
    assert reference_problem(ref, 128, len(ref["feats"]), name=ref_path.name) is None
    assert floor_problem(ev.floor, floor_bounds(ev.ref, ev.n_floor, 10)) is None
    (clf,) = tmp_path.glob("classifier-*.pt")
    state = _state(clf)
    assert state["digest"] == classifier_digest(clf.name, state["net"], state["accuracy"], state["num_classes"])


@pytest.mark.parametrize(
    "value",
    [10**400, -(10**400), 10**309, 10**5000, float("inf"), float("nan"), "1", None, True, [1.0], {"a": 1}],
    ids=lambda v: type(v).__name__,
)  # repr(10**5000) raises
def test_floor_problem_names_any_value_that_is_not_a_finite_number_without_raising(value):
    from gankit.evaluate import floor_problem

    floor = {k: 0.5 for k in IMAGE_METRICS} | {"is": 2.0}
    assert floor_problem(floor) is None
    for k in IMAGE_METRICS:
        why = floor_problem({**floor, k: value})
        assert why is not None and "not a finite number" in why and len(why) < 120


def test_floor_bounds_follow_from_the_metrics_math():
    from gankit.evaluate import floor_bounds, floor_problem

    rng = np.random.default_rng(1)
    feats = np.abs(rng.normal(size=(400, 16)))  # non-negative, as ReLU features are
    ref = {"mu": feats.mean(0), "sigma": np.cov(feats, rowvar=False), "feats": feats}
    b = floor_bounds(ref, 300, 10)
    m = 300  # the k-NN set: min(reference features, held-out images)
    assert b["density"][1] == pytest.approx(m / 5) and b["is"][1] == pytest.approx(10)
    assert b["fid"][0] == 0 and b["precision"] == b["recall"] == b["coverage"] == (0.0, 1.0)
    # KID's unbiased MMD² can be negative, but not below −4·max k(x, x)/m (m = min(1000, 300))
    kmax = (((feats**2).sum(1) / 16 + 1) ** 3).max()
    assert b["kid"][0] == pytest.approx(-4 * kmax / 300)
    # and real floors lie within them: the metrics of held-out draws from the same law against the reference
    held = np.abs(rng.normal(size=(300, 16)))
    probs = rng.dirichlet(np.ones(10), size=300)
    floor = feature_metrics(ref, held, probs)
    assert floor_problem(floor, b) is None
    assert floor_problem({**floor, "kid": -5 * kmax / 300}, b) is not None
    assert floor_problem({**floor, "kid": -1e-3}, b) is None  # a small negative KID is a legitimate estimate


def _savez(path, **arrays):
    with open(path, "wb") as f:  # np.savez appends .npz to a name; a file object keeps the name
        np.savez(f, **arrays)


def _npy(path, a):
    with open(path, "wb") as f:
        np.save(f, a)


def _signed(p, **arrays):
    """A reference entry holding ``arrays`` with the digest of that content: a forgery that passes the
    digest, so that only the checks of Σ stand in its way."""
    from gankit.evaluate import reference_digest

    _savez(p, **arrays, digest=np.array(reference_digest(p.name, arrays)))


def _stale(p, **arrays):
    """A reference entry holding ``arrays`` with the digest it had before the edit."""
    with np.load(p) as z:
        digest = z["digest"]
    _savez(p, **arrays, digest=digest)


REF_DAMAGE = {
    "garbage bytes": lambda ref, p: p.write_bytes(b"not a zip file at all"),
    "no feats": lambda ref, p: _savez(p, mu=ref["mu"], sigma=ref["sigma"]),
    "mu of another width": lambda ref, p: _savez(p, **{**ref, "mu": ref["mu"][:5]}),
    "a NaN in sigma": lambda ref, p: _signed(
        p, **{**ref, "sigma": np.where(np.eye(len(ref["mu"])) > 0, np.nan, ref["sigma"])}
    ),
    "an asymmetric sigma": lambda ref, p: _signed(p, **{**ref, "sigma": ref["sigma"] + np.triu(ref["sigma"] + 1)}),
    "fewer reference features": lambda ref, p: _savez(p, **{**ref, "feats": ref["feats"][:50]}),
    "features of another width": lambda ref, p: _savez(
        p, mu=ref["mu"][:64], sigma=ref["sigma"][:64, :64], feats=ref["feats"][:, :64]
    ),
    "text arrays": lambda ref, p: _savez(p, **{**ref, "mu": np.array(["a"] * len(ref["mu"]))}),
    "a plain .npy": lambda ref, p: _npy(p, ref["mu"]),
    "an older gankit's entry (no digest)": lambda ref, p: _savez(p, **ref),
    "a digest that is a number": lambda ref, p: _savez(p, **ref, digest=np.array(1.0)),
    # well-formed but edited: the stored digest no longer matches (FID 143 instead of 239 for a negated Σ)
    "sigma negated": lambda ref, p: _stale(p, **{**ref, "sigma": -ref["sigma"]}),
    "sigma times 1e300": lambda ref, p: _stale(p, **{**ref, "sigma": ref["sigma"] * 1e300}),
    "mu shifted": lambda ref, p: _stale(p, **{**ref, "mu": ref["mu"] + 1e-3}),
    "the entry of another name": lambda ref, p: (
        _signed(p.with_name("ref-other.npz"), **ref) or p.write_bytes(p.with_name("ref-other.npz").read_bytes())
    ),
    # ... and with the digest forged too: Σ must be a covariance, and the covariance of these features
    "sigma negated, re-signed": lambda ref, p: _signed(p, **{**ref, "sigma": -ref["sigma"]}),
    "one negative eigenvalue, re-signed": lambda ref, p: _signed(
        p,
        **{
            **ref,
            "sigma": ref["sigma"]
            - 2
            * np.outer(np.linalg.eigh(ref["sigma"])[1][:, -1], np.linalg.eigh(ref["sigma"])[1][:, -1])
            * np.linalg.eigvalsh(ref["sigma"])[-1],
        },
    ),
    "sigma times 1e300, re-signed": lambda ref, p: _signed(p, **{**ref, "sigma": ref["sigma"] * 1e300}),
    "sigma times 1e-3, re-signed": lambda ref, p: _signed(p, **{**ref, "sigma": ref["sigma"] * 1e-3}),
    "mu far from the features, re-signed": lambda ref, p: _signed(
        p, **{**ref, "mu": ref["mu"] + 2 * np.sqrt(np.trace(ref["sigma"]))}
    ),
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
    with np.load(path) as z:  # rewritten whole, with the digest of its content
        assert all(np.array_equal(z[k], ev.ref[k]) for k in ("mu", "sigma", "feats"))
        assert "digest" in z.files
    lines.clear()
    _digits_evaluator(tmp_path, monkeypatch, lines)  # and the rewritten entry checks out
    assert lines == []


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path, monkeypatch):
    lines = []
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    ev = _digits_evaluator(blocker, monkeypatch, lines)
    assert set(ev.floor) == set(IMAGE_METRICS) and np.isfinite(list(ev.floor.values())).all()
    assert sum("cannot cache" in line for line in lines) == 3  # classifier, reference statistics, floor
