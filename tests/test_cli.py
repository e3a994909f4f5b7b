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
        # two checkpoints kept: a step checkpoint beside last.pt for the commands that take one
        main(["train", "--preset", "ring8", *FAST, "--set", "train.keep_checkpoints=2", "--out", str(out)])
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
    assert [line.split()[0] for line in cli_without_torch([["presets"]], tmp_path)] == shipped_presets()
    out = cli_without_torch([["train", "--dry-run", "--preset", p] for p in shipped_presets()], tmp_path)
    assert sum(line.startswith("data:") for line in out) == len(shipped_presets())
    assert not (tmp_path / "runs").exists()


def test_version_is_the_packages(capsys):
    import gankit

    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"gankit, version {gankit.__version__}"


def test_version_also_answers_to_dash_capital_v(capsys):
    code, out, _ = run(["-V"], capsys)
    assert code == 0 and out == run(["--version"], capsys)[1]


def test_presets_say_in_one_line_what_each_trains(capsys):
    code, out, _ = run(["presets"], capsys)
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert code == 0 and sorted(lines) == shipped_presets()
    assert all(10 < len(d) <= 102 and "\n" not in d for d in lines.values())
    assert lines["ring8"] == "8 modes on a circle of radius 2, σ = 0.02 (the VEEGAN/PacGAN benchmark)"
    assert lines["mnist-dcgan"].startswith("DCGAN (Radford et al. 2016) on MNIST")  # "al." ends no sentence


def test_sample_takes_a_checkpoint_file_in_place_of_the_run(run_dir, tmp_path, capsys):
    ckpts = run_dir / "checkpoints"
    drawn = {}
    for name, source in (("run", run_dir), ("last", ckpts / "last.pt"), ("step2", ckpts / "step_000002.pt")):
        out = tmp_path / f"{name}.npy"
        code, _, err = run(["sample", str(source), "--n", "20", "--seed", "5", "--out", str(out)], capsys)
        assert code == 0, err
        drawn[name] = np.load(out)
    assert np.array_equal(drawn["run"], drawn["last"])
    assert not np.array_equal(drawn["run"], drawn["step2"])  # step 2's G, not the last one
    code, _, err = run(["sample", str(ckpts / "step_000003.pt"), "--out", str(tmp_path / "x.npy")], capsys)
    assert code == 2 and "checkpoint not found" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "loose.pt").write_bytes((ckpts / "last.pt").read_bytes())
    code, _, err = run(["sample", str(tmp_path / "loose.pt"), "--out", str(tmp_path / "x.npy")], capsys)
    assert code == 2 and "RUN/checkpoints/NAME.pt beside RUN/config.yaml" in err and len(err.strip().splitlines()) == 1


def _runs_table(folder, capsys):
    code, out, err = run(["runs", str(folder)], capsys)
    assert code == 0 and not err, err
    head, *rows = out.splitlines()
    assert head.split()[:2] == ["run", "preset"]
    return {row.split()[0]: row for row in rows}


def test_runs_lists_finished_stopped_running_and_broken_runs(run_dir, tmp_path, capsys):
    import re
    import shutil

    from gankit.files import RunLock

    folder = tmp_path / "runs"
    shutil.copytree(run_dir, folder / "done")
    shutil.copytree(run_dir, folder / "longer")  # its config now asks for more steps than were run
    cfg = folder / "longer" / "config.yaml"
    cfg.write_text(re.sub(r"^  steps: 4$", "  steps: 10", cfg.read_text(), flags=re.M))
    with open(folder / "longer" / "metrics.jsonl", "a") as f:  # the wall time as training records it
        f.write(json.dumps({"step": 4, "time/wall_s": 3725.0}) + "\n")
    (folder / "broken").mkdir()
    (folder / "broken" / "config.yaml").write_text("train: {steps: [}\n")
    (folder / "unstarted" / "checkpoints").mkdir(parents=True)
    shutil.copy(run_dir / "config.yaml", folder / "unstarted")
    (folder / "theory").mkdir()  # no run: left out
    (folder / "theory" / "claims.json").write_text("[]")
    (folder / "notes.txt").write_text("")
    rows = _runs_table(folder, capsys)
    assert sorted(rows) == ["broken", "done", "longer", "unstarted"]
    done = rows["done"].split()
    assert done[1:4] == ["ring8", "4/4", "finished"] and "modes" in rows["done"] and "jsd" in rows["done"]
    assert re.search(r"\b20\d\d-\d\d-\d\d \d\d:\d\d\b", rows["done"]) and re.search(r"\b\d+m\d\ds$", rows["done"])
    assert rows["longer"].split()[2:4] == ["4/10", "stopped"] and rows["longer"].endswith(" 1h02m")
    assert "broken (unreadable config.yaml)" in rows["broken"]
    assert rows["unstarted"].split()[2:5] == ["–/4", "no", "checkpoint"]
    with RunLock(folder / "longer"):  # as a training or resuming process holds it
        assert _runs_table(folder, capsys)["longer"].split()[3] == "running"
    assert list(_runs_table(folder / "done", capsys)) == ["done"]  # a run directory lists itself


def test_runs_of_an_empty_or_missing_folder(tmp_path, capsys):
    code, out, _ = run(["runs", str(tmp_path)], capsys)
    assert code == 0 and out.strip() == f"no runs in {tmp_path}"
    code, _, err = run(["runs", str(tmp_path / "none")], capsys)
    assert code == 2 and "folder not found" in err and len(err.strip().splitlines()) == 1


def test_resume_says_where_it_resumes_from(run_dir, tmp_path, capsys):
    import shutil

    from gankit.runs import resume_point

    assert resume_point(run_dir) == (run_dir / "checkpoints" / "last.pt", 4)  # last.pt's hard link names it
    r = tmp_path / "r"
    shutil.copytree(run_dir, r)  # a copy holds no hard links: the newest step file then names it
    code, _, err = run(["resume", str(r), "--steps", "5"], capsys)
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0] == f"gankit: resuming {r} from {r / 'checkpoints' / 'last.pt'} (step 4) to step 5"
    assert read_jsonl(r / "metrics.jsonl")[-1]["step"] == 5
    code, _, err = run(["resume", str(r)], capsys)  # finished: no line on where, only why not
    assert code == 2 and len(err.strip().splitlines()) == 1 and "already finished 5 steps" in err


PLUGIN = """
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.registry import NETS


@NETS.register("tiny")
def tiny(model, data_shape, num_classes=0):
    c, h, w = data_shape
    G = DCGANGenerator(model.z_dim, c, h, model.g_hidden, num_classes, True)
    return G, DCGANDiscriminator(c, h, model.d_hidden, num_classes, False, True)
"""

PLUGIN_SESSION = """
import sys
from gankit.cli import main

def gankit(*args):
    try:
        main(list(args))
    except SystemExit as e:
        print("exit", e.code, flush=True)

gankit("sample", "r", "--out", "x.npy")  # the run needs its plugin: one line, before it is imported
for cmd in (
    ["sample", "r", "--out", "x.npy"],
    ["eval", "r", "--features", "classifier", "--n", "100", "--json"],
    ["export", "r", "--format", "safetensors"],
    ["resume", "r", "--steps", "4"],
    ["report", "r"],
    ["runs", "."],
):
    gankit(*cmd, "--import", "myplugin")
"""


def test_a_plugin_network_is_usable_by_every_command_with_import(tmp_path):
    """--import makes a plugin's network usable by train, sample, eval, export, resume, report and runs;
    the run records the module, and without --import a command names the flag it needs (never importing it)."""
    import subprocess

    (tmp_path / "myplugin.py").write_text(PLUGIN)
    train_args = [
        "train", "--import", "myplugin", "--out", "r", "--set", "model.name=tiny", "--set", "train.steps=3",
        "--set", "model.g_hidden=8", "--set", "model.d_hidden=8", "--set", "train.eval_features=none",
        "--set", "train.sample_every=0",
    ]  # fmt: skip
    script = "from gankit.cli import main\nimport sys\nmain(sys.argv[1:])"
    done = subprocess.run([sys.executable, "-c", script, *train_args], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "myplugin" in (tmp_path / "r" / "config.yaml").read_text()
    out = subprocess.run([sys.executable, "-c", PLUGIN_SESSION], cwd=tmp_path, capture_output=True, text=True)
    exits = [line for line in out.stdout.splitlines() if line.startswith("exit")]
    assert exits == ["exit 2"] + ["exit 0"] * 6, (out.stdout, out.stderr)
    first = out.stderr.splitlines()[0]
    assert first.startswith("gankit: error: config model.name: unknown network 'tiny'") and first.endswith(
        "this run was trained with --import myplugin: pass it to open the run"
    )
    assert (tmp_path / "x.npy").is_file() and (tmp_path / "r" / "export" / "generator.safetensors").is_file()


def test_a_plugin_that_fails_to_import_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('no luck')\n")
    code, _, err = run(["train", "--import", "broken_plugin", "--dry-run"], capsys)
    assert (
        code == 2
        and err.strip() == "gankit: error: --import broken_plugin: importing it failed (RuntimeError: no luck)"
    )
    code, _, err = run(["sample", "--import", "no_such_module_x", "r", "--out", "x.npy"], capsys)
    assert code == 2 and "ModuleNotFoundError" in err and len(err.strip().splitlines()) == 1
