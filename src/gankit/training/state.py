"""What a training checkpoint holds, written by :func:`training_state` and restored by
:func:`restore_training_state`: the one place its schema lives. File I/O, the format version and
its migration are :mod:`gankit.checkpoint`'s.

    {"format": 2, "step", "G", "D", "G_ema", "ema_n", "opt_d", "opt_g", "sched_d", "sched_g", "rng",
     "config" (resolved, as plain data), "data_shape", "num_classes", "data": {"name", "fingerprint"},
     "ada_p" (ADA's probability [] on the CPU, or None)}
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from ..checkpoint import CHECKPOINT_FORMAT, check_compatible, rng_state, set_rng_state
from ..errors import GankitError
from ..fast import load_optimizer, lr_to_floats
from .setup import Optimisers, lr_factor

__all__ = ["training_state", "restore_training_state", "check_resumable", "apply_train_overrides"]


def training_state(
    step: int,
    G: nn.Module,
    D: nn.Module,
    G_ema: AveragedModel | None,
    opts: Optimisers,
    config: dict,
    shape: tuple[int, ...],
    n_cls: int,
    data: dict,
    ada_p: torch.Tensor | None = None,
) -> dict:
    """The checkpoint of a run after ``step``: one mapping of tensors and plain data (loadable
    weights-only). ``config``: the resolved config as plain data; ``data``: {"name", "fingerprint"};
    ``ada_p``: ADA's augmentation probability [] (None without ADA)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "step": step,
        "G": G.state_dict(),
        "D": D.state_dict(),
        "G_ema": G_ema.module.state_dict() if G_ema is not None else None,
        "ema_n": int(G_ema.n_averaged) if G_ema is not None else 0,
        "opt_d": lr_to_floats(opts.opt_d.state_dict()),
        "opt_g": lr_to_floats(opts.opt_g.state_dict()),
        "sched_d": lr_to_floats(opts.sched_d.state_dict()),
        "sched_g": lr_to_floats(opts.sched_g.state_dict()),
        "rng": rng_state(),
        "config": config,
        "data_shape": list(shape),
        "num_classes": n_cls,
        "data": data,
        "ada_p": ada_p.detach().cpu().clone() if ada_p is not None else None,
    }


def check_resumable(
    state: dict, cfg: dict, shape: tuple[int, ...], n_cls: int, where: Path, fp: str | None = None
) -> None:
    """:func:`gankit.checkpoint.check_compatible`, and the seed: a resumed run goes on with the
    checkpoint's random stream."""
    check_compatible(state, cfg, shape, n_cls, where, fp)
    saved = state["config"].get("train") if isinstance(state["config"].get("train"), dict) else {}
    if saved.get("seed", cfg["train"]["seed"]) != cfg["train"]["seed"]:
        raise GankitError(
            f"train.seed cannot change on resume: the random stream goes on from the state saved in "
            f"{where} (seed {saved['seed']})"
        )
    if state["step"] < 1:
        raise GankitError(f"checkpoint {where} has no step count")


def apply_train_overrides(opt: torch.optim.Optimizer, sched, saved: dict, t, side: str) -> None:
    """Make a resumed optimiser follow ``train.lr_<side>``, ``beta1``, ``beta2``, ``lr_schedule`` and
    ``steps`` where the resumed config (``t``) changed them from the checkpoint's (``saved``, its
    ``train`` section): the loaded state carries the old values, and config.yaml must describe what
    runs. The rate of the next update is then lr · lr_factor(schedule, step, steps) with the new
    values, as LambdaLR computes it (a longer run's linear decay goes on from where the new total puts
    it). Values that did not change are left exactly as loaded (bit-identical resume)."""
    lr = getattr(t, f"lr_{side}")
    if (saved.get(f"lr_{side}"), saved.get("lr_schedule"), saved.get("steps")) != (lr, t.lr_schedule, t.steps):
        sched.base_lrs = [lr] * len(opt.param_groups)
        for g in opt.param_groups:
            g["initial_lr"] = lr
            g["lr"] = lr * lr_factor(t.lr_schedule, sched.last_epoch, t.steps)
        sched._last_lr = [g["lr"] for g in opt.param_groups]
    if (saved.get("beta1"), saved.get("beta2")) != (t.beta1, t.beta2):
        for g in opt.param_groups:
            g["betas"] = (t.beta1, t.beta2)


def check_optimizer(opt: torch.optim.Optimizer, name: str, where: Path) -> None:
    """One line when a loaded Adam state cannot belong to these parameters or is not finite (a damaged
    checkpoint must be refused here, not diverge or crash at the first step)."""
    for g in opt.param_groups:
        if not all(math.isfinite(float(x)) and float(x) >= 0 for x in (g["lr"], *g["betas"])):
            raise GankitError(f"checkpoint {where}: {name} holds a learning rate or beta that is not finite")
        for p in g["params"]:
            st = opt.state.get(p, {})
            moments = [st[k] for k in ("exp_avg", "exp_avg_sq") if k in st]
            if any(m.shape != p.shape for m in moments) or not all(bool(torch.isfinite(m).all()) for m in moments):
                raise GankitError(
                    f"checkpoint {where}: {name}'s Adam moments do not fit the parameters or are not finite"
                )
            step = st.get("step", 0)
            if not (math.isfinite(float(step)) and float(step) >= 0):
                raise GankitError(f"checkpoint {where}: {name}'s step count is {float(step)}")


def restore_training_state(
    state: dict,
    G: nn.Module,
    D: nn.Module,
    G_ema: AveragedModel | None,
    opts: Optimisers,
    t,
    where: Path,
    ada_p: torch.Tensor | None = None,
) -> None:
    """Load a checked training checkpoint (:func:`check_resumable`) into this run's networks,
    optimisers, schedules, ADA's p and RNG, taking ``train.*`` changes into account (see
    :func:`apply_train_overrides`); the EMA starts afresh from G when the resumed config asks for one
    the checkpoint lacks, ADA's p from 0 likewise. Anything that does not fit is one GankitError line."""
    try:
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        for opt, sched, key in ((opts.opt_d, opts.sched_d, "d"), (opts.opt_g, opts.sched_g, "g")):
            load_optimizer(opt, state[f"opt_{key}"])  # this run's fused/capturable flags, the saved state
            sched.load_state_dict(state[f"sched_{key}"])
            apply_train_overrides(opt, sched, state["config"].get("train", {}), t, key)
            check_optimizer(opt, f"opt_{key}", where)
        if G_ema is not None and state.get("G_ema") is not None:
            G_ema.module.load_state_dict(state["G_ema"])
            G_ema.n_averaged.fill_(state["ema_n"])  # else 0: the first update copies G
        if ada_p is not None and state.get("ada_p") is not None:
            saved = torch.as_tensor(state["ada_p"], dtype=ada_p.dtype)
            if saved.shape != () or not 0 <= float(saved) <= 1:
                raise ValueError(f"ada_p must be a probability, got {saved.flatten()[:3].tolist()}")
            ada_p.copy_(saved)
        set_rng_state(state["rng"])  # last: nothing after this may draw random numbers before step 1
    except (KeyError, RuntimeError, ValueError, TypeError, AttributeError, OverflowError) as e:
        raise GankitError(f"checkpoint {where} does not fit this run: {str(e).strip().splitlines()[0][:160]}") from None
