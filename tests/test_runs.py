"""Reading a run (gankit.sampling): `gankit sample` and `gankit eval` on sizes, truncations, full disks
and damaged checkpoints, each refused with one line and nothing saved lost."""

import builtins
import io
import json
import os
import shutil

import numpy as np
import pytest
import torch

import gankit.features
import gankit.memory
import gankit.runs
from gankit.cli import main
from gankit.config import load_config
from gankit.data import to_uint8
from gankit.generate import generate
from gankit.features import Classifier
from gankit.runs import load_generator, write_samples
from gankit.training import train

TINY = [
    "train.steps=2",
    "train.batch_size=8",
    "model.g_hidden=8",
    "model.d_hidden=8",
    "train.eval_features=",
    "train.progress=false",
    "train.tensorboard=false",
]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "digits"
    train(load_config("digits", overrides=TINY), run)
    return run


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "ring8"
    train(
        load_config(
            "ring8",
            overrides=[
                "train.steps=2",
                "train.batch_size=8",
                "train.ema_kimg=0",  # the run without an EMA copy of G
                "train.progress=false",
                "train.tensorboard=false",
            ],
        ),
        run,
    )
    return run


@pytest.fixture
def quick_classifier(tmp_path, monkeypatch):
    """A fresh cache and an untrained (seeded) classifier in place of training one: these tests are
    about what eval reads and writes, not about the classifier's quality (tests/test_features.py)."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))

    def fake_train(train, test, seed=0, log=None):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = Classifier(train.shape[0], train.shape[1], train.num_classes)
        return net.eval(), 0.5

    monkeypatch.setattr(gankit.features, "train_classifier", fake_train)


def run(args, capsys):
    """The CLI in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def one_line_error(code, err, *parts):
    assert code == 2, err
    assert err.startswith("gankit: error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for p in parts:
        assert p in err, err


# --- 1. sizes that cannot fit ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".npy", ".png"])
def test_sample_of_an_impossible_size_is_refused_up_front(digits_run, tmp_path, capsys, suffix):
    out = tmp_path / f"x{suffix}"
    # noise alone: 10⁹ × 64 × 4 bytes = 238 GiB
    code, _, err = run(["sample", digits_run, "--n", 1_000_000_000, "--out", out], capsys)
    one_line_error(code, err, "drawing 1000000000 samples (--n)", "needs about", "of memory")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_eval_of_an_impossible_size_is_refused_up_front(digits_run, ring_run, quick_classifier, capsys):
    for r in (digits_run, ring_run):
        code, _, err = run(["eval", r, "--n", 1_000_000_000], capsys)
        one_line_error(code, err, "evaluating 1000000000 samples (--n)", "needs about")
    code, _, err = run(["sample", ring_run, "--n", 10**11, "--out", ring_run.parent / "y.npy"], capsys)
    one_line_error(code, err, "needs about")


def test_sizes_are_weighed_against_the_memory_available_now(digits_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(gankit.memory, "available_bytes", lambda: 1 << 30)
    # a grid holds every image several times over (≈ 15 KB each at 16×16): 10⁵ of them do not fit in 1 GiB ...
    code, _, err = run(["sample", digits_run, "--n", 100_000, "--out", tmp_path / "g.png"], capsys)
    one_line_error(code, err, "needs about", "more than the 1 GiB available")
    # ... nor does the noise of 10⁷ samples (2.4 GiB), even streamed to .npy; 64 samples do
    code, _, err = run(["sample", digits_run, "--n", 10_000_000, "--out", tmp_path / "x.npy"], capsys)
    one_line_error(code, err, "needs about")
    code, _, err = run(["sample", digits_run, "--n", 64, "--out", tmp_path / "g.png"], capsys)
    assert code == 0, err
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 34359738368 bytes."),
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB."),
        MemoryError(),
    ],
)
def test_running_out_of_memory_while_sampling_or_evaluating_is_one_line(
    digits_run, ring_run, tmp_path, capsys, monkeypatch, error
):
    def boom(*a, **k):
        raise error

    out = tmp_path / "x.npy"
    out.write_bytes(b"old")
    monkeypatch.setattr(gankit.runs, "run_generator", boom)
    code, _, err = run(["sample", digits_run, "--n", 20, "--out", out], capsys)
    one_line_error(code, err, "out of memory drawing 20 samples", "choose a smaller --n")
    assert out.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]
    monkeypatch.setattr(gankit.runs, "evaluate_toy", boom)
    monkeypatch.setattr(gankit.runs, "image_evaluator", boom)
    for r in (ring_run, digits_run):
        code, _, err = run(["eval", r, "--n", 50], capsys)
        one_line_error(code, err, "out of memory evaluating 50 samples")


# --- 2. truncation -----------------------------------------------------------------------------------------


def test_tiny_truncation_returns_g_of_zero(ring_run, tmp_path, capsys):
    out = tmp_path / "t.npy"
    code, _, err = run(["sample", ring_run, "--n", 300, "--out", out, "--truncation", "1e-30"], capsys)
    assert code == 0, err
    x = np.load(out)
    G, cfg, _, _ = load_generator(ring_run)
    at_zero = generate(G, 1, cfg.model.z_dim, seed=0, truncation=1e-300)[0].numpy()  # z rounds to 0 in float32
    assert x.shape == (300, 2) and np.allclose(x, at_zero, rtol=0, atol=1e-6)  # |z| ≤ 1e-30: G(z) = G(0)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1"])
def test_truncation_that_is_not_positive_and_finite_is_refused(ring_run, tmp_path, capsys, value):
    out = tmp_path / "t.npy"
    code, _, err = run(["sample", ring_run, "--out", out, f"--truncation={value}"], capsys)
    one_line_error(code, err, "truncation")
    assert not out.exists()


# --- 4. atomic sample files -------------------------------------------------------------------------------


class _FullDisk:
    """A file that takes ``room`` bytes and then fails as a full disk does (no fileno: PIL and NumPy write
    through ``write``)."""

    def __init__(self, f, room):
        self.f, self.room = f, room

    def write(self, b):
        b = bytes(memoryview(b).cast("B"))
        if len(b) > self.room:
            self.f.write(b[: self.room])
            self.room = 0
            raise OSError(28, "No space left on device")
        self.room -= len(b)
        return self.f.write(b)

    def fileno(self):
        raise io.UnsupportedOperation("fileno")

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def full_disk(monkeypatch, folder, room):
    """Make every file opened for writing in ``folder`` (by ``open`` or ``os.fdopen``) a full disk after
    ``room`` bytes, whichever way the code under test writes."""
    real_open, real_fdopen = builtins.open, os.fdopen

    def writing(mode):
        return any(c in mode for c in "wax+")

    def inside(path):
        return os.path.dirname(os.path.abspath(path)) == str(folder)

    def fake_open(file, mode="r", *a, **k):
        f = real_open(file, mode, *a, **k)
        return _FullDisk(f, room) if writing(mode) and isinstance(file, (str, os.PathLike)) and inside(file) else f

    def fake_fdopen(fd, mode="r", *a, **k):
        f = real_fdopen(fd, mode, *a, **k)
        return _FullDisk(f, room) if writing(mode) and inside(os.readlink(f"/proc/self/fd/{f.fileno()}")) else f

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "fdopen", fake_fdopen)


@pytest.mark.parametrize(
    "which, suffix, room",
    [("digits", ".npy", 200), ("digits", ".png", 0), ("ring", ".npy", 100), ("ring", ".png", 1000)],
)
def test_a_full_disk_leaves_the_old_file_and_no_partial_one(
    digits_run, ring_run, tmp_path, capsys, monkeypatch, which, suffix, room
):
    run_dir = digits_run if which == "digits" else ring_run
    out = tmp_path / f"s{suffix}"
    G, cfg, n_cls, _ = load_generator(run_dir)
    with monkeypatch.context() as m:  # the folder is probed up front (gankit.files.check_writable) ...
        full_disk(m, tmp_path, room)
        code, _, err = run(["sample", run_dir, "--n", 64, "--out", out], capsys)
    one_line_error(code, err, f"cannot write in {tmp_path}: No space left on device")
    assert list(tmp_path.iterdir()) == []
    with monkeypatch.context() as m:  # ... and a disk that fills up after the probe fails the write itself
        full_disk(m, tmp_path, room)
        m.setattr(gankit.runs, "check_writable", lambda folder: folder)
        code, _, err = run(["sample", run_dir, "--n", 64, "--out", out], capsys)
    one_line_error(code, err, f"cannot write samples to {out}: No space left on device")
    assert list(tmp_path.iterdir()) == []  # no 0-byte or partial file, no temporary file
    out.write_bytes(b"old samples")
    with monkeypatch.context() as m:
        full_disk(m, tmp_path, room)
        m.setattr(gankit.runs, "check_writable", lambda folder: folder)
        code, _, err = run(["sample", run_dir, "--n", 64, "--out", out], capsys)
    assert code == 2 and out.read_bytes() == b"old samples" and list(tmp_path.iterdir()) == [out]
    code, _, err = run(["sample", run_dir, "--n", 64, "--out", out], capsys)
    assert code == 0, err
    assert out.read_bytes() != b"old samples" and list(tmp_path.iterdir()) == [out]


def test_npy_written_chunk_by_chunk_holds_the_samples_of_one_draw(digits_run, ring_run, tmp_path, monkeypatch):
    monkeypatch.setattr(gankit.runs, "generator_chunk", lambda peak: 7)  # 50 samples: 8 chunks
    for r, n_cls in ((digits_run, 0), (ring_run, 0)):
        G, cfg, n_cls, _ = load_generator(r)
        write_samples(G, cfg, n_cls, 50, 9, tmp_path / "s.npy", truncation=0.8)
        x = np.load(tmp_path / "s.npy", mmap_mode="r")
        whole = generate(G, 50, cfg.model.z_dim, seed=9, truncation=0.8)
        if x.dtype == np.uint8:  # G's batch of 7 or 50 may round differently: a pixel at most one level apart
            assert x.shape == (50, 1, 16, 16) and np.abs(x.astype(int) - to_uint8(whole).numpy()).max() <= 1
        else:
            assert x.shape == (50, 2) and x.dtype == np.float32 and np.allclose(x, whole.numpy(), atol=1e-5)


def test_samples_into_a_folder_or_a_wrong_suffix_are_one_line(digits_run, tmp_path, capsys):
    (tmp_path / "d.npy").mkdir()
    code, _, err = run(["sample", digits_run, "--out", tmp_path / "d.npy"], capsys)
    one_line_error(code, err, "is a directory")
    G, cfg, n_cls, _ = load_generator(digits_run)
    with pytest.raises(gankit.errors.GankitError, match=".npy or .png"):
        write_samples(G, cfg, n_cls, 4, 0, tmp_path / "x.txt")
    with pytest.raises(gankit.errors.GankitError, match="positive integer"):
        write_samples(G, cfg, n_cls, 0, 0, tmp_path / "x.npy")


# --- 5. damaged checkpoints ---------------------------------------------------------------------------------


def _nan_weight(state, net):
    name = next(k for k, v in state[net].items() if v.is_floating_point())
    state[net][name] = torch.full_like(state[net][name], float("nan"))


DAMAGE = {
    "step='abc'": (lambda s: s.update(step="abc"), "'step'"),
    "num_classes='x'": (lambda s: s.update(num_classes="x"), "'num_classes'"),
    "data_shape=None": (lambda s: s.update(data_shape=None), "'data_shape'"),
    "step=True": (lambda s: s.update(step=True), "'step'"),
    "data_shape of 4 numbers": (lambda s: s.update(data_shape=[1, 16, 16, 1]), "'data_shape'"),
    "NaN in G": (lambda s: _nan_weight(s, "G"), "non-finite weights"),
    "NaN in G_ema": (lambda s: _nan_weight(s, "G_ema"), "non-finite weights"),
    # well typed, but not this config's network: refused before anything of that size is allocated
    "data_shape=[1, 64, 64]": (lambda s: s.update(data_shape=[1, 64, 64]), "does not fit its config.yaml"),
    "num_classes=10**9": (lambda s: s.update(num_classes=10**9), "does not fit its config.yaml"),
    "G of another width": (
        lambda s: s.update(G_ema=None, G={k: v[:1] if v.dim() else v for k, v in s["G"].items()}),
        "does not fit its config.yaml",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_checkpoint_is_one_line_for_sample_and_eval(digits_run, tmp_path, capsys, quick_classifier, damage):
    run_dir = tmp_path / "run"
    shutil.copytree(digits_run, run_dir)
    last = run_dir / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    assert state.get("G_ema") is not None  # the digits preset keeps an EMA generator
    edit, expected = DAMAGE[damage]
    edit(state)
    last.unlink()  # last.pt is a hard link to the newest step file: leave that one as it was
    torch.save(state, last)
    saved = last.read_bytes()
    for args in (["sample", run_dir, "--out", tmp_path / "s.npy"], ["eval", run_dir, "--n", 20]):
        code, _, err = run(args, capsys)
        one_line_error(code, err, expected)
    assert last.read_bytes() == saved and not (tmp_path / "s.npy").exists() and not (run_dir / "eval.json").exists()


# --- 6, 7. what eval prints and writes ---------------------------------------------------------------------------


def test_eval_names_its_sample_count_and_features_and_density_is_best_near_1(
    digits_run, tmp_path, capsys, quick_classifier
):
    run_dir = tmp_path / "run"
    shutil.copytree(digits_run, run_dir)
    code, out, err = run(["eval", run_dir, "--n", 120, "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["n"] == 120 and res["features"] == "classifier" and "gankit classifier" in res["features_info"]
    assert res["metrics"]["density"]["better"] == "near 1" and res["metrics"]["fid"]["better"] == "lower"
    assert json.loads((run_dir / "eval.json").read_text()) == res
    code, out, err = run(["eval", run_dir, "--n", 120], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{run_dir}: 120 samples") and lines[1].startswith("features: gankit classifier")
    density = next(line for line in lines if line.startswith("density"))
    assert density.endswith("near 1")


def test_eval_counts_from_python_and_an_unwritable_eval_json(digits_run, ring_run, tmp_path, capsys):
    from gankit.errors import GankitError
    from gankit.runs import evaluate_run

    with pytest.raises(GankitError, match="integer ≥ 10"):
        evaluate_run(digits_run, n=5)  # the k-NN metrics need more than k = 5 neighbours
    run_dir = tmp_path / "run"
    shutil.copytree(ring_run, run_dir)
    res = evaluate_run(run_dir, n=np.int64(40))  # a NumPy count: still plain JSON
    assert res["n"] == 40 and json.loads((run_dir / "eval.json").read_text())["n"] == 40
    (run_dir / "eval.json").unlink()
    (run_dir / "eval.json").mkdir()
    code, _, err = run(["eval", run_dir, "--n", 40], capsys)
    one_line_error(code, err, f"cannot write {run_dir / 'eval.json'}")


def test_image_runs_need_10_evaluation_samples_and_toy_runs_1(digits_run, ring_run, tmp_path, capsys):
    from gankit.errors import GankitError
    from gankit.runs import evaluate_run

    # the k-NN metrics need more than k = 5 neighbours and IS its 10 splits: below 10, one line, nothing written
    for n in (1, 5, 9, 0, -3, np.int64(7), 2.5, True, "20"):
        with pytest.raises(GankitError, match="integer ≥ 10") as e:
            evaluate_run(digits_run, n=n)
        assert "\n" not in str(e.value) and repr(n) in str(e.value)
    assert not (digits_run / "eval.json").exists()  # the fixture's run evaluates nothing during training
    code, _, err = run(["eval", digits_run, "--n", 5], capsys)
    one_line_error(code, err, "10")
    # toy runs: the exact JSD needs no sample count, the mode statistics take any n ≥ 1
    run_dir = tmp_path / "run"
    shutil.copytree(ring_run, run_dir)
    for n in (1, 5):
        assert evaluate_run(run_dir, n=n)["n"] == n
    for n in (0, -1, 1.5):
        with pytest.raises(GankitError, match="integer ≥ 1,"):
            evaluate_run(run_dir, n=n)


# --- 8. eval.json is JSON: no bare NaN ----------------------------------------------------------------------


def strict_json(text):
    """json.loads that refuses NaN and Infinity, which Python writes by default but JSON does not have."""

    def refuse(constant):
        raise ValueError(f"bare {constant} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_eval_json_holds_null_for_values_that_are_not_finite(ring_run, tmp_path, capsys, monkeypatch):
    # written by the training loop (toy_record): kl_uniform is undefined when no sample is high-quality
    trained = strict_json((ring_run / "eval.json").read_text())["metrics"]
    assert (trained["kl_uniform"]["value"] is None) == (trained["high_quality"]["value"] == 0)
    # written by gankit eval, whatever the metrics come out as
    run_dir = tmp_path / "run"
    shutil.copytree(ring_run, run_dir)
    vals = {"toy/jsd": float("inf"), "toy/high_quality": 0.0, "toy/modes": 0, "toy/kl_uniform": float("nan")}
    monkeypatch.setattr(gankit.runs, "evaluate_toy", lambda *a, **k: dict(vals))
    code, out, err = run(["eval", run_dir, "--n", 30, "--json"], capsys)
    assert code == 0, err
    res = strict_json(out)
    assert res == strict_json((run_dir / "eval.json").read_text())
    assert {k: m["value"] for k, m in res["metrics"].items()} == {
        "jsd": None,
        "high_quality": 0.0,
        "modes": 0,
        "kl_uniform": None,
    }


# --- 9. a run is sampled and measured only under its own config, on its own data ---------------------------------

CONFIG_EDITS = {
    "data.name": ("name: ring8", "name: grid25"),
    "model.g_hidden": ("g_hidden: 128", "g_hidden: 64"),
    "model.z_dim": ("z_dim: 2", "z_dim: 3"),
    "objective.name": ("name: nonsaturating", "name: minimax"),
}


@pytest.mark.parametrize("key", list(CONFIG_EDITS))
def test_eval_and_sample_refuse_a_config_edited_after_training(ring_run, tmp_path, capsys, key):
    run_dir = tmp_path / "run"
    shutil.copytree(ring_run, run_dir)
    path = run_dir / "config.yaml"
    old, new = CONFIG_EDITS[key]
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    code, _, err = run(["eval", run_dir, "--n", 40], capsys)
    one_line_error(code, err, "was written with another config", key, "evaluate it with its own config.yaml")
    code, _, err = run(["sample", run_dir, "--out", tmp_path / "s.npy"], capsys)
    one_line_error(code, err, "was written with another config", key, "sample it with its own config.yaml")
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before  # eval.json untouched
    assert not (tmp_path / "s.npy").exists()
    path.write_text(text)  # its own config again: both work
    assert run(["eval", run_dir, "--n", 40, "--json"], capsys)[0] == 0
    assert run(["sample", run_dir, "--out", tmp_path / "s.npy"], capsys)[0] == 0


def _one_pixel(images):
    images = images.clone()
    images[0, 0, 0, 0] ^= 1
    return images


@pytest.mark.parametrize("which", ["inverted", "one pixel", "the preset's own"])
def test_eval_measures_a_run_trained_from_python_only_on_its_own_images(tmp_path, capsys, quick_classifier, which):
    from gankit.data import ImageData, load_dataset

    cfg = load_config("digits", overrides=TINY)
    real = load_dataset("digits", resolution=cfg.data.resolution)  # the train split, as training loads it
    images = {"inverted": lambda x: 255 - x, "one pixel": _one_pixel, "the preset's own": lambda x: x}[which]
    run_dir = tmp_path / "run"
    train(cfg, run_dir, data=ImageData(images(real.images), real.labels, real.num_classes, "mine"))
    code, _, err = run(["eval", run_dir, "--n", 40, "--json"], capsys)
    if which == "the preset's own":
        assert code == 0, err  # the same images under another name: the fingerprint matches
        assert strict_json((run_dir / "eval.json").read_text())["n"] == 40
    else:
        one_line_error(code, err, "was trained on other data ('mine'", "than digits gives now", "evaluate it")
        assert not (run_dir / "eval.json").exists()
    # sampling needs no data: the config check suffices
    code, _, err = run(["sample", run_dir, "--n", 8, "--out", tmp_path / "s.npy"], capsys)
    assert code == 0, err
    assert np.load(tmp_path / "s.npy").shape == (8, *real.shape)


def test_sample_draws_the_generator_asked_for(ring_run, tmp_path, capsys):
    """--generator ema (the default when the run keeps one) samples G_ema's weights, raw samples G's;
    asking a run without an EMA for one is one line."""
    from gankit.checkpoint import load_checkpoint
    from gankit.cli import main

    digits_run = tmp_path / "lagging"  # no ramp and a long half-life: G_ema lags G visibly
    train(
        load_config("digits", overrides=[*TINY, "train.steps=3", "train.ema_kimg=1", "train.ema_rampup=null"]),
        digits_run,
    )
    state = load_checkpoint(digits_run / "checkpoints" / "last.pt")
    assert state["G_ema"] is not None
    for generator, key in (("ema", "G_ema"), ("raw", "G"), ("auto", "G_ema")):
        G = load_generator(digits_run, generator=generator).G
        assert all(torch.equal(v, state[key][k]) for k, v in G.state_dict().items())
    outs = {}
    for flag in ([], ["--generator", "ema"], ["--generator", "raw"]):
        out = tmp_path / f"s{len(outs)}.npy"
        with pytest.raises(SystemExit) as e:
            main(["sample", str(digits_run), "--n", "6", "--out", str(out), *flag])
        assert e.value.code == 0
        outs[tuple(flag)] = np.load(out)
    assert np.array_equal(outs[()], outs[("--generator", "ema")])
    assert not np.array_equal(outs[()], outs[("--generator", "raw")])
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["sample", str(ring_run), "--out", str(tmp_path / "x.npy"), "--generator", "ema"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "kept no EMA copy" in err and len(err.strip().splitlines()) == 1


def test_eval_names_the_generator_it_measured(ring_run, tmp_path):
    from gankit.runs import evaluate_run

    out = evaluate_run(ring_run, n=20)
    assert out["generator"] == "G" and "raw" not in out["metrics"]["jsd"]
