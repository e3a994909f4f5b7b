"""Experiment trackers beside metrics.jsonl and TensorBoard: Weights & Biases and MLflow, chosen by
``train.loggers`` and used only where their package is installed.

A tracker receives what the collector (:mod:`gankit.stats`) writes: every row of scalars with its step,
and the sample figures. Only the process that writes the run directory logs. The tracker's run id is kept
in ``RUN/loggers.json``, so that a resumed run continues the same tracker run; the steps a resume redoes
(those after its checkpoint, which the tracker may hold already) are not sent twice where the tracker
says how far it got.

* ``wandb``: ``wandb.init(project="gankit", dir=RUN, name=<run folder>, config=<resolved config>)``;
  online or offline as the user's environment says (``WANDB_MODE``).
* ``mlflow``: the tracking server of ``MLFLOW_TRACKING_URI``, else a file store in ``RUN/mlruns``;
  experiment ``gankit``, the flattened config as parameters, the scalars as metrics.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from .errors import GankitError, one_line
from .files import write_atomic
from .progress import note

__all__ = ["LOGGERS", "STATE_FILE", "Tracker", "installed", "require", "open_loggers", "flatten"]

LOGGERS = ("wandb", "mlflow")  # the valid names of train.loggers
STATE_FILE = "loggers.json"  # RUN/loggers.json: each tracker's run id
PROJECT = "gankit"  # the wandb project and the MLflow experiment
_INSTALL = {"wandb": "pip install wandb", "mlflow": "pip install mlflow"}
_MAX_PARAM = 6000  # MLflow refuses longer parameter values


def installed(package: str) -> bool:
    """Whether ``package`` can be imported (found, not imported: a tracker's import takes seconds)."""
    return importlib.util.find_spec(package) is not None


def require(names: list[str], run_dir: str | Path | None) -> None:
    """Refuse, in one line and before anything is built, trackers that cannot log: a package that is
    not installed (naming the pip command) or a run without a run directory to keep their ids in."""
    missing = [n for n in names if not installed(n)]
    if missing:
        raise GankitError(
            "; ".join(f"train.loggers asks for {n}, which is not installed: {_INSTALL[n]}" for n in missing)
        )
    if names and run_dir is None:
        raise GankitError(f"train.loggers ({', '.join(names)}) needs a run directory (--out)")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return one_line(text.splitlines()[0][:300] if text else e.__class__.__name__)


class Tracker:
    """One tracker's run. A failure while logging turns it off with one warning: metrics.jsonl and
    TensorBoard hold everything, and hours of training must not end for a tracker's sake."""

    name = ""
    state: dict[str, Any]  # what RUN/loggers.json keeps for a resume

    def __init__(self) -> None:
        self.broken = False
        self.state = {}

    def log(self, row: dict[str, float], step: int) -> None:
        """Send one row of scalars at ``step``."""
        self._guard(self._log, row, step)

    def image(self, tag: str, path: Path, step: int) -> None:
        """Send the picture at ``path`` (a PNG the run wrote) as ``tag`` at ``step``."""
        self._guard(self._image, tag, path, step)

    def close(self, failed: bool = False) -> None:
        """End the tracker's run, as failed if ``failed``."""
        self._guard(self._close, failed)
        self.broken = True  # closed: nothing more is sent

    def _guard(self, fn: Callable[..., None], *args: Any) -> None:
        if self.broken:
            return
        try:
            fn(*args)
        except Exception as e:
            self.broken = True
            note(
                f"gankit: warning: {self.name} logging stopped ({_first_line(e)}); metrics.jsonl and TensorBoard go on"
            )

    def _log(self, row: dict[str, float], step: int) -> None:
        raise NotImplementedError

    def _image(self, tag: str, path: Path, step: int) -> None:
        raise NotImplementedError

    def _close(self, failed: bool) -> None:
        raise NotImplementedError


class WandbTracker(Tracker):
    """A Weights & Biases run in ``RUN/wandb``, resumed by its id."""

    name = "wandb"

    def __init__(self, run_dir: Path, name: str, config: dict, run_id: str | None):
        super().__init__()
        import wandb

        run_id = run_id or uuid.uuid4().hex[:16]
        try:
            # reinit="create_new": a run of its own, which neither finishes nor is finished by the user's
            self.run = wandb.init(
                project=PROJECT,
                dir=str(run_dir),
                name=name,
                config=config,
                id=run_id,
                resume="allow",
                reinit="create_new",
            )
            # the step after the last one a resumed run holds (0 offline, where each resume is a file of its
            # own): wandb drops, with a warning, steps below it, which are those a resume redoes
            self.first = self.run.step
        except Exception as e:
            raise GankitError(
                f"wandb could not start ({_first_line(e)}); WANDB_MODE=offline logs without an account"
            ) from None
        self.state = {"id": run_id}

    def _log(self, row: dict[str, float], step: int) -> None:
        if step >= self.first:
            self.run.log(row, step=step)

    def _image(self, tag: str, path: Path, step: int) -> None:
        import wandb

        if step >= self.first:
            self.run.log({tag: wandb.Image(str(path))}, step=step)

    def _close(self, failed: bool) -> None:
        self.run.finish(exit_code=1 if failed else 0)


def flatten(config: dict, prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{"train.steps": 100, ...}``."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _metric_key(key: str) -> str:
    """``key`` with the characters MLflow refuses in a metric name replaced by ``_``."""
    return re.sub(r"[^\w\-. :/]", "_", key)


class MlflowTracker(Tracker):
    """An MLflow run of experiment ``gankit``, resumed by its id when the tracking URI is the same."""

    name = "mlflow"

    def __init__(self, run_dir: Path, name: str, config: dict, state: dict):
        super().__init__()
        from mlflow.tracking import MlflowClient

        given = os.environ.get("MLFLOW_TRACKING_URI") or None
        if given is None:  # MLflow 3 refuses its file store unless asked: it is what a run folder can hold
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            self.client = MlflowClient(tracking_uri=given or (run_dir / "mlruns").resolve().as_uri())
            old = state.get("run_id") if state.get("tracking_uri") == given else None
            done = self._resume(old) if isinstance(old, str) else None
            if done is None or not isinstance(old, str):
                exp = self.client.get_experiment_by_name(PROJECT)
                exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(PROJECT)
                old, done = self.client.create_run(exp_id, run_name=name).info.run_id, -1
            self.run_id: str = old
            self.done: int = done  # the last step the run holds: a resume's redone steps are not sent again
            self._params(flatten(config))
        except Exception as e:
            raise GankitError(f"mlflow could not start ({_first_line(e)})") from None
        self.state = {"run_id": self.run_id, "tracking_uri": given}

    def _resume(self, run_id: str) -> int | None:
        """The last step run ``run_id`` holds (-1: none), marked running again; None if the store has no
        such run (removed: a new one is started)."""
        try:
            data = self.client.get_run(run_id).data
        except Exception:
            return None
        done = max((m.step for k in data.metrics for m in self.client.get_metric_history(run_id, k)), default=-1)
        self.client.update_run(run_id, status="RUNNING")
        return done

    def _params(self, flat: dict[str, Any]) -> None:
        """Log the parameters the run lacks (MLflow refuses to change one: a resume with more
        train.steps keeps the first value)."""
        from mlflow.entities import Param

        have = self.client.get_run(self.run_id).data.params
        new = [Param(k, str(v)[:_MAX_PARAM]) for k, v in flat.items() if k not in have]
        for i in range(0, len(new), 100):  # MLflow takes at most 100 parameters a batch
            self.client.log_batch(self.run_id, params=new[i : i + 100])

    def _log(self, row: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        if step <= self.done:  # a resume redoes steps that this run holds already
            return
        now = int(time.time() * 1000)
        metrics = [Metric(_metric_key(k), float(v), now, step) for k, v in row.items()]
        for i in range(0, len(metrics), 1000):  # MLflow takes at most 1000 metrics a batch
            self.client.log_batch(self.run_id, metrics=metrics[i : i + 1000])

    def _image(self, tag: str, path: Path, step: int) -> None:
        if step > self.done:
            self.client.log_artifact(self.run_id, str(path), artifact_path=tag)

    def _close(self, failed: bool) -> None:
        self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")


def _read_state(path: Path) -> dict:
    """RUN/loggers.json, or ``{}`` where it is missing or damaged (the trackers then start new runs)."""
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def open_loggers(names: list[str], run_dir: Path, config: dict, resume: bool) -> list[Tracker]:
    """The trackers ``names`` of the run in ``run_dir`` (``config``: the resolved config, as plain data),
    continuing the tracker runs of RUN/loggers.json when ``resume``; their ids are written there. One
    GankitError line when one cannot start (the others are closed)."""
    if not names:
        return []
    require(names, run_dir)
    path = run_dir / STATE_FILE
    state = _read_state(path) if resume else {}
    name = run_dir.resolve().name
    trackers: list[Tracker] = []
    try:
        for n in names:
            old = state.get(n)
            old = old if isinstance(old, dict) else {}
            if n == "wandb":
                run_id = old.get("id")
                trackers.append(WandbTracker(run_dir, name, config, run_id if isinstance(run_id, str) else None))
            else:
                trackers.append(MlflowTracker(run_dir, name, config, old))
            state[n] = trackers[-1].state
        write_atomic(path, json.dumps(state, indent=1) + "\n")
    except BaseException:
        for t in trackers:
            t.close(failed=True)
        raise
    return trackers
