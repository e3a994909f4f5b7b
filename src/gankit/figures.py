"""The sample figure a run writes at ``train.sample_every`` steps: for toy targets p_g against p_data
and D against D* (1-D) or samples over D's heat map (2-D); for images a grid of G's samples on fixed
noise. Written atomically: a full disk leaves no empty or torn PNG.

This is where G is run for a figure: :mod:`gankit.plots` only draws the samples it is given.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from .distributions import GaussianMixture
from .files import write_atomic
from .generate import generate, run_generator

__all__ = ["sample_figure", "toy_figure", "save_image_grid", "sample_grid_inputs", "SAMPLE_SEED", "TOY_SAMPLES"]

SAMPLE_SEED = 2014  # the fixed noise behind every sample figure of a run
TOY_SAMPLES = 2**16  # G's samples behind a toy figure's p_g histogram (the 2-D scatter shows the first 5000)


def sample_figure(
    path: Path, G: nn.Module, D: nn.Module, data, z_dim: int, num_classes: int, title: str, probabilistic: bool
) -> None:
    """The figure of generator ``G`` (and, for toy targets, discriminator ``D``) at ``path``. ``title``
    names the run, the generator and the step; ``probabilistic``: D's σ(logit) is a probability (see
    :attr:`gankit.objectives.Objective.probabilistic`), so it is drawn against D*."""
    if isinstance(data, GaussianMixture):
        toy_figure(path, G, D, data, z_dim, title, probabilistic)
    else:
        save_image_grid(G, *sample_grid_inputs(z_dim, num_classes), path, description=title)


def toy_figure(
    path: Path,
    G: nn.Module,
    D: nn.Module,
    target: GaussianMixture,
    z_dim: int,
    title: str,
    probabilistic: bool = True,
    n: int = TOY_SAMPLES,
    seed: int = SAMPLE_SEED,
) -> None:
    """The figure of G and D on a toy ``target`` (:func:`gankit.plots.plot_toy_panels`) at ``path``, from
    ``n`` samples of G on noise seeded by ``seed``, written atomically.

    The samples come from :func:`gankit.generate.generate` with their own seeded noise, and D runs under
    ``no_grad`` in eval mode, so the global RNG and the networks' modes are left as found.
    """
    from .plots import plot_toy_panels  # matplotlib only when figures are written

    x = generate(G, n, z_dim, seed=seed).double()  # [n, dim]

    def d_of(points: Tensor) -> Tensor:  # [m, dim] float64 → [m] float64
        return _d_out(D, points, probabilistic)

    write_atomic(path, lambda f: plot_toy_panels(x, d_of, target, f, title, probabilistic=probabilistic))


@torch.no_grad()
def _d_out(D: nn.Module, x: Tensor, probabilistic: bool = True) -> Tensor:
    """σ(D(x)) (or, with ``probabilistic`` False, D's raw output) for points x [m, dim] as float64 [m] on the
    CPU, x cast to D's device and dtype, D in eval mode for the call (its mode is restored)."""
    param = next(D.parameters())
    was_training = D.training
    D.eval()
    try:
        out = D(x.to(param.device, param.dtype)).double().flatten().cpu()
        return torch.sigmoid(out) if probabilistic else out
    finally:
        D.train(was_training)


def sample_grid_inputs(z_dim: int, num_classes: int, n: int = 64) -> tuple[Tensor, Tensor | None]:
    """The fixed noise (and labels, cycling through the classes) behind a run's sample grids."""
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(SAMPLE_SEED))
    return z, (torch.arange(n) % num_classes if num_classes else None)


def save_image_grid(
    G: nn.Module, z: Tensor, y: Tensor | None, path: Path, nrow: int = 8, description: str = ""
) -> None:
    """G's images for noise z [n, z_dim] (labels y [n]) as one PNG grid, G in eval mode, written
    atomically; ``description`` (which generator, which step) goes into the PNG's Description text."""
    from PIL import Image, PngImagePlugin
    from torchvision.utils import make_grid

    grid = make_grid(run_generator(G, z, y), nrow=nrow, normalize=True, value_range=(-1, 1))  # [3, H, W] in [0, 1]
    image = Image.fromarray(grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy())
    info = PngImagePlugin.PngInfo()
    info.add_text("Description", description)
    write_atomic(path, lambda f: image.save(f, format="png", pnginfo=info))
