"""The training loop: Algorithm 1 of Goodfellow et al. (2014), one readable function.

    for each step:
        k = train.d_steps times:  sample real x and noise z, update D on d_loss(D(x), D(G(z)))
                                   (+ gradient penalty, + R1, then weight clipping if any)
        once:                      sample noise z, update G on g_loss(D(G(z)))
        then: EMA of G, statistics, evaluation, sample figure, checkpoint, each on its own period.

Real data is a toy target (sampled exactly) or an image dataset held on the device as uint8
(batches drawn by indexing). Class-conditional networks see the real batch's labels in the D
step and uniformly drawn labels in the G step.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel

from .. import distributed, stats
from ..augment import diff_augment
from ..checkpoint import (LAST, check_resumable, load_checkpoint, remove_partial_writes, rng_state, save_rotating,
                         set_rng_state)
from ..config import Config, describe_ema, save_config
from ..data import ImageData, fingerprint, to_model_range
from ..distributions import GaussianMixture
from ..errors import Diverged, GankitError, StopNow
from ..evaluate import eval_bytes, evaluate_toy, image_evaluator, image_record, toy_record, with_generators
from ..generate import generator_chunk, probe_generator, sample_uint8
from ..build import build_run, data_spec, load_data, resolve_device
from ..ema import ema_beta, ema_update
from ..fast import cuda_graphed, load_optimizer, lr_to_floats, lr_to_tensors
from ..stats import StepSums
from ..figures import sample_figure
from ..files import LOCK_NAME, RunLock, check_new_run_dir, clear_unstarted_run, write_atomic
from ..memory import describe_error, is_out_of_memory, require_bytes
from ..objectives import gan_value, get_objective, gradient_penalty, r1_penalty
from ..progress import Progress, note

__all__ = ["train", "TrainResult", "due", "lr_factor"]


@dataclass
class TrainResult:
    """What a finished run leaves in memory (the run directory holds the rest).

    ``G_ema`` is the EMA copy of G when ``train.ema_kimg`` > 0, else G itself; ``target`` is the toy
    target or the image dataset.
    """

    G: nn.Module
    D: nn.Module
    target: GaussianMixture | ImageData
    config: Config
    stats: dict[str, float] = field(default_factory=dict)
    G_ema: nn.Module | None = None
    step: int = 0  # the last step done
    stopped: str | None = None  # why training stopped early: a signal's name or "stop_after"; None if finished


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


def _check_optimizer(opt: torch.optim.Optimizer, name: str, where: Path) -> None:
    """One line when a loaded Adam state cannot belong to these parameters or is not finite (a damaged
    checkpoint must be refused here, not diverge or crash at the first step)."""
    for g in opt.param_groups:
        if not all(math.isfinite(float(x)) and float(x) >= 0 for x in (g["lr"], *g["betas"])):
            raise GankitError(f"checkpoint {where}: {name} holds a learning rate or beta that is not finite")
        for p in g["params"]:
            st = opt.state.get(p, {})
            moments = [st[k] for k in ("exp_avg", "exp_avg_sq") if k in st]
            if any(m.shape != p.shape for m in moments) or not all(bool(torch.isfinite(m).all()) for m in moments):
                raise GankitError(f"checkpoint {where}: {name}'s Adam moments do not fit the parameters or are "
                                  "not finite")
            step = st.get("step", 0)
            if not (math.isfinite(float(step)) and float(step) >= 0):
                raise GankitError(f"checkpoint {where}: {name}'s step count is {float(step)}")


def restore(state: dict, G: nn.Module, D: nn.Module, G_ema: AveragedModel | None, opts, schedules, t,
            where: Path) -> None:
    """Load a checked training checkpoint (:func:`gankit.checkpoint.check_resumable`) into this run's
    networks, optimisers (D's, G's), schedules and RNG, taking ``train.*`` changes into account (see
    :func:`apply_train_overrides`); the EMA starts afresh from G when the resumed config asks for one
    the checkpoint lacks. Anything that does not fit is one GankitError line."""
    try:
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        for opt, sched, key in zip(opts, schedules, ("d", "g")):
            load_optimizer(opt, state[f"opt_{key}"])  # this run's fused/capturable flags, the saved state
            sched.load_state_dict(state[f"sched_{key}"])
            apply_train_overrides(opt, sched, state["config"].get("train", {}), t, key)
            _check_optimizer(opt, f"opt_{key}", where)
        if G_ema is not None and state.get("G_ema") is not None:
            G_ema.module.load_state_dict(state["G_ema"])
            G_ema.n_averaged.fill_(state["ema_n"])  # else 0: the first update copies G
        set_rng_state(state["rng"])  # last: nothing after this may draw random numbers before step 1
    except (KeyError, RuntimeError, ValueError, TypeError, AttributeError, OverflowError) as e:
        raise GankitError(f"checkpoint {where} does not fit this run: {str(e).strip().splitlines()[0][:160]}") from None


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """Multiplier of the learning rates for the update after ``step`` of ``steps`` updates."""
    frac = step / steps
    if schedule == "linear":
        return 1.0 - frac
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    return 1.0


def due(step: int, every: int, last: int) -> bool:
    """Whether a periodic action runs after ``step``: every ``every`` steps (0 = never) and at the end."""
    return step == last or (every > 0 and step % every == 0)


def check_sizes(cfg: Config, G: nn.Module, D: nn.Module, shape: tuple[int, ...], evaluates: bool) -> None:
    """Refuse, before step 1, sizes that clearly cannot fit in this machine's memory (one line each):
    the networks with their gradients and Adam's two moments (and G's EMA copy); a batch whose inputs
    alone (real and fake samples, noise, their gradients: 8 float32 copies) do not fit, activations
    not even counted; the evaluation's samples, which would otherwise fail only at the end of the run.
    Sizes that pass may still fail at step 1: that is one line too (see ``gankit.memory``)."""
    t, m = cfg.train, cfg.model
    params = sum(p.numel() for net in (G, D) for p in net.parameters())
    require_bytes(4 * (4 * params + (sum(p.numel() for p in G.parameters()) if t.ema_kimg > 0 else 0)),
                  f"the networks (model.g_hidden={m.g_hidden}, model.d_hidden={m.d_hidden}: {params:,} parameters)")
    require_bytes(8 * 4 * t.batch_size * (math.prod(shape) + m.z_dim), f"train.batch_size={t.batch_size}")
    if evaluates:  # the final evaluation must not fail for want of memory after hours of training
        need = (eval_bytes(t.eval_samples, m.z_dim, shape) if len(shape) == 1 else
                eval_bytes(t.eval_samples, m.z_dim, shape, t.eval_features))
        require_bytes(need, f"train.eval_samples={t.eval_samples}")


GRAPH_WARMUP = 3  # eager steps before the fast path records the step in a CUDA graph


def _nonfinite(tensors: dict[str, Tensor]) -> str | None:
    """The name of the first tensor with a NaN or infinite entry, else None (one host sync)."""
    if not tensors:
        return None
    names = list(tensors)
    ok = torch.stack([torch.isfinite(v.detach()).all() for v in tensors.values()]).cpu()
    return next((n for n, good in zip(names, ok.tolist()) if not good), None)


class _StopSignals:
    """While active, SIGINT and SIGTERM only record that a stop was asked for: the loop finishes the
    step, writes a checkpoint and returns, so the run resumes exactly. A second signal stops at once
    (KeyboardInterrupt), leaving the last checkpoint written. Main thread only."""

    def __init__(self, active: bool):
        self.active = active and threading.current_thread() is threading.main_thread()
        self.received: int | None = None
        self._old: dict = {}

    def __enter__(self) -> "_StopSignals":
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


def train(cfg: Config, run_dir: str | Path | None = None,
          callback: Callable[[int, nn.Module, nn.Module], None] | None = None,
          resume: bool = False, stop_after: int | None = None,
          data: GaussianMixture | ImageData | None = None) -> TrainResult:
    """Train a GAN as ``cfg`` says; write the run into ``run_dir`` when one is given.

    ``resume``: continue the run in ``run_dir`` from ``checkpoints/last.pt``: networks, EMA,
    optimisers, LR schedules, step and RNG states (hence data order and augmentation) restored, so
    that on the CPU the result is bit-identical to an uninterrupted run. ``stop_after``: stop
    cleanly (checkpoint written) after that step, as SIGINT/SIGTERM do. ``data``: train on this
    dataset or target instead of the one ``cfg.data`` names (e.g. images already in memory).
    ``callback(step, G, D)``, if given, is called after every step (0 included when not resuming),
    e.g. to take snapshots; it must not change the networks.

    The process that writes ``run_dir`` (rank 0 under torchrun) holds its lock (``RUN/.lock``) from
    start to end: a second process training or resuming the same directory gets one line.
    """
    W = distributed.init(use_cuda=resolve_device(cfg.train.device).type == "cuda")  # one process unless torchrun
    writer = run_dir is not None and W.main
    # SIGINT/SIGTERM are recorded from the start (a stop during set-up is honoured after step 1, with
    # a checkpoint), not only once the loop runs: a run stopped mid-set-up would hold no checkpoint
    with RunLock(run_dir) if writer else contextlib.nullcontext(), _StopSignals(active=run_dir is not None) as signals:
        if writer and not resume:
            check_new_run_dir(run_dir)  # under the lock: two runs started together cannot both pass
            if clear_unstarted_run(run_dir):
                note(f"gankit: {run_dir} held a run that never reached its first checkpoint; starting it again")
        try:
            return _train(cfg, run_dir, callback, resume, stop_after, data, signals)
        except BaseException:
            if writer and not resume:
                _remove_if_unused(Path(run_dir))
            raise


def _remove_if_unused(run: Path) -> None:
    """Remove a new run's folder that a failure left holding nothing but its lock (refused up front)."""
    if run.is_dir() and all(p.name == LOCK_NAME for p in run.iterdir()):
        (run / LOCK_NAME).unlink(missing_ok=True)
        run.rmdir()


def _last_good(run: Path | None) -> str:
    """The end of a divergence message: where the last good checkpoint is, if there is one."""
    if run is None:
        return ""
    last = run / "checkpoints" / LAST
    return f"; the last good checkpoint is {last}" if last.is_file() else "; no checkpoint had been written yet"


def _train(cfg: Config, run_dir: str | Path | None, callback, resume: bool, stop_after: int | None,
           data: GaussianMixture | ImageData | None, signals: "_StopSignals") -> TrainResult:
    t = cfg.train
    device = resolve_device(t.device)
    W = distributed.world()
    if W.enabled and device.type == "cuda":
        device = torch.device("cuda", W.local_rank)
    data, G, D = build_run(cfg, device, data)  # the same seed everywhere: every process starts from one G, one D
    shape, n_cls = data_spec(data, cfg)
    toy = isinstance(data, GaussianMixture)
    fp = None if toy else fingerprint(data)  # recorded in checkpoints: a run resumes on its own data only
    check_sizes(cfg, G, D, shape, evaluates=toy or bool(t.eval_features))
    # evaluation samples go through G in chunks whose activations fit in a fixed budget (probed with
    # one forward pass on zeros in eval mode: no random draw, no state changed; before any compile)
    eval_chunk = generator_chunk(probe_generator(G, cfg.model.z_dim, n_cls)[1]) if not toy and t.eval_features else 0
    # The fast path (image nets): bf16 autocast for the forward passes, channels_last activations and
    # weights, fused Adam; on CUDA, one process, the whole step is also replayed from a CUDA graph
    # (see gankit.fast). On by default with CUDA; losses and optimiser state stay float32.
    fast = not toy and (t.fast if t.fast is not None else device.type == "cuda")
    wants_graph = fast and t.cuda_graph and device.type == "cuda"
    graphed = wants_graph and not W.enabled
    if wants_graph and W.enabled and W.main:
        note("fast path: no CUDA graph under torchrun (DDP's collectives are not captured); steps run eagerly")
    if fast:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN time its kernels once
    # Autocast's cache of cast weights must be off inside a CUDA graph (it would outlive the capture).
    amp = partial(torch.autocast, device.type, dtype=torch.bfloat16, enabled=fast, cache_enabled=not graphed)
    B, global_batch = t.batch_size, t.batch_size * W.size  # train.batch_size is per process
    if W.enabled:
        if t.sync_bn:
            if device.type != "cuda":
                raise GankitError("train.sync_bn needs GPUs (SyncBatchNorm has no CPU kernel); set it to false")
            G, D = (nn.SyncBatchNorm.convert_sync_batchnorm(m) for m in (G, D))
        ids = [W.local_rank] if device.type == "cuda" else None
        # DDP averages gradients in backward; the D step goes through D_par, the G step through G_par
        D_par, G_par = DistributedDataParallel(D, device_ids=ids), DistributedDataParallel(G, device_ids=ids)
        if W.main:
            note(f"data-parallel: {W.size} processes ({torch.distributed.get_backend()}), batch {B} per process, "
                 f"{global_batch} global")
    else:
        D_par, G_par = D, G
    obj = get_objective(cfg.objective.name)
    gp_weight = cfg.objective.gp_weight if cfg.objective.gp_weight is not None else obj.gp_weight
    clip = cfg.objective.clip if cfg.objective.clip is not None else obj.clip
    r1_gamma = cfg.objective.r1_gamma
    # capturable: Adam keeps its step count on the device; tensor rates let the LR schedule reach a graph
    adam = dict(betas=(t.beta1, t.beta2), fused=True if fast else None, capturable=graphed)
    opt_g = torch.optim.Adam(G.parameters(), lr=t.lr_g, **adam)
    opt_d = torch.optim.Adam(D.parameters(), lr=t.lr_d, **adam)
    schedules = [torch.optim.lr_scheduler.LambdaLR(o, lambda s: lr_factor(t.lr_schedule, s, t.steps))
                 for o in (opt_d, opt_g)]
    # The EMA copy lives in an AveragedModel (its n_averaged is checkpointed) but is updated by
    # ema_update, which needs no host sync.
    G_ema = AveragedModel(G, device=device, use_buffers=True) if t.ema_kimg > 0 else None  # count on the device too
    ema_weight = torch.zeros((), device=device)  # 1 − β of this step's EMA update, filled before the step
    # torch.compile of G and D, in place (parameter names unchanged): inductor fuses batch norm,
    # activations and casts into fewer kernels; the EMA copy above stays uncompiled (it only samples).
    compiled = t.compile and not (gp_weight > 0 or r1_gamma > 0)
    if t.compile and not compiled and W.main:
        note("train.compile: the gradient penalty and R1 need a double backward, which compiled networks "
             "lack; G and D run uncompiled")
    if compiled:
        G.compile()
        D.compile()
    if fast and W.main and t.progress:  # say which path runs: its numbers differ from fp32 in the last bits
        parts = ["bf16 autocast", "channels_last", "fused Adam"] + (["CUDA graph"] if graphed else []) + \
            (["torch.compile"] if compiled else [])
        note(f"fast path: {', '.join(parts)} (train.fast=false: fp32 eager)")
    z_dim = cfg.model.z_dim
    if not toy:
        images, labels = data.images.to(device), data.labels.to(device)  # uint8 [N, C, H, W], [N]

    # Random draws are made for the global batch and sliced (see gankit.distributed): with one
    # process the slice is the whole batch.
    def real_batch() -> tuple[Tensor, Tensor | None]:
        if toy:
            return W.slice(data.sample(global_batch), B).to(device), None  # [B, d]
        idx = W.slice(torch.randint(len(images), (global_batch,), device=device), B)
        x = to_model_range(images[idx])  # [B, C, H, W] in [−1, 1]
        if fast:
            x = x.contiguous(memory_format=torch.channels_last)
        if cfg.data.hflip:
            x = torch.where(W.slice(torch.rand(global_batch, 1, 1, 1, device=device), B) < 0.5, x.flip(3), x)
        return x, (labels[idx] if n_cls else None)

    def noise() -> tuple[Tensor, Tensor | None]:
        y = W.slice(torch.randint(n_cls, (global_batch,), device=device), B) if n_cls else None
        return W.slice(torch.randn(global_batch, z_dim, device=device), B), y

    def augment(x: Tensor) -> Tensor:
        return diff_augment(x, t.augment) if t.augment else x

    run = Path(run_dir) if run_dir is not None else None
    out = run if W.main else None  # where this process writes: rank 0 alone

    def checkpoint(step: int) -> None:
        bad = _nonfinite({f"parameter G.{k}": v for k, v in G.state_dict().items() if v.is_floating_point()}
                         | {f"parameter D.{k}": v for k, v in D.state_dict().items() if v.is_floating_point()})
        if bad is not None:  # never let a broken model replace the last good checkpoint
            raise Diverged(f"training diverged at step {step}: {bad} is not finite{_last_good(run)}")
        save_rotating({
            "G": G.state_dict(), "D": D.state_dict(),
            "G_ema": G_ema.module.state_dict() if G_ema is not None else None,
            "ema_n": int(G_ema.n_averaged) if G_ema is not None else 0,
            "opt_g": lr_to_floats(opt_g.state_dict()), "opt_d": lr_to_floats(opt_d.state_dict()),
            "sched_d": lr_to_floats(schedules[0].state_dict()), "sched_g": lr_to_floats(schedules[1].state_dict()),
            "step": step, "rng": rng_state(), "config": cfg.model_dump(mode="json"),
            "data_shape": list(shape), "num_classes": n_cls,
            "data": {"name": cfg.data.name if toy else data.name, "fingerprint": fp},
        }, run / "checkpoints", step, t.keep_checkpoints)

    # --- the run directory: a new run, or the checkpoint of an interrupted one ------------------
    start = 0
    if resume:
        if run is None:
            raise GankitError("resume needs the run directory")
        where = run / "checkpoints" / LAST
        if not where.exists() and (run / "config.yaml").is_file():
            raise GankitError(f"{run} has no checkpoint: it stopped before its first one; start it again with "
                              f"gankit train --config {run / 'config.yaml'} --out {run}")
        state = load_checkpoint(where)  # on the CPU: RNG states must stay there; load_state_dict moves the rest
        check_resumable(state, cfg.model_dump(mode="json"), shape, n_cls, where, fp)
        start = state["step"]
        if start >= t.steps:
            raise GankitError(f"{run} already finished {start} steps; pass --steps with a larger total to go on")
        restore(state, G, D, G_ema, (opt_d, opt_g), schedules, t, where)
        if W.main:
            remove_partial_writes(run / "checkpoints")
            stats.truncate_jsonl(run / "metrics.jsonl", start)
            save_config(cfg, run / "config.yaml")  # train.steps may have grown
    elif out is not None:
        (run / "samples").mkdir(parents=True, exist_ok=True)
        (run / "checkpoints").mkdir(exist_ok=True)
        save_config(cfg, run / "config.yaml")

    # The image metrics' feature network and reference statistics, built before step 1 so that a
    # problem (missing weights, a dataset too small) stops the run before any work is lost; the
    # other processes wait for rank 0 (building may train the classifier) instead of timing out.
    evaluator = None
    if not toy and t.eval_features:
        if W.main:
            evaluator = image_evaluator(cfg, t.eval_features, device=device, train=data,
                                        log=lambda s: note(f"eval: {s}"))
        distributed.barrier()
    # --- one training step: Algorithm 1's k D updates and one G update, then the EMA of G --------
    # It makes no host sync (statistics are summed on the device, the divergence guard reads the
    # sums outside it), so on the fast path it is recorded once in a CUDA graph and replayed.
    sums = StepSums()
    if graphed:  # after the schedulers are built and any checkpoint loaded (see lr_to_tensors)
        for opt in (opt_g, opt_d):
            lr_to_tensors(opt)
    ema_first = G_ema is not None and int(G_ema.n_averaged) == 0  # known here, so the step need not ask

    def train_step() -> None:
        nonlocal ema_first
        # --- D steps: k updates of the discriminator with G fixed ------------------------------
        D.requires_grad_(True)
        penalties: dict[str, list[Tensor]] = {"loss/gp": [], "loss/r1": []}  # per D step, logged as means
        for i in range(t.d_steps):
            real, y = real_batch()  # [B, ...], labels [B] or None
            # train.reuse_fake: the last D step's fake batch also serves the G step, so G runs forward
            # once a step (as pytorch/examples does); otherwise no graph of G is built here
            keep = t.reuse_fake and i == t.d_steps - 1
            with torch.set_grad_enabled(keep), amp():
                fake_g = (G_par if keep else G)(noise()[0], y)  # conditional: the real batch's labels
            fake = fake_g.detach().float()
            if r1_gamma > 0:
                real.requires_grad_(True)
            with amp():
                real_logits, fake_logits = D_par(augment(real), y), D_par(augment(fake), y)  # [B], [B]
            real_logits, fake_logits = real_logits.float(), fake_logits.float()
            loss_d = obj.d_loss(real_logits, fake_logits)
            if gp_weight > 0:
                eps = W.slice(torch.rand(global_batch, device=device), B)  # mixing weights of x̂
                with amp():
                    gp = gradient_penalty(lambda x: D_par(x, y).float(), real, fake, eps)
                penalties["loss/gp"].append(gp.detach())
                loss_d = loss_d + gp_weight * gp
            if r1_gamma > 0:
                r1 = r1_penalty(real_logits, real)
                penalties["loss/r1"].append(r1.detach())
                loss_d = loss_d + 0.5 * r1_gamma * r1
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            if clip is not None:
                with torch.no_grad():
                    for p in D.parameters():
                        p.clamp_(-clip, clip)
        real_logits, fake_logits = real_logits.detach(), fake_logits.detach()
        row = {k: torch.stack(v).mean() for k, v in penalties.items() if v}
        row["loss/d"] = loss_d
        if obj.probabilistic:  # σ(logit) is D(x) only for a D trained by eq. 1's cross-entropy
            row["V"] = gan_value(real_logits, fake_logits)  # V(D, G) on this batch; −log 4 at the equilibrium
            row["D/real"] = torch.sigmoid(real_logits).mean()
            row["D/fake"] = torch.sigmoid(fake_logits).mean()

        # --- G step: one update of the generator through the fixed D ---------------------------
        D.requires_grad_(False)  # gradients flow through D to G but D's own are not needed
        if not t.reuse_fake:  # Algorithm 1: fresh noise (and labels) for the G step
            z, y = noise()
            with amp():
                fake_g = G_par(z, y)
        with amp():
            logits = D(augment(fake_g), y)  # D itself, not D_par: only G's gradients
        row["loss/g"] = obj.g_loss(real_logits, logits.float())
        opt_g.zero_grad(set_to_none=True)
        row["loss/g"].backward()
        opt_g.step()

        # --- EMA of G: the copy that samples ---------------------------------------------------
        if G_ema is not None:
            ema_update(G_ema.module, G, ema_weight, G_ema.n_averaged, first=ema_first)
            ema_first = False
        sums.add(row)

    run_step = train_step
    if graphed:
        run_step = cuda_graphed(train_step, warmup=GRAPH_WARMUP, notice=lambda s: note(s))

    def flush(step: int) -> dict[str, float]:
        for k, v in sums.means().items():
            stats.report(k, v)
        return collector.flush(step, reduce)

    G_sample = G_ema.module if G_ema is not None else G  # what samples, is measured and is drawn
    who = describe_ema(t.ema_kimg, t.ema_rampup)  # how figures name it

    def measure_one(net: nn.Module) -> dict[str, float]:
        """One generator's metrics on its own seeded noise (the training RNG is untouched): exact toy
        metrics (``toy/...``), or the image metrics against the cached reference statistics (rank 0's)."""
        if toy:
            return evaluate_toy(net, data, z_dim, n_modes=t.eval_samples) if W.main else {}
        n = t.eval_samples  # each process draws its part of the n samples; rank 0 measures them all
        samples = distributed.gather_rows(
            sample_uint8(net, z_dim, n_cls, n, part=distributed.part(n), chunk=eval_chunk), n)
        return {f"eval/{t.eval_features}/{k}": v for k, v in evaluator.measure(samples).items()} if W.main else {}

    def measure(step: int) -> dict | None:
        """The sampling generator's metrics, logged as ``toy/...`` or ``eval/<features>/...``, and with an
        EMA the raw G's beside them (``raw/...``); rank 0 gets the record for eval.json."""
        vals = measure_one(G_sample)
        raw = measure_one(G) if G_ema is not None else None
        for k, v in vals.items():
            stats.report(k, v)
        for k, v in (raw or {}).items():
            stats.report(f"raw/{k}", v)
        if not W.main:
            return None
        name = lambda k: k.split("/")[-1]  # noqa: E731 — a metric's name in eval.json
        record = (toy_record(vals, t.eval_samples, step) if toy else
                  image_record(evaluator, {name(k): v for k, v in vals.items()}, t.eval_samples, step, cfg.data.name))
        raw = {name(k): v for k, v in raw.items()} if raw is not None else None
        return {**with_generators(record, "G_ema" if G_ema is not None else "G", raw), "source": "training"}

    def draw(step: int) -> None:
        title = f"{data.name}, {cfg.objective.name}, {who}, step {step}" if toy else f"{who}, step {step}"
        sample_figure(run / "samples" / f"step_{step:06d}.png", G_sample, D, data, z_dim, n_cls, title,
                      obj.probabilistic)

    stopped: str | None = None
    check_every_step = device.type == "cpu"  # a host sync per step is free on the CPU; on a GPU, at log steps
    if callback is not None and start == 0:
        callback(0, G, D)
    progress = Progress(start, t.steps, enabled=t.progress and W.main)
    reduce = distributed.all_mean if W.enabled else None  # logged statistics: the mean over processes
    with stats.Collector(out, tensorboard=t.tensorboard and out is not None, start_step=start) as collector:
        for step in range(start + 1, t.steps + 1):
            if G_ema is not None:  # the ramped EMA's weight for this step, outside any CUDA graph
                ema_weight.fill_(1.0 - ema_beta(step, global_batch, t.ema_kimg, t.ema_rampup))
            run_step()  # D steps, G step, EMA (see train_step)
            for sched in schedules:
                sched.step()

            # --- divergence guard and stop requests, agreed by all processes ---------------------
            # (every process evaluates and flushes at the same steps, so these must not depend on rank)
            evaluating = due(step, t.eval_every, t.steps) and (toy or bool(t.eval_features))
            logging = due(step, t.log_every, t.steps) or evaluating
            stop_now = signals.received is not None or step == stop_after
            # the guard reads the summed losses before every flush restarts them (each step on the CPU)
            bad = _nonfinite(sums.current(("loss/d", "loss/g"))) if check_every_step or logging or stop_now else None
            if W.enabled:  # one collective: processes stop together or not at all
                any_bad, stop_now = distributed.any_flag(bad is not None, stop_now)
                bad = bad or ("a loss of another process" if any_bad else None)
            if bad is not None:
                when = "at" if check_every_step else "by"  # on a GPU the guard looks at log steps
                raise Diverged(f"training diverged {when} step {step}: {bad} is not finite{_last_good(run)}")

            # --- evaluation, logging, sample figure; if one fails, the good weights are saved first --
            try:
                record = measure(step) if evaluating else None
                if logging:
                    flush(step)
                if out is not None and due(step, t.sample_every, t.steps):
                    draw(step)
            except Exception as e:
                if out is None or not (isinstance(e, (GankitError, OSError)) or is_out_of_memory(e)):
                    raise
                checkpoint(step)
                raise GankitError(f"{describe_error(e)} (at step {step}; the checkpoint of step {step} is written, "
                                  f"continue with: gankit resume {run})") from None
            if record is not None and out is not None and step == t.steps:
                write_atomic(run / "eval.json", json.dumps(record, indent=1))  # the report's metric table

            # --- checkpoint: periodic, at the end, and on a requested stop -------------------------
            if out is not None and (due(step, t.checkpoint_every, t.steps) or stop_now):
                checkpoint(step)

            if callback is not None:
                callback(step, G, D)
            progress.step(step, {k: v for k, v in collector.last.items() if k.startswith("loss/")}, logging)
            if stop_now and step < t.steps:
                stopped = (signal.Signals(signals.received).name if signals.received is not None
                           else "stop_after" if step == stop_after else "SIGTERM")  # else: another process's signal
                flush(step)
                break
    progress.close()
    D.requires_grad_(True)
    return TrainResult(G, D, data, cfg, dict(collector.last), G_sample, step=step, stopped=stopped)


