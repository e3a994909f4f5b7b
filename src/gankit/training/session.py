"""A run you can drive one step at a time: :func:`start` builds it (or resumes it from its run
directory), :meth:`Session.step` trains, :meth:`Session.checkpoint` saves, :meth:`Session.close`
ends it. Each step does what a step of ``gankit train`` does at that step (statistics, evaluation,
sample figure, checkpoint on their periods), so driving a run, pausing it, checkpointing and resuming
it in the middle gives exactly the result of an uninterrupted :func:`gankit.training.train`.

    run = start(load_config("ring8"), "runs/ring8")
    run.step(100)                   # 100 steps
    run.stats["loss/d"], run.G_sample   # the latest statistics and networks
    run.checkpoint()                # or stop here and later: start(cfg, "runs/ring8", resume=True)
    result = run.close()
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from .. import distributed, loggers, stats
from ..build import build_run, data_spec, resolve_device
from ..checkpoint import LAST, load_checkpoint, remove_partial_writes, save_rotating
from ..config import Config, describe_ema, save_config
from ..data import ImageData, fingerprint
from ..distributions import GaussianMixture
from ..ema import ema_beta
from ..errors import Diverged, GankitError
from ..evaluate import TrainingEvaluation, training_evaluation
from ..fast import cuda_graphed, lr_to_tensors
from ..figures import sample_figure
from ..files import RunLock, write_atomic
from ..generate import generator_chunk, probe_generator
from ..memory import describe_error, is_out_of_memory
from ..progress import Progress, note
from ..sources import EVAL_SUBSET, StreamData
from .setup import FastPath, Optimisers, check_sizes, fast_path, lr_factor, make_parts
from .state import check_resumable, restore_training_state, training_state
from .step import StepParts, train_step

__all__ = ["Session", "start", "due", "TrainResult", "GRAPH_WARMUP"]

GRAPH_WARMUP = 3  # eager steps before the fast path records the step in a CUDA graph


@dataclass
class TrainResult:
    """What a finished run leaves in memory (the run directory holds the rest).

    ``G_ema`` is the EMA copy of G when ``train.ema_kimg`` > 0, else G itself; ``target`` is the toy
    target or the image dataset.
    """

    G: nn.Module
    D: nn.Module
    target: GaussianMixture | ImageData | StreamData
    config: Config
    stats: dict[str, float] = field(default_factory=dict)
    G_ema: nn.Module | None = None
    step: int = 0  # the last step done
    stopped: str | None = None  # why training stopped early: a signal's name or "stop_after"; None if finished


def due(step: int, every: int, last: int) -> bool:
    """Whether a periodic action runs after ``step``: every ``every`` steps (0 = never) and at the end."""
    return step == last or (every > 0 and step % every == 0)


def nonfinite(tensors: dict[str, Tensor]) -> str | None:
    """The name of the first tensor with a NaN or infinite entry, else None (one host sync)."""
    if not tensors:
        return None
    names = list(tensors)
    ok = torch.stack([torch.isfinite(v.detach()).all() for v in tensors.values()]).cpu()
    return next((n for n, good in zip(names, ok.tolist()) if not good), None)


def last_good(run: Path | None) -> str:
    """The end of a divergence message: where the last good checkpoint is, if there is one."""
    if run is None:
        return ""
    last = run / "checkpoints" / LAST
    return f"; the last good checkpoint is {last}" if last.is_file() else "; no checkpoint had been written yet"


@dataclass
class Session:
    """A run being trained; see the module's docstring. ``step_done`` is the last step done; ``stats``
    the latest logged statistics; ``G``, ``D`` the networks, ``G_sample`` the generator that samples
    (the EMA copy when the run keeps one)."""

    cfg: Config
    data: GaussianMixture | ImageData | StreamData
    parts: StepParts
    opts: Optimisers
    G_ema: AveragedModel | None
    run: Path | None  # the run directory, if any
    world: distributed.World
    device: torch.device
    shape: tuple[int, ...]
    num_classes: int
    fingerprint: str | None  # the image data's (a run resumes on its own data only); None for toy targets
    fast: FastPath
    eval_chunk: int = 0  # G's evaluation samples per forward pass (see gankit.generate.generator_chunk)
    evaluation: TrainingEvaluation | None = None
    step_done: int = 0
    ema_first: bool = False  # the next EMA update is the first: it copies G
    collector: stats.Collector | None = None
    progress: Progress | None = None
    closing: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    run_step: Callable[[], None] | None = None

    @property
    def G(self) -> nn.Module:
        return self.parts.G

    @property
    def D(self) -> nn.Module:
        return self.parts.D

    @property
    def G_sample(self) -> nn.Module:
        return self.G_ema.module if self.G_ema is not None else self.parts.G

    @property
    def stats(self) -> dict[str, float]:
        return dict(self.collector.last) if self.collector is not None else {}

    @property
    def out(self) -> Path | None:
        """Where this process writes: the run directory on rank 0 alone."""
        return self.run if self.world.main else None

    @property
    def finished(self) -> bool:
        return self.step_done >= self.cfg.train.steps

    def step(self, n: int = 1) -> int:
        """Train ``n`` more steps (fewer if the run ends first); the last step done."""
        for _ in range(n):
            if self.finished:
                break
            self.advance()
        return self.step_done

    def advance(self, stop: bool = False) -> bool:
        """One step with what follows it at that step (statistics, evaluation, figure, checkpoint).
        ``stop``: a stop was asked for here (it then writes a checkpoint). Returns whether the run stops
        after this step, agreed by all processes (a stop asked for in one stops them all)."""
        t, step = self.cfg.train, self.step_done + 1
        if self.G_ema is not None:  # the ramped EMA's weight for this step, outside any CUDA graph
            assert self.parts.ema_weight is not None  # made with G_ema
            self.parts.ema_weight.fill_(
                1.0 - ema_beta(step, t.batch_size * t.accumulate * self.world.size, t.ema_kimg, t.ema_rampup)
            )
        assert self.run_step is not None  # set by start()
        self.run_step()  # D steps, G step, EMA (see gankit.training.step)
        self.opts.sched_d.step()
        self.opts.sched_g.step()
        self.step_done = step
        evaluating = due(step, t.eval_every, t.steps) and self.evaluation is not None
        logging = due(step, t.log_every, t.steps) or evaluating
        stop = self.guard(step, stop, logging)
        self.periodic(step, evaluating, logging)
        if self.out is not None and (due(step, t.checkpoint_every, t.steps) or stop):
            self.checkpoint()
        assert self.progress is not None and self.collector is not None  # set by start()
        self.progress.step(step, {k: v for k, v in self.collector.last.items() if k.startswith("loss/")}, logging)
        return stop

    def guard(self, step: int, stop: bool, logging: bool) -> bool:
        """The divergence guard (every step on the CPU, where a host sync is free; at log steps and
        stops on a GPU) and the stop request, agreed by all processes in one collective."""
        check = self.device.type == "cpu" or logging or stop
        bad = nonfinite(self.parts.sums.current(("loss/d", "loss/g"))) if check else None
        if self.world.enabled:  # processes stop together or not at all
            any_bad, stop = distributed.any_flag(bad is not None, stop)
            bad = bad or ("a loss of another process" if any_bad else None)
        if bad is not None:
            when = "at" if self.device.type == "cpu" else "by"
            raise Diverged(f"training diverged {when} step {step}: {bad} is not finite{last_good(self.run)}")
        return stop

    def periodic(self, step: int, evaluating: bool, logging: bool) -> None:
        """Evaluation, logging and the sample figure after ``step``, on their periods; eval.json at the
        end. If one of them fails for want of memory or disk, the good weights are saved first."""
        t = self.cfg.train
        try:
            record = self.measure(step) if evaluating else None
            if logging:
                self.flush(step)
            if self.out is not None and due(step, t.sample_every, t.steps):
                self.figure(step)
        except Exception as e:
            if self.out is None or not (isinstance(e, (GankitError, OSError)) or is_out_of_memory(e)):
                raise
            self.checkpoint()
            raise GankitError(
                f"{describe_error(e)} (at step {step}; the checkpoint of step {step} is written, "
                f"continue with: gankit resume {self.run})"
            ) from None
        if record is not None and self.out is not None and step == t.steps:
            write_atomic(self.out / "eval.json", json.dumps(record, indent=1))  # the report's metric table

    def measure(self, step: int) -> dict | None:
        """Evaluate the sampling generator (and the raw G beside an EMA copy); log the values; the
        eval.json record on the main process."""
        assert self.evaluation is not None  # measured only when there is an evaluation
        logged, record = self.evaluation.measure(self.G_sample, self.G if self.G_ema is not None else None, step)
        for k, v in logged.items():
            stats.report(k, v)
        return record

    def flush(self, step: int) -> dict[str, float]:
        """Log the means of the statistics since the last flush (over processes under torchrun), with the
        learning rates of ``step``'s updates: from the schedule, on the host (nothing read from the device)."""
        for k, v in self.parts.sums.means().items():
            stats.report(k, v)
        t = self.cfg.train
        factor = lr_factor(t.lr_schedule, step - 1, t.steps)  # step s updates after s − 1 scheduler steps
        assert self.collector is not None  # set by start()
        return self.collector.flush(
            step,
            distributed.all_mean if self.world.enabled else None,
            given={"lr/g": t.lr_g * factor, "lr/d": t.lr_d * factor},  # as LambdaLR: base rate × factor
        )

    def figure(self, step: int) -> None:
        """The sample figure of ``step`` in RUN/samples, naming the generator that drew it."""
        cfg, who = self.cfg, describe_ema(self.cfg.train.ema_kimg, self.cfg.train.ema_rampup)
        toy = isinstance(self.data, GaussianMixture)
        title = f"{self.data.name}, {cfg.objective.name}, {who}, step {step}" if toy else f"{who}, step {step}"
        assert self.run is not None  # drawn only where this process writes (self.out, the run directory)
        path = self.run / "samples" / f"step_{step:06d}.png"
        sample_figure(
            path,
            self.G_sample,
            self.D,
            self.data,
            cfg.model.z_dim,
            self.num_classes,
            title,
            self.parts.objective.probabilistic,
        )
        assert self.collector is not None  # set by start()
        self.collector.image("samples", path, step)  # to TensorBoard and the trackers too

    def checkpoint(self) -> Path | None:
        """Write the checkpoint of the last step done (rank 0, with a run directory); refuse, with the
        divergence line, networks that are not finite: they never replace the last good checkpoint."""
        if self.out is None:
            return None
        step = self.step_done
        bad = nonfinite(
            {
                f"parameter {n}.{k}": v
                for n, net in (("G", self.G), ("D", self.D))
                for k, v in net.state_dict().items()
                if v.is_floating_point()
            }
        )
        if bad is not None:
            raise Diverged(f"training diverged at step {step}: {bad} is not finite{last_good(self.run)}")
        name = self.cfg.data.name if self.fingerprint is None else self.data.name
        state = training_state(
            step,
            self.G,
            self.D,
            self.G_ema,
            self.opts,
            self.cfg.model_dump(mode="json"),
            self.shape,
            self.num_classes,
            {"name": name, "fingerprint": self.fingerprint},
            self.parts.ada_p,
        )
        return save_rotating(state, self.out / "checkpoints", step, self.cfg.train.keep_checkpoints)

    def close(self, stopped: str | None = None) -> TrainResult:
        """End the session: a run stopped early logs its partial statistics; files and the run's lock
        are released. ``stopped``: why it stopped early (recorded in the result)."""
        try:
            # a stop between log steps logs the partial interval (at a log step it is logged already)
            if stopped is not None and self.collector is not None and self.collector.step != self.step_done:
                self.flush(self.step_done)
        finally:
            if self.progress is not None:
                self.progress.close()
            self.closing.close()
        last = dict(self.collector.last) if self.collector is not None else {}
        return TrainResult(
            self.G, self.D, self.data, self.cfg, last, self.G_sample, step=self.step_done, stopped=stopped
        )

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.closing.close()


def build_session(
    cfg: Config, run_dir: str | Path | None, data: Any, nets: tuple[nn.Module, nn.Module] | None = None
) -> Session:
    """The networks (``nets``: the user's G and D) , optimisers and step parts of ``cfg``, before any
    checkpoint is read or written. Every process builds from one seed: one G, one D everywhere."""
    t = cfg.train
    device, W = resolve_device(t.device), distributed.world()
    if W.enabled and device.type == "cuda":
        device = torch.device("cuda", W.local_rank)
    data, G, D = build_run(cfg, device, data, nets)
    shape, n_cls = data_spec(data, cfg)
    toy = isinstance(data, GaussianMixture)
    check_sizes(cfg, G, D, shape, evaluates=toy or bool(t.eval_features))
    # G's evaluation samples go through it in chunks whose activations fit a fixed budget (probed with one
    # forward pass on zeros in eval mode: no random draw, no state changed; before any compile)
    chunk = generator_chunk(probe_generator(G, cfg.model.z_dim, n_cls)[1]) if not toy and t.eval_features else 0
    fp = fast_path(cfg, toy, device, W)
    if fp.graphed and isinstance(data, StreamData):  # a graph would replay its first batch forever
        note("fast path: no CUDA graph for data read batch by batch (data.in_memory=false); steps run eagerly")
        fp = FastPath(fp.fast, False, fp.compiled)
    parts, opts, G_ema = make_parts(cfg, data, G, D, n_cls, device, W, fp)
    if fp.fast and W.main and t.progress:  # say which path runs: its numbers differ from fp32 in the last bits
        on = (
            ["bf16 autocast", "channels_last", "fused Adam"]
            + (["CUDA graph"] if fp.graphed else [])
            + (["torch.compile"] if fp.compiled else [])
        )
        note(f"fast path: {', '.join(on)} (train.fast=false: fp32 eager)")
    return Session(
        cfg,
        data,
        parts,
        opts,
        G_ema,
        Path(run_dir) if run_dir is not None else None,
        W,
        device,
        shape,
        n_cls,
        None
        if isinstance(data, GaussianMixture)
        else data.identity
        if isinstance(data, StreamData)
        else fingerprint(data),
        fp,
        chunk,
    )


def open_run_dir(s: Session, resume: bool) -> None:
    """Resume from RUN/checkpoints/last.pt (networks, EMA, optimisers, schedules, step, RNG), or lay
    out a new run directory; config.yaml is written either way (train.steps may have grown)."""
    run, t = s.run, s.cfg.train
    if not resume:
        if s.out is not None:
            assert run is not None  # s.out is the run directory
            (run / "samples").mkdir(parents=True, exist_ok=True)
            (run / "checkpoints").mkdir(exist_ok=True)
            save_config(s.cfg, run / "config.yaml")
        return
    if run is None:
        raise GankitError("resume needs the run directory")
    where = run / "checkpoints" / LAST
    if not where.exists() and (run / "config.yaml").is_file():
        raise GankitError(
            f"{run} has no checkpoint: it stopped before its first one; start it again with "
            f"gankit train --config {run / 'config.yaml'} --out {run}"
        )
    state = load_checkpoint(where)  # on the CPU: RNG states must stay there; load_state_dict moves the rest
    check_resumable(state, s.cfg.model_dump(mode="json"), s.shape, s.num_classes, where, s.fingerprint)
    if state["step"] >= t.steps:
        raise GankitError(f"{run} already finished {state['step']} steps; pass --steps with a larger total to go on")
    restore_training_state(state, s.G, s.D, s.G_ema, s.opts, t, where, s.parts.ada_p)
    s.step_done = state["step"]
    if s.out is not None:
        # after every check: a refused resume is one line, not this one and then the reason
        note(f"gankit: resuming {run} from {where} (step {s.step_done}) to step {t.steps}")
        remove_partial_writes(run / "checkpoints")
        stats.truncate_jsonl(run / "metrics.jsonl", s.step_done)
        save_config(s.cfg, run / "config.yaml")


def start(
    cfg: Config,
    run_dir: str | Path | None = None,
    resume: bool = False,
    data: Any = None,
    lock: bool = True,
    nets: tuple[nn.Module, nn.Module] | None = None,
) -> Session:
    """A session ready for its first step (or the step after its checkpoint, with ``resume``). With a
    run directory the main process holds its lock until :meth:`Session.close` (``lock=False``: the
    caller holds it, as :func:`gankit.training.train` does). ``data``: see :func:`gankit.build.user_data`;
    ``nets``: the user's (G, D) instead of ``model.name``'s."""
    W = distributed.init(use_cuda=resolve_device(cfg.train.device).type == "cuda")  # one process unless torchrun
    loggers.require(cfg.train.loggers, run_dir)  # a tracker that cannot log is refused before anything is built
    stack = contextlib.ExitStack()
    if lock and run_dir is not None and W.main:
        stack.enter_context(RunLock(run_dir))
    try:
        s = build_session(cfg, run_dir, data, nets)
        s.closing = stack
        open_run_dir(s, resume)
        t = cfg.train
        s.evaluation = training_evaluation(
            cfg, eval_data(s), s.num_classes, s.eval_chunk, s.device, W.main, log=lambda line: note(f"eval: {line}")
        )
        if isinstance(s.data, StreamData):  # from the checkpoint's draw on: batches as an uninterrupted run's
            start_stream(s, stack)
        if s.fast.graphed:  # after the schedulers are built and any checkpoint loaded (see lr_to_tensors)
            lr_to_tensors(s.opts.opt_g)
            lr_to_tensors(s.opts.opt_d)
        s.ema_first = s.G_ema is not None and int(s.G_ema.n_averaged) == 0  # known here: the step need not ask
        s.run_step = step_function(s)
        # the trackers log from the main process only; opened first, so that their start is not training time
        sinks = loggers.open_loggers(t.loggers, s.out, cfg.model_dump(mode="json"), resume) if s.out else []
        s.collector = stack.enter_context(
            stats.Collector(
                s.out,
                tensorboard=t.tensorboard and s.out is not None,
                start_step=s.step_done,
                images_per_step=t.batch_size * t.accumulate * t.d_steps * W.size,  # real images drawn a step
                sinks=sinks,
            )
        )
        s.progress = Progress(s.step_done, t.steps, enabled=t.progress and W.main)
        return s
    except BaseException:
        stack.close()
        raise


def eval_data(s: Session) -> Any:
    """The data the image metrics compare with: the dataset itself, or of streamed data a seeded subset
    held in memory (EVAL_SUBSET images), read only when the run measures anything."""
    if isinstance(s.data, StreamData) and s.cfg.train.eval_features:
        return s.data.subset(EVAL_SUBSET)
    return s.data


def start_stream(s: Session, stack: contextlib.ExitStack) -> None:
    """Give the step its batches from the streamed data's loader, starting at the draw after the
    checkpoint's (each step draws d_steps × accumulate batches); its workers stop with the session."""
    assert isinstance(s.data, StreamData)
    t, W = s.cfg.train, s.world
    rows = slice(W.rank * t.batch_size, (W.rank + 1) * t.batch_size)
    first = s.step_done * t.d_steps * t.accumulate
    s.parts.batches.stream = s.data.batches(t.batch_size * W.size, t.seed, first, rows, pin=s.device.type == "cuda")

    def stop() -> None:
        s.parts.batches.stream = None  # the loader's iterator, dropped: its worker processes exit

    stack.callback(stop)


def step_function(s: Session) -> Callable[[], None]:
    """The step the session runs: :func:`gankit.training.step.train_step` on its parts, replayed from a
    CUDA graph on the fast path (recorded after :data:`GRAPH_WARMUP` eager steps)."""

    def run_step() -> None:
        train_step(s.parts, s.ema_first)
        s.ema_first = False

    if s.fast.graphed:
        return cuda_graphed(run_step, warmup=GRAPH_WARMUP, notice=note)
    return run_step
