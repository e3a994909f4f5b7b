"""The training curves: which panels a run's metrics support, and each panel drawn as a figure.

Losses, D(x) on real and fake and the value V with −log 4 for the minimax objectives, for toy targets
the JSD and the mode statistics, ``eval/<net>/<metric>`` series, then any other key, a panel each. A run
with an EMA logs the raw G's metrics beside its EMA copy's (``raw/<key>`` beside ``<key>``): both are
drawn in one panel, the raw G dashed. Several runs are overlaid, one colour a run.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import AbstractSet, Callable, Sequence

from .describe import RAW_G, RAW_PREFIX, SAMPLER_RULE, ema_copy, eval_samples, jsd_basis, mode_count, sampler
from .markup import esc, img_tag, note_paragraphs
from .read import Run
from .values import listed, shorten


LOG4 = math.log(4.0)  # −log 4: the value V(D*, G) at the game's equilibrium p_g = p_data (Theorem 1)
MAX_PANELS = 40  # curve panels on a page: more would take minutes to draw and nobody would read them
TITLE_CHARS = 100  # a figure's title longer than this (a metric key can be any length) is cut


@dataclass
class _Panel:
    """One figure: the series ``keys`` of every run, drawn by :func:`gankit.plots.plot_curves`."""

    title: str
    keys: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    logy: bool = False
    hlines: list[tuple[float, str]] = field(default_factory=list)
    ylim: tuple[float, float] | None = None
    # what a run's values were measured on besides the generator (samples, features), for metrics of the
    # sampling generator: figure and caption name the generator before it
    measured: Callable[[Run], str] | None = None
    caption: str = ""  # said under the figure
    twins: dict[str, str] = field(default_factory=dict)  # raw/<key> drawn in the panel: its <key>


GAME_CAPTION = (
    "Drawn for runs whose objective is minimax or nonsaturating only: there D is trained by "
    "cross-entropy, so σ(logit) is D(x) and V is the game's value."
)
NOTE_CHARS = 80  # a figure's "measured on" line is wrapped at this many characters: a figure is 580 pixels wide


def _twin_of(key: str) -> str | None:
    """The series whose raw-G twin ``key`` is (raw/<key> → <key>), or None for a series of its own. One level
    only: raw/raw/x, which training never logs, is a series of its own."""
    if key.startswith(RAW_PREFIX) and len(key) > len(RAW_PREFIX) and not key[len(RAW_PREFIX) :].startswith(RAW_PREFIX):
        return key[len(RAW_PREFIX) :]
    return None


def _panels(runs: list[Run]) -> tuple[list[_Panel], list[str]]:
    """The curve panels that the runs' metrics support, in reading order (the first MAX_PANELS), and the
    keys of the series left out. A raw/<key> series (the raw G's values beside its EMA copy's) joins the
    panel of <key>, never one of its own."""
    logged = {k for r in runs for k in r.series}
    present = {k for r in runs for k, (_, v) in r.series.items() if any(math.isfinite(x) for x in v)}
    # the series panels are made for: those with values to draw, or whose raw twin has them
    mains = {_twin_of(k) or k for k in present}
    twinned = {m for m in mains if RAW_PREFIX + m in logged}
    panels = [
        _Panel("losses", ["loss/d", "loss/g"], {"loss/d": "D loss", "loss/g": "G loss"}),
        _Panel(
            "D(x) on real and on generated data",
            ["D/real", "D/fake"],
            {"D/real": "D(x), x real", "D/fake": "D(G(z))"},
            hlines=[(0.5, "1/2")],
            ylim=(0, 1),
            caption=GAME_CAPTION,
        ),
        _Panel(
            "value V(D, G)",
            ["V", "C(G)"],
            {"V": "V(D, G)", "C(G)": "-log 4 + 2 JSD (the value at D*)"},
            hlines=[(-LOG4, "-log 4")],
            caption=GAME_CAPTION,
        ),
        _Panel(
            "penalties",
            ["loss/gp", "loss/r1", "loss/r2"],
            {"loss/gp": "gradient penalty", "loss/r1": "R1", "loss/r2": "R2"},
        ),
        *_toy_panels(runs),
        *_eval_panels(mains, twinned),
    ]
    known = {k for p in panels for k in p.keys}
    panels += [
        _Panel(
            shorten(k, TITLE_CHARS),
            [k],
            caption=f"The key has {len(k):,} characters; the title shows its first {TITLE_CHARS - 1}."
            if len(k) > TITLE_CHARS
            else "",
        )
        for k in sorted(mains - known)
    ]
    for p in panels:  # each series with its raw twin beside it
        p.twins = {RAW_PREFIX + k: k for k in p.keys if k in twinned}
        p.keys = [x for k in p.keys for x in ([k, RAW_PREFIX + k] if k in twinned else [k])]
    panels = [p for p in panels if any(k in present for k in p.keys)]
    return panels[:MAX_PANELS], [k for p in panels[MAX_PANELS:] for k in p.keys if k in present]


def _toy_panels(runs: list[Run]) -> list[_Panel]:
    """JSD (exact densities) and the mode statistics (train.eval_samples samples) of toy runs."""
    toy = [r for r in runs if "toy/jsd" in r.series or RAW_PREFIX + "toy/jsd" in r.series]
    basis = "; ".join(dict.fromkeys(jsd_basis(r) for r in toy)) + "." if toy else ""
    n_modes = mode_count(runs[0]) if len(runs) == 1 else None
    return [
        _Panel(
            "JSD(p_data || p_g), nats",
            ["toy/jsd"],
            {"toy/jsd": "JSD"},
            logy=True,
            hlines=[(math.log(2), "log 2 (disjoint)")],
            measured=lambda r: "exact densities",
            caption=basis + " A lower bound on the continuous JSD (data-processing inequality)." if toy else "",
        ),
        _Panel(
            "modes covered" + (f" (of {n_modes})" if n_modes else ""),
            ["toy/modes"],
            {"toy/modes": "modes"},
            hlines=[(n_modes, f"all {n_modes}")] if n_modes else [],
            measured=eval_samples,
        ),
        _Panel(
            "high-quality samples (share within 3 sigma of a mode)",
            ["toy/high_quality"],
            ylim=(0, 1),
            measured=eval_samples,
        ),
        _Panel("KL(mode histogram || uniform), nats", ["toy/kl_uniform"], measured=eval_samples),
    ]


def _eval_panels(present: set[str], twinned: AbstractSet[str] = frozenset()) -> list[_Panel]:
    """eval/<net>/<metric>: one panel a metric, a line a feature network; the four shares in [0, 1] together,
    unless the raw G's values are drawn beside them (``twinned``: then eight lines a run would be too many).
    Each names its feature network and train.eval_samples, the sample count behind it."""
    evals = sorted(k for k in present if k.startswith("eval/") and k.count("/") == 2)
    nets = sorted({k.split("/")[1] for k in evals})
    metrics = {k.split("/")[2] for k in evals}
    shares = [m for m in ("precision", "recall", "density", "coverage") if m in metrics]
    if any(k.split("/")[2] in shares for k in twinned if k in evals):
        shares_together = []
        singles = ("fid", "kid", "is", *shares)
    else:
        shares_together, singles = shares, ("fid", "kid", "is")
    groups = [[m] for m in singles if m in metrics] + ([shares_together] if shares_together else [])
    groups += [[m] for m in sorted(metrics - {"fid", "kid", "is", *shares})]
    panels = []
    for group in groups:
        keys = [f"eval/{net}/{m}" for m in group for net in nets]
        labels = {
            f"eval/{net}/{m}": " ".join(
                ([net] if len(nets) > 1 or len(group) == 1 else []) + ([m] if len(group) > 1 else [])
            )
            for m in group
            for net in nets
        }

        def what(r: Run, keys: list[str] = keys) -> str:
            used = sorted({k.split("/")[1] for k in keys if k in r.series or RAW_PREFIX + k in r.series})
            return f"{eval_samples(r)}, {', '.join(used)} features"

        panels.append(_Panel(shorten(f"{', '.join(group)} during training", TITLE_CHARS), keys, labels, measured=what))
    return panels


def _with_derived(run: Run) -> dict[str, tuple[Sequence[int], Sequence[float]]]:
    """The run's series plus C(G) = −log 4 + 2·JSD where the value V is shown beside a toy JSD."""
    series: dict[str, tuple[Sequence[int], Sequence[float]]] = dict(run.series)
    if "toy/jsd" in series and "V" in series:
        steps, j = series["toy/jsd"]
        series["C(G)"] = (steps, [-LOG4 + 2 * v for v in j])
    return series


def _generators(p: _Panel, run: Run, short: bool = False) -> str | None:
    """The generator(s) behind a run's lines in panel ``p``, in words; None if the run has none there. With the
    raw G's values too, both (``short``: G_ema without its settings, which the legend gives)."""
    if not any(k in run.series for k in p.keys):
        return None
    if any(raw in run.series for raw in p.twins):
        return f"{'G_ema' if short else ema_copy(run)} and {RAW_G}"
    return sampler(run)


def _twin_labels(p: _Panel, runs: list[Run]) -> dict[str, str]:
    """The legend's labels of a panel with raw twins, for one run: each line named by its generator (G_ema with
    its settings, G (raw)), after the metric where the panel holds several."""
    (run,) = runs
    shown = {p.twins.get(k, k) for k in p.keys if k in run.series}
    labels = dict(p.labels)
    for raw, key in p.twins.items():
        base = p.labels.get(key, key) if len(shown) > 1 else ""
        labels[key] = f"{base}, {ema_copy(run)}" if base else ema_copy(run)
        labels[raw] = f"{base}, {RAW_G}" if base else RAW_G
    return labels


def _curve_figures(runs: list[Run]) -> tuple[list[str], list[str]]:
    """One <figure> a panel, and the keys of the series left out (see :func:`_panels`). What a panel's
    metric was measured on goes under its title when every run shown agrees, else beside each run's name
    in the legend; the caption says it either way, and names values too large for any axis. A series with
    its raw-G twin is drawn as two lines, the raw G's dashed, each named by its generator."""
    import textwrap

    from ..plots import PLOT_LIMIT, plot_curves

    out = []
    panels, left_out = _panels(runs)
    for p in panels:
        named = [(r.name, _with_derived(r)) for r in runs]
        title, caption = p.title, p.caption
        if p.measured is not None:
            notes = {
                r.name: f"measured on {gen}: {p.measured(r)}"
                for r in runs
                for gen in [_generators(p, r)]
                if gen is not None
            }
            short = {
                r.name: f"measured on {gen}: {p.measured(r)}"
                for r in runs
                for gen in [_generators(p, r, short=True)]
                if gen is not None
            }
            if len(set(notes.values())) == 1:
                note = next(iter(notes.values()))
                title += "\n" + "\n".join(textwrap.wrap(next(iter(short.values())), NOTE_CHARS))
                said = note[:1].upper() + note[1:]
            else:
                named = [(f"{n}, {short[n]}" if n in short else n, s) for n, s in named]
                said = "; ".join(f"{n}: {t}" for n, t in notes.items())
            caption = f"{said}. {caption}".strip()
        labels, twin_labels = p.labels, ("G_ema", RAW_G)
        if p.twins and len(runs) == 1:
            labels = _twin_labels(p, runs)
        elif p.twins:  # several runs: colour a run, the raw G dashed; a run without an EMA draws G solid
            with_raw = [r for r in runs if any(raw in r.series for raw in p.twins)]
            plain = [r for r in runs if r not in with_raw and any(k in r.series for k in p.keys)]
            twin_labels = ("G_ema" + (", or G where the run keeps no EMA" if plain else ""), RAW_G)
            if with_raw:
                caption = (
                    f"Dashed: the raw G ({RAW_G}) of {', '.join(r.name for r in with_raw)}, measured beside "
                    f"its EMA copy. {caption}"
                ).strip()
        buf = io.BytesIO()
        huge = plot_curves(
            named,
            p.keys,
            buf,
            title,
            labels=labels,
            logy=p.logy,
            hlines=p.hlines,
            ylim=p.ylim,
            twins=p.twins,
            twin_labels=twin_labels,
        )
        if huge:
            caption = (
                f"{huge:,} value(s) beyond ±{PLOT_LIMIT:g} are not drawn: no axis can hold them. " + caption
            ).strip()
        cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
        out.append(f'<figure class="card">{img_tag(buf.getvalue(), p.title, width=580)}{cap}</figure>')
    return out, left_out


def curves_section(runs: list[Run]) -> list[str]:
    """The training curves, with what they were computed on."""
    figs, left_out = _curve_figures(runs)
    if not figs:
        return []
    on = "; ".join(f"{r.name}: {sampler(r)}" for r in runs) if len(runs) > 1 else sampler(runs[0])
    raw = [r.name for r in runs if any(_twin_of(k) for k in r.series)]
    both = (
        (
            " Where the raw G's values are logged too (raw/ in metrics.jsonl"
            + (f": {', '.join(raw)}" if len(runs) > 1 else "")
            + f"), they are drawn beside the EMA copy's in the same panel, dashed and named {RAW_G}."
        )
        if raw
        else ""
    )
    more = (
        [
            f"{len(left_out):,} more series in metrics.jsonl are not drawn (a page holds {MAX_PANELS} panels): "
            + listed([repr(shorten(k)) for k in left_out], 3)
        ]
        if left_out
        else []
    )
    return [
        "<h2>Training curves</h2>",
        f'<p class="caption">Losses, penalties, D(x) and V are means over training batches of G and D. '
        f"{esc(SAMPLER_RULE)} The toy and eval/ metrics below are measured on {esc(on)}.{esc(both)}</p>",
        *note_paragraphs(more),
        f'<div class="grid">{"".join(figs)}</div>',
    ]
