"""Runs you can trust: exact resume, rotating crash-safe checkpoints, stops on signals, the divergence
guard, refused pickles, corrupt and incompatible checkpoints, failed writes, SIGKILL at random moments."""

import os
import pickle
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from gankit.checkpoint import load_checkpoint
from gankit.cli import main
from gankit.config import load_config, read_config
from gankit.errors import Diverged, GankitError
from gankit.stats import read_jsonl
from gankit.training import train

QUIET = ["train.progress=false", "train.tensorboard=false"]
CASES = {  # (preset, objective, overrides): toy and images, four objectives, EMA + augmentation on digits
    "ring8-nonsaturating": ("ring8", ["objective.name=nonsaturating", "train.batch_size=64", "train.eval_samples=200"]),
    "ring8-wgan-gp": (
        "ring8",
        [
            "objective.name=wgan-gp",
            "train.batch_size=64",
            "train.d_steps=2",
            "train.lr_schedule=linear",
            "train.eval_samples=200",
        ],
    ),
    "digits-nonsaturating": ("digits", ["train.batch_size=16", "train.eval_features=", "model.conditional=true"]),
    "digits-hinge": (
        "digits",
        [
            "objective.name=hinge",
            "train.batch_size=16",
            "train.eval_features=",
            "model.spectral_norm=true",
            "data.hflip=true",
        ],
    ),
    "digits-biggan-ada": (  # BigGAN (hierarchical z, attention, orthogonal regularisation) with ADA's p moving
        "digits",
        [
            "model.name=biggan",
            "data.resolution=32",
            "model.conditional=true",
            "model.z_dim=8",
            "model.g_hidden=4",
            "model.d_hidden=4",
            "model.attention=16",
            "objective.name=hinge",
            "objective.ortho_reg=1e-4",
            "train.batch_size=8",
            "train.eval_features=",
            "train.ada_target=0.2",
            "train.ada_kimg=0.05",
            "train.accumulate=2",
        ],
    ),
}


def _tensors(state, prefix=""):
    """Every tensor of a nested checkpoint mapping, by dotted path."""
    out = {}
    if isinstance(state, dict):
        for k, v in state.items():
            out.update(_tensors(v, f"{prefix}{k}."))
    elif isinstance(state, (list, tuple)):
        for i, v in enumerate(state):
            out.update(_tensors(v, f"{prefix}{i}."))
    elif torch.is_tensor(state):
        out[prefix] = state
    return out


def _assert_identical(a, b):
    ta, tb = _tensors(a), _tensors(b)
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), f"{k} differs"


def _nan_in_g_after(when: int):
    """A training callback that makes one weight of G NaN after step ``when``: a blow-up the next step's
    losses show."""

    def poison(step, G, D):
        if step == when:
            with torch.no_grad():
                next(G.parameters()).view(-1)[0] = float("nan")

    return poison


@pytest.mark.parametrize("case", list(CASES))
def test_stop_and_resume_is_bit_identical_to_one_run(case, tmp_path):
    preset, extra = CASES[case]
    n = 6
    cfg = load_config(
        preset,
        overrides=[
            f"train.steps={2 * n}",
            "train.checkpoint_every=4",
            "train.log_every=2",
            "train.eval_every=5",
            "train.sample_every=100",
            *QUIET,
            *extra,
        ],
    )
    once, twice = tmp_path / "once", tmp_path / "twice"
    train(cfg, once)
    first = train(cfg, twice, stop_after=n)
    assert first.stopped == "stop_after" and load_checkpoint(twice / "checkpoints" / "last.pt")["step"] == n
    second = train(read_config(twice / "config.yaml"), twice, resume=True)
    assert second.stopped is None and second.step == 2 * n
    a = load_checkpoint(once / "checkpoints" / "last.pt")
    b = load_checkpoint(twice / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 2 * n
    _assert_identical(
        {k: a[k] for k in ("G", "D", "G_ema", "opt_g", "opt_d", "rng", "ada_p")},
        {k: b[k] for k in ("G", "D", "G_ema", "opt_g", "opt_d", "rng", "ada_p")},
    )
    if cfg.train.ada_target:  # ADA's p moved, and was carried across the stop
        assert 0 < float(a["ada_p"]) <= 1 and [r["ada/p"] for r in read_jsonl(once / "metrics.jsonl")][-1] > 0
    assert a["sched_g"] == b["sched_g"] and a["ema_n"] == b["ema_n"]
    rows_a, rows_b = read_jsonl(once / "metrics.jsonl"), read_jsonl(twice / "metrics.jsonl")
    assert [r["step"] for r in rows_b if r["step"] > n] == [r["step"] for r in rows_a if r["step"] > n]


def test_keep_checkpoints_rotates_and_last_is_newest(tmp_path):
    cfg = load_config(
        "ring8",
        overrides=[
            "train.steps=10",
            "train.checkpoint_every=2",
            "train.keep_checkpoints=2",
            "train.batch_size=32",
            "train.eval_samples=100",
            *QUIET,
        ],
    )
    train(cfg, tmp_path / "r")
    ck = tmp_path / "r" / "checkpoints"
    assert sorted(p.name for p in ck.iterdir()) == ["last.pt", "step_000008.pt", "step_000010.pt"]
    assert load_checkpoint(ck / "last.pt")["step"] == 10


def test_resume_cli_extends_a_finished_run(tmp_path, capsys):
    out = tmp_path / "r"
    with pytest.raises(SystemExit) as e:
        main(
            [
                "train",
                "--preset",
                "ring8",
                "--set",
                "train.steps=4",
                "--set",
                "train.batch_size=32",
                "--set",
                "train.eval_samples=100",
                "--set",
                "train.progress=false",
                "--out",
                str(out),
            ]
        )
    assert e.value.code == 0
    with pytest.raises(SystemExit) as e:
        main(["resume", str(out)])
    assert e.value.code == 2 and "already finished 4 steps" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["resume", str(out), "--steps", "6"])
    assert e.value.code == 0
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 6
    assert "steps: 6" in (out / "config.yaml").read_text()


def test_non_finite_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "r"
    cfg = load_config(
        "ring8",
        overrides=[
            "train.steps=30",
            "train.checkpoint_every=5",
            "train.batch_size=32",
            "train.eval_samples=100",
            *QUIET,
        ],
    )

    poison = _nan_in_g_after(7)

    with pytest.raises(Diverged, match="training diverged at step 8: loss/[dg] is not finite"):
        train(cfg, out, callback=poison)
    good = load_checkpoint(out / "checkpoints" / "last.pt")
    assert good["step"] == 5 and all(torch.isfinite(v).all() for v in good["G"].values())


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch BOOM_RAN",))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "r"
    train(
        load_config(
            "ring8",
            overrides=["train.steps=4", "train.batch_size=32", "train.eval_samples=100", "train.ema_kimg=0", *QUIET],
        ),
        out,
    )
    return out


def _cli(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    return e.value.code, err


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(finished, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    last = finished / "checkpoints" / "last.pt"
    good = last.read_bytes()
    try:
        with open(last, "wb") as f:
            pickle.dump({"G": _Boom(), "config": {}}, f)
        for cmd in (["resume", str(finished), "--steps", "8"], ["sample", str(finished), "--out", "x.npy"]):
            code, err = _cli(cmd, capsys)
            assert code == 2 and "cannot load checkpoint" in err and len(err.strip().splitlines()) == 1
        torch.save({"G": {}, "config": {}, "evil": _Boom()}, last)  # the same inside a torch zip file
        code, err = _cli(["sample", str(finished), "--out", "x.npy"], capsys)
        assert code == 2 and "cannot load checkpoint" in err
        assert not (tmp_path / "BOOM_RAN").exists()
    finally:
        last.write_bytes(good)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_checkpoints_are_one_line(finished, damage, capsys):
    last = finished / "checkpoints" / "last.pt"
    good = last.read_bytes()
    try:
        last.write_bytes({"truncated": good[: len(good) // 2], "garbage": os.urandom(500), "empty": b""}[damage])
        code, err = _cli(["resume", str(finished), "--steps", "8"], capsys)
        assert (
            code == 2 and err.startswith("gankit: error: cannot load checkpoint") and len(err.strip().splitlines()) == 1
        )
    finally:
        last.write_bytes(good)


def test_a_checkpoint_of_another_config_is_refused(finished, tmp_path, capsys):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(finished, other)
    before = (other / "config.yaml").read_text()
    text = before.replace("g_hidden: 128", "g_hidden: 64")
    assert text != before
    (other / "config.yaml").write_text(text)
    code, err = _cli(["resume", str(other), "--steps", "8"], capsys)
    assert code == 2 and "model.g_hidden" in err and len(err.strip().splitlines()) == 1


def test_a_failed_write_stops_training_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "r"
    cfg = load_config(
        "ring8",
        overrides=[
            "train.steps=10",
            "train.checkpoint_every=4",
            "train.batch_size=32",
            "train.eval_samples=100",
            *QUIET,
        ],
    )
    real_save = torch.save

    def full_disk(obj, f, *a, **k):
        if obj.get("step", 0) >= 8:
            raise OSError(28, "No space left on device")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(GankitError, match="cannot write checkpoint .*No space left on device"):
        train(cfg, out)
    monkeypatch.setattr(torch, "save", real_save)
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 4
    assert not list((out / "checkpoints").glob(".*.tmp"))


def _gankit(*args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "gankit", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


HANG = 600  # seconds: only a hung process takes this long (a limit for the wait, not a speed check)


def _wait_for_training(p, metrics):
    """Wait until ``p`` has logged a step (or exited); fail if neither happens within HANG seconds."""
    deadline = time.monotonic() + HANG
    while p.poll() is None and not (metrics.is_file() and metrics.stat().st_size > 0):
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.02)


def test_sigterm_stops_cleanly_and_resumes_exactly(tmp_path):
    args = [
        "--preset",
        "ring8",
        "--set",
        "train.steps=300",
        "--set",
        "train.batch_size=16",
        "--set",
        "model.g_hidden=32",
        "--set",
        "model.d_hidden=32",
        "--set",
        "train.checkpoint_every=0",
        "--set",
        "train.log_every=1",
        "--set",
        "train.eval_every=0",
        "--set",
        "train.eval_samples=100",
        "--set",
        "train.progress=false",
        "--set",
        "train.tensorboard=false",
    ]
    ref = _gankit("train", *args, "--out", str(tmp_path / "ref"))
    p = _gankit("train", *args, "--out", str(tmp_path / "r"))
    _wait_for_training(p, tmp_path / "r" / "metrics.jsonl")
    assert p.poll() is None, p.stderr.read()
    p.send_signal(signal.SIGTERM)
    assert p.wait(HANG) == 128 + signal.SIGTERM and "gankit resume" in p.stderr.read()
    stopped = load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")["step"]
    assert 0 < stopped < 300
    assert _gankit("resume", str(tmp_path / "r")).wait(HANG) == 0 and ref.wait(HANG) == 0
    a = load_checkpoint(tmp_path / "ref" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")
    _assert_identical({"G": a["G"], "D": a["D"]}, {"G": b["G"], "D": b["D"]})


def test_sigkill_at_random_moments_never_loses_more_than_one_interval(tmp_path):
    """20 kills with SIGKILL at random moments across 4 runs (5 each), every one resumed; each run
    finishes bit-identical to an uninterrupted one; every checkpoint on disk loads at every moment."""
    every, steps = 5, 120
    args = [
        "--preset",
        "ring8",
        "--set",
        f"train.steps={steps}",
        "--set",
        "train.batch_size=16",
        "--set",
        "model.g_hidden=32",
        "--set",
        "model.d_hidden=32",
        "--set",
        f"train.checkpoint_every={every}",
        "--set",
        "train.keep_checkpoints=2",
        "--set",
        "train.log_every=1",
        "--set",
        "train.eval_every=0",
        "--set",
        "train.eval_samples=50",
        "--set",
        "train.sample_every=0",
        "--set",
        "train.progress=false",
        "--set",
        "train.tensorboard=false",
    ]
    rng = random.Random(0)
    ref = tmp_path / "ref"
    assert _gankit("train", *args, "--out", str(ref)).wait(300) == 0
    final = load_checkpoint(ref / "checkpoints" / "last.pt")
    kills = 0
    for r in range(4):
        run = tmp_path / f"run{r}"
        cmd = ["train", *args, "--out", str(run)]
        for _ in range(5):
            p = _gankit(*cmd)
            metrics = run / "metrics.jsonl"
            _wait_for_training(p, metrics)
            time.sleep(rng.uniform(0.0, 1.0))  # a random moment of training (or of a checkpoint write)
            p.kill()
            p.wait()
            kills += 1
            rows = read_jsonl(metrics, torn_ok=True)
            reached = max((row["step"] for row in rows), default=0)
            for f in (run / "checkpoints").glob("*.pt"):  # no checkpoint file is ever unreadable
                load_checkpoint(f)
            saved = (
                load_checkpoint(run / "checkpoints" / "last.pt")["step"]
                if (run / "checkpoints" / "last.pt").exists()
                else 0
            )
            assert reached - saved <= every, f"lost {reached - saved} steps"
            if saved == 0:  # killed before the first checkpoint: start the run again
                import shutil

                shutil.rmtree(run)
                cmd = ["train", *args, "--out", str(run)]
            elif saved == steps:
                break
            else:
                cmd = ["resume", str(run)]
        if (
            not (run / "checkpoints" / "last.pt").exists()
            or load_checkpoint(run / "checkpoints" / "last.pt")["step"] < steps
        ):
            assert _gankit(*cmd).wait(300) == 0
        done = load_checkpoint(run / "checkpoints" / "last.pt")
        assert done["step"] == steps
        _assert_identical({"G": final["G"], "D": final["D"]}, {"G": done["G"], "D": done["D"]})
    assert kills >= 16  # a run that finished before its fifth kill ends its series early


def test_a_dataset_of_another_shape_is_refused_on_resume(tmp_path, capsys):
    from PIL import Image

    def folder(size):
        root = tmp_path / f"imgs{size}"
        for c in ("a", "b"):
            (root / c).mkdir(parents=True)
            for i in range(4):
                Image.fromarray(torch.randint(0, 256, (size, size), dtype=torch.uint8).numpy()).save(
                    root / c / f"{i}.png"
                )
        return root

    small = folder(8)
    out = tmp_path / "r"
    code, err = _cli(
        [
            "train",
            "--preset",
            "digits",
            "--set",
            "data.name=imagefolder",
            "--set",
            f"data.root={small}",
            "--set",
            "data.resolution=null",
            "--set",
            "train.steps=2",
            "--set",
            "train.batch_size=4",
            "--set",
            "train.eval_features=",
            "--set",
            "train.progress=false",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    import shutil

    shutil.rmtree(small)
    shutil.copytree(folder(16), small)  # the same folder now holds 16×16 images
    code, err = _cli(["resume", str(out), "--steps", "4"], capsys)
    assert code == 2 and "was trained on data of shape [1, 8, 8]" in err and len(err.strip().splitlines()) == 1


def test_a_second_signal_stops_at_once():
    from gankit.training import StopSignals

    # a known starting handler: a background job (CI) may inherit SIGINT as ignored
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with StopSignals(active=True) as stops:
            os.kill(os.getpid(), signal.SIGINT)
            assert stops.received == signal.SIGINT  # the first only asks for a clean stop
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored
    finally:
        signal.signal(signal.SIGINT, outer)


# --- one process per run directory; resume overrides; what a failure leaves ---------------------------

SMALL = [
    "--set",
    "train.batch_size=16",
    "--set",
    "model.g_hidden=16",
    "--set",
    "model.d_hidden=16",
    "--set",
    "train.eval_samples=50",
    "--set",
    "train.progress=false",
    "--set",
    "train.tensorboard=false",
]


def test_two_trainings_started_together_into_one_directory(tmp_path):
    out = tmp_path / "r"
    args = [
        "train",
        "--preset",
        "ring8",
        "--set",
        "train.steps=150",
        "--set",
        "train.log_every=1",
        *SMALL,
        "--out",
        str(out),
    ]
    procs = [_gankit(*args) for _ in range(2)]
    codes = [p.wait(HANG) for p in procs]
    errs = [p.stderr.read() for p in procs]
    assert sorted(codes) == [0, 2], errs
    loser = errs[codes.index(2)].strip().splitlines()
    assert len(loser) == 1 and ("in use by another gankit process" in loser[0] or "not empty" in loser[0])
    steps = [r["step"] for r in read_jsonl(out / "metrics.jsonl")]
    assert steps == list(range(1, 151))  # one writer: every step logged once


def test_a_run_in_use_is_refused_to_resume_and_to_train(finished, capsys):
    from gankit.files import RunLock

    before = (finished / "metrics.jsonl").read_text()
    with RunLock(finished):  # as a running `gankit train` or `gankit resume` holds it
        for args in (
            ["resume", str(finished), "--steps", "8"],
            ["train", "--preset", "ring8", "--set", "train.steps=2", "--out", str(finished)],
        ):
            code, err = _cli(args, capsys)
            assert code == 2 and len(err.strip().splitlines()) == 1
            assert "in use by another gankit process" in err or "not empty" in err
    assert (finished / "metrics.jsonl").read_text() == before


@pytest.mark.parametrize("schedule", ["constant", "linear"])
def test_resume_overrides_of_the_optimiser_take_effect(tmp_path, capsys, schedule):
    out = tmp_path / "r"
    code, err = _cli(
        [
            "train",
            "--preset",
            "ring8",
            "--set",
            "train.steps=4",
            "--set",
            f"train.lr_schedule={schedule}",
            *SMALL,
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    code, err = _cli(
        [
            "resume",
            str(out),
            "--steps",
            "8",
            "--set",
            "train.lr_g=0.001",
            "--set",
            "train.beta1=0.25",
            "--set",
            "train.lr_d=0.003",
        ],
        capsys,
    )
    assert code == 0, err
    state = load_checkpoint(out / "checkpoints" / "last.pt")
    factor = 1.0 if schedule == "constant" else 1 - 8 / 8  # LambdaLR after the 8th step of 8
    for opt, lr in (("opt_g", 1e-3), ("opt_d", 3e-3)):
        (group,) = state[opt]["param_groups"]
        assert group["lr"] == pytest.approx(lr * factor) and group["initial_lr"] == lr
        assert tuple(group["betas"]) == (0.25, 0.999)
    assert state["sched_g"]["base_lrs"] == [1e-3]
    cfg = read_config(out / "config.yaml")  # config.yaml describes what ran
    assert (cfg.train.lr_g, cfg.train.lr_d, cfg.train.beta1) == (1e-3, 3e-3, 0.25)


def test_resume_refuses_another_seed(finished, capsys):
    code, err = _cli(["resume", str(finished), "--steps", "8", "--set", "train.seed=7"], capsys)
    assert code == 2 and "train.seed cannot change on resume" in err and len(err.strip().splitlines()) == 1
    assert "seed: 0" in (finished / "config.yaml").read_text()


def test_divergence_before_the_first_checkpoint_names_no_checkpoint(tmp_path):
    cfg = load_config(
        "ring8",
        overrides=[
            "train.steps=30",
            "train.checkpoint_every=10",
            "train.batch_size=32",
            "train.eval_samples=100",
            *QUIET,
        ],
    )

    poison = _nan_in_g_after(2)

    with pytest.raises(Diverged, match="at step 3: .*; no checkpoint had been written yet$"):
        train(cfg, tmp_path / "r", callback=poison)
    assert not (tmp_path / "r" / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize(
    "failure",
    [MemoryError, lambda: OSError(28, "No space left on device"), lambda: GankitError("feature network broke")],
)
def test_a_failing_final_evaluation_never_costs_the_weights(tmp_path, monkeypatch, failure):
    import gankit.evaluate

    cfg = load_config(
        "ring8",
        overrides=[
            "train.steps=6",
            "train.checkpoint_every=4",
            "train.eval_every=0",
            "train.batch_size=32",
            "train.eval_samples=100",
            *QUIET,
        ],
    )

    def broken(*a, **k):
        raise failure()

    monkeypatch.setattr(gankit.evaluate, "evaluate_toy", broken)
    with pytest.raises(GankitError, match="at step 6; the checkpoint of step 6 is written") as e:
        train(cfg, tmp_path / "r")
    assert "\n" not in str(e.value)
    assert load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")["step"] == 6


@pytest.mark.parametrize("override", ["train.eval_samples=1000000000", "train.batch_size=1000000000"])
def test_impossible_sizes_are_refused_before_anything_is_written(tmp_path, capsys, override):
    out = tmp_path / "r"
    code, err = _cli(["train", "--preset", "ring8", "--set", override, "--out", str(out)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{override} needs about" in err and "of memory, more than the" in err
    assert not out.exists()


def test_a_run_resumes_only_on_its_own_data(tmp_path, capsys):
    from gankit.data import ImageData

    g = torch.Generator().manual_seed(0)
    mine = ImageData(
        torch.randint(0, 256, (40, 1, 16, 16), dtype=torch.uint8, generator=g),
        torch.randint(0, 10, (40,), generator=g),
        10,
        "mine",
    )
    cfg = load_config(
        "digits",
        overrides=[
            "train.steps=2",
            "train.batch_size=8",
            "train.eval_features=",
            "model.g_hidden=8",
            "model.d_hidden=8",
            *QUIET,
        ],
    )
    out = tmp_path / "r"
    train(cfg, out, data=mine)
    assert load_checkpoint(out / "checkpoints" / "last.pt")["data"]["name"] == "mine"
    code, err = _cli(["resume", str(out), "--steps", "4"], capsys)  # config.yaml says digits
    assert code == 2 and "was trained on other data ('mine', fingerprint" in err
    assert len(err.strip().splitlines()) == 1
    res = train(
        read_config(out / "config.yaml").model_copy(update={"train": cfg.train.model_copy(update={"steps": 4})}),
        out,
        resume=True,
        data=mine,
    )  # on its own data it goes on
    assert res.step == 4


def test_a_second_sigterm_stops_at_once_with_sigterms_code():
    from gankit.errors import StopNow
    from gankit.training import StopSignals

    outer = signal.getsignal(signal.SIGTERM)
    try:
        with StopSignals(active=True) as stops:
            os.kill(os.getpid(), signal.SIGTERM)
            assert stops.received == signal.SIGTERM
            with pytest.raises(StopNow) as e:
                os.kill(os.getpid(), signal.SIGTERM)
        assert e.value.signum == signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, outer)


@pytest.mark.parametrize("damage", ["moment shape", "moment nan", "step nan", "beta nan"])
def test_a_damaged_optimiser_state_is_refused_before_training(finished, tmp_path, capsys, damage):
    import shutil

    run = tmp_path / "r"
    shutil.copytree(finished, run)
    last = run / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    st = state["opt_d"]["state"][0]
    if damage == "moment shape":
        st["exp_avg"] = torch.zeros(3)
    elif damage == "moment nan":
        st["exp_avg_sq"] = st["exp_avg_sq"] * float("nan")
    elif damage == "step nan":
        st["step"] = torch.tensor(float("nan"))
    else:
        state["opt_g"]["param_groups"][0]["betas"] = (float("nan"), 0.999)
    torch.save(state, last)
    code, err = _cli(["resume", str(run), "--steps", "8"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"checkpoint {last}" in err
    assert load_checkpoint(last)["step"] == 4  # nothing written over it


def test_a_longer_resumed_run_follows_the_new_schedule_from_its_next_step(tmp_path):
    """Linear decay: the update after step s uses lr·(1 − s/steps). Resumed at step 3 with a new
    total of 6, step 4 must use lr·(1 − 3/6), as the 6-step run does, not the 3-step run's 0."""
    cfg = load_config(
        "ring8",
        overrides=["train.steps=3", "train.lr_schedule=linear", "train.batch_size=16", "train.eval_samples=50", *QUIET],
    )
    train(cfg, tmp_path / "r")
    six = cfg.model_copy(
        update={"train": cfg.train.model_copy(update={"steps": 6, "checkpoint_every": 1, "keep_checkpoints": 10})}
    )
    train(six, tmp_path / "r", resume=True)
    for step in (4, 5, 6):  # the rate a checkpoint holds is the one the next update will use
        state = load_checkpoint(tmp_path / "r" / "checkpoints" / f"step_{step:06d}.pt")
        assert state["opt_g"]["param_groups"][0]["lr"] == pytest.approx(cfg.train.lr_g * (1 - step / 6))


def test_steps_given_twice_on_resume_is_refused(finished, capsys):
    code, err = _cli(["resume", str(finished), "--steps", "8", "--set", "train.steps=7"], capsys)
    assert code == 2 and "give --steps or --set train.steps, not both" in err


def test_a_run_stopped_before_its_first_checkpoint_can_be_started_again(tmp_path, capsys):
    out = tmp_path / "r"
    cfg = load_config(
        "ring8",
        overrides=[
            "train.steps=30",
            "train.checkpoint_every=10",
            "train.batch_size=16",
            "train.eval_samples=50",
            "train.log_every=1",
            *QUIET,
        ],
    )

    poison = _nan_in_g_after(2)

    with pytest.raises(Diverged):
        train(cfg, out, callback=poison)
    assert (out / "config.yaml").is_file() and not (out / "checkpoints" / "last.pt").exists()
    code, err = _cli(["resume", str(out)], capsys)
    assert code == 2 and "has no checkpoint: it stopped before its first one" in err
    code, err = _cli(
        ["train", "--config", str(out / "config.yaml"), "--set", "train.steps=4", "--out", str(out)], capsys
    )
    assert code == 0, err
    assert "never reached its first checkpoint" in err
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl")] == list(range(1, 5))  # the old rows are gone


def test_an_ema_asked_for_on_resume_starts_from_g(finished, tmp_path, capsys):
    import shutil

    run = tmp_path / "r"
    shutil.copytree(finished, run)
    assert load_checkpoint(run / "checkpoints" / "last.pt")["G_ema"] is None
    code, err = _cli(["resume", str(run), "--steps", "5", "--set", "train.ema_kimg=1"], capsys)
    assert code == 0, err
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["ema_n"] == 1  # one update since the resume: a copy of G (AveragedModel's first update)
    assert all(torch.equal(state["G_ema"][k], state["G"][k]) for k in state["G"])


def test_a_stderr_that_cannot_be_written_does_not_stop_training(tmp_path):
    with open("/dev/full", "w") as full:
        sets = [
            "train.batch_size=16",
            "model.g_hidden=16",
            "model.d_hidden=16",
            "train.eval_samples=50",
            "train.steps=30",
            "train.progress=true",
        ]  # progress lines and the final summary all fail to write
        p = subprocess.run(
            [
                sys.executable,
                "-m",
                "gankit",
                "train",
                "--preset",
                "ring8",
                *(x for a in sets for x in ("--set", a)),
                "--out",
                str(tmp_path / "r"),
            ],
            stderr=full,
            stdout=subprocess.DEVNULL,
            timeout=HANG,
        )
    assert p.returncode == 0
    assert load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")["step"] == 30
