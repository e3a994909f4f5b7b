"""Adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial Networks with
Limited Data", NeurIPS): the paper's "bgc" pipeline as pure tensor functions, and its overfitting heuristic.

Every transform is applied to each image independently with probability p; D sees augmented reals and
fakes alike, and as long as p < ~0.8 the augmentations do not leak into G (section 2.2 of the paper). p
lives in a 0-d tensor on the device and moves with r_t = E[sign(D(x_real))] (section 3, eq. 1). Nothing
here reads a tensor back to the host and every shape is fixed, so both functions can be replayed from a
CUDA graph: each transform is computed for every sample and selected per sample with ``torch.where``.

Images are [B, C, H, W] in [−1, 1] with C = 1 or 3, as in the reference implementation (stylegan2-ada feeds
D images scaled to [−1, 1] and augments them there), so colour operations are centred at 0 = mid-grey.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ada_augment", "ada_update", "ada_overfitting", "ada_adjust"]

# Strengths of appendix B of the paper. The log-normal ones are log2 standard deviations (2^N(0, σ²),
# i.e. a natural-log standard deviation of σ·ln 2); translations are fractions of the image size.
XINT_MAX = 0.125  # integer translation, uniform in ±0.125 of the size
SCALE_STD = 0.2  # isotropic scaling
ANISO_STD = 0.2  # anisotropic scaling
XFRAC_STD = 0.125  # fractional translation, normal
BRIGHTNESS_STD = 0.2  # additive, in [−1, 1] units
CONTRAST_STD = 0.5
SATURATION_STD = 1.0


def _fire(b: int, p: Tensor, device: torch.device) -> Tensor:
    """[B] bool: which samples get a transform, each with probability p (p stays on the device)."""
    return torch.rand(b, device=device) < p


def _pick(fire: Tensor, m: Tensor) -> Tensor:
    """Per sample, the matrix m [B, n, n] where ``fire`` [B] holds and the exact identity elsewhere."""
    eye = torch.eye(m.shape[-1], device=m.device, dtype=m.dtype)
    return torch.where(fire.view(-1, 1, 1), m, eye)


def _is_identity(m: Tensor) -> Tensor:
    """[B] bool: which matrices of m [B, n, n] are exactly the identity."""
    eye = torch.eye(m.shape[-1], device=m.device, dtype=m.dtype)
    return (m == eye).flatten(1).all(1)


# --- geometric ("bg"): inverse 2D maps, output pixel → input pixel, in pixel units about the image centre ---


def _affine(a: Tensor, b: Tensor, tx: Tensor, c: Tensor, d: Tensor, ty: Tensor) -> Tensor:
    """[B, 3, 3] homogeneous matrices [[a, b, tx], [c, d, ty], [0, 0, 1]] from [B] entries."""
    zero, one = torch.zeros_like(a), torch.ones_like(a)
    return torch.stack([a, b, tx, c, d, ty, zero, zero, one], dim=1).view(-1, 3, 3)


def _flip_inv(i: Tensor) -> Tensor:
    """Inverse x-flip where i [B] is 1 (0: identity); a flip is its own inverse."""
    z = torch.zeros_like(i)
    return _affine(1 - 2 * i, z, z, z, z + 1, z)


def _rot90_inv(k: Tensor) -> Tensor:
    """Inverse of rotating by k [B] (integers) quarter turns, as ``torch.rot90(x, k, dims=(2, 3))``.

    cos and sin of kπ/2 are rounded so that the entries are exactly 0 and ±1 (pure pixel permutations)."""
    c, s = torch.round(torch.cos(k * (math.pi / 2))), torch.round(torch.sin(k * (math.pi / 2)))
    z = torch.zeros_like(c)
    return _affine(c, -s, z, s, c, z)  # torch.rot90 k=1 reads output (X, Y) from input (−Y, X)


def _translate_inv(tx: Tensor, ty: Tensor) -> Tensor:
    """Inverse of moving the content by (tx, ty) [B] pixels (x right, y down)."""
    z = torch.zeros_like(tx)
    return _affine(z + 1, z, -tx, z, z + 1, -ty)


def _scale_inv(sx: Tensor, sy: Tensor) -> Tensor:
    """Inverse of scaling the content by (sx, sy) [B] about the image centre."""
    z = torch.zeros_like(sx)
    return _affine(1 / sx, z, z, z, 1 / sy, z)


def _rotate_inv(theta: Tensor) -> Tensor:
    """Inverse of rotating the content by theta [B] radians about the image centre."""
    c, s = torch.cos(theta), torch.sin(theta)
    z = torch.zeros_like(c)
    return _affine(c, s, z, -s, c, z)


def _geometric_matrix(b: int, h: int, w: int, p: Tensor, device: torch.device) -> Tensor:
    """[B, 3, 3] inverse geometric maps of the "bg" transforms, drawn per sample with probability p.

    In the paper's order (appendix B): x-flip, quarter turns, integer translation (pixel blitting),
    then isotropic scaling, pre-rotation, anisotropic scaling, post-rotation, fractional translation.
    The map of a chain T_n ⋯ T_1 (T_1 applied first) is T_1⁻¹ ⋯ T_n⁻¹, so factors are appended on the
    right. A transform that does not fire contributes the exact identity, so a sample none fires on has
    exactly the identity matrix (what ``ada_augment`` tests to pass it through untouched)."""
    g = [_pick(_fire(b, p, device), _flip_inv(torch.floor(torch.rand(b, device=device) * 2)))]  # i ∈ {0, 1}
    g.append(_pick(_fire(b, p, device), _rot90_inv(torch.floor(torch.rand(b, device=device) * 4))))  # k ∈ {0,1,2,3}
    t = (torch.rand(b, 2, device=device) * 2 - 1) * XINT_MAX
    g.append(_pick(_fire(b, p, device), _translate_inv(torch.round(t[:, 0] * w), torch.round(t[:, 1] * h))))
    s = torch.exp2(torch.randn(b, device=device) * SCALE_STD)
    g.append(_pick(_fire(b, p, device), _scale_inv(s, s)))
    # Rotation twice (around the anisotropic scaling, so that the stretch has a random axis), each with
    # p_rot = 1 − √(1 − p): the probability of at least one rotation is then p.
    p_rot = 1 - torch.sqrt((1 - p).clamp(0, 1))
    theta = (torch.rand(b, device=device) * 2 - 1) * math.pi
    g.append(_pick(_fire(b, p_rot, device), _rotate_inv(theta)))
    s = torch.exp2(torch.randn(b, device=device) * ANISO_STD)
    g.append(_pick(_fire(b, p, device), _scale_inv(s, 1 / s)))
    theta = (torch.rand(b, device=device) * 2 - 1) * math.pi
    g.append(_pick(_fire(b, p_rot, device), _rotate_inv(theta)))
    t = torch.randn(b, 2, device=device) * XFRAC_STD
    g.append(_pick(_fire(b, p, device), _translate_inv(t[:, 0] * w, t[:, 1] * h)))
    out = g[0]
    for m in g[1:]:
        out = out @ m  # identity @ identity is exact: 1·1 + 0·0 + 0·0
    return out


def _warp(x: Tensor, g_inv: Tensor) -> Tensor:
    """Resample x [B, C, H, W] at g_inv [B, 3, 3] (output pixel → input pixel, centred pixel units).

    A simplification of the paper, which pads, upsamples ×2 with a sym6 wavelet filter (upfirdn2d),
    samples and downsamples again to suppress aliasing: here one bilinear ``grid_sample`` with reflection
    padding, a little blurrier than the paper's. Maps that send pixel centres to pixel centres (x-flips,
    quarter turns, integer shifts: the paper's "pixel blitting") are sampled with mode="nearest" instead,
    which copies pixels exactly where bilinear weights would be off by rounding (the grid's coordinates
    are a few ulp from the integers)."""
    b, c, h, w = x.shape
    # affine_grid works in coordinates normalised to [−1, 1] per axis (align_corners=False: pixel i's
    # centre at (2i + 1)/W − 1 = (i + ½ − W/2)·2/W), so theta = N g_inv N⁻¹ with N = diag(2/W, 2/H, 1).
    # Written out entry by entry with Python scales (no constant tensor copied to the device).
    row0 = [g_inv[:, 0, 0], g_inv[:, 0, 1] * (h / w), g_inv[:, 0, 2] * (2 / w)]
    row1 = [g_inv[:, 1, 0] * (w / h), g_inv[:, 1, 1], g_inv[:, 1, 2] * (2 / h)]
    theta = torch.stack([torch.stack(row0, 1), torch.stack(row1, 1)], 1).to(x.dtype)  # [B, 2, 3]
    grid = F.affine_grid(theta, [b, c, h, w], align_corners=False)  # [B, H, W, 2]
    smooth = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    exact = F.grid_sample(x, grid, mode="nearest", padding_mode="reflection", align_corners=False)
    # Integer entries move centres (half-integers for an even size, integers for odd) to centres, unless
    # a quarter turn swaps axes of different parity (then centres land between pixels: keep bilinear).
    blit = (g_inv == g_inv.round()).flatten(1).all(1)  # [B]
    if h % 2 != w % 2:  # Python ints: no sync
        blit = blit & (g_inv[:, 0, 1] == 0)
    return torch.where(blit.view(b, 1, 1, 1), exact, smooth)


# --- colour ("c"): 4×4 homogeneous maps of RGB, colour_out = C · (r, g, b, 1) ---


def _homog(a: Tensor, t: Tensor) -> Tensor:
    """[B, 4, 4] from a linear part a [B, 3, 3] and an offset t [B, 3]."""
    top = torch.cat([a, t.unsqueeze(2)], 2)  # [B, 3, 4]
    bottom = torch.zeros_like(top[:, :1, :])
    bottom[:, :, 3] = 1
    return torch.cat([top, bottom], 1)


def _eye3(v: Tensor) -> Tensor:
    """[B, 3, 3] identities, one per entry of v [B]."""
    return torch.eye(3, device=v.device, dtype=v.dtype).expand(v.shape[0], 3, 3)


def _luma_projector(like: Tensor) -> Tensor:
    """P = uuᵀ [3, 3], u = (1, 1, 1)/√3 the luma (grey) axis: P keeps a colour's grey part (like's dtype)."""
    return torch.full((3, 3), 1 / 3, device=like.device, dtype=like.dtype)


def _brightness(b: Tensor) -> Tensor:
    """Add b [B] to every channel."""
    return _homog(_eye3(b), b.unsqueeze(1).expand(-1, 3))


def _contrast(c: Tensor) -> Tensor:
    """Scale colours by c [B] about 0 (mid-grey in [−1, 1])."""
    return _homog(c.view(-1, 1, 1) * _eye3(c), torch.zeros_like(c).unsqueeze(1).expand(-1, 3))


def _luma_flip(i: Tensor) -> Tensor:
    """Where i [B] is 1, the Householder reflection I − 2uuᵀ: negates luma, keeps chroma (0: identity)."""
    a = _eye3(i) - 2 * i.view(-1, 1, 1) * _luma_projector(i)
    return _homog(a, torch.zeros_like(i).unsqueeze(1).expand(-1, 3))


def _hue_rotation(theta: Tensor) -> Tensor:
    """Rotate colours by theta [B] about the luma axis u (Rodrigues): cosθ I + sinθ [u]ₓ + (1 − cosθ) uuᵀ."""
    eye = torch.eye(3, device=theta.device, dtype=theta.dtype)
    cross = (eye.roll(1, 0) - eye.roll(-1, 0)) / math.sqrt(3)  # [u]ₓ: [u]ₓ v = u × v
    c, s = torch.cos(theta).view(-1, 1, 1), torch.sin(theta).view(-1, 1, 1)
    a = c * eye + s * cross + (1 - c) * _luma_projector(theta)
    return _homog(a, torch.zeros_like(theta).unsqueeze(1).expand(-1, 3))


def _saturation(s: Tensor) -> Tensor:
    """Scale the chroma (the part orthogonal to u) by s [B]: uuᵀ + s (I − uuᵀ)."""
    proj = _luma_projector(s)
    return _homog(proj + s.view(-1, 1, 1) * (_eye3(s) - proj), torch.zeros_like(s).unsqueeze(1).expand(-1, 3))


def _color_matrix(b: int, p: Tensor, device: torch.device, rgb: bool = True) -> Tensor:
    """[B, 4, 4] colour maps of the "c" transforms, drawn per sample with probability p.

    In the paper's order (appendix B): brightness, contrast, luma flip, hue rotation, saturation; each
    factor is multiplied on the left. Hue and saturation leave grey unchanged, so they are drawn only
    for RGB (``rgb``). A sample none fires on gets exactly the identity."""
    m = _pick(_fire(b, p, device), _brightness(torch.randn(b, device=device) * BRIGHTNESS_STD))
    m = _pick(_fire(b, p, device), _contrast(torch.exp2(torch.randn(b, device=device) * CONTRAST_STD))) @ m
    m = _pick(_fire(b, p, device), _luma_flip(torch.floor(torch.rand(b, device=device) * 2))) @ m  # i ∈ {0, 1}
    if rgb:
        m = _pick(_fire(b, p, device), _hue_rotation((torch.rand(b, device=device) * 2 - 1) * math.pi)) @ m
        m = _pick(_fire(b, p, device), _saturation(torch.exp2(torch.randn(b, device=device) * SATURATION_STD))) @ m
    return m


def _recolor(x: Tensor, m: Tensor) -> Tensor:
    """Apply the colour maps m [B, 4, 4] to x [B, C, H, W], C = 3 (RGB) or 1 (grey)."""
    b, c, h, w = x.shape
    flat = x.reshape(b, c, h * w)
    if c == 3:
        out = m[:, :3, :3] @ flat + m[:, :3, 3:]
    else:
        # A grey level g is the colour (g, g, g): map it and average the three channels (as the
        # reference implementation): g ↦ g·Σⱼ r̄ⱼ + r̄₃ with r̄ [B, 4] the mean of m's three colour rows.
        row = m[:, :3, :].mean(1)
        out = flat * row[:, :3].sum(1).view(b, 1, 1) + row[:, 3].view(b, 1, 1)
    return out.view(b, c, h, w)


def ada_augment(x: Tensor, p: Tensor) -> Tensor:
    """The paper's "bgc" augmentation of x [B, C, H, W] (in [−1, 1], C = 1 or 3), each transform on each
    sample with probability p (a 0-d tensor on x's device, in [0, 1]); differentiable in x.

    Geometric: x-flip, quarter turns, integer translation, isotropic scaling, rotation, anisotropic
    scaling, fractional translation, composed into one affine map per sample and resampled once
    (bilinear, reflection padding; nearest for pure pixel blits; the paper filters with upfirdn2d).
    Colour: brightness, contrast, luma flip, hue rotation, saturation as one 4×4 map per sample; for
    grey images only the first three (hue and saturation do nothing to grey). A sample that draws no
    geometric (colour) transform skips that stage bit for bit, so p = 0 is exactly the identity.
    Randomness from torch's global RNG on x's device; no host sync, fixed shapes (safe inside a CUDA
    graph)."""
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"ada_augment needs images [B, 1 or 3, H, W], got {tuple(x.shape)}")
    b, c, h, w = x.shape
    dtype = torch.promote_types(x.dtype, torch.float32)  # bf16/fp16 grids would misplace samples
    keep = (b, 1, 1, 1)
    # Under autocast, affine_grid's matmul would run in bf16: coordinates off by a fraction of a pixel.
    with torch.autocast(x.device.type, enabled=False):
        y = x.to(dtype)
        g = _geometric_matrix(b, h, w, p, x.device)
        y = torch.where(_is_identity(g).view(keep), y, _warp(y, g.to(dtype)))
        m = _color_matrix(b, p, x.device, rgb=c == 3)
        y = torch.where(_is_identity(m).view(keep), y, _recolor(y, m.to(dtype)))
    return y.to(x.dtype)


def ada_overfitting(real_logits: Tensor) -> Tensor:
    """r_t = E[sign(D(x_real))] (the paper's section 3, eq. 1) of a batch of real logits [B] or [B, 1],
    as a 0-d float32 tensor on their device: +1 when D is sure of every real image, 0 when it guesses."""
    return torch.sign(real_logits.detach().float()).mean()


def ada_adjust(p: Tensor, rt: Tensor, target: float, batch: int, ada_kimg: float) -> None:
    """Move p in place: p ← clamp(p + sign(r_t − target)·batch / (1000·ada_kimg), 0, 1), so that p can
    cross [0, 1] in ``ada_kimg`` thousand real images (the paper: 500; its code clamps at 0 only).
    ``add_`` and ``clamp_`` on the device: no host sync."""
    p.add_(torch.sign(rt.to(p.dtype) - target) * (batch / (1000 * ada_kimg))).clamp_(0, 1)


def ada_update(p: Tensor, real_logits: Tensor, target: float, batch: int, ada_kimg: float) -> Tensor:
    """Move p in place by the overfitting heuristic and return r_t = E[sign(D(x_real))] (0-d).

    When r_t (:func:`ada_overfitting`, of this step's real batch) is above ``target`` (the paper: 0.6) D
    is taken to be overfitting and p rises, below it falls (:func:`ada_adjust`). The paper adjusts every
    4 steps, by 4 steps' worth, from r_t accumulated over them; here every step from that step's
    logits: the same step size per image, a noisier r_t. (Under torchrun the loop averages r_t over the
    processes between the two halves, so that every process keeps the same p.)"""
    r = ada_overfitting(real_logits).to(p.dtype)
    ada_adjust(p, r, target, batch, ada_kimg)
    return r
