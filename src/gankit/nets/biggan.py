"""BigGAN (Brock, Donahue & Simonyan, ICLR 2019) for 32, 64 and 128-pixel images, optionally class-conditional.

G: z → spectrally normalised linear → 4×4×C₀ → residual up-sampling blocks (BN-ReLU-up-conv3-BN-ReLU-conv3 plus
an up-conv1 shortcut) → BN, ReLU, 3×3 conv, tanh. Class-conditional G has one class embedding ``shared`` for all
blocks and a hierarchical latent: z is cut into (blocks + 1) equal chunks, the first feeds the linear layer and
chunk i + 1, next to the class embedding, conditions the batch norms of block i (gain 1 + W_γ c, bias W_β c).
D: an optimised first block, residual down-sampling blocks, ReLU, global sum pooling, a linear layer and, when
conditional, a projection term (Miyato & Koyama 2018). Either net may hold one SAGAN self-attention block
(Zhang et al. 2019) after the block whose output is ``attention`` × ``attention`` pixels.

Channel plans are those of BigGAN-PyTorch's ``G_arch``/``D_arch`` (ajbrock/BigGAN-PyTorch), except G at 64 px,
which follows PyTorch-StudioGAN's "Big ResNet" (16→8→4→2→1 × width, ending at width like the 128-px G).
Every conv, linear and embedding weight starts orthogonal (BigGAN's default 'ortho' init); spectral norm on every
conv and linear layer of both nets when ``sn`` (but never on G's class embedding, as in the reference code).
``ortho_reg`` is the paper's orthogonal regularisation of G (section 3.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from .layers import Projection, check_labels, maybe_sn
from .sngan import DBlock

__all__ = ["BigGANGenerator", "BigGANDiscriminator", "ortho_reg"]

# G: channel multipliers of the 4×4 input and of each block's output (block i: mult[i]·width → mult[i+1]·width)
G_MULTS: dict[int, tuple[int, ...]] = {32: (4, 4, 4, 4), 64: (16, 8, 4, 2, 1), 128: (16, 16, 8, 4, 2, 1)}
# D: (output channel multiplier, down-samples?) of each block; the last block never halves 4×4 (nor 8×8 at 32 px)
D_PLAN: dict[int, tuple[tuple[int, bool], ...]] = {
    32: ((4, True), (4, True), (4, False), (4, False)),  # 32 → 16 → 8 → 8 → 8
    64: ((1, True), (2, True), (4, True), (8, True), (16, False)),  # 64 → 32 → 16 → 8 → 4 → 4
    128: ((1, True), (2, True), (4, True), (8, True), (16, True), (16, False)),  # 128 → … → 4 → 4
}


def _check_resolution(resolution: int, who: str) -> None:
    if resolution not in G_MULTS:
        raise ValueError(f"{who} is defined for {sorted(G_MULTS)}-pixel images, got resolution={resolution}")


def _attention_index(attention: int, resolutions: list[int], who: str) -> int:
    """Index of the first block whose output is ``attention`` pixels wide; −1 for ``attention`` = 0 (none)."""
    if not attention:
        return -1
    if attention not in resolutions:
        raise ValueError(
            f"{who}: attention={attention} is not the output resolution of one of its blocks "
            f"{sorted(set(resolutions))} (0: no attention)"
        )
    return resolutions.index(attention)


def _init_ortho(net: nn.Module) -> None:
    """Orthogonal init (Saxe et al. 2014) of every conv, linear and embedding weight: BigGAN's 'ortho' default.

    A spectrally normalised layer gets it on its raw weight, and its power iteration restarts from that weight:
    the singular vectors estimated for the default init would otherwise be stale.
    """
    for m in list(net.modules()):  # a list: re-wrapping a layer changes its children
        if not isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            continue
        if parametrize.is_parametrized(m, "weight"):  # only spectral norm wraps weights in these nets
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
            nn.init.orthogonal_(m.weight)
            maybe_sn(m, True)
        else:
            nn.init.orthogonal_(m.weight)


class SelfAttention(nn.Module):
    """The non-local block of SAGAN (Zhang et al. 2019): [B, C, H, W] → x + γ·o(g(x) · softmax(θ(x)ᵀ φ(x))ᵀ).

    θ, φ: 1×1 convs to C/8 channels (queries, keys), g to C/2 (values), o back to C; φ and g are max-pooled 2×2,
    which cuts the attention map to [HW, HW/4]. γ starts at 0, so the block starts as the identity.
    H and W must be even.
    """

    def __init__(self, channels: int, sn: bool = True):
        super().__init__()
        ck, cv = max(1, channels // 8), max(1, channels // 2)  # max: tiny test widths still get a channel

        def conv(cin: int, cout: int) -> nn.Conv2d:
            return maybe_sn(nn.Conv2d(cin, cout, 1, bias=False), sn)

        self.theta, self.phi = conv(channels, ck), conv(channels, ck)  # queries, keys
        self.g, self.o = conv(channels, cv), conv(cv, channels)  # values, back to C channels
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        theta = self.theta(x).flatten(2)  # queries [B, C/8, HW]
        phi = F.max_pool2d(self.phi(x), 2).flatten(2)  # keys [B, C/8, HW/4]
        g = F.max_pool2d(self.g(x), 2).flatten(2)  # values [B, C/2, HW/4]
        attn = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # [B, HW, HW/4]: each position's weights on keys
        o = (g @ attn.transpose(1, 2)).view(b, -1, h, w)  # [B, C/2, H, W]
        return x + self.gamma * self.o(o)


class HierBatchNorm2d(nn.Module):
    """Batch norm whose gain and bias are linear in a conditioning vector c (BigGAN's "ccbn").

    x [B, C, H, W], c [B, cond_dim] → BN(x) · (1 + W_γ c) + W_β c, with BN without an affine part of its own and
    W_γ, W_β bias-free (spectrally normalised when ``sn``) linear maps.
    """

    def __init__(self, channels: int, cond_dim: int, sn: bool = True):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = maybe_sn(nn.Linear(cond_dim, channels, bias=False), sn)
        self.bias = maybe_sn(nn.Linear(cond_dim, channels, bias=False), sn)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        gain = 1 + self.gain(c)[:, :, None, None]  # [B, C, 1, 1]: "1 +" keeps a zero map neutral
        return self.bn(x) * gain + self.bias(c)[:, :, None, None]


class GBlock(nn.Module):
    """BN-ReLU-up-conv3-BN-ReLU-conv3, plus up-conv1 shortcut: [B, C, H, W] → [B, C', 2H, 2W].

    ``cond_dim`` > 0: its batch norms are ``HierBatchNorm2d`` of the conditioning vector c [B, cond_dim];
    ``cond_dim`` = 0: plain affine batch norms, and c is None.
    """

    def __init__(self, cin: int, cout: int, cond_dim: int, sn: bool = True):
        super().__init__()
        self.bn1: nn.Module
        self.bn2: nn.Module
        if cond_dim:
            self.bn1, self.bn2 = HierBatchNorm2d(cin, cond_dim, sn), HierBatchNorm2d(cout, cond_dim, sn)
        else:
            self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.c1 = maybe_sn(nn.Conv2d(cin, cout, 3, 1, 1), sn)
        self.c2 = maybe_sn(nn.Conv2d(cout, cout, 3, 1, 1), sn)
        self.sc = maybe_sn(nn.Conv2d(cin, cout, 1), sn)  # the size always changes, so the shortcut is learned

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        def norm(bn: nn.Module, h: Tensor) -> Tensor:
            return bn(h) if c is None else bn(h, c)

        h = F.interpolate(F.relu(norm(self.bn1, x)), scale_factor=2)  # [B, C, 2H, 2W]
        h = self.c2(F.relu(norm(self.bn2, self.c1(h))))  # [B, C', 2H, 2W]
        return h + self.sc(F.interpolate(x, scale_factor=2))


class BigGANGenerator(nn.Module):
    """G: z [B, z_dim] (and y [B] int64 if conditional) → x [B, C, R, R] in [−1, 1], R ∈ {32, 64, 128}.

    Conditional (``num_classes`` > 0): z_dim must split into (blocks + 1) equal chunks (4, 5 and 6 chunks at 32,
    64 and 128 px); block i's batch norms see [shared(y), chunk i + 1], of ``shared_dim`` + z_dim/(blocks + 1)
    entries. Unconditional: plain batch norm in the blocks and all of z goes into the first linear layer.
    ``attention``: the output resolution of the block followed by self-attention (0: none).
    """

    def __init__(
        self,
        z_dim: int,
        channels: int,
        resolution: int,
        width: int,
        num_classes: int = 0,
        shared_dim: int = 128,
        attention: int = 0,
        sn: bool = True,
    ):
        super().__init__()
        _check_resolution(resolution, "BigGANGenerator")
        mults = G_MULTS[resolution]
        n = len(mults) - 1  # blocks, each doubling H and W from 4×4
        self.z_dim, self.num_classes, self.c0 = z_dim, num_classes, mults[0] * width
        self.shared: nn.Embedding | None = None
        if num_classes:
            if z_dim % (n + 1):
                raise ValueError(
                    f"BigGANGenerator at {resolution} px splits z into {n + 1} equal chunks (one for the input, one "
                    f"per block): z_dim={z_dim} is not divisible by {n + 1}"
                )
            self.chunk = z_dim // (n + 1)
            # One embedding for all blocks; no spectral norm on it (BigGAN-PyTorch: SN here can cripple G)
            self.shared = nn.Embedding(num_classes, shared_dim)
            cond_dim = self.chunk + shared_dim
        else:
            self.chunk, cond_dim = z_dim, 0
        self.fc = maybe_sn(nn.Linear(self.chunk, 4 * 4 * self.c0), sn)
        self.blocks = nn.ModuleList([GBlock(a * width, b * width, cond_dim, sn) for a, b in zip(mults, mults[1:])])
        self.attn_index = _attention_index(attention, [8 * 2**i for i in range(n)], "BigGANGenerator")
        self.attn = SelfAttention(mults[self.attn_index + 1] * width, sn) if attention else None
        self.bn = nn.BatchNorm2d(mults[-1] * width)
        self.out = maybe_sn(nn.Conv2d(mults[-1] * width, channels, 3, 1, 1), sn)
        _init_ortho(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(y, self.num_classes, "BigGANGenerator")
        conds: list[Tensor | None] = [None] * len(self.blocks)
        if self.shared is not None:
            zs = z.split(self.chunk, dim=1)  # blocks + 1 chunks [B, chunk]
            e = self.shared(y)  # [B, shared_dim]
            conds = [torch.cat([e, zi], dim=1) for zi in zs[1:]]  # [B, shared_dim + chunk] per block
            z = zs[0]
        h = self.fc(z).view(-1, self.c0, 4, 4)
        for i, block in enumerate(self.blocks):
            h = block(h, conds[i])
            if i == self.attn_index and self.attn is not None:
                h = self.attn(h)
        return torch.tanh(self.out(F.relu(self.bn(h))))


class BigGANDiscriminator(nn.Module):
    """D: x [B, C, R, R] (and y [B] int64 if conditional) → logits [B], R ∈ {32, 64, 128}.

    Blocks (channels × width, output size): 32 px: 4, 4, 4, 4 (16, 8, 8, 8); 64 px: 1, 2, 4, 8, 16 (32 … 4, 4);
    128 px: 1, 2, 4, 8, 16, 16 (64 … 4, 4). ``attention``: self-attention after the first block whose output has
    that resolution (0: none).
    """

    def __init__(
        self, channels: int, resolution: int, width: int, num_classes: int = 0, attention: int = 0, sn: bool = True
    ):
        super().__init__()
        _check_resolution(resolution, "BigGANDiscriminator")
        self.num_classes = num_classes
        blocks, sizes, cin, size = [], [], channels, resolution
        for i, (mult, down) in enumerate(D_PLAN[resolution]):
            blocks.append(DBlock(cin, mult * width, down, first=i == 0, sn=sn))  # first: the optimised block
            cin, size = mult * width, size // 2 if down else size
            sizes.append(size)
        self.blocks = nn.ModuleList(blocks)
        self.attn_index = _attention_index(attention, sizes, "BigGANDiscriminator")
        self.attn = SelfAttention(D_PLAN[resolution][self.attn_index][0] * width, sn) if attention else None
        self.fc = maybe_sn(nn.Linear(cin, 1), sn)
        self.project = Projection(cin, num_classes, sn)
        _init_ortho(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(y, self.num_classes, "BigGANDiscriminator")
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attn_index and self.attn is not None:
                h = self.attn(h)
        phi = F.relu(h).sum(dim=(2, 3))  # global sum pooling → [B, C]
        return self.fc(phi).squeeze(-1) + self.project(phi, y)


def ortho_reg(module: nn.Module, exclude: tuple[str, ...] = ()) -> Tensor:
    """BigGAN's orthogonal regularisation (Brock et al. 2019, section 3.1, eq. 3), without its factor β.

    Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F over the weights of ``module``, each reshaped to W [out, −1] (one row per filter; the
    paper's Wᵀ W has filters as columns): it pushes the filters towards mutual orthogonality, but unlike the full
    ‖W Wᵀ − I‖² leaves their norms free. It skips 1-D parameters (biases, gains) and any parameter whose name
    contains a string of ``exclude`` (e.g. ``"shared"``, G's class embedding); with spectral norm it sees the raw
    weights (``…parametrizations.weight.original``). Returns a 0-d tensor with grad; the caller multiplies it by β
    (1e-4 in the paper) and adds it to G's loss.

    Its gradient is 4 (W Wᵀ ⊙ (1 − I)) W. BigGAN-PyTorch (``utils.ortho``) instead adds 2β (W Wᵀ ⊙ (1 − I)) W
    straight to the gradient, so its strength β is β/2 here.
    """
    terms = []
    for name, p in module.named_parameters():
        if p.dim() < 2 or any(s in name for s in exclude):
            continue
        w = p.flatten(1)  # [out, in·kh·kw]
        gram = w @ w.T  # [out, out]: inner products of the filters
        off = gram * (1 - torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device))
        terms.append(off.pow(2).sum())
    return torch.stack(terms).sum() if terms else torch.zeros(())
