"""The page of a ``gankit theory`` directory: the claims table of claims.json, pass and fail highlighted,
and the figures with their captions."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .markup import esc, html_page, img_tag, note_paragraphs
from .read import read_json, read_png
from .values import UNREAD, as_number, kind_of, listed, writable


THEORY_FIGURES = {  # file: caption, in the order the page shows them
    "figure1.png": "Figure 1 of Goodfellow et al. (2014), measured: p_data, p_g, the trained D and D* = "
    "p_data/(p_data + p_g) at four stages of training.",
    "curves.png": "JSD(p_data ‖ p_g) and C(G) = V(D*, G) against step: C(G) = −log 4 + 2·JSD falls to −log 4; "
    "the training's own D stays below it.",
    "logit.png": "G fixed, D trained to convergence: its logit lies on log(p_data/p_g) where both densities have mass.",
    "proposition2.png": "Proposition 2: p_g moving onto p_data by descent on C(G) with D = D* at every step.",
    "wgan.png": "Arjovsky et al. (2017), example 1: JSD is flat at log 2 while W1 = |θ| keeps its slope; the "
    "generator's gradient under each objective.",
    # gankit theory --all: the instability of real training
    "stall.png": "Saturation stalls the minimax game: from p_g = N(−4, 0.5²) against D = D*, the minimax generator's "
    "mean does not move while the non-saturating one reaches the data (each seed, and the exact-gradient path).",
    "dirac.png": "The Dirac-GAN (Mescheder et al. 2018): gradient steps in the (θ, ψ) plane beside the linearised "
    "map's spiral or circle; simultaneous steps spiral out, alternating ones circle, R1 and RpGAN + R1 + R2 "
    "converge, WGAN-GP leaves the disc |x| < g0.",
    "modes.png": "Mode collapse counted: the mass p_g puts near each mode, per objective and seed, on bimodal1d "
    "(exact push-forward) and ring8 (high-quality samples per mode).",
}


def _claim_row(i: int, c: dict, bad: list[str]) -> tuple[str, str]:
    """Claim ``i`` of claims.json as a table row, and its verdict: "pass", "fail", "report" (a measurement
    with no prediction: tolerance null) or "unknown" (passed is not true/false, so no verdict can be shown).
    A value that cannot be read is shown as – and named in ``bad``."""
    check = c.get("check", "")
    if not isinstance(check, str):
        bad.append(f"claim {i}'s check ({kind_of(check)})")
        check = "–"
    cells = []
    for k in ("theory", "measured", "tolerance"):
        x = as_number(c.get(k))
        if x is None and c.get(k) is not None:  # null: no prediction (theory) or no tolerance (report only)
            bad.append(f"claim {i}'s {k} ({kind_of(c[k])})")
        cells.append("–" if x is None else f"{x:.6g}")
    passed = c.get("passed")
    if c.get("tolerance") is None:
        verdict = "report"
    elif isinstance(passed, bool):  # not bool(): the text "false" would read as a pass
        verdict = "pass" if passed else "fail"
    else:
        bad.append(f"claim {i}'s passed ({kind_of(passed)}, not true/false)")
        verdict = "unknown"
    cls, label = {
        "report": ("report", "report"),
        "pass": ("pass", "pass"),
        "fail": ("fail", "FAIL"),
        "unknown": ("fail", "unknown"),
    }[verdict]
    return (
        f'<tr class="{cls}"><td>{esc(check)}</td>'
        + "".join(f'<td class="num">{x}</td>' for x in cells)
        + f'<td class="verdict">{label}</td></tr>'
    ), verdict


def _claims_section(claims: list, notes: list[str]) -> list[str]:
    """The claims table under a badge counting the checks that pass."""
    rows: list[str] = []
    verdicts: Counter[str] = Counter()
    bad: list[str] = []
    for i, c in enumerate(claims, 1):
        if not isinstance(c, dict):
            bad.append(f"claim {i} ({kind_of(c)}, not an object: left out)")
            continue
        row, verdict = _claim_row(i, c, bad)
        rows.append(row)
        verdicts[verdict] += 1
    if bad:
        notes.append(f"claims.json: what could not be read is shown as –: {listed(bad)}")
    passed, checked = verdicts["pass"], verdicts["pass"] + verdicts["fail"]
    unknown = f", {verdicts['unknown']} without a verdict that can be read" if verdicts["unknown"] else ""
    badge = "ok" if passed == checked and not unknown else "bad"
    return [
        "<h2>Claims</h2>",
        f'<p><span class="badge {badge}">{passed} of {checked} checks pass{unknown}</span> '
        '<span class="caption">rows marked “report” are measurements with no prediction to compare'
        "</span></p>",
        '<table><tr><th>claim</th><th class="num">theory</th><th class="num">measured</th>'
        '<th class="num">tolerance</th><th>result</th></tr>' + "".join(rows) + "</table>",
    ]


def _theory_figures(p: Path, notes: list[str]) -> list[str]:
    """The directory's figures, those gankit theory writes first, each with its caption; a file named
    *.png that is not a readable PNG is skipped with a note."""
    pngs = [p / f for f in THEORY_FIGURES if (p / f).exists()]
    pngs += sorted(f for f in p.glob("*.png") if f.name not in THEORY_FIGURES)
    figs, bad = [], []
    for f in pngs:
        data, why = read_png(f)
        if data is None:
            bad.append(f"{writable(f.name)} ({why})")
            continue
        figs.append(
            f'<figure class="card">{img_tag(data, f.name)}<figcaption><b>{esc(f.name)}</b> '
            f"{esc(THEORY_FIGURES.get(f.name, ''))}</figcaption></figure>"
        )
    if bad:
        notes.append(f"{len(bad)} figure file(s) were skipped: {listed(bad, 3)}")
    return ["<h2>Figures</h2>", f'<div class="figs">{"".join(figs)}</div>'] if figs else []


def theory_page(p: Path) -> str:
    """The HTML page of the theory directory ``p``; what cannot be read is left out with a note."""
    notes: list[str] = []
    body = []
    if not (p / "claims.json").is_file():
        body.append('<p class="note">No claims.json in this directory: figures only.</p>')
    else:
        claims = read_json(p / "claims.json", notes)
        if isinstance(claims, list):
            body += _claims_section(claims, notes)
        elif claims is not UNREAD:
            notes.append(f"claims.json holds {kind_of(claims)}, not a list of claims: left out")
    body += _theory_figures(p, notes)
    head = [
        f"<h1>gankit theory: {esc(p.resolve().name)}</h1>",
        '<p class="sub">The claims of Goodfellow et al. (2014), each measured beside its prediction</p>',
        *note_paragraphs(notes),
    ]  # last: reading the claims and the figures adds to them
    return html_page(
        f"gankit theory: {p.resolve().name}",
        head + body + [f"<footer><p>gankit report of {esc(p.resolve())}</p></footer>"],
    )
