"""Building what a run trains: the device and fast path, data-parallel wrappers, optimisers and
their schedules, the EMA copy of G, and the parts of the step (:class:`StepParts`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import TypedDict

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel

from ..config import Config
from ..data import ImageData
from ..distributed import World
from ..distributions import GaussianMixture
from ..errors import GankitError
from ..evaluate import eval_bytes
from ..memory import require_bytes
from ..objectives import get_objective
from ..progress import note
from ..sources import StreamData
from .step import Batches, StepParts

__all__ = ["FastPath", "fast_path", "d_regularisers", "check_sizes", "lr_factor", "make_parts", "Optimisers"]


@dataclass(frozen=True)
class FastPath:
    """How the step runs. ``fast``: bf16 autocast for the forward passes, channels_last activations
    and weights (not when compiled), fused Adam (image nets; on by default with CUDA; losses and optimiser state stay
    float32). ``graphed``: the whole step replayed from a CUDA graph (one process on CUDA)."""

    fast: bool = False
    graphed: bool = False
    compiled: bool = False

    @property
    def channels_last(self) -> bool:
        """channels_last on the fast path, except with torch.compile: torch 2.11's inductor on CUDA
        asserts on the strides of a channels_last convolution's backward (seen on an H100)."""
        return self.fast and not self.compiled

    def amp(self, device: torch.device):
        """The autocast context of the forward passes (a no-op off the fast path). Autocast's cache of
        cast weights must be off inside a CUDA graph (it would outlive the capture)."""
        return partial(
            torch.autocast, device.type, dtype=torch.bfloat16, enabled=self.fast, cache_enabled=not self.graphed
        )


def d_regularisers(cfg: Config) -> tuple[float, float, float | None]:
    """(λ of the gradient penalty, γ of R1, the clipping bound or None) of this run: the config's
    values, or the objective's defaults where the config leaves them unset."""
    o, obj = cfg.objective, get_objective(cfg.objective.name)
    return (
        o.gp_weight if o.gp_weight is not None else obj.gp_weight,
        o.r1_gamma,
        o.clip if o.clip is not None else obj.clip,
    )


def fast_path(cfg: Config, toy: bool, device: torch.device, W: World) -> FastPath:
    """The fast path this run takes on ``device`` (see :class:`FastPath`); says why a part is off."""
    t = cfg.train
    fast = not toy and (t.fast if t.fast is not None else device.type == "cuda")
    wants_graph = fast and t.cuda_graph and device.type == "cuda"
    if wants_graph and W.enabled and W.main:
        note("fast path: no CUDA graph under torchrun (DDP's collectives are not captured); steps run eagerly")
    gp_weight, r1_gamma, _ = d_regularisers(cfg)
    double_backward = gp_weight > 0 or r1_gamma > 0 or cfg.objective.r2_gamma > 0
    if t.compile and double_backward and W.main:
        note(
            "train.compile: the gradient penalty, R1 and R2 need a double backward, which compiled networks "
            "lack; G and D run uncompiled"
        )
    return FastPath(fast, wants_graph and not W.enabled, t.compile and not double_backward)


def check_sizes(cfg: Config, G: nn.Module, D: nn.Module, shape: tuple[int, ...], evaluates: bool) -> None:
    """Refuse, before step 1, sizes that clearly cannot fit in this machine's memory (one line each):
    the networks with their gradients and Adam's two moments (and G's EMA copy); a batch whose inputs
    alone (real and fake samples, noise, their gradients: 8 float32 copies) do not fit, activations
    not even counted; the evaluation's samples, which would otherwise fail only at the end of the run.
    Sizes that pass may still fail at step 1: that is one line too (see ``gankit.memory``)."""
    t, m = cfg.train, cfg.model
    params = sum(p.numel() for net in (G, D) for p in net.parameters())
    require_bytes(
        4 * (4 * params + (sum(p.numel() for p in G.parameters()) if t.ema_kimg > 0 else 0)),
        f"the networks (model.g_hidden={m.g_hidden}, model.d_hidden={m.d_hidden}: {params:,} parameters)",
    )
    require_bytes(8 * 4 * t.batch_size * (math.prod(shape) + m.z_dim), f"train.batch_size={t.batch_size}")
    if evaluates:  # the final evaluation must not fail for want of memory after hours of training
        need = (
            eval_bytes(t.eval_samples, m.z_dim, shape)
            if len(shape) == 1
            else eval_bytes(t.eval_samples, m.z_dim, shape, t.eval_features)
        )
        require_bytes(need, f"train.eval_samples={t.eval_samples}")


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """Multiplier of the learning rates for the update after ``step`` of ``steps`` updates."""
    frac = step / steps
    if schedule == "linear":
        return 1.0 - frac
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    return 1.0


@dataclass
class Optimisers:
    """D's and G's Adam and their learning-rate schedules, in that order (a checkpoint's opt_d, opt_g)."""

    opt_d: torch.optim.Optimizer
    opt_g: torch.optim.Optimizer
    sched_d: torch.optim.lr_scheduler.LambdaLR
    sched_g: torch.optim.lr_scheduler.LambdaLR


class _AdamOptions(TypedDict):
    """Adam's keyword arguments shared by G's and D's (typed per key, as Adam's parameters are)."""

    betas: tuple[float, float]
    fused: bool | None
    capturable: bool


def make_optimisers(cfg: Config, G: nn.Module, D: nn.Module, fp: FastPath) -> Optimisers:
    """Adam for each network (fused on the fast path and on the CPU, where its one kernel per step is ~10%
    of a small MLP's step faster than the per-tensor loop; capturable in a CUDA graph: the step count stays
    on the device) and a LambdaLR schedule of ``train.lr_schedule`` over ``train.steps``."""
    t = cfg.train
    on_cpu = all(p.device.type == "cpu" for p in [*G.parameters(), *D.parameters()])
    adam = _AdamOptions(betas=(t.beta1, t.beta2), fused=True if fp.fast or on_cpu else None, capturable=fp.graphed)
    opt_g = torch.optim.Adam(G.parameters(), lr=t.lr_g, **adam)
    opt_d = torch.optim.Adam(D.parameters(), lr=t.lr_d, **adam)
    sched_d, sched_g = (
        torch.optim.lr_scheduler.LambdaLR(o, lambda s: lr_factor(t.lr_schedule, s, t.steps)) for o in (opt_d, opt_g)
    )
    return Optimisers(opt_d, opt_g, sched_d, sched_g)


def wrap_parallel(cfg: Config, G: nn.Module, D: nn.Module, device: torch.device, W: World):
    """(G, D, G_par, D_par): under torchrun DDP wrappers that average gradients in backward (and
    SyncBatchNorm with ``train.sync_bn``), else G and D themselves."""
    if not W.enabled:
        return G, D, G, D
    t = cfg.train
    if t.sync_bn:
        if device.type != "cuda":
            raise GankitError("train.sync_bn needs GPUs (SyncBatchNorm has no CPU kernel); set it to false")
        G, D = (nn.SyncBatchNorm.convert_sync_batchnorm(m) for m in (G, D))
    ids = [W.local_rank] if device.type == "cuda" else None
    if W.main:
        note(
            f"data-parallel: {W.size} processes ({torch.distributed.get_backend()}), batch {t.batch_size} per "
            f"process, {t.batch_size * W.size} global"
        )
    return G, D, DistributedDataParallel(G, device_ids=ids), DistributedDataParallel(D, device_ids=ids)


def make_parts(
    cfg: Config,
    data: GaussianMixture | ImageData | StreamData,
    G: nn.Module,
    D: nn.Module,
    n_cls: int,
    device: torch.device,
    W: World,
    fp: FastPath,
) -> tuple[StepParts, Optimisers, AveragedModel | None]:
    """The step's parts for this run, its optimisers and G's EMA copy (None without one). G and D are
    moved to channels_last on the fast path and compiled with ``train.compile`` (in place: parameter
    names unchanged); the EMA copy stays uncompiled, it only samples."""
    t = cfg.train
    obj = get_objective(cfg.objective.name)
    gp_weight, r1_gamma, clip = d_regularisers(cfg)
    if fp.channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN time its kernels once
    G, D, G_par, D_par = wrap_parallel(cfg, G, D, device, W)
    opts = make_optimisers(cfg, G, D, fp)
    # the EMA copy lives in an AveragedModel (its n_averaged is checkpointed, on the device) but is
    # updated by gankit.ema.ema_update, which needs no host sync
    G_ema = AveragedModel(G, device=device, use_buffers=True) if t.ema_kimg > 0 else None
    if fp.compiled:
        G.compile()
        D.compile()
    if isinstance(data, GaussianMixture):
        target, images, labels = data, None, None
    elif isinstance(data, StreamData):  # the batches come from its loader (see gankit.training.session.start)
        target, images, labels = None, None, None
    else:
        target, images, labels = None, data.images.to(device), data.labels.to(device)
    batches = Batches(
        target,
        images,
        labels,
        n_cls,
        cfg.model.z_dim,
        t.batch_size,
        W,
        device,
        hflip=target is None and cfg.data.hflip,
        channels_last=fp.channels_last,
    )
    parts = StepParts(
        G,
        D,
        G_par,
        D_par,
        opts.opt_d,
        opts.opt_g,
        obj,
        batches,
        fp.amp(device),
        d_steps=t.d_steps,
        gp_weight=gp_weight,
        r1_gamma=r1_gamma,
        r2_gamma=cfg.objective.r2_gamma,
        clip=clip,
        augment=t.augment or "",
        reuse_fake=t.reuse_fake,
        accumulate=t.accumulate,
        G_ema=G_ema.module if G_ema is not None else None,
        ema_count=G_ema.n_averaged if G_ema is not None else None,
        ema_weight=torch.zeros((), device=device) if G_ema is not None else None,
        # ADA's p starts at 0 (the paper) and lives on the device: the step adjusts it without a host sync
        ada_p=torch.zeros((), device=device) if t.ada_target > 0 else None,
        ada_target=t.ada_target,
        ada_kimg=t.ada_kimg,
        ortho_reg=cfg.objective.ortho_reg,
    )
    return parts, opts, G_ema
