"""Training dynamics on a bimodal target: the minimax and the non-saturating objective side by side."""

from __future__ import annotations

import math

from torch import Tensor, nn

from ..config import load_config
from ..distributions import GaussianMixture
from ..exact import jsd
from ..training import train
from .claims import Claim
from .collapse import KEEP
from .grid import Grid, with_rest

__all__ = ["dynamics_claims"]


def _grad(p: Tensor) -> Tensor:
    assert p.grad is not None  # read after G's update, which gave every parameter a gradient
    return p.grad


def dynamics_claims(steps: int | None = None) -> tuple[list[Claim], dict]:
    """The ``bimodal1d`` preset trained with ``minimax`` and with ``nonsaturating``, same seed.

    Reports per objective the JSD reached, the modes kept (a mode counts when p_g puts at least a quarter
    of p_data's mass within 3σ of it, the rule of :mod:`.collapse`, stated in the row), and the share of
    steps where ‖∇_θ G‖ < 1e-3.
    """
    rows, fig = [], {}
    for name in ("minimax", "nonsaturating"):
        over = ["train.progress=false", "train.tensorboard=false", f"objective.name={name}"]
        if steps is not None:
            over.append(f"train.steps={steps}")
        cfg = load_config("bimodal1d", overrides=over)
        norms: list[float] = []

        def grad_norm(step: int, G: nn.Module, D: nn.Module) -> None:
            if step > 0:  # G's gradients of this step are still in .grad after its update
                norms.append(math.sqrt(sum(_grad(p).square().sum().item() for p in G.parameters())))

        res = train(cfg, None, callback=grad_norm)
        target = res.target
        assert isinstance(target, GaussianMixture)  # bimodal1d is a toy target
        grid = Grid(target)
        p_g = grid.p_g(res.G, n_z=2**18)
        j = jsd(with_rest(grid.p_data), with_rest(p_g)).item()
        kept = 0
        masses = []
        for mu, sd in zip(target.means[:, 0], target.stds[:, 0]):
            near = (grid.centres - mu).abs() <= 3 * sd
            masses.append(p_g[near].sum().item())
            kept += int(masses[-1] >= KEEP * grid.p_data[near].sum().item())
        flat = sum(n < 1e-3 for n in norms) / len(norms)
        k = len(target.weights)
        rows += [
            Claim(
                f"bimodal target, {name} objective, {cfg.train.steps} steps: JSD(p_data || p_g) reached, nats",
                None,
                j,
                None,
                True,
            ),
            Claim(
                f"bimodal target, {name}: modes kept (of {k}; kept: p_g's mass within 3 sigma >= {KEEP:.2g} of "
                f"p_data's there; p_g's masses {', '.join(f'{m:.3g}' for m in masses)})",
                None,
                float(kept),
                None,
                True,
            ),
            Claim(f"bimodal target, {name}: share of steps with |grad_theta G loss| < 1e-3", None, flat, None, True),
        ]
        fig[name] = {
            "x": grid.centres.numpy(),
            "p_data": (grid.p_data / grid.width).numpy(),
            "p_g": (p_g / grid.width).numpy(),
            "norms": norms,
            "jsd": j,
        }
    return rows, fig
