"""Data-parallel training on PyTorch's own engine: torchrun starts the processes, torch.distributed
connects them, DistributedDataParallel averages the gradients.

Under ``torchrun --nproc-per-node N -m gankit train ...`` the environment holds RANK, WORLD_SIZE and
LOCAL_RANK; :func:`init` joins the process group (NCCL on GPUs, gloo on the CPU). Without them
every helper here is a no-op, so the same loop runs on one process.

How the batch is split: every process seeds the same random stream and draws the *global* batch
(indices, noise, labels, flips, GP mixing weights), then keeps its own slice of ``train.batch_size``
rows (rank r: rows r·B to (r+1)·B). This is DistributedSampler's scheme: the processes see disjoint
shards of each global batch, the random stream does not depend on the number of processes, and so
a checkpoint resumes on any number of them, and N processes compute what one process computes with
the global batch (exactly so for networks without batch statistics; batch norm sees the slice
unless ``train.sync_bn``). DiffAugment draws its own randomness per slice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, overload

import torch
import torch.distributed as dist
from torch import Tensor

from .errors import GankitError

__all__ = [
    "World",
    "init",
    "world",
    "broadcast_object",
    "all_mean",
    "any_flag",
    "gather_rows",
    "part",
    "barrier",
    "shutdown",
]


@dataclass(frozen=True)
class World:
    """This process's place: ``rank`` of ``size`` processes; ``local_rank`` picks its GPU."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """Rank 0 alone writes logs, samples, checkpoints and reports."""
        return self.rank == 0

    @overload
    def slice(self, x: Tensor, per_rank: int) -> Tensor: ...
    @overload
    def slice(self, x: None, per_rank: int) -> None: ...

    def slice(self, x: Tensor | None, per_rank: int) -> Tensor | None:
        """This process's rows of a global batch [size·per_rank, ...]."""
        return None if x is None else x[self.rank * per_rank : (self.rank + 1) * per_rank]


_world = World()


def init(use_cuda: bool | None = None) -> World:
    """Join the process group that torchrun describes in the environment (once); the World either way."""
    global _world
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return _world
    if not dist.is_initialized():
        cuda = torch.cuda.is_available() if use_cuda is None else use_cuda
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if cuda:
            torch.cuda.set_device(local)
        try:
            dist.init_process_group(backend="nccl" if cuda else "gloo")
        except (RuntimeError, ValueError) as e:
            raise GankitError(f"cannot join the process group: {str(e).splitlines()[0][:160]}") from None
        _world = World(dist.get_rank(), dist.get_world_size(), local)
    return _world


def gather_rows(x: Tensor, n: int) -> Tensor | None:
    """On rank 0, the concatenation over processes of each one's rows ``x`` (process r holds rows
    :func:`part` (n) of n); None elsewhere. One process: ``x`` itself."""
    if not _world.enabled:
        return x
    per = -(-n // _world.size)
    pad = torch.zeros((per, *x.shape[1:]), dtype=x.dtype, device=_device())
    pad[: len(x)] = x.to(_device())
    out = [torch.empty_like(pad) for _ in range(_world.size)]
    dist.all_gather(out, pad)  # equal sizes for every backend; trimmed below
    if not _world.main:
        return None
    sizes = [len(range(n)[part(n, r)]) for r in range(_world.size)]
    return torch.cat([o[:k] for o, k in zip(out, sizes)]).to(x.device)


def part(n: int, rank: int | None = None) -> slice:
    """Process ``rank``'s share of n items: contiguous blocks of ⌈n / size⌉."""
    rank = _world.rank if rank is None else rank
    per = -(-n // _world.size)
    return slice(min(rank * per, n), min((rank + 1) * per, n))


def barrier() -> None:
    """Wait until every process gets here."""
    if _world.enabled:
        dist.barrier()


def shutdown() -> None:
    """Leave the process group (at the end of a command)."""
    global _world
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _world = World()


def world() -> World:
    """The World joined by :func:`init` (one process if none)."""
    return _world


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every process (e.g. the run directory rank 0 chose)."""
    if not _world.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_mean(values: Tensor) -> Tensor:
    """The mean over processes of a float tensor (a copy; the input is untouched)."""
    if not _world.enabled:
        return values
    out = values.detach().to(_device(), copy=True)
    dist.all_reduce(out)
    return (out / _world.size).to(values.device)


def _device() -> torch.device:
    """Where collectives run: this process's GPU under NCCL, else the CPU."""
    return torch.device("cuda", _world.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")


def any_flag(*flags: bool) -> list[bool]:
    """For each flag, whether any process raised it (one collective for all): processes stop together."""
    if not _world.enabled:
        return list(flags)
    t = torch.tensor([float(f) for f in flags], device=_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]
