"""The sample figure a run writes at ``train.sample_every`` steps: for toy targets p_g against p_data
and D against D* (1-D) or samples over D's heat map (2-D); for images a grid of G's samples on fixed
noise. Written atomically: a full disk leaves no empty or torn PNG."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from .distributions import GaussianMixture
from .files import write_atomic
from .generate import run_generator

__all__ = ["sample_figure", "save_image_grid", "sample_grid_inputs", "SAMPLE_SEED"]

SAMPLE_SEED = 2014  # the fixed noise behind every sample figure of a run


def sample_figure(path: Path, G: nn.Module, D: nn.Module, data, z_dim: int, num_classes: int, title: str,
                  probabilistic: bool) -> None:
    """The figure of generator ``G`` (and, for toy targets, discriminator ``D``) at ``path``. ``title``
    names the run, the generator and the step; ``probabilistic``: D's σ(logit) is a probability (see
    :attr:`gankit.objectives.Objective.probabilistic`), so it is drawn against D*."""
    if isinstance(data, GaussianMixture):
        from .plots import plot_toy_panels  # matplotlib only when figures are written

        write_atomic(path, lambda f: plot_toy_panels(G, D, data, z_dim, f, title, seed=SAMPLE_SEED,
                                                     probabilistic=probabilistic))
    else:
        save_image_grid(G, *sample_grid_inputs(z_dim, num_classes), path, description=title)





def sample_grid_inputs(z_dim: int, num_classes: int, n: int = 64) -> tuple[Tensor, Tensor | None]:
    """The fixed noise (and labels, cycling through the classes) behind a run's sample grids."""
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(SAMPLE_SEED))
    return z, (torch.arange(n) % num_classes if num_classes else None)



def save_image_grid(G: nn.Module, z: Tensor, y: Tensor | None, path: Path, nrow: int = 8,
                    description: str = "") -> None:
    """G's images for noise z [n, z_dim] (labels y [n]) as one PNG grid, G in eval mode, written
    atomically; ``description`` (which generator, which step) goes into the PNG's Description text."""
    from PIL import Image, PngImagePlugin
    from torchvision.utils import make_grid

    grid = make_grid(run_generator(G, z, y), nrow=nrow, normalize=True, value_range=(-1, 1))  # [3, H, W] in [0, 1]
    image = Image.fromarray(grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy())
    info = PngImagePlugin.PngInfo()
    info.add_text("Description", description)
    write_atomic(path, lambda f: image.save(f, format="png", pnginfo=info))
