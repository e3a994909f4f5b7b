"""Layers shared by the image networks: spectral norm on demand, conditional batch norm, projection."""

from __future__ import annotations

from typing import TypeVar, cast

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

M = TypeVar("M", bound=nn.Module)


def maybe_sn(layer: M, sn: bool) -> M:
    """``layer`` with spectral normalisation (Miyato et al. 2018) when ``sn``."""
    # spectral_norm registers a parametrization on ``layer`` and returns it; its annotation says only Module
    return cast(M, spectral_norm(layer)) if sn else layer


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose gain and bias depend on the class (de Vries et al. 2017; Miyato & Koyama 2018).

    y(x, c) = γ_c · BN(x) + β_c with γ initialised to 1 and β to 0. x [B, C, H, W], c [B] int64.
    With ``num_classes`` = 0 it is a plain affine BatchNorm and ``c`` is ignored.
    """

    def __init__(self, channels: int, num_classes: int = 0, normalize: bool = True):
        super().__init__()
        self.num_classes = num_classes
        # normalize=False keeps only the class gain and bias: no batch statistics at all
        self.bn = nn.BatchNorm2d(channels, affine=num_classes == 0) if normalize else nn.Identity()
        if num_classes:
            self.gain = nn.Embedding(num_classes, channels)
            self.bias = nn.Embedding(num_classes, channels)
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.bn(x)
        if not self.num_classes:
            return h
        return self.gain(y)[:, :, None, None] * h + self.bias(y)[:, :, None, None]


class Projection(nn.Module):
    """The class term of a projection discriminator (Miyato & Koyama 2018): ⟨embed(y), φ(x)⟩.

    φ [B, C] pooled features, y [B] → [B]. With ``num_classes`` = 0 it returns zeros.
    """

    def __init__(self, channels: int, num_classes: int, sn: bool):
        super().__init__()
        self.num_classes = num_classes
        if num_classes:
            embed = nn.Embedding(num_classes, channels)
            nn.init.xavier_uniform_(embed.weight)  # before spectral norm wraps it: after, .weight is computed
            self.embed = maybe_sn(embed, sn)

    def forward(self, phi: Tensor, y: Tensor | None) -> Tensor:
        if not self.num_classes:
            return phi.new_zeros(phi.shape[0])
        return (self.embed(y) * phi).sum(dim=1)


def check_labels(y: Tensor | None, num_classes: int, who: str) -> None:
    """A conditional network needs labels; an unconditional one takes none."""
    if num_classes and y is None:
        raise ValueError(f"{who} is class-conditional: pass labels y [B]")
