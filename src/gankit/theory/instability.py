"""``gankit theory --all``: the instability of real training, measured where it happens (after the rows of
the clean theory). Training on a bimodal target with each objective (:mod:`.dynamics`), saturation stalls the
minimax game (:mod:`.stall`), gradient steps oscillate around the Dirac-GAN's equilibrium unless regularised
(:mod:`.dirac`), and mode collapse counted per mode and seed (:mod:`.collapse`); figures by
:mod:`.instability_figures` (and dynamics.png by :func:`gankit.plots.plot_dynamics`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from .claims import Claim
from .collapse import collapse_claims
from .dirac import dirac_claims
from .dynamics import dynamics_claims
from .stall import stall_claims

__all__ = ["instability_claims"]


def instability_claims(out_dir: str | Path | None = None, log: Callable[[str], None] = lambda s: None) -> list[Claim]:
    """The rows of the experiments in the order of the story (real training's dynamics, a stall, an
    oscillation, a collapse), and dynamics.png, dirac.png, stall.png and modes.png in ``out_dir`` if given."""
    t0 = time.perf_counter()

    def done(what: str) -> None:
        log(f"{what} ({time.perf_counter() - t0:.1f}s)")

    dyn_rows, dyn_fig = dynamics_claims()
    done("dynamics rows done")
    stall_rows, stall_fig = stall_claims()
    done("stall rows done")
    dirac_rows, dirac_fig = dirac_claims()
    done("Dirac-GAN rows done")
    collapse_rows, collapse_fig = collapse_claims(log=log)
    done("mode-collapse rows done")
    if out_dir is not None:
        from ..plots import plot_dynamics
        from .instability_figures import plot_dirac, plot_modes, plot_stall

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        plot_dynamics(dyn_fig, out / "dynamics.png")
        plot_stall(stall_fig, out / "stall.png")
        plot_dirac(dirac_fig, out / "dirac.png")
        plot_modes(collapse_fig, out / "modes.png")
        done(f"instability figures written to {out_dir}")
    return dyn_rows + stall_rows + dirac_rows + collapse_rows
