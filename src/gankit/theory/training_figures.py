"""Figure 1 of Goodfellow et al. (2014), measured on the theory's training run, and its curves of JSD and
the game's value against step."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..exact import jsd, value, virtual_training_criterion
from .fixed_g import FixedG
from .grid import Grid, with_rest
from .snapshots import Snapshots

__all__ = ["write_training_figures"]


def write_training_figures(
    out: Path, grid: Grid, snaps: Snapshots, fixed: FixedG, fixed_step: int, mid_step: int, steps: int
) -> None:
    """figure1.png (p_data, p_g, D and D* at four stages) and curves.png (JSD, C(G) and V(D, G) of every
    snapshot, by quadrature) in ``out``."""
    from ..plots import plot_figure1, plot_theory_curves

    out.mkdir(parents=True, exist_ok=True)
    x = grid.centres.numpy()

    def stage(title: str, G: nn.Module, D: nn.Module) -> dict:
        p_g = grid.p_g(G, n_z=2**18)
        d_star = grid.d_star(p_g, min_mass=1e-4, fill=float("nan"))  # drawn only where there is mass
        return {
            "title": title,
            "x": x,
            "p_data": (grid.p_data / grid.width).numpy(),
            "p_g": (p_g / grid.width).numpy(),
            "D": torch.sigmoid(grid.logits(D)).numpy(),
            "D_star": d_star.numpy(),
        }

    stages = [
        stage(f"(a) step {fixed_step}: D partly accurate", fixed.G, fixed.D_early),
        stage("(b) G fixed, D trained: D = D*", fixed.G, fixed.D_conv),
        stage(f"(c) step {mid_step}: p_g moves to p_data", *snaps.load(mid_step)),
        stage(f"(d) step {steps}: p_g = p_data, D = 1/2", *snaps.load(steps)),
    ]
    plot_figure1(stages, out / "figure1.png")
    curve = []
    for step in snaps.steps:
        G, D = snaps.load(step)
        p_g = grid.p_g(G, n_z=2**16)
        pd, pg = with_rest(grid.p_data), with_rest(p_g)  # [B + 1]
        logits = torch.cat([grid.logits(D), torch.zeros(1, dtype=torch.float64)])  # D = 1/2 on the rest cell
        curve.append(
            (step, jsd(pd, pg).item(), virtual_training_criterion(pd, pg).item(), value(pd, pg, logits).item())
        )
    plot_theory_curves(curve, out / "curves.png")
