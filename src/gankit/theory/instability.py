"""``gankit theory --all``: the instability of real training, measured where it happens (after the rows of
the clean theory). Saturation stalls the minimax game (:mod:`.stall`), gradient steps oscillate around the
Dirac-GAN's equilibrium unless regularised (:mod:`.dirac`), and mode collapse counted per mode and seed in real
training (:mod:`.collapse`); figures by :mod:`.instability_figures`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from .claims import Claim
from .collapse import collapse_claims
from .dirac import dirac_claims
from .stall import stall_claims

__all__ = ["instability_claims"]


def instability_claims(out_dir: str | Path | None = None, log: Callable[[str], None] = lambda s: None) -> list[Claim]:
    """The rows of the experiments in the order of the story (a stall, an oscillation, a collapse), and
    stall.png, dirac.png and modes.png in ``out_dir`` if given."""
    t0 = time.perf_counter()

    def done(what: str) -> None:
        log(f"{what} ({time.perf_counter() - t0:.1f}s)")

    stall_rows, stall_fig = stall_claims()
    done("stall rows done")
    dirac_rows, dirac_fig = dirac_claims()
    done("Dirac-GAN rows done")
    collapse_rows, collapse_fig = collapse_claims(log=log)
    done("mode-collapse rows done")
    if out_dir is not None:
        from .instability_figures import plot_dirac, plot_modes, plot_stall

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        plot_stall(stall_fig, out / "stall.png")
        plot_dirac(dirac_fig, out / "dirac.png")
        plot_modes(collapse_fig, out / "modes.png")
        done(f"instability figures written to {out_dir}")
    return stall_rows + dirac_rows + collapse_rows
