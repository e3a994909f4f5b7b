"""Pieces of the GPU fast path that the training loop composes.

On a GPU a GAN step is a few hundred small kernels; launched one by one from Python, with the host
waiting on a loss now and then, the chip idles between them. The fast path therefore (a) keeps the
whole step free of host synchronisation, (b) records it once in a CUDA graph and replays that graph
each step (one launch instead of hundreds), which needs every tensor the step touches to keep its
address: data on the device, optimiser state and learning rates as device tensors, statistics
summed in place. The helpers here are those parts; each works (eagerly) on the CPU too.
"""

from __future__ import annotations

import warnings
from typing import Callable

import torch

from .errors import GankitError

__all__ = ["cuda_graphed", "lr_to_tensors", "lr_to_floats", "load_optimizer"]

# How an optimiser was built for this run (fused kernels, capturable state): a checkpoint's own
# flags must not replace them.
OPTIMIZER_FLAGS = ("fused", "capturable", "foreach", "differentiable")


def lr_to_tensors(opt: torch.optim.Optimizer) -> None:
    """Learning rates as device tensors: a captured optimiser step reads the rate from memory, so a
    schedule (which ``fill_``s a tensor rate in place) reaches the replays.

    Call it after the schedulers are built (or loaded): their base rates (``initial_lr``) stay
    floats, so a scheduler step is a fill with a Python number, not a host sync.
    """
    for g in opt.param_groups:
        if not torch.is_tensor(g["lr"]):
            g["lr"] = torch.tensor(float(g["lr"]), device=g["params"][0].device)


def lr_to_floats(state: dict) -> dict:
    """An optimiser or scheduler ``state_dict`` with tensor learning rates as floats, so a checkpoint
    written on the fast path loads into an eager run (and the other way round)."""

    def plain(v):
        if torch.is_tensor(v) and v.numel() == 1:
            return float(v)
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    out = dict(state)
    if "param_groups" in out:  # an optimiser
        out["param_groups"] = [
            {k: plain(v) if k in ("lr", "initial_lr") else v for k, v in g.items()} for g in out["param_groups"]
        ]
    for key in ("base_lrs", "_last_lr"):  # a scheduler
        if key in out:
            out[key] = plain(out[key])
    return out


def load_optimizer(opt: torch.optim.Optimizer, state: dict) -> None:
    """``opt.load_state_dict(state)`` keeping ``opt``'s own implementation flags (``OPTIMIZER_FLAGS``).

    ``Optimizer.load_state_dict`` takes the saved parameter groups whole, so a checkpoint written by
    an eager run would turn a fast run's fused, capturable Adam back into the plain one (which
    cannot be captured), and the other way round.
    """
    groups = [
        dict(saved, **{k: own[k] for k in OPTIMIZER_FLAGS if k in own})
        for saved, own in zip(state["param_groups"], opt.param_groups)
    ]
    opt.load_state_dict({**state, "param_groups": groups})


def cuda_graphed(fn: Callable[[], None], warmup: int = 3, notice: Callable[[str], None] = print) -> Callable[[], None]:
    """``fn`` (no arguments, no host syncs, every tensor it reads kept in place) as a callable that
    runs it eagerly for ``warmup`` calls on a side stream (cuDNN picks its kernels, the allocator
    settles, optimiser state exists), then records the next call in a CUDA graph and from then on
    replays it. Recording does not run the work, so the recorded call is replayed at once.

    If recording fails, ``notice`` gets one line saying why and ``fn`` goes on eagerly; if the
    failure left CUDA unusable (a capture invalidated inside the driver), a GankitError says to set
    ``train.cuda_graph=false``.
    """
    graph: torch.cuda.CUDAGraph | None = None
    calls = 0
    failed = False
    side = torch.cuda.Stream()

    def run() -> None:
        nonlocal graph, calls, failed
        if graph is not None:
            graph.replay()
            return
        if failed:
            fn()
            return
        main = torch.cuda.current_stream()
        if calls < warmup:  # the warm-up calls are real steps, on a side stream as capture wants
            calls += 1
            side.wait_stream(main)
            with torch.cuda.stream(side), warnings.catch_warnings():
                # capturable Adam warns when it steps outside a capture: here that is intended
                warnings.filterwarnings("ignore", message=".*capturable=True.*")
                fn()
            main.wait_stream(side)
            return
        g = torch.cuda.CUDAGraph()
        side.wait_stream(main)
        try:
            with torch.cuda.graph(g, stream=side):  # the warm-up stream: autograd's streams stay consistent
                fn()
        except Exception as e:  # an op that cannot be captured: say so once, stay eager
            failed = True
            while e.__context__ is not None:  # capture_end's "previous error" hides the op that failed
                e = e.__context__  # type: ignore[assignment]
            first = f"{type(e).__name__}: " + (str(e).strip().splitlines() or [""])[0][:160]
            torch.cuda.set_stream(main)  # a failed capture_end leaves the capture stream current
            try:  # did the failure leave CUDA (or its random generator) in a capturing state?
                torch.randn(1, device=main.device)
                torch.cuda.synchronize()
            except Exception:
                raise GankitError(
                    f"the training step could not be captured in a CUDA graph ({first}); set train.cuda_graph=false"
                ) from None
            notice(f"fast path: the step could not be captured in a CUDA graph ({first}); running it eagerly")
            fn()
            return
        main.wait_stream(side)
        graph = g
        graph.replay()

    return run
