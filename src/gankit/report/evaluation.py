"""eval.json's metrics on the page: each value beside its floor and the raw G's value, and what it was
measured on (generator, sample count, feature network or exact densities).
"""

from __future__ import annotations

from .describe import RAW_G, SAMPLER_RULE, ema_copy, eval_generator, jsd_basis
from .markup import esc, fmt_number, note_paragraphs
from .read import Run


def better_text(m: dict) -> str:
    """Which way a metric is better, as eval.json says it: "lower" and "higher" get an arrow, any other
    wording (density's ideal is 1, say) is shown as written."""
    b = m.get("better")
    return "" if b is None else {"lower": "lower ↓", "higher": "higher ↑"}.get(b, b)


def value_text(m: dict) -> str:
    """A metric's value as the table shows it: eval.json writes a value that is not finite as null."""
    return "non-finite" if m["null"] else fmt_number(m["value"])


def raw_value_text(m: dict) -> str:
    """The raw G's value of a metric (eval.json's "raw"), as :func:`value_text` shows the value; – if none."""
    return "non-finite" if m.get("raw_null") else fmt_number(m.get("raw"))


def has_raw(metrics: dict) -> bool:
    """Whether eval.json's metrics carry the raw G's values (training wrote them, the run keeping an EMA)."""
    return any("raw" in m for m in metrics.values())


def is_toy_eval(ev: dict) -> bool:
    """Whether an eval.json holds a toy run's exact-density metrics (no feature network)."""
    return ev.get("features") in (None, "", "none")


def metric_basis(ev: dict, name: str) -> str:
    """What one metric of eval.json was measured on: its sample count and feature network (toy runs:
    exact densities for the JSD, n samples for the mode statistics)."""
    n = f"{ev['n']} samples" if ev.get("n") is not None else "n not recorded"
    if is_toy_eval(ev):
        return "exact densities" if name == "jsd" else n
    return f"{n}, {ev['features']} features"


def _eval_caption(run: Run) -> str:
    """The line above the metric table (HTML): generator, n, feature network, step, floor, source."""
    ev = run.evaluation or {}
    if is_toy_eval(ev):
        net = esc(ev.get("features_info") or "no feature network")
    else:
        net = f"feature network: <b>{esc(ev['features'])}</b>" + (
            f" ({esc(ev['features_info'])})" if ev.get("features_info") else ""
        )
    src = ev.get("source")
    origin = (
        "from eval.json, written at the end of training"
        if src == "training"
        else f"from eval.json (source: {esc(src)})"
        if src
        else "from eval.json"
    )
    raw = f" (and, in the column raw G, on <b>{esc(RAW_G)}</b>)" if has_raw(run.metrics) else ""
    info = [
        f"Measured on <b>{esc(eval_generator(run))}</b>{raw}",
        f"n = {esc(ev['n'])} samples" if ev.get("n") is not None else "",
        net,
        f"at step {esc(ev['step'])}" if ev.get("step") is not None else "",
        f"floor: {esc(ev['split'])}" if ev.get("split") else "",
        origin,
    ]
    return " · ".join(i for i in info if i) + "."


def eval_section(run: Run) -> list[str]:
    """The metrics of eval.json beside their floors, each naming what it was measured on."""
    ev, metrics = run.evaluation or {}, run.metrics
    if not metrics:
        return []
    raw = has_raw(metrics)
    rows = []
    for name, m in metrics.items():
        rows.append(
            f'<tr><td>{esc(name)}</td><td class="num">{value_text(m)}</td>'
            + (f'<td class="num">{raw_value_text(m)}</td>' if raw else "")
            + f'<td class="num">{fmt_number(m["floor"])}</td><td>{esc(better_text(m))}</td>'
            f"<td>{esc(metric_basis(ev, name))}</td></tr>"
        )
    after = []
    if raw:
        after.append(
            f"raw G: the same metric of the raw G, measured at the same step on as many samples, beside "
            f"its EMA copy {ema_copy(run)}: whether the average helps."
        )
    if any(m["null"] or m.get("raw_null") for m in metrics.values()):
        after.append("non-finite: eval.json holds null for the value, as it writes NaN and ±infinity.")
    if any(m["floor"] is not None for m in metrics.values()):
        after.append(
            "The floor is the same metric measured on held-out real images against the reference: "
            "what a perfect generator would read with that many samples."
        )
    if is_toy_eval(ev) and "jsd" in metrics:
        after.append(jsd_basis(run) + ".")
    after.append(SAMPLER_RULE)
    step, last = ev.get("step"), run.last_step
    stale = (
        [
            f"eval.json measures step {step}, but the run has logged up to step {last}: "
            "gankit eval RUN_DIR measures its newest weights."
        ]
        if step is not None and last and step < last
        else []
    )
    return [
        "<h2>Metrics</h2>",
        f'<p class="caption">{_eval_caption(run)}</p>',
        '<table><tr><th>metric</th><th class="num">value</th>'
        + ('<th class="num">raw G</th>' if raw else "")
        + '<th class="num">floor</th><th>better</th><th>measured on</th></tr>'
        + "".join(rows)
        + "</table>",
        f'<p class="caption">{esc(" ".join(after))}</p>',
        *note_paragraphs(stale),
    ]
