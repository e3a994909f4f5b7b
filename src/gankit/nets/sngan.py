"""The ResNet generator and discriminator of SNGAN (Miyato et al. 2018, table 4) for 32×32 images.

G: z [B, z_dim] → linear → 4×4×W → three up-sampling residual blocks → BN, ReLU, 3×3 conv, tanh.
D: an optimised first block and three residual blocks (two down-sampling), ReLU, global sum
pooling, a linear layer; spectral norm on every layer of D. Class-conditional: conditional batch
norm in G's blocks, a projection term in D (Miyato & Koyama 2018).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import ConditionalBatchNorm2d, Projection, check_labels, maybe_sn


class GBlock(nn.Module):
    """BN-ReLU-up-conv3-BN-ReLU-conv3, plus up-conv1 shortcut: [B, C, H, W] → [B, C', 2H, 2W]."""

    def __init__(self, cin: int, cout: int, num_classes: int):
        super().__init__()
        self.bn1, self.bn2 = ConditionalBatchNorm2d(cin, num_classes), ConditionalBatchNorm2d(cout, num_classes)
        self.c1, self.c2 = nn.Conv2d(cin, cout, 3, 1, 1), nn.Conv2d(cout, cout, 3, 1, 1)
        self.sc = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2)
        h = self.c2(F.relu(self.bn2(self.c1(h), y)))
        return h + self.sc(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """ReLU-conv3-ReLU-conv3 [-avgpool], plus conv1 [-avgpool] shortcut; ``first`` skips the first ReLU."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False, sn: bool = True):
        super().__init__()
        self.down, self.first = down, first
        self.c1, self.c2 = maybe_sn(nn.Conv2d(cin, cout, 3, 1, 1), sn), maybe_sn(nn.Conv2d(cout, cout, 3, 1, 1), sn)
        self.sc = maybe_sn(nn.Conv2d(cin, cout, 1), sn) if (cin != cout or down) else None

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)
        h = self.c2(F.relu(self.c1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.sc is None:
            return h + x
        s = x
        if self.first:  # optimised block: pool, then 1×1 conv
            return h + self.sc(F.avg_pool2d(s, 2) if self.down else s)
        s = self.sc(s)
        return h + (F.avg_pool2d(s, 2) if self.down else s)


class SNGANGenerator(nn.Module):
    """G: z [B, z_dim] (and y [B] if conditional) → x [B, C, 32, 32] in [−1, 1]."""

    def __init__(self, z_dim: int = 128, channels: int = 3, width: int = 256, num_classes: int = 0):
        super().__init__()
        self.z_dim, self.num_classes, self.width = z_dim, num_classes, width
        self.fc = nn.Linear(z_dim, 4 * 4 * width)
        self.blocks = nn.ModuleList([GBlock(width, width, num_classes) for _ in range(3)])  # 4 → 8 → 16 → 32
        self.bn = nn.BatchNorm2d(width)
        self.out = nn.Conv2d(width, channels, 3, 1, 1)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(y, self.num_classes, "SNGANGenerator")
        h = self.fc(z).view(-1, self.width, 4, 4)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out(F.relu(self.bn(h))))


class SNGANDiscriminator(nn.Module):
    """D: x [B, C, 32, 32] (and y [B] if conditional) → logits [B]."""

    def __init__(self, channels: int = 3, width: int = 128, num_classes: int = 0, spectral_norm: bool = True):
        super().__init__()
        self.num_classes = num_classes
        sn = spectral_norm
        self.blocks = nn.Sequential(
            DBlock(channels, width, down=True, first=True, sn=sn),  # 32 → 16
            DBlock(width, width, down=True, sn=sn),  # 16 → 8
            DBlock(width, width, down=False, sn=sn),
            DBlock(width, width, down=False, sn=sn),
        )
        self.fc = maybe_sn(nn.Linear(width, 1), sn)
        self.project = Projection(width, num_classes, sn)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_labels(y, self.num_classes, "SNGANDiscriminator")
        phi = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling → [B, width]
        return self.fc(phi).squeeze(-1) + self.project(phi, y)
