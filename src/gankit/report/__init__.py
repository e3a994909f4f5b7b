"""``gankit report``: one self-contained HTML page for a run, for several runs, or for ``gankit theory``.

The page embeds every figure as a base64 PNG ``data:`` URI and carries its own small style
sheet: no script, no external file, no network request, so it opens offline and can be mailed.

What a directory holds decides the page:

* a training run (``config.yaml``, ``metrics.jsonl``, ``samples/step_*.png``, maybe ``eval.json``,
  which ``gankit eval`` or the end of training writes): the metric table with its floors, the last
  sample figure large and a strip of earlier ones, the curves (losses, D(x) on real and fake and
  the value V with −log 4 for the minimax objectives, for toy targets the JSD and the mode
  statistics, ``eval/<net>/<metric>`` series), the resolved config;
* a theory directory (``claims.json``, or ``figure1.png`` without ``config.yaml``): the claims
  table, pass and fail highlighted, and the figures;
* several training runs: their curves overlaid (one colour a run), their last sample figures
  side by side, one table of their metrics, and each config folded away.

Everything is optional inside a run directory: a section whose file or keys are missing is left
out, so a run still in progress (or one from an older version) gets a page too. What is there is
checked as it is read: a file that is not UTF-8, a line of metrics.jsonl that is not a JSON row with a
whole-number step, a value that is not a number a float holds (text, an object, a 400-digit integer),
a sample figure that is not a readable PNG, is left out, and a note on the page says what and where.
Nothing read stops the page, and nothing unreadable is shown as some other number.

Every metric names what it was measured on: the sampling generator (:data:`SAMPLER_RULE`), named from
config.yaml's ``train.ema_kimg`` and ``train.ema_rampup`` (or an older config's ``train.ema``) as
:func:`gankit.config.describe_ema` names it, the number of samples and the feature network (or exact
densities). A run with an EMA logs the raw G's metrics beside its EMA copy's (``raw/<key>`` beside
``<key>``): both are drawn in one panel, the raw G dashed, and eval.json's ``raw`` values get a column.
``V``, ``D/real`` and ``D/fake`` are drawn only for runs whose config.yaml names an objective of the
minimax family (:data:`GAME_KEYS`); other runs' pages say that these series were left out.

The package, one idea a module: :mod:`.values` (checking what is read), :mod:`.read` (a run directory
into a :class:`~gankit.report.read.Run`), :mod:`.describe` (what config.yaml says, in words),
:mod:`.targets` (the toy targets' facts), :mod:`.markup` (HTML pieces), :mod:`.curves` (the curve
panels), :mod:`.evaluation` (eval.json's table), and one module a page (:mod:`.run_page`,
:mod:`.compare_page`, :mod:`.theory_page`). It reads files only: it never imports the training loop,
the networks or the generator's sampling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..errors import GankitError
from ..files import write_atomic
from .compare_page import compare_page
from .curves import LOG4, MAX_PANELS, TITLE_CHARS
from .describe import GAME_KEYS, RAW_G, RAW_PREFIX, SAMPLER_RULE
from .read import check_dir, is_theory, read_run, run_names
from .run_page import run_page
from .targets import JSD_SAMPLES, TOY_TARGETS, ToyTarget, toy_target
from .theory_page import THEORY_FIGURES, theory_page
from .values import writable

__all__ = [
    "write_report",
    "SAMPLER_RULE",
    "THEORY_FIGURES",
    "RAW_G",
    "RAW_PREFIX",
    "GAME_KEYS",
    "LOG4",
    "MAX_PANELS",
    "TITLE_CHARS",
    "JSD_SAMPLES",
    "TOY_TARGETS",
    "ToyTarget",
    "toy_target",
]


def write_report(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> Path:
    """Write the HTML report of one or more directories and return its path.

    One directory (a training run or a ``gankit theory --out`` directory): the page goes to
    ``DIR/report.html`` unless ``out`` is given. Several training runs: a comparison page, by
    default ``FIRST_RUN/compare.html``. Raises :class:`GankitError` for a missing directory, one
    that is neither a run nor a theory directory, a theory directory among several, or an
    ``out`` that does not end in ``.html``.
    """
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    if not run_dirs:
        raise GankitError("report needs at least one run directory")
    paths = [check_dir(d) for d in run_dirs]
    if out is not None and Path(out).suffix.lower() not in (".html", ".htm"):
        raise GankitError(f"the report is an HTML page: --out must end in .html, got {out}")
    if len(paths) == 1 and is_theory(paths[0]):
        page = theory_page(paths[0])
        target = Path(out) if out is not None else paths[0] / "report.html"
    else:
        for p in paths:
            if len(paths) > 1 and is_theory(p):
                raise GankitError(f"{p} is a theory directory; compare training runs only, or report it alone")
        runs = [read_run(p, n) for p, n in zip(paths, run_names(paths))]
        if len(runs) == 1:
            page = run_page(runs[0])
            target = Path(out) if out is not None else paths[0] / "report.html"
        else:
            page = compare_page(runs)
            target = Path(out) if out is not None else paths[0] / "compare.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, writable(page))  # a reader never sees half a page
    return target
