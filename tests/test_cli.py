import json
import subprocess
import sys

import numpy as np
import pytest

from gankit.cli import main
from gankit.stats import read_jsonl

FAST = [
    "--set",
    "train.steps=4",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.eval_every=2",
    "--set",
    "train.sample_every=2",
    "--set",
    "train.checkpoint_every=2",
    "--set",
    "train.log_every=1",
    "--set",
    "train.eval_samples=64",
    "--set",
    "train.progress=false",
]


def run(args, capsys):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        main(args)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ring8"
    with pytest.raises(SystemExit) as e:
        main(["train", "--preset", "ring8", *FAST, "--out", str(out)])
    assert e.value.code == 0
    return out


def test_train_writes_a_run_directory(run_dir):
    assert (run_dir / "config.yaml").is_file()
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all("loss/d" in r and "loss/g" in r for r in rows)
    assert "toy/modes" in rows[1] and "toy/jsd" in rows[3]
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == ["step_000002.png", "step_000004.png"]
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    assert any((run_dir / "tb").iterdir())


def test_sample_is_reproducible(run_dir, tmp_path, capsys):
    a, b, c = tmp_path / "a.npy", tmp_path / "b.npy", tmp_path / "c.npy"
    for f, seed in ((a, 1), (b, 1), (c, 2)):
        code, _, err = run(["sample", str(run_dir), "--n", "50", "--out", str(f), "--seed", str(seed)], capsys)
        assert code == 0, err
    x = np.load(a)
    assert x.shape == (50, 2) and x.dtype == np.float32
    assert np.array_equal(x, np.load(b)) and not np.array_equal(x, np.load(c))
    code, _, _ = run(["sample", str(run_dir), "--n", "200", "--out", str(tmp_path / "s.png")], capsys)
    assert code == 0 and (tmp_path / "s.png").stat().st_size > 1000


def test_dry_run_prints_resolved_config(capsys):
    code, out, _ = run(["train", "--preset", "grid25", "--set", "train.steps=5", "--dry-run"], capsys)
    assert code == 0
    assert "name: grid25" in out and "steps: 5" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["train", "--set", "train.stepz=1", "--dry-run"],
            "unknown config key train.stepz (did you mean train.steps?)",
        ),
        (["train", "--preset", "nope"], "unknown preset 'nope'"),
        (["train", "--config", "/nonexistent.yaml"], "config file not found"),
        (["train", "--preset", "ring8", "--config", "x.yaml"], "not both"),
        (["sample", "/nonexistent-run", "--out", "x.npy"], "run directory not found"),
        (["sample", ".", "--out", "x.txt"], "--out must end in .npy or .png"),
        (["sample", ".", "--n", "0", "--out", "x.npy"], "--n"),
        (["frobnicate"], "No such command"),
        (["train", "\n", "--dry-run"], "unexpected extra argument (\\n)"),  # a typed line break stays on the line
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    code, _, err = run(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error: ") and message in lines[0]


def test_train_never_overwrites_a_run(run_dir, capsys):
    before = (run_dir / "checkpoints" / "last.pt").read_bytes()
    code, _, err = run(["train", *FAST, "--out", str(run_dir)], capsys)
    assert code == 2 and "already exists" in err
    assert (run_dir / "checkpoints" / "last.pt").read_bytes() == before


def test_corrupt_checkpoint_is_one_line(run_dir, tmp_path, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(run_dir, bad)
    (bad / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")
    code, _, err = run(["sample", str(bad), "--out", str(tmp_path / "x.npy")], capsys)
    assert code == 2 and "cannot load checkpoint" in err and len(err.strip().splitlines()) == 1


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "gankit", "presets"], capture_output=True, text=True, check=True)
    assert "ring8" in out.stdout.split()


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    with pytest.raises(SystemExit) as e:
        main(
            [
                "train",
                "--set",
                "train.steps=2",
                "--set",
                "train.batch_size=8",
                "--set",
                "model.conditional=true",
                "--set",
                "train.sample_every=1",
                "--set",
                "train.progress=false",
                "--out",
                str(out),
            ]
        )
    assert e.value.code == 0
    return out


def test_default_train_is_digits_with_image_grids(digits_run):
    assert "name: digits" in (digits_run / "config.yaml").read_text()
    from PIL import Image

    grid = Image.open(digits_run / "samples" / "step_000002.png")
    assert grid.size[0] > 100  # 8×8 images of 16×16 pixels with padding


def test_sample_images(digits_run, tmp_path, capsys):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    for f in (a, b):
        code, _, err = run(
            ["sample", str(digits_run), "--n", "12", "--out", str(f), "--seed", "3", "--class", "7"], capsys
        )
        assert code == 0, err
    x = np.load(a)
    assert x.shape == (12, 1, 16, 16) and x.dtype == np.uint8 and np.array_equal(x, np.load(b))
    code, _, _ = run(
        ["sample", str(digits_run), "--n", "16", "--out", str(tmp_path / "g.png"), "--truncation", "1.0"], capsys
    )
    assert code == 0 and (tmp_path / "g.png").stat().st_size > 200
    code, _, err = run(["sample", str(digits_run), "--out", str(tmp_path / "x.npy"), "--class", "10"], capsys)
    assert code == 2 and "--class must be in 0..9" in err


def test_eval_reports_every_metric_with_its_floor_and_feature_network(digits_run, capsys):
    code, out, err = run(["eval", str(digits_run), "--n", "200", "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["features"] == "classifier" and "accuracy" in res["features_info"] and res["n"] == 200
    assert set(res["metrics"]) == {"fid", "kid", "is", "precision", "recall", "density", "coverage"}
    fid = res["metrics"]["fid"]
    assert 0 <= fid["floor"] < fid["value"]  # two real halves are closer than a 2-step generator
    assert json.loads((digits_run / "eval.json").read_text()) == res
    code, out, _ = run(["eval", str(digits_run), "--n", "200"], capsys)
    assert code == 0 and "floor" in out and "gankit classifier" in out
    # the same numbers during training: logged at the last step by the digits preset
    rows = [json.loads(line) for line in (digits_run / "metrics.jsonl").read_text().splitlines()]
    assert any("eval/classifier/fid" in r for r in rows)


def test_train_writes_a_report_and_report_compares_runs(run_dir, digits_run, tmp_path, capsys):
    assert (run_dir / "report.html").is_file() and (digits_run / "report.html").is_file()
    page = (digits_run / "report.html").read_text()
    assert "data:image/png;base64," in page and "http://" not in page and "https://" not in page
    out = tmp_path / "both.html"
    code, stdout, err = run(["report", str(run_dir), str(digits_run), "--out", str(out)], capsys)
    assert code == 0 and out.is_file(), err
    code, _, err = run(["report", str(tmp_path / "missing")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_eval_of_a_toy_run_uses_the_exact_density(run_dir, capsys):
    code, out, err = run(["eval", str(run_dir), "--n", "500", "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["features"] == "none" and {"jsd", "modes", "high_quality"} <= set(res["metrics"])
    assert 0 <= res["metrics"]["jsd"]["value"] <= np.log(2) + 1e-12


def test_eval_errors_are_one_line(digits_run, run_dir, tmp_path, capsys, monkeypatch):
    code, _, err = run(["eval", str(digits_run), "--features", "vgg"], capsys)
    assert code == 2 and "classifier, inception" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    code, _, err = run(["eval", str(digits_run), "--features", "inception"], capsys)
    assert code == 2 and "--inception-weights" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["eval", str(tmp_path / "none")], capsys)
    assert code == 2 and "run directory not found" in err


def test_class_needs_a_conditional_run(run_dir, tmp_path, capsys):
    code, _, err = run(["sample", str(run_dir), "--out", str(tmp_path / "x.npy"), "--class", "1"], capsys)
    assert code == 2 and "class-conditional" in err


def test_a_stop_by_a_second_signal_exits_with_that_signals_code(monkeypatch, capsys):
    import signal

    import gankit.training
    from gankit.errors import StopNow

    def stopped(*a, **k):
        raise StopNow(signal.SIGTERM)

    monkeypatch.setattr(gankit.training, "train", stopped)
    code, _, err = run(["train", "--preset", "ring8", "--dry-run"], capsys)
    assert code == 0  # a dry run never trains
    code, _, err = run(["train", "--preset", "ring8", "--out", "/tmp/never-written-by-this-test"], capsys)
    assert code == 128 + signal.SIGTERM and "SIGTERM" in err


def test_an_allocation_failure_is_one_line(monkeypatch, capsys, tmp_path):
    import gankit.training

    def oom(*a, **k):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: "
            "you tried to allocate 400000000000000 bytes.\nmore"
        )

    monkeypatch.setattr(gankit.training, "train", oom)
    code, _, err = run(["train", "--preset", "ring8", "--out", str(tmp_path / "r")], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("gankit: error: out of memory")
    assert "enforce" not in err


@pytest.mark.parametrize("args", [["--set", "model.g_hidden=10000000"], ["--set", "model.d_hidden=100000"]])
def test_networks_that_cannot_be_allocated_are_one_line(args, tmp_path, capsys):
    code, _, err = run(["train", "--preset", "ring8", *args, "--out", str(tmp_path / "r")], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and ("out of memory" in lines[0] or "of memory, more than" in lines[0])


def test_theory_refuses_an_unwritable_out_before_computing(tmp_path, capsys, monkeypatch):
    import gankit.theory

    def never(*a, **k):
        raise AssertionError("computed before checking --out")

    monkeypatch.setattr(gankit.theory, "run_claims", never)
    (tmp_path / "file").write_text("")
    code, _, err = run(["theory", "--out", str(tmp_path / "file" / "theory")], capsys)
    assert code == 2 and "cannot write in" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("seed", [str(2**64), "-1", "1e3"])
def test_sample_seeds_are_unsigned_64_bit(run_dir, tmp_path, capsys, seed):
    code, _, err = run(["sample", str(run_dir), "--out", str(tmp_path / "x.npy"), "--seed", seed], capsys)
    assert code == 2 and "--seed" in err and len(err.strip().splitlines()) == 1


def test_without_a_terminal_training_prints_plain_progress_lines(tmp_path):
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "gankit",
            "train",
            "--preset",
            "ring8",
            "--set",
            "train.steps=20",
            "--set",
            "train.batch_size=16",
            "--set",
            "train.eval_samples=50",
            "--set",
            "train.log_every=5",
            "--set",
            "model.g_hidden=16",
            "--set",
            "model.d_hidden=16",
            "--set",
            "train.eval_every=0",
            "--set",
            "train.sample_every=0",
            "--set",
            "train.tensorboard=false",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.startswith("train: step")]
    assert [line.split()[2] for line in lines] == [f"{s}/20" for s in range(2, 21, 2)]  # every tenth
    assert all("steps/s, ETA" in line and "loss/d" in line for line in lines[2:])
    assert "\r" not in p.stderr and "train: step" not in p.stdout  # no bar; stdout keeps the results
    assert p.stdout.startswith("run written to")


def test_a_run_writes_its_final_metrics_for_its_report(tmp_path, capsys):
    for preset, features in (("ring8", "none"), ("digits", "classifier")):
        out = tmp_path / preset
        sets = [a for a in FAST if a != "--set" and not a.startswith(("train.batch_size=", "train.sample_every="))]
        sets += ["train.batch_size=8", "model.g_hidden=8", "model.d_hidden=8", "train.sample_every=0"]
        code, _, err = run(
            ["train", "--preset", preset, *(x for a in sets for x in ("--set", a)), "--out", str(out)], capsys
        )
        assert code == 0, err
        final = json.loads((out / "eval.json").read_text())
        assert (final["n"], final["step"], final["features"]) == (64, 4, features)
        if preset == "ring8":
            assert final["metrics"]["jsd"]["floor"] is None  # exact densities: no floor to compare with
        else:
            assert final["metrics"]["fid"]["floor"] is not None and "accuracy" in final["features_info"]


@pytest.mark.parametrize("text", ["a\x00b", "a\x1b[31mred", "a\u2028b", "tab\there\rback"])
def test_control_characters_in_an_error_are_shown_escaped(capsys, text):
    for args in (
        ["sample", f"/nonexistent/{text}", "--out", "x.npy"],
        ["train", "--preset", "digits", "--set", "data.name=imagefolder", "--set", f"data.root=/no/{text}"],
    ):
        code, _, err = run(args, capsys)
        assert code == 2 and len(err.splitlines()) == 1
        assert all(c.isprintable() for c in err.rstrip("\n"))


def test_eval_of_a_toy_run_prints_undefined_values_and_takes_few_samples(run_dir, capsys):
    code, out, err = run(["eval", str(run_dir), "--n", "5"], capsys)
    assert code == 0, err
    assert "kl_uniform" in out and "5 samples" in out


# Run in a fresh interpreter: `args` is a list of argument lists for main(); the last line printed says
# whether torch was imported by then.
TORCH_FREE = """
import sys
from gankit.cli import main
for args in {runs!r}:
    try:
        main(args)
    except SystemExit as e:
        assert e.code in (0, None), (args, e.code)
print("torch" in sys.modules)
"""


def cli_without_torch(runs, cwd):
    """stdout lines of ``runs`` (argument lists) in a new interpreter; asserts it never imported torch."""
    out = subprocess.run(
        [sys.executable, "-c", TORCH_FREE.format(runs=runs)], capture_output=True, text=True, cwd=cwd, check=True
    ).stdout.splitlines()
    assert out[-1] == "False", "torch was imported"
    return out[:-1]


def shipped_presets():
    from importlib import resources

    return sorted(p.name[:-5] for p in resources.files("gankit.presets").iterdir() if p.name.endswith(".yaml"))


def test_help_presets_and_dry_runs_do_not_import_torch(tmp_path):
    """Commands that only read configs answer in a fraction of a second: torch (seconds to import) waits
    for the commands that train or sample. Every preset is validated, network and dataset names included."""
    assert "Usage: gankit" in "\n".join(cli_without_torch([["--help"]], tmp_path))
    assert cli_without_torch([["presets"]], tmp_path) == shipped_presets()
    out = cli_without_torch([["train", "--dry-run", "--preset", p] for p in shipped_presets()], tmp_path)
    assert sum(line.startswith("data:") for line in out) == len(shipped_presets())
    assert not (tmp_path / "runs").exists()


def test_version_is_the_packages(capsys):
    import gankit

    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"gankit, version {gankit.__version__}"
