"""Drawing samples from a generator: seeded (and truncated) noise, G run in chunks in eval mode, the
chunk size that fits a memory budget, uint8 images as saved files hold them, and out-of-memory
failures turned into one line. Used by the loop's evaluations and figures, ``gankit sample`` and
``gankit eval``; it knows nothing of either."""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import Tensor, nn

from .data import to_uint8
from .errors import GankitError
from .memory import is_out_of_memory

__all__ = [
    "generate",
    "run_generator",
    "truncated_noise",
    "check_truncation",
    "sample_uint8",
    "probe_generator",
    "generator_chunk",
    "noise_bytes",
    "out_of_memory_as_error",
    "GEN_CHUNK_BYTES",
]


def check_truncation(truncation: float | None) -> float | None:
    """``truncation`` as a float when it is a positive finite number (None stays None: no truncation);
    else one GankitError line. NaN would compare False with every |z| and truncate nothing."""
    if truncation is None:
        return None
    try:
        t = float(truncation)
    except (TypeError, ValueError):
        t = math.nan
    if isinstance(truncation, bool) or not (math.isfinite(t) and t > 0):
        raise GankitError(f"truncation must be a positive finite number (the bound T on |z|), got {truncation!r}")
    return t


def _float32_at_most(t: float) -> float:
    """The largest float32 ≤ t: the bound that still holds once z is rounded to float32."""
    b = torch.tensor(t, dtype=torch.float32)
    if b.item() > t:
        b = torch.nextafter(b, torch.zeros(()))
    return b.item()


def truncated_noise(n: int, z_dim: int, truncation: float | None, gen: torch.Generator | None) -> Tensor:
    """z ~ N(0, I) [n, z_dim] float32; with ``truncation`` T, each entry from N(0, 1) conditioned on
    |z| ≤ T (the truncation trick of BigGAN, Brock et al. 2019: fidelity for diversity).

    Truncated entries are drawn exactly, in one pass, by the inverse CDF: with Φ(x) = ½(1 + erf(x/√2)),
    z = Φ⁻¹(U) for U uniform on [Φ(−T), Φ(T)] is z = √2·erfinv(v·erf(T/√2)) for v uniform on (−1, 1).
    Written with erf rather than Φ because Φ(T) − ½ drowns in rounding for a tiny T, while erf(T/√2)
    ≈ T·√(2/π) keeps full precision; so every T > 0 takes the same time (redrawing until |z| ≤ T
    takes 1/P(|z| ≤ T) rounds: forever for T = 1e-30). Same generator state, same z; the global RNG
    is used only when ``gen`` is None. A T that is not positive and finite is one GankitError line.
    """
    t = check_truncation(truncation)
    if t is None:
        return torch.randn(n, z_dim, generator=gen)
    v = torch.rand(n, z_dim, dtype=torch.float64, generator=gen)  # k·2⁻⁵³, k = 0 … 2⁵³ − 1
    # 2u − (1 − 2⁻⁵³) = (2k + 1 − 2⁵³)·2⁻⁵³ exactly: symmetric about 0 and never ±1, where erfinv is ±∞
    v.mul_(2).sub_(1 - 2**-53).mul_(math.erf(t / math.sqrt(2)))
    z = v.erfinv_().mul_(math.sqrt(2)).clamp_(-t, t)  # the clamp only absorbs rounding at the edges
    b = _float32_at_most(t)
    return z.float().clamp_(-b, b)


@torch.no_grad()
def run_generator(G: nn.Module, z: Tensor, y: Tensor | None = None, chunk: int = 65536) -> Tensor:
    """G(z[, y]) in eval mode (batch norm on its running statistics), chunk by chunk, as a CPU
    float32 tensor; G's train/eval mode is restored afterwards."""
    param = next(G.parameters())
    was_training = G.training
    G.eval()
    ys = [None] * len(z.split(chunk)) if y is None else [c.to(param.device) for c in y.split(chunk)]
    out = torch.cat([G(c.to(param.device, param.dtype), yc).float().cpu() for c, yc in zip(z.split(chunk), ys)])
    G.train(was_training)
    return out


def generate(
    G: nn.Module, n: int, z_dim: int, seed: int | None = None, y: Tensor | None = None, truncation: float | None = None
) -> Tensor:
    """n samples of G as a CPU float32 tensor [n, ...]; z ~ N(0, I) from its own generator.

    ``y`` [n] are class labels for a conditional G. With a seed the same call gives the same
    samples, and the global RNG (which drives training) is left untouched.
    """
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return run_generator(G, truncated_noise(n, z_dim, truncation, gen), y)


GEN_CHUNK_BYTES = 256 << 20  # G's activations held at once when sampling in chunks (see generator_chunk)


@torch.no_grad()
def probe_generator(G: nn.Module, z_dim: int, num_classes: int) -> tuple[tuple[int, ...], int]:
    """(shape of one sample, bytes of G's largest activation for one sample), from one forward pass
    on 2 samples in eval mode (G's mode is restored)."""
    param = next(G.parameters())
    largest = [0]

    def hook(module, inputs, output) -> None:
        if torch.is_tensor(output):
            largest[0] = max(largest[0], output.numel() * output.element_size())

    handles = [m.register_forward_hook(hook) for m in G.modules()]
    was_training = G.training
    try:
        G.eval()
        y = torch.zeros(2, dtype=torch.long, device=param.device) if num_classes else None
        out = G(torch.zeros(2, z_dim, device=param.device, dtype=param.dtype), y)
    finally:
        for h in handles:
            h.remove()
        G.train(was_training)
    return tuple(out.shape[1:]), -(-largest[0] // 2)


def generator_chunk(peak_per_sample: int, budget: int = GEN_CHUNK_BYTES) -> int:
    """Samples a forward pass may take so that G's activations stay within ``budget`` bytes: in eval
    mode without gradients about three activations are alive at once (a layer's input, its output
    and a residual), each at most ``peak_per_sample`` (:func:`probe_generator`) per sample."""
    return int(max(1, min(65536, budget // max(1, 3 * peak_per_sample))))


def noise_bytes(n: int, z_dim: int, truncation: float | None = None) -> int:
    """Memory of the noise of n samples: float32 z, plus the float64 uniforms the inverse CDF works on
    when truncated (:func:`truncated_noise`)."""
    return n * z_dim * (4 + (8 if truncation is not None else 0))


@contextmanager
def out_of_memory_as_error(what: str, hint: str = "choose a smaller --n") -> Iterator[None]:
    """Turn a failed allocation inside the block (MemoryError, torch.OutOfMemoryError, torch's CPU
    allocator's RuntimeError) into one GankitError line saying what ran out and what to do."""
    try:
        yield
    except Exception as e:
        if not is_out_of_memory(e):
            raise
        first = (str(e).strip().splitlines() or [""])[0]
        want = re.search(r"(?:tried to|unable to) allocate [0-9.]+ ?\w+", first, re.IGNORECASE)
        detail = f" ({want.group(0).lower()})" if want else ""
        raise GankitError(f"out of memory {what}{detail}; {hint}") from None


def sample_uint8(
    G: nn.Module, z_dim: int, num_classes: int, n: int, seed: int = 777, part: slice = slice(None), chunk: int = 65536
) -> Tensor:
    """Rows ``part`` of the n evaluation samples of G: classes in turn when conditional, seeded noise
    of their own (the training RNG is untouched), quantised to uint8 as saved images are. Data-parallel
    processes each draw their part of the same n samples, so the gathered set is the one-process set.
    G runs ``chunk`` samples at a time, each chunk quantised at once: only the uint8 images are kept."""
    z = truncated_noise(n, z_dim, None, torch.Generator().manual_seed(seed))[part]  # [n, z_dim] → its rows
    y = (torch.arange(n) % num_classes)[part] if num_classes else None
    ys = [None] * len(z.split(chunk)) if y is None else y.split(chunk)
    return torch.cat([to_uint8(run_generator(G, zc, yc, chunk)) for zc, yc in zip(z.split(chunk), ys)])
