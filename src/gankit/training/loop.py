"""The training loop: Algorithm 1 of Goodfellow et al. (2014), as a list of named parts.

    for each step:
        k = train.d_steps times:  sample real x and noise z, update D on d_loss(D(x), D(G(z)))
                                   (+ gradient penalty, + R1, then weight clipping if any)
        once:                      sample noise z, update G on g_loss(D(x), D(G(z)))
        then: EMA of G, statistics, evaluation, sample figure, checkpoint, each on its own period.

The step is :mod:`gankit.training.step`; what is built before it, :mod:`gankit.training.setup`;
the checkpoint's contents, :mod:`gankit.training.state`; a run driven step by step,
:mod:`gankit.training.session`, of which :func:`train` is the uninterrupted case.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path
from typing import Any, Callable

from torch import nn

from .. import distributed
from ..build import resolve_device
from ..config import Config
from ..errors import StopNow
from ..files import LOCK_NAME, RunLock, check_new_run_dir, clear_unstarted_run
from ..progress import note
from .session import Session, TrainResult, start

__all__ = ["train", "TrainResult", "StopSignals"]


class StopSignals:
    """While active, SIGINT and SIGTERM only record that a stop was asked for: the loop finishes the
    step, writes a checkpoint and returns, so the run resumes exactly. A second signal stops at once
    (:class:`gankit.errors.StopNow`), leaving the last checkpoint written. Main thread only."""

    def __init__(self, active: bool):
        self.active = active and threading.current_thread() is threading.main_thread()
        self.received: int | None = None
        self._old: dict = {}

    def __enter__(self) -> "StopSignals":
        if self.active:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._record)
        return self

    def _record(self, signum, frame) -> None:
        if self.received is not None:  # asked twice: stop now, without the checkpoint (the last one stays)
            raise StopNow(signum)
        self.received = signum

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def train(
    cfg: Config,
    run_dir: str | Path | None = None,
    callback: Callable[[int, nn.Module, nn.Module], None] | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    data: Any = None,
    nets: tuple[nn.Module, nn.Module] | None = None,
) -> TrainResult:
    """Train a GAN as ``cfg`` says; write the run into ``run_dir`` when one is given.

    ``resume``: continue the run in ``run_dir`` from ``checkpoints/last.pt``: networks, EMA,
    optimisers, LR schedules, step and RNG states (hence data order and augmentation) restored, so
    that on the CPU the result is bit-identical to an uninterrupted run. ``stop_after``: stop
    cleanly (checkpoint written) after that step, as SIGINT/SIGTERM do. ``data``: train on this
    dataset or target instead of the one ``cfg.data`` names (images already in memory, a tensor, a
    Dataset or DataLoader: see :func:`gankit.build.user_data`); ``nets``: train the user's (G, D).
    ``callback(step, G, D)``, if given, is called after every step (0 included when not resuming),
    e.g. to take snapshots; it must not change the networks.

    The process that writes ``run_dir`` (rank 0 under torchrun) holds its lock (``RUN/.lock``) from
    start to end: a second process training or resuming the same directory gets one line.
    """
    W = distributed.init(use_cuda=resolve_device(cfg.train.device).type == "cuda")  # one process unless torchrun
    out = run_dir if W.main else None  # the run directory if this process writes it
    # SIGINT/SIGTERM are recorded from the start (a stop during set-up is honoured after step 1, with
    # a checkpoint), not only once the loop runs: a run stopped mid-set-up would hold no checkpoint
    lock = RunLock(out) if out is not None else contextlib.nullcontext()
    with lock, StopSignals(active=run_dir is not None) as signals:
        if out is not None and not resume:
            check_new_run_dir(out)  # under the lock: two runs started together cannot both pass
            if clear_unstarted_run(out):
                note(f"gankit: {out} held a run that never reached its first checkpoint; starting it again")
        try:
            with start(cfg, run_dir, resume, data, lock=False, nets=nets) as session:
                return run_to_end(session, callback, stop_after, signals)
        except BaseException:
            if out is not None and not resume:
                remove_if_unused(Path(out))
            raise


def run_to_end(
    session: Session,
    callback: Callable[[int, nn.Module, nn.Module], None] | None,
    stop_after: int | None,
    signals: StopSignals,
) -> TrainResult:
    """Step the session to ``train.steps``, or until a signal or ``stop_after`` stops it (with a
    checkpoint); ``callback(step, G, D)`` after each step, and at step 0 of a new run."""
    if callback is not None and session.step_done == 0:
        callback(0, session.G, session.D)
    while not session.finished:
        # --- one step and what follows it at this step (see Session.advance) -------------------
        stop = session.advance(stop=signals.received is not None or session.step_done + 1 == stop_after)
        if callback is not None:
            callback(session.step_done, session.G, session.D)
        # --- a requested stop: the checkpoint is written; say why --------------------------------
        if stop and not session.finished:
            why = (
                signal.Signals(signals.received).name
                if signals.received is not None
                else "stop_after"
                if session.step_done == stop_after
                else "SIGTERM"
            )  # else: another process's
            return session.close(stopped=why)
    return session.close()


def remove_if_unused(run: Path) -> None:
    """Remove a new run's folder that a failure left holding nothing but its lock (refused up front)."""
    if run.is_dir() and all(p.name == LOCK_NAME for p in run.iterdir()):
        (run / LOCK_NAME).unlink(missing_ok=True)
        run.rmdir()
