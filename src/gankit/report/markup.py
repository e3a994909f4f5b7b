"""HTML pieces: the page's own style sheet, escaping, embedded images, number cells, tables, notes.

The page embeds every figure as a base64 PNG ``data:`` URI and carries its own small style sheet: no
script, no external file, no network request, so it opens offline and can be mailed.
"""

from __future__ import annotations

import base64
import html
import math
from typing import Any

from .values import as_number


STYLE = """
:root { --fg: #1f2933; --muted: #5f6b7a; --line: #dde2e8; --card: #fff; --pass: #e3f4e8; --fail: #fde2e1; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f6f8; color: var(--fg);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 2px; }
h2 { font-size: 18px; margin: 30px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.sub, figcaption, .caption, footer { color: var(--muted); font-size: 13px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px; }
.side { display: grid; gap: 14px; }
figure { margin: 0; }
figcaption { margin-top: 4px; }
img { display: block; max-width: 100%; height: auto; }
img.px { image-rendering: pixelated; }
.samples { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.strip { flex: 1 1 360px; }
.strip .caption { margin: 0 0 8px; }
.thumbs { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.thumbs img { width: 100%; }
.figs { display: grid; gap: 14px; }
table { border-collapse: collapse; background: var(--card); font-variant-numeric: tabular-nums; }
th, td { padding: 5px 12px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-weight: 600; background: #eef1f4; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.pass td.verdict { color: #17692e; font-weight: 600; }
tr.fail td { background: var(--fail); }
tr.fail td.verdict { color: #a4161a; font-weight: 700; }
tr.report td.verdict { color: var(--muted); }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600; font-size: 14px; }
.badge.ok { background: var(--pass); color: #17692e; }
.badge.bad { background: var(--fail); color: #a4161a; }
pre.cfg { columns: 250px; column-rule: 1px solid var(--line); }
pre { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px;
      overflow: auto; font-size: 13px; line-height: 1.4; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; }
.note { background: #fff8e1; border: 1px solid #f2d98b; border-radius: 6px; padding: 6px 10px; font-size: 14px; }
"""


def esc(s: Any) -> str:
    """``s`` as text, escaped for HTML (quotes included: it may stand in an attribute)."""
    return html.escape(str(s), quote=True)


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk (0, 0 if the bytes are not a PNG)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return 0, 0
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def img_tag(data: bytes, alt: str, width: int | None = None) -> str:
    """An <img> holding ``data`` (PNG bytes) as a data URI, ``width`` pixels wide if given. Small
    images (grids of small pictures) are enlarged by a whole factor, and drawn with sharp pixels."""
    w, h = _png_size(data)
    if width is None and 0 < w < 400:
        width = w * max(1, 440 // w)
    cls = ' class="px"' if width and w and width > w and w < 400 else ""
    size = f' width="{width}" height="{round(h * width / w)}"' if width and w else ""
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<img src="{uri}" alt="{esc(alt)}"{size}{cls}>'


def fmt_number(v: Any) -> str:
    """A number for a table cell: a whole number below a million as written, else 4 significant digits;
    "–" for what is not a number (see :func:`gankit.report.values.as_number`)."""
    x = as_number(v)
    if x is None:
        return "–"
    if math.isfinite(x) and x == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.4g}"


def html_page(title: str, body: list[str]) -> str:
    """The whole page: ``body`` (HTML pieces, one a line) under ``title``, with :data:`STYLE`."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )


def html_table(head: list[str], rows: list[list[str]], first_number: int) -> str:
    """A table of HTML cells; columns from ``first_number`` on hold numbers (right-aligned)."""

    def row(cells: list[str], tag: str) -> str:
        return (
            "<tr>"
            + "".join(
                f'<{tag} class="num">{c}</{tag}>' if i >= first_number else f"<{tag}>{c}</{tag}>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )

    return "<table>" + row(head, "th") + "".join(row(r, "td") for r in rows) + "</table>"


def note_paragraphs(notes: list[str]) -> list[str]:
    """Each note (plain text: what could not be read, and where) as a highlighted paragraph."""
    return [f'<p class="note">{esc(n)}</p>' for n in notes]
