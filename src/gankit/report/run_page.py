"""The page of one training run: summary, notes, metrics, samples, curves and its config."""

from __future__ import annotations

from .curves import curves_section
from .describe import SAMPLER_RULE, sampler, setting, setting_text
from .evaluation import eval_section
from .markup import esc, html_page, img_tag, note_paragraphs
from .read import Run
from .values import whole_number


def _summary(run: Run) -> str:
    """The line under the title (HTML): data, model, objective, steps planned and the last step logged."""
    bits = [setting_text(run, section, "name") for section in ("data", "model", "objective")]
    steps = whole_number(setting(run, "train", "steps"), lo=1, hi=2**63)
    line = " · ".join(esc(b) for b in bits if b)
    if steps is not None:
        line += f" · {esc(steps)} steps planned"
    if run.last_step is not None:
        line += f" · last logged step {run.last_step}"
    return line


def _samples_section(run: Run) -> list[str]:
    """The last sample figure large, a strip of earlier ones, and the generator that drew them."""
    if not run.samples:
        return []
    step, last, data = run.samples[-1]
    by = f"drawn by {sampler(run)}"  # G_ema or G: see SAMPLER_RULE
    big = (
        f'<figure class="card">{img_tag(data, f"samples at step {step}")}'
        f"<figcaption>step {step}: the last sample figure (samples/{esc(last.name)}), {esc(by)}</figcaption>"
        "</figure>"
    )
    strip = ""
    if len(run.samples) > 1:  # _read_samples chose them: the first and the last included, evenly spaced
        thumbs = "".join(
            f"<figure>{img_tag(png, f'samples at step {s}', width=200)}<figcaption>step {s}</figcaption></figure>"
            for s, _, png in run.samples
        )
        strip = (
            f'<div class="card strip"><p class="caption">Over training, from the same fixed noise, '
            f'{esc(by)}</p><div class="thumbs">{thumbs}</div></div>'
        )
    return [
        "<h2>Samples</h2>",
        f'<p class="caption">Samples {esc(by)}. {esc(SAMPLER_RULE)}</p>',
        f'<div class="samples">{big}{strip}</div>',
    ]


def run_page(run: Run) -> str:
    """The HTML page of one run."""
    body = [f"<h1>{esc(run.name)}</h1>", f'<p class="sub">{_summary(run)}</p>', *note_paragraphs(run.notes)]
    body += eval_section(run)
    body += _samples_section(run)
    curves = curves_section([run])
    body += curves
    if not curves and not run.series:
        body += ['<p class="note">No metrics logged yet (metrics.jsonl is missing or empty).</p>']
    if run.config_text is not None:
        body += ["<h2>Config</h2>", f'<pre class="cfg">{esc(run.config_text)}</pre>']
    body.append(f"<footer><p>gankit report of {esc(run.path.resolve())}</p></footer>")
    return html_page(f"gankit report: {run.name}", body)
