"""The figures of ``gankit theory --all``: the Dirac-GAN's trajectories beside the predicted spiral or circle
(dirac.png), the stalled and the moving generator (stall.png), and the mass p_g puts near each mode, per
objective and seed (modes.png)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_dirac", "plot_stall", "plot_modes", "INSTABILITY_FIGURES"]

INSTABILITY_FIGURES = ("dirac.png", "stall.png", "modes.png")


def _plt():
    """pyplot on gankit's non-interactive backend (importing gankit.plots selects Agg)."""
    from .. import plots  # noqa: F401  sets the Agg backend before pyplot is imported

    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> None:
    """Write ``fig`` as a PNG and free it."""
    fig.tight_layout()
    fig.savefig(path)
    _plt().close(fig)


def plot_dirac(fig_data: dict, path: str | Path) -> None:
    """One panel per training method: the iterates in the (θ, ψ) plane (solid) and the linearised map's
    (dashed: the predicted spiral or circle), the equilibrium (0, 0) marked; for WGAN-GP the circle |x| = g0."""
    plt = _plt()
    names = list(fig_data)
    cols = 4
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 4 * rows), dpi=100)
    for ax, name in zip(axes.flat, names):
        d = fig_data[name]
        t = d["traj"]
        ax.plot(t[:, 0], t[:, 1], lw=0.6, color="tab:blue", label="iterates")
        if d["pred"] is not None:
            p = d["pred"]
            ax.plot(p[:, 0], p[:, 1], lw=0.8, ls="--", color="tab:orange", label="linearised map")
            title = f"{name}\nrate per step {d['rate']:.5f}"
        else:
            a = np.linspace(0, 2 * np.pi, 200)
            ax.plot(d["g0"] * np.cos(a), d["g0"] * np.sin(a), ls="--", color="tab:red", label="|x| = g0")
            title = f"{name}\nno Jacobian at (0, 0)"
        ax.plot([t[0, 0]], [t[0, 1]], "go", ms=4)
        ax.plot([0], [0], "k+", ms=10)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("theta (generator)")
        ax.set_ylabel("psi (discriminator)")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(fontsize=7, loc="upper right")
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    _save(fig, path)


def plot_stall(fig_data: dict, path: str | Path) -> None:
    """μ against step for the minimax and the non-saturating generator (each seed thin, the exact-gradient
    path dashed), with the data's mean; and p_data beside p_g at the start and at the end of each."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    colours = {"minimax": "tab:red", "nonsaturating": "tab:green"}
    for name, paths in fig_data["paths"].items():
        for i, p in enumerate(paths):
            a.plot(p, color=colours[name], lw=0.8, alpha=0.7, label=f"{name} (batch, each seed)" if i == 0 else None)
        a.plot(
            fig_data["exact_path"][name],
            color="k",
            lw=0.8,
            ls="--",
            label="exact gradient" if name == "minimax" else None,
        )
    a.axhline(fig_data["mu_data"], color="k", ls=":", lw=1, label="data mean")
    a.set_xlabel("step")
    a.set_ylabel("mu, the generator's mean")
    a.set_title("G's mean against step, D = D* at every step", fontsize=9)
    a.legend(fontsize=8)
    x = np.linspace(-6.5, 4.5, 800)
    s = fig_data["sigma"]
    pdf = lambda m: np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))  # noqa: E731
    b.plot(x, pdf(fig_data["mu_data"]), "k:", lw=2, label="p_data")
    b.plot(x, pdf(fig_data["paths"]["minimax"][0][0]), color="tab:gray", label="p_g at the start")
    for name, paths in fig_data["paths"].items():
        b.plot(x, pdf(paths[0][-1]), color=colours[name], ls="--", label=f"p_g at the end, {name}")
    b.set_title("p_g before and after (seed 0)", fontsize=9)
    b.legend(fontsize=8)
    _save(fig, path)


def plot_modes(fig_data: dict, path: str | Path) -> None:
    """Per target, the mass p_g puts near each mode (bars per seed and objective) beside p_data's, the
    keep threshold as a line."""
    plt = _plt()
    targets = list(fig_data)
    fig, axes = plt.subplots(1, len(targets), figsize=(7 * len(targets), 4), dpi=100, squeeze=False)
    for ax, target in zip(axes[0], targets):
        d = fig_data[target]
        labels, masses = [], []
        for name, per_seed in d["mass"].items():
            for s, m in enumerate(per_seed):
                labels.append(f"{name}\nseed {s}")
                masses.append(m)
        k = len(d["data_mass"])
        m = np.array(masses)  # [runs, K]
        bottom = np.zeros(len(m))
        cmap = plt.get_cmap("tab10")
        for j in range(k):
            ax.bar(range(len(m)), m[:, j], bottom=bottom, color=cmap(j % 10), label=f"mode {j}" if k <= 8 else None)
            bottom += m[:, j]
        ax.axhline(float(np.sum(d["data_mass"])), color="k", ls=":", lw=1, label="p_data, all modes")
        ax.set_xticks(range(len(m)))
        ax.set_xticklabels(labels, fontsize=6, rotation=90)
        ax.set_ylabel("mass of p_g near each mode (stacked)")
        ax.set_title(f"{target}: {d['rule']}", fontsize=8)
        ax.set_ylim(0, 1.3)  # room above the bars for the legend
        ax.legend(fontsize=6, loc="upper center", ncol=5)
    _save(fig, path)
