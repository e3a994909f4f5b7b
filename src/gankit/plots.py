"""Figures, written as PNG files with matplotlib's non-interactive backend.

The functions here draw what they are given (samples, densities, curves, a discriminator's values at
points they choose); they never run a generator: the callers draw the samples (see
:mod:`gankit.figures`, :func:`gankit.runs.write_samples`, :mod:`gankit.theory`).
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib import ticker  # noqa: E402
from torch import Tensor  # noqa: E402

if TYPE_CHECKING:  # the targets are passed in: plotting builds none
    from matplotlib.typing import RcKeyType

    from .distributions import GaussianMixture

__all__ = [
    "plot_toy_samples",
    "plot_toy_panels",
    "plot_curves",
    "plot_figure1",
    "plot_theory_curves",
    "plot_logit",
    "plot_proposition2",
    "plot_wgan",
]

# Text in gankit's figures is plain text: run directory names and metric keys may hold "$", "\\", "^" or
# "_", which matplotlib would otherwise parse as math text (and fail on, or silently change). LaTeX is
# off for the same reason; numbers on the axes come from formatters that write no math text either.
_PLAIN_TEXT: dict[RcKeyType, Any] = {
    "text.parse_math": False,
    "text.usetex": False,
    "axes.formatter.use_mathtext": False,
}


def _plain_text(plot):
    """Run a figure function with every text it makes (titles, labels, legends, tick labels,
    annotations) drawn as written, never parsed as math text."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with plt.rc_context(_PLAIN_TEXT):
            return plot(*args, **kwargs)

    return wrapper


class _PlainLogFormatter(ticker.LogFormatter):
    """The ticks that matplotlib's log formatter labels, written as plain numbers (0.01, 1e-05):
    its default writes math text ("$\\mathdefault{10^{-2}}$"), which plain text would show raw."""

    def __call__(self, x, pos=None):
        return f"{x:g}" if super().__call__(x, pos) else ""


def _save(fig, path: str | Path | BinaryIO) -> None:
    """Write ``fig`` as a PNG to ``path`` (a file name or a binary file) and close it; the tick labels of
    log and symlog axes are switched to plain numbers first (see :data:`_PLAIN_TEXT`)."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            transform = axis.get_transform()
            for get, put in (
                (axis.get_major_formatter, axis.set_major_formatter),
                (axis.get_minor_formatter, axis.set_minor_formatter),
            ):
                f = get()
                if isinstance(f, ticker.LogFormatterMathtext):
                    put(
                        _PlainLogFormatter(
                            base=transform.base,
                            labelOnlyBase=f.labelOnlyBase,
                            minor_thresholds=f.minor_thresholds,
                            linthresh=getattr(transform, "linthresh", None),
                        )
                    )
    fig.savefig(path, format="png")
    plt.close(fig)


def _legend_label(label: str) -> str:
    """``label`` as a legend shows it: matplotlib leaves out labels that start with "_" (its mark for
    "no legend entry"), so a run or metric named that way gets a leading space; see :func:`_text` too."""
    label = _text(label)
    return " " + label if label.startswith("_") else label


@_plain_text
def plot_toy_samples(target: GaussianMixture, samples: Tensor, path: str | Path, title: str = "") -> None:
    """Samples over the target: a histogram against p_data (1-D) or points over log p_data (2-D)."""
    lo, hi = target.bounds(4.0)
    fig, ax = plt.subplots(figsize=(5, 5) if target.dim == 2 else (6, 3.5), dpi=100)
    if target.dim == 1:
        x = torch.linspace(float(lo[0]), float(hi[0]), 1000, dtype=torch.float64)
        ax.hist(
            samples[:, 0].numpy(),
            bins=100,
            range=(float(lo[0]), float(hi[0])),
            density=True,
            color="tab:green",
            alpha=0.5,
            label="G samples",
        )
        ax.plot(x.numpy(), target.prob(x).numpy(), "k--", label="p_data")
        ax.set_xlabel("x")
        ax.legend(loc="upper right", fontsize=8)
    else:
        pad = 0.1 * float((hi - lo).max())
        lo, hi = lo - pad, hi + pad
        g = torch.stack(
            torch.meshgrid(
                torch.linspace(float(lo[0]), float(hi[0]), 300, dtype=torch.float64),
                torch.linspace(float(lo[1]), float(hi[1]), 300, dtype=torch.float64),
                indexing="xy",
            ),
            -1,
        )
        logp = target.log_prob(g.reshape(-1, 2)).reshape(300, 300).clamp(min=-12)
        ax.imshow(
            logp.numpy(),
            origin="lower",
            extent=(float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])),
            cmap="Greys",
            alpha=0.6,
        )
        s = samples.numpy()
        ax.scatter(s[:, 0], s[:, 1], s=2, c="tab:green", alpha=0.5, linewidths=0)
        ax.set_xlim(float(lo[0]), float(hi[0]))
        ax.set_ylim(float(lo[1]), float(hi[1]))
        ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def _box(target: GaussianMixture, samples: Tensor) -> tuple[Tensor, Tensor]:
    """The target's box (±4σ around its components) widened to hold the central 98% of the samples
    on each axis, so a generator that is still far off shows up in the figure; 5% margin."""
    lo, hi = target.bounds(4.0)
    s = samples.double()
    s = s[torch.isfinite(s).all(1)]  # a diverged G may give inf or nan
    if len(s):
        lo = torch.minimum(lo, s.quantile(0.01, dim=0))
        hi = torch.maximum(hi, s.quantile(0.99, dim=0))
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


@_plain_text
def plot_toy_panels(
    samples: Tensor,
    d: Callable[[Tensor], Tensor],
    target: GaussianMixture,
    path: str | Path | BinaryIO,
    title: str = "",
    probabilistic: bool = True,
) -> None:
    """What G and D look like on a toy target, for the sample figures of toy runs.

    ``samples``: G's samples, float64 [n, dim]. ``d``: D at points x [m, dim] (float64) as float64 [m],
    σ(logit) when ``probabilistic``, else D's raw output; it is called on points this function chooses
    (a fine 1-D grid, or a 160×160 grid over the 2-D box), which hold the target and most samples.

    1-D: p_data (exact) and p_g (histogram of the samples) on the left axis; D(x) = σ(logit) and the
    optimal D*(x) = p_data/(p_data + p_g) on the right one, D* drawn only where the bin masses are large
    enough for the ratio to mean something. 2-D: the samples over log p_data, next to a heat map of D(x)
    with the target's 3σ contours.

    ``probabilistic``: whether D is trained by the cross-entropy of the minimax objectives
    (:attr:`gankit.objectives.Objective.probabilistic`). Only then is σ(logit) D(x) and D* its
    optimum; otherwise the figure shows D's raw output (a critic's score), with no D* and no ½.
    """
    lo, hi = _box(target, samples)
    if target.dim == 1:
        fig = _toy_panel_1d(d, target, samples, lo, hi, probabilistic)
        fig.axes[0].set_title(title, fontsize=9)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
    else:
        fig = _toy_panels_2d(d, target, samples, lo, hi, probabilistic)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
    _save(fig, path)


def _toy_panel_1d(
    d_of: Callable[[Tensor], Tensor], target: GaussianMixture, x: Tensor, lo: Tensor, hi: Tensor, probabilistic: bool
):
    """The 1-D figure of :func:`plot_toy_panels`: densities on the left axis, D on the right one; samples
    ``x`` [n, 1], the box [lo, hi] [1] each."""
    n, bins = len(x), 200
    edges = torch.linspace(float(lo[0]), float(hi[0]), bins + 1, dtype=torch.float64)
    width = float(edges[1] - edges[0])
    centres = 0.5 * (edges[1:] + edges[:-1])
    p_data = target.cell_masses([edges])  # [bins], exact
    xs = x[:, 0][torch.isfinite(x[:, 0])]
    p_g = torch.histc(xs, bins, float(lo[0]), float(hi[0])) / n  # [bins]; mass outside is dropped
    fine = torch.linspace(float(lo[0]), float(hi[0]), 1000, dtype=torch.float64)
    fig, ax = plt.subplots(figsize=(7.5, 3.8), dpi=100)
    ax.plot(fine.numpy(), target.prob(fine).numpy(), "k:", lw=2, label="p_data")
    ax.stairs((p_g / width).numpy(), edges.numpy(), color="tab:green", lw=1.5, label=f"p_g ({n} samples)")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_xlim(float(lo[0]), float(hi[0]))
    ax2 = ax.twinx()
    d = d_of(fine[:, None]).numpy()  # [1000]
    if probabilistic:
        both = p_data + p_g
        d_star = torch.where(both > 1e-3, p_data / both.clamp(min=1e-300), torch.full_like(both, math.nan))
        ax2.plot(fine.numpy(), d, color="tab:blue", ls="--", lw=1.5, label="D(x)")
        ax2.plot(
            centres.numpy(), d_star.numpy(), color="tab:red", lw=1, alpha=0.8, label="D* = p_data / (p_data + p_g)"
        )
        ax2.axhline(0.5, color="grey", lw=0.5)
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("D")
    else:  # a critic's score has no optimum in closed form and no ½: its raw value, nothing more
        ax2.plot(fine.numpy(), d, color="tab:blue", ls="--", lw=1.5, label="D's output (a score, not a probability)")
        ax2.set_ylabel("D's output")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    fig.legend(h1 + h2, l1 + l2, loc="lower center", ncol=4, fontsize=8, frameon=False)
    return fig


def _toy_panels_2d(
    d_of: Callable[[Tensor], Tensor], target: GaussianMixture, x: Tensor, lo: Tensor, hi: Tensor, probabilistic: bool
):
    """The 2-D figure of :func:`plot_toy_panels`: samples ``x`` [n, 2] over log p_data, and D's heat map over
    the box [lo, hi] ([2] each)."""
    res = 160
    extent = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
    grid = torch.stack(
        torch.meshgrid(
            torch.linspace(extent[0], extent[1], res, dtype=torch.float64),
            torch.linspace(extent[2], extent[3], res, dtype=torch.float64),
            indexing="xy",
        ),
        -1,
    ).reshape(-1, 2)  # [res², 2], rows along x
    logp = torch.cat([target.log_prob(c) for c in grid.split(4096)]).reshape(res, res)  # chunks: K can be 256
    d = d_of(grid).reshape(res, res)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.6), dpi=100)
    a1.imshow(logp.clamp(min=-12).numpy(), origin="lower", extent=extent, cmap="Greys", alpha=0.6)
    shown = x[:5000].numpy()
    a1.scatter(shown[:, 0], shown[:, 1], s=2, c="tab:green", alpha=0.5, linewidths=0)
    a1.set_title(f"{len(shown)} samples of G over log p_data", fontsize=9)
    if probabilistic:
        im = a2.imshow(d.numpy(), origin="lower", extent=extent, cmap="coolwarm", vmin=0, vmax=1)
        a2.set_title("D(x) = sigmoid(logit), target's 3-sigma contours", fontsize=9)
    else:  # a score's scale is arbitrary: colours symmetric about 0, which is all the sign says
        finite = d[torch.isfinite(d)]
        top = float(finite.abs().max()) if len(finite) else 0.0
        top = top if top > 0 else 1.0  # a flat D: any symmetric range
        im = a2.imshow(d.numpy(), origin="lower", extent=extent, cmap="coolwarm", vmin=-top, vmax=top)
        a2.set_title("D's output (a score, not a probability), target's 3-sigma contours", fontsize=9)
    # log p one 3σ step below a component's peak: the outline of every mode (or of the ribbon)
    a2.contour(
        grid[:, 0].reshape(res, res).numpy(),
        grid[:, 1].reshape(res, res).numpy(),
        logp.numpy(),
        levels=[float(logp.max()) - 4.5],
        colors="k",
        linewidths=0.6,
        linestyles="solid",
    )
    fig.colorbar(im, ax=a2, fraction=0.046, pad=0.04)
    for a in (a1, a2):
        a.set_xlim(extent[0], extent[1])
        a.set_ylim(extent[2], extent[3])
        a.set_aspect("equal")
    return fig


# An axis cannot span the whole float range: near ±1.8e308 matplotlib's limits, margins and tick steps
# overflow ("Axis limits cannot be NaN or Inf"). Curve values beyond ±PLOT_LIMIT are left out as gaps, and counted.
PLOT_LIMIT = 1e300
# A curve of more than 4 × THIN_BUCKETS points is drawn as the smallest and largest value of each of
# THIN_BUCKETS equal step intervals: a figure is some 600 pixels wide, so the drawing covers the same pixels
# (spikes and gaps included), and a log of millions of rows draws in a moment instead of minutes.
THIN_BUCKETS = 2000
_UNDRAWABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def _text(s: str) -> str:
    """``s`` as a figure can draw it: a lone surrogate (a directory name that is not UTF-8, a "\\ud800" escape
    in a JSON key) stops FreeType, and a control character has no glyph (a warning), so each becomes U+FFFD."""
    return _UNDRAWABLE.sub("\ufffd", str(s))


def _thin(x: np.ndarray, y: np.ndarray, buckets: int = THIN_BUCKETS) -> tuple[np.ndarray, np.ndarray]:
    """A long curve (steps ``x`` increasing) as each of ``buckets`` equal step intervals' first step with the
    interval's smallest value and last step with its largest, then a NaN (a gap) where the interval holds a
    non-finite value. Short curves, and curves whose steps go back (rows out of order), are returned whole."""
    n = len(x)
    if n <= 4 * buckets or not np.isfinite(x).all() or x[-1] <= x[0] or (np.diff(x) < 0).any():
        return x, y
    b = np.minimum(((x - x[0]) * (buckets / (x[-1] - x[0]))).astype(np.int64), buckets - 1)  # [n] interval
    first = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])  # [m] each interval's first point
    last = np.r_[first[1:], n] - 1
    finite = np.isfinite(y)
    lo = np.minimum.reduceat(np.where(finite, y, np.inf), first)
    hi = np.maximum.reduceat(np.where(finite, y, -np.inf), first)
    empty = ~np.isfinite(lo)  # no finite value in the interval
    lo[empty], hi[empty] = np.nan, np.nan
    gap = ~np.logical_and.reduceat(finite, first)
    xs = np.stack([x[first], x[last], x[last]], 1)  # [m, 3]
    ys = np.stack([lo, hi, np.full_like(lo, np.nan)], 1)
    keep = np.stack([~empty, ~empty, gap], 1)
    return xs[keep], ys[keep]


def _curve(steps: Sequence[float], values: Sequence[float]) -> tuple[np.ndarray, np.ndarray, int]:
    """A curve as arrays to draw (thinned, see :func:`_thin`), with values beyond ±PLOT_LIMIT made gaps,
    and how many they were."""
    x = np.asarray(steps, dtype=np.float64)
    y = np.array(values, dtype=np.float64)  # a copy: the caller's values stay as they are
    huge = np.isfinite(y) & (np.abs(y) > PLOT_LIMIT)
    y[huge] = np.nan
    return *_thin(x, y), int(huge.sum())


_CURVE_STYLE: dict[RcKeyType, Any] = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 9,
    "axes.titlesize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.formatter.useoffset": False,
}
_LINESTYLES = ["-", "--", ":", "-."]
_TWIN_STYLE = "--"  # the second line of a pair (the raw G's beside its EMA copy's)


@_plain_text
def plot_curves(
    runs: Sequence[tuple[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]]],
    keys: Sequence[str],
    path: str | Path | BinaryIO,
    title: str = "",
    labels: Mapping[str, str] | None = None,
    logy: bool = False,
    hlines: Sequence[tuple[float, str]] = (),
    ylim: tuple[float, float] | None = None,
    twins: Mapping[str, str] | None = None,
    twin_labels: tuple[str, str] = ("G_ema", "G (raw)"),
) -> int:
    """Training curves against step: ``keys`` of each run, one panel. Returns how many values were not
    drawn for being beyond ±PLOT_LIMIT, which no axis can hold (they leave gaps).

    ``runs`` holds (name, {key: (steps, values)}) pairs, the steps of each finite; non-finite values leave
    gaps. Long curves are thinned to what the figure's pixels can show (:func:`_thin`). With one
    run each key gets its own colour; with several each run gets a colour and each key a line
    style, and the legend names both. ``hlines`` are reference levels (value, label), dotted.
    ``logy`` asks for a log scale, used when the positive values span more than a decade.

    ``twins`` pairs keys: {twin: key} draws ``twin`` (the raw G's values of ``key``, say) in the colour of
    ``key`` (with several runs: of the run), dashed, just under it; no other key is dashed then. With one
    run the legend names each line by ``labels``; with several it adds a solid and a dashed grey line
    named by ``twin_labels`` (what the solid lines and what the dashed ones are).
    """
    labels = labels or {}
    twins = {t: k for t, k in (twins or {}).items() if t in keys and t != k}
    present = [k for k in keys if any(k in s for _, s in runs)]
    mains = list(dict.fromkeys(twins.get(k, k) for k in present))  # a colour (one run) or line style (several) each
    paired = any(k in twins for k in present)
    styles = [ls for ls in _LINESTYLES if ls != _TWIN_STYLE] if paired else _LINESTYLES
    several = len(runs) > 1
    # errstate: matplotlib's margins and log ticks overflow to inf for values near ±PLOT_LIMIT, harmlessly
    with plt.rc_context(_CURVE_STYLE), np.errstate(over="ignore", invalid="ignore"):
        fig, ax = plt.subplots(figsize=(5.8, 3.3), dpi=100)
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        positive, huge = [], 0  # [(smallest, largest)] positive value of each curve
        for i, (name, series) in enumerate(runs):
            for key in present:
                if key not in series:
                    continue
                j, twin = mains.index(twins.get(key, key)), key in twins
                steps, values, n_huge = _curve(*series[key])
                huge += n_huge
                pos = values[np.isfinite(values) & (values > 0)]
                if len(pos):
                    positive.append((pos.min(), pos.max()))
                ax.plot(
                    steps,
                    values,
                    color=colours[(i if several else j) % len(colours)],
                    ls=_TWIN_STYLE if twin else styles[j % len(styles)] if several else "-",
                    lw=1.3,
                    marker="o" if len(series[key][0]) <= 30 else None,
                    ms=3,
                    mfc="none" if twin else None,
                    zorder=1.9 if twin else 2,  # the pair's main line on top
                    label=None if several else _legend_label(labels.get(key, key)),
                )
        for y, label in hlines:
            ax.axhline(y, color="k", lw=0.9, ls=":", label=_legend_label(label))
        if several:  # colour = run, line style = key
            _runs_legend(ax, runs, present, mains, labels, styles, twin_labels if paired else None)
        elif len(present) > 1 or hlines:
            ax.legend()
        log = bool(logy and positive and max(hi for _, hi in positive) > 10 * min(lo for lo, _ in positive))
        if log:
            ax.set_yscale("log")
        _set_ylim(ax, ylim, hlines, log)
        ax.set_xlabel("step")
        ax.set_title(_text(title))
        fig.tight_layout()
        _save(fig, path)
    return huge


def _runs_legend(
    ax,
    runs: Sequence[tuple[str, Mapping]],
    present: Sequence[str],
    mains: Sequence[str],
    labels: Mapping[str, str],
    styles: Sequence[str],
    twin_labels: tuple[str, str] | None,
) -> None:
    """The legend of :func:`plot_curves` with several runs: a colour a run, a line style a key (when there are
    several), the grey solid and dashed lines of ``twin_labels`` when keys are paired, then the reference lines."""
    from matplotlib.lines import Line2D

    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = [
        Line2D([], [], color=colours[i % len(colours)], lw=1.5, label=_legend_label(name))
        for i, (name, series) in enumerate(runs)
        if any(k in series for k in present)
    ]
    if len(mains) > 1:
        handles += [
            Line2D([], [], color="grey", ls=styles[j % len(styles)], label=_legend_label(labels.get(k, k)))
            for j, k in enumerate(mains)
        ]
    if twin_labels is not None:  # solid: the key itself (when its style says nothing else), dashed: its twin
        handles += [Line2D([], [], color="grey", label=_legend_label(twin_labels[0]))] if len(mains) == 1 else []
        handles.append(Line2D([], [], color="grey", ls=_TWIN_STYLE, label=_legend_label(twin_labels[1])))
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0])  # + the reference lines


def _set_ylim(ax, ylim: tuple[float, float] | None, hlines: Sequence[tuple[float, str]], log: bool) -> None:
    """``ylim`` if given, else the drawn range widened to hold the reference lines (on a log axis, those
    above 0) with a 5% margin, and at least 10% of its magnitude tall: a flat curve is drawn flat, not
    as magnified noise."""
    if ylim is not None:
        ax.set_ylim(*ylim)
        return
    lo, hi = ax.get_ylim()
    for y, _ in hlines:
        if not log or y > 0:
            lo, hi = min(lo, y), max(hi, y)
    if not log and hi - lo < 0.1 * max(abs(lo), abs(hi)):
        mid, half = (lo + hi) / 2, 0.05 * max(abs(lo), abs(hi))
        lo, hi = mid - half, mid + half
    span = (hi - lo) * 0.05 if not log else 0
    ax.set_ylim(lo - span, hi + span)


@_plain_text
def plot_figure1(stages: Sequence[dict], path: str | Path) -> None:
    """Figure 1 of Goodfellow et al. (2014): p_data, p_g, D and D* at successive stages.

    Each stage is a dict with ``title`` and 1-D arrays ``x``, ``p_data``, ``p_g``, ``D``, ``D_star``.
    Densities use the left axis, discriminators the right one (0 to 1, with 1/2 marked).
    """
    fig, axes = plt.subplots(1, len(stages), figsize=(3.6 * len(stages), 3.2), dpi=110, sharey=True)
    axes = [axes] if len(stages) == 1 else list(axes)
    for ax, st in zip(axes, stages):
        x = st["x"]
        ax.plot(x, st["p_data"], "k:", lw=2, label="p_data")
        ax.plot(x, st["p_g"], color="tab:green", lw=1.5, label="p_g")
        ax2 = ax.twinx()
        ax2.plot(x, st["D"], color="tab:blue", ls="--", lw=1.5, label="D (trained)")
        ax2.plot(x, st["D_star"], color="tab:red", lw=0.8, alpha=0.8, label="D* = p_data/(p_data+p_g)")
        ax2.axhline(0.5, color="grey", lw=0.5)
        ax2.set_ylim(0, 1)
        if ax is not axes[-1]:
            ax2.set_yticklabels([])
        ax.set_title(st["title"], fontsize=9)
        ax.set_xlabel("x")
    axes[0].set_ylabel("density")
    h1, l1 = axes[0].get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    fig.legend(h1 + h2, l1 + l2, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    _save(fig, path)


@_plain_text
def plot_theory_curves(curve: Sequence[tuple[int, float, float, float]], path: str | Path) -> None:
    """JSD(p_data ‖ p_g) and the value of the game against training step.

    ``curve`` rows are (step, JSD, C(G) = V(D*, G), V(D, G) of the training's own D), all by
    quadrature. C(G) = −log 4 + 2·JSD sits above V(D, G) and falls to −log 4 (marked).
    """
    import math

    steps, j, c, v = (list(col) for col in zip(*curve))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.4), dpi=110)
    a1.semilogy(steps, [max(t, 1e-6) for t in j], color="tab:purple")
    a1.set_title("JSD(p_data || p_g), nats", fontsize=9)
    a1.set_xlabel("step")
    a2.plot(steps, c, color="tab:red", label="C(G) = V(D*, G)")
    a2.plot(steps, v, color="tab:blue", ls="--", label="V(D, G), the training's D")
    a2.axhline(-math.log(4), color="k", lw=0.8, ls=":", label="-log 4")
    a2.set_title("value of the game", fontsize=9)
    a2.set_xlabel("step")
    a2.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


@_plain_text
def plot_logit(fig_data: dict, path: str | Path) -> None:
    """The trained discriminator's logit f against the optimal logit f* = log(p_data/p_g)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6), dpi=110)
    x = fig_data["x"]
    ax.plot(x, fig_data["f"], color="tab:blue", ls="--", label="logit of the trained D")
    ax.plot(x, fig_data["f_star"], color="tab:red", lw=1, label="f* = log(p_data / p_g)")
    ax.set_ylim(-12, 12)
    ax.set_xlabel("x")
    ax.set_ylabel("logit")
    ax2 = ax.twinx()
    ax2.plot(x, fig_data["p_data"], "k:", label="p_data")
    ax2.plot(x, fig_data["p_g"], color="tab:green", label="p_g")
    ax2.set_ylabel("density")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="lower left")
    ax.set_title("G fixed: the trained logit lies on log(p_data/p_g) where both have mass", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


@_plain_text
def plot_proposition2(fig_data: dict, path: str | Path) -> None:
    """p_g morphing into p_data under descent on C with D = D*, and C against step."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.4), dpi=110)
    x, w = fig_data["x"], fig_data["width"]
    a1.plot(x, fig_data["p_data"] / w, "k:", lw=2, label="p_data")
    pg = fig_data["p_g"]
    cmap = plt.get_cmap("Greens")
    shown = [0, 1, 2, 4, 8, len(pg) - 1]
    for i, k in enumerate(shown):
        a1.plot(x, pg[k] / w, color=cmap(0.3 + 0.7 * i / (len(shown) - 1)), lw=1.2, label=f"p_g, step {k}")
    a1.set_xlabel("x")
    a1.legend(fontsize=7)
    a1.set_title("Proposition 2: p_g descends C with D = D*", fontsize=9)
    import math

    steps = range(len(fig_data["C"]))
    a2.plot(steps, fig_data["C"], color="tab:red", label="C(p_g)")
    a2.axhline(-math.log(4), color="k", lw=0.8, ls=":", label="-log 4")
    a2.set_xlabel("step")
    a2.set_xscale("symlog", linthresh=1)
    a2.set_xlim(left=0)
    a2.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


@_plain_text
def plot_wgan(fig_data: dict, path: str | Path) -> None:
    """Arjovsky et al. (2017), example 1: JSD and W1 against θ, and the generator's gradients."""
    import math

    th = fig_data["theta"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.4), dpi=110)
    a1.plot(th, fig_data["jsd"], "o-", color="tab:purple", label="JSD(p_0 || p_theta)")
    a1.plot(th, fig_data["w1"], "s-", color="tab:orange", label="W1(p_0, p_theta)")
    a1.axhline(math.log(2), color="grey", lw=0.8, ls=":", label="log 2")
    a1.set_xlabel("theta")
    a1.legend(fontsize=8)
    a1.set_title("distance between N(0, eps^2) and N(theta, eps^2)", fontsize=9)
    a2.semilogy(
        th,
        [max(abs(g), 1e-30) for g in fig_data["g_minimax"]],
        "o-",
        label="minimax, D = D* (below 1e-30, 0 in float64, drawn at 1e-30)",
    )
    a2.semilogy(th, [abs(g) for g in fig_data["g_nonsat"]], "s-", label="non-saturating, D = D*")
    crit = fig_data["critic"]
    a2.semilogy(list(crit), [abs(g) for g in crit.values()], "^-", label="WGAN-GP, trained critic")
    a2.set_xlabel("theta")
    a2.set_title("|d/dtheta| of the generator loss", fontsize=9)
    a2.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
