"""Loggers: every row of metrics.jsonl carries the learning rates and the time columns (wall time continued
by a resume); the sample figures go to TensorBoard as images; Weights & Biases (offline) and an MLflow file
store receive the rows with their steps, and a resume continues the same tracker run; a tracker that is
unknown, not installed or failing is one line."""

from __future__ import annotations

import json
import math
import os
import struct

import pytest
import torch

from gankit import loggers, stats
from gankit.cli import main
from gankit.config import load_config, read_config
from gankit.errors import GankitError
from gankit.stats import read_jsonl
from gankit.training import train
from gankit.training.setup import lr_factor

# a small ring8 run: 4 steps, a row every step, a figure every 2, checkpoints at 2 and 4
TINY = [
    "train.steps=4",
    "train.log_every=1",
    "train.sample_every=2",
    "train.checkpoint_every=2",
    "train.eval_every=0",
    "train.batch_size=16",
    "train.eval_samples=100",
    "model.g_hidden=8",
    "model.d_hidden=8",
    "train.progress=false",
    "train.tensorboard=false",
]


def _stop_and_resume(cfg, run):
    """Train ``cfg`` into ``run`` stopped after step 2, then resume it to the end."""
    assert train(cfg, run, stop_after=2).stopped == "stop_after"
    assert train(read_config(run / "config.yaml"), run, resume=True).step == cfg.train.steps


def _untimed(row: dict) -> dict:
    """A row without its time columns (which no two runs share)."""
    return {k: v for k, v in row.items() if not k.startswith("time/")}


def _numbers(row: dict) -> dict[str, float]:
    """The finite numbers of a metrics.jsonl row, its step left out."""
    return {k: v for k, v in row.items() if k != "step" and isinstance(v, float) and math.isfinite(v)}


# --- learning rates, time, sample grids in TensorBoard ----------------------------------------------------


def test_rows_carry_learning_rates_and_times_and_tensorboard_the_sample_grids(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    overrides = [*TINY, "train.tensorboard=true", "train.lr_schedule=linear", "train.d_steps=2"]
    cfg = load_config("ring8", overrides=overrides)
    run = tmp_path / "run"
    train(cfg, run, stop_after=2)
    before = read_jsonl(run / "metrics.jsonl")
    train(read_config(run / "config.yaml"), run, resume=True)
    rows = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and rows[:2] == before
    train(cfg, tmp_path / "once")  # uninterrupted: the same rows, to the last bit, but for the time columns
    assert [_untimed(r) for r in read_jsonl(tmp_path / "once" / "metrics.jsonl")] == [_untimed(r) for r in rows]

    # the learning rates each step's update used: LambdaLR's after step - 1 scheduler steps
    t = cfg.train
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=t.lr_g)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(t.lr_schedule, s, t.steps))
    for r in rows:
        assert r["lr/g"] == sched.get_last_lr()[0] and r["lr/d"] == t.lr_d * lr_factor("linear", r["step"] - 1, 4)
        opt.step()
        sched.step()
    assert rows[-1]["lr/g"] < rows[0]["lr/g"]

    # wall time grows, across the resume too; throughput is the interval's real images over its seconds
    walls = [r["time/wall_s"] for r in rows]
    assert 0 < walls[0] < walls[1] < walls[2] < walls[3]
    images = t.batch_size * t.d_steps  # real images a step (accumulate 1, one process)
    for prev, r in zip(rows, rows[1:]):
        if r["step"] != 3:  # the resumed run's first interval starts when it starts, not at the last row
            assert r["time/img_per_s"] == pytest.approx(images / (r["time/wall_s"] - prev["time/wall_s"]), rel=1e-9)
    assert rows[2]["time/img_per_s"] > 0

    events = EventAccumulator(str(run / "tb"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert events.Tags()["images"] == ["samples"]
    assert [e.step for e in events.Images("samples")] == [2, 4]  # the stopped run's and the resumed run's
    assert {"lr/g", "lr/d", "time/wall_s", "time/img_per_s", "loss/d"} <= set(events.Tags()["scalars"])
    assert [e.value for e in events.Scalars("lr/g")] == pytest.approx([r["lr/g"] for r in rows])


# --- Weights & Biases, offline -------------------------------------------------------------------------------


@pytest.fixture
def offline_wandb(monkeypatch, tmp_path):
    """wandb offline and quiet, nothing sent and nothing written outside the test's folder."""
    for key in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_DIR", "WANDB_RUN_ID", "WANDB_RESUME", "WANDB_NAME"):
        monkeypatch.delenv(key, raising=False)
    env = {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_CONSOLE": "off",
        "WANDB_DISABLE_CODE": "true",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_ERROR_REPORTING": "false",
        "WANDB_X_DISABLE_STATS": "true",
        "WANDB_X_DISABLE_META": "true",
        "WANDB_X_DISABLE_MACHINE_INFO": "true",
        "WANDB_X_SAVE_REQUIREMENTS": "false",
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def _wandb_records(path):
    """The records of a wandb run file (a LevelDB-style log of protobuf records after a 7-byte header)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, block, part = path.read_bytes(), 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, n, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if n == 0 and kind == 0:
            break
        part, pos = part + data[pos + 7 : pos + 7 + n], pos + 7 + n
        if kind in (1, 4):  # a whole record, or the last piece of one
            record = pb.Record()
            record.ParseFromString(part)
            yield record
            part = b""


def _wandb_history(path) -> dict[int, dict]:
    """{step: {key: value}} of the run file at ``path`` (the keys wandb adds, _step and the like, left out)."""
    out: dict[int, dict] = {}
    for r in _wandb_records(path):
        if r.WhichOneof("record_type") == "history":
            items = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
            out.setdefault(r.history.step.num, {}).update({k: v for k, v in items.items() if not k.startswith("_")})
    return out


def test_wandb_offline_receives_the_rows_and_samples_and_a_resume_continues_its_run(tmp_path, offline_wandb):
    import wandb

    cfg = load_config("ring8", overrides=[*TINY, "train.loggers=wandb"])
    run = tmp_path / "ring8-run"
    _stop_and_resume(cfg, run)
    wandb.teardown()  # wandb's service writes the run files in the background: let it finish them
    rows = read_jsonl(run / "metrics.jsonl")
    run_id = json.loads((run / loggers.STATE_FILE).read_text())["wandb"]["id"]
    parts = sorted((run / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(parts) == 2  # the stopped run and its resume: one wandb run id
    history: dict[int, dict] = {}
    for part, steps in zip(parts, ([1, 2], [3, 4])):
        path = part / f"run-{run_id}.wandb"
        seen = _wandb_history(path)
        assert sorted(seen) == steps
        history.update(seen)
        (meta,) = [r.run for r in _wandb_records(path) if r.WhichOneof("record_type") == "run"]
        assert (meta.run_id, meta.project, meta.display_name) == (run_id, "gankit", "ring8-run")
        config = {i.key: json.loads(i.value_json) for i in meta.config.update}
        assert config["train"]["steps"] == 4 and config["train"]["loggers"] == ["wandb"]
        assert [r.exit.exit_code for r in _wandb_records(path) if r.WhichOneof("record_type") == "exit"] == [0]
    for r in rows:  # the same scalars at the same steps
        got = history[r["step"]]
        assert {k: got[k] for k in _numbers(r)} == _numbers(r)
        assert {"lr/g", "lr/d", "time/wall_s"} <= got.keys()
    # the sample figures, as images (whose fields wandb stores as samples/<field>)
    assert [s for s in sorted(history) if history[s].get("samples/_type") == "image-file"] == [2, 4]


def test_a_tracker_that_cannot_start_is_one_line(tmp_path, offline_wandb, monkeypatch):
    import wandb

    def refuse(**kwargs):
        raise RuntimeError("api_key not configured (no-tty)\ncall wandb.login")

    monkeypatch.setattr(wandb, "init", refuse)
    with pytest.raises(GankitError) as e:
        loggers.open_loggers(["wandb"], tmp_path, {}, resume=False)
    assert (
        "\n" not in str(e.value) and "api_key not configured" in str(e.value) and "WANDB_MODE=offline" in str(e.value)
    )


# --- MLflow, a file store ------------------------------------------------------------------------------------


@pytest.fixture
def mlflow_env(monkeypatch):
    """No tracking server from the environment, no telemetry; MLFLOW_ALLOW_FILE_STORE as gankit sets it."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    before = os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
    yield
    os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
    if before is not None:
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = before


def test_mlflow_file_store_receives_rows_params_and_samples_and_a_resume_continues_its_run(tmp_path, mlflow_env):
    from mlflow.tracking import MlflowClient

    cfg = load_config("ring8", overrides=[*TINY, "train.loggers=mlflow"])
    run = tmp_path / "ring8-run"
    _stop_and_resume(cfg, run)
    rows = read_jsonl(run / "metrics.jsonl")
    state = json.loads((run / loggers.STATE_FILE).read_text())["mlflow"]
    client = MlflowClient(tracking_uri=(run / "mlruns").as_uri())
    got = client.get_run(state["run_id"])
    assert got.info.status == "FINISHED" and got.info.run_name == "ring8-run"
    assert client.get_experiment(got.info.experiment_id).name == "gankit"
    assert got.data.params["train.steps"] == "4" and got.data.params["objective.name"] == "nonsaturating"
    for key in ("loss/d", "lr/g", "time/wall_s"):  # each step once: the resume continued the same run
        history = [(m.step, m.value) for m in client.get_metric_history(state["run_id"], key)]
        assert sorted(history) == [(r["step"], r[key]) for r in rows], key
    assert set(got.data.metrics) >= set(_numbers(rows[-1]))
    names = sorted(a.path for a in client.list_artifacts(state["run_id"], "samples"))
    assert names == ["samples/step_000002.png", "samples/step_000004.png"]


def test_mlflow_logs_to_the_tracking_uri_of_the_environment(tmp_path, mlflow_env, monkeypatch):
    from mlflow.tracking import MlflowClient

    store = (tmp_path / "server").as_uri()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # the user's own file store stands in for a server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    cfg = load_config("ring8", overrides=[*TINY, "train.steps=1", "train.loggers=mlflow"])
    train(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "mlruns").exists()
    run_id = json.loads((tmp_path / "run" / loggers.STATE_FILE).read_text())["mlflow"]["run_id"]
    assert [m.step for m in MlflowClient(tracking_uri=store).get_metric_history(run_id, "loss/d")] == [1]


# --- names, packages, failures -------------------------------------------------------------------------------


def test_an_unknown_logger_is_one_line_naming_the_valid_ones():
    with pytest.raises(GankitError) as e:
        load_config("ring8", overrides=["train.loggers=[wandb, tensorbord]"])
    assert str(e.value) == "config train.loggers: unknown logger 'tensorbord'; valid: mlflow, wandb"
    with pytest.raises(GankitError, match="did you mean 'mlflow'"):
        load_config("ring8", overrides=["train.loggers=mlfow"])
    assert load_config("ring8", overrides=["train.loggers=mlflow,wandb,mlflow"]).train.loggers == ["mlflow", "wandb"]
    assert load_config("ring8").train.loggers == []


def test_a_logger_not_installed_is_one_line_before_training_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(loggers, "installed", lambda package: False)
    cfg = load_config("ring8", overrides=[*TINY, "train.loggers=wandb,mlflow"])
    with pytest.raises(GankitError) as e:
        train(cfg, tmp_path / "run")
    assert str(e.value) == (
        "train.loggers asks for wandb, which is not installed: pip install wandb; "
        "train.loggers asks for mlflow, which is not installed: pip install mlflow"
    )
    assert not (tmp_path / "run").exists()  # refused before anything was written
    with pytest.raises(SystemExit) as code:
        main(["train", "--preset", "ring8", "--set", "train.loggers=mlflow", "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code.value.code == 2 and len(err) == 1 and err[0].endswith("not installed: pip install mlflow")


def test_a_logger_needs_a_run_directory():
    cfg = load_config("ring8", overrides=[*TINY, "train.loggers=mlflow"])
    with pytest.raises(GankitError, match=r"^train.loggers \(mlflow\) needs a run directory"):
        train(cfg)


class _Failing(loggers.Tracker):
    name = "failing"

    def __init__(self):
        super().__init__()
        self.closed = []

    def _log(self, row, step):
        raise ConnectionError("tracking server down\nretry later")

    def _close(self, failed):
        self.closed.append(failed)


def test_a_failing_tracker_warns_once_and_the_metrics_go_on(tmp_path, capsys):
    tracker = _Failing()
    with stats.Collector(tmp_path, sinks=[tracker]) as c:
        for step in (1, 2):
            stats.report("loss/d", float(step))
            c.flush(step)
    warnings = capsys.readouterr().err.strip().splitlines()
    assert warnings == [
        "gankit: warning: failing logging stopped (tracking server down); metrics.jsonl and TensorBoard go on"
    ]
    assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2]
    assert tracker.closed == []  # broken: not called again, not even to close
