"""The page comparing several training runs: their curves overlaid (one colour a run), their last sample
figures side by side, one table of their metrics, and each config folded away."""

from __future__ import annotations

from .curves import curves_section
from .describe import SAMPLER_RULE, eval_generator, sampler, setting_text
from .evaluation import better_text, has_raw, is_toy_eval, metric_basis, raw_value_text, value_text
from .markup import esc, fmt_number, html_page, html_table, img_tag, note_paragraphs
from .read import Run


def _runs_table(runs: list[Run]) -> list[str]:
    """The comparison's table: one row a run, its eval.json metrics (with what they were measured on)."""
    metric_names = list(dict.fromkeys(m for r in runs for m in r.metrics))
    better = {
        m: " / ".join(dict.fromkeys(b for r in runs if m in r.metrics for b in [better_text(r.metrics[m])] if b))
        for m in metric_names
    }
    toy = any("toy/jsd" in r.series for r in runs)
    head = (
        ["run", "data", "model", "objective", "sampling generator", "metrics measured on", "last step"]
        + (["JSD (last)"] if toy else [])
        + [f"{m} ({better[m]})" if better[m] else m for m in metric_names]
    )
    rows = []
    for r in runs:
        ev = r.evaluation or {}
        basis = (
            "–"
            if not r.metrics
            else metric_basis(ev, "")
            if not is_toy_eval(ev)
            else f"JSD: exact densities; modes: {metric_basis(ev, 'modes')}"
        )
        if r.metrics and eval_generator(r) != sampler(r):  # gankit eval --generator raw, say
            basis = f"{eval_generator(r)}, {basis}"
        cells = [
            esc(r.name),
            *(esc(setting_text(r, s, "name") or "–") for s in ("data", "model", "objective")),
            esc(sampler(r)),
            esc(basis),
            fmt_number(r.last_step),
        ]
        if toy:
            cells.append(fmt_number(r.last("toy/jsd")))
        cells += [
            value_text(r.metrics[m])
            + (
                f'<br><span class="caption">raw G {raw_value_text(r.metrics[m])}</span>'
                if "raw" in r.metrics[m]
                else ""
            )
            if m in r.metrics
            else "–"
            for m in metric_names
        ]
        rows.append(cells)
    table = html_table([esc(h) for h in head], rows, first_number=6)
    raw = (
        " Below a value, raw G: the same metric of the raw G, which training measures beside its EMA copy."
        if any(has_raw(r.metrics) for r in runs)
        else ""
    )
    return [
        "<h2>Runs</h2>",
        table,
        f'<p class="caption">Metrics from each run\'s eval.json, measured on its sampling generator unless the '
        f"column metrics measured on names another.{esc(raw)} {esc(SAMPLER_RULE)}</p>",
    ]


def compare_page(runs: list[Run]) -> str:
    """The HTML page comparing ``runs``."""
    names = ", ".join(r.name for r in runs)
    body = [f"<h1>{len(runs)} runs compared</h1>", f'<p class="sub">{esc(names)}</p>']
    for r in runs:
        body += note_paragraphs([f"{r.name}: {n}" for n in r.notes])
    body += _runs_table(runs)
    with_samples = [r for r in runs if r.samples]
    if with_samples:
        cols = min(len(with_samples), 3)
        figs = "".join(
            f'<figure class="card">{img_tag(r.samples[-1][2], f"{r.name} samples")}'
            f"<figcaption><b>{esc(r.name)}</b>, step {r.samples[-1][0]}, drawn by {esc(sampler(r))}</figcaption>"
            "</figure>"
            for r in with_samples
        )
        body += [
            "<h2>Last samples</h2>",
            f'<p class="caption">{esc(SAMPLER_RULE)}</p>',
            f'<div class="side" style="grid-template-columns: repeat({cols}, 1fr)">{figs}</div>',
        ]
    body += curves_section(runs)
    body.append("<h2>Configs</h2>")
    for r in runs:
        text = r.config_text if r.config_text is not None else "(no config.yaml)"
        body.append(f'<details><summary>{esc(r.name)}</summary><pre class="cfg">{esc(text)}</pre></details>')
    body.append("<footer><p>gankit report of " + esc(", ".join(str(r.path.resolve()) for r in runs)) + "</p></footer>")
    return html_page(f"gankit report: {names}", body)
