"""HTML building blocks for self-contained pages: every string escaped, images inline as base64 PNG, one
stylesheet and a few lines of script in the page itself, nothing fetched from anywhere (the page opens
offline, from a file, mailed or archived).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em auto;
       max-width: 1150px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h3 { font-size: 1em; margin: 1em 0 0.3em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.sub { color: #666; } .note { color: #666; font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 2px 10px; border-bottom: 1px solid #eee;
     text-align: left; vertical-align: top; } th { background: #f6f6f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 12px; }
svg.plot { width: 100%; height: auto; }
img.grid { image-rendering: pixelated; max-width: 100%; border: 1px solid #ddd; }
.strip { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.strip > figure, .strip > div { margin: 0; max-width: 100%; }
.strip > figure { max-width: calc(50% - 12px); } figcaption { color: #555; font-size: 0.9em; }
.status-running { color: #b36b00; } .status-finished { color: #2a7a2a; } .status-diverged { color: #b00; }
"""

# the sample-grid slider: show the grid whose index the range input holds
SLIDER_JS = """
document.querySelectorAll('.slider').forEach(function (box) {
  var grids = box.querySelectorAll('figure'), input = box.querySelector('input'), label = box.querySelector('output');
  function show(i) { grids.forEach(function (g, j) { g.style.display = (i == j) ? '' : 'none'; });
                     label.textContent = grids[i].dataset.label; }
  input.addEventListener('input', function () { show(+input.value); });
  show(+input.value);
});
"""


def esc(value: Any) -> str:
    """Any value as escaped HTML text."""
    return html.escape(str(value), quote=True)


def number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return esc(value)
    if isinstance(value, int):
        return f"{value:,}"
    return esc(f"{value:.6g}")


def table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    """A table of escaped cells; numbers right-aligned. A cell given as `Raw` is inserted as it is."""
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = []
        for v in row:
            if isinstance(v, Raw):
                cells.append(f"<td>{v.text}</td>")
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                cells.append(f'<td class="num">{number(v)}</td>')
            else:
                cells.append(f"<td>{esc(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


class Raw:
    """HTML built here (already escaped), to put into a table cell as it is."""

    def __init__(self, text: str):
        self.text = text


def png_src(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def image(path: Path, alt: str, caption: str | None = None, attrs: str = "") -> str:
    """A PNG file inline as a figure (with an escaped caption)."""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption is not None else ""
    return f'<figure{attrs}><img class="grid" alt="{esc(alt)}" src="{png_src(path)}">{cap}</figure>'


def slider(items: Sequence[tuple[str, Path]], name: str) -> str:
    """Images with a range input to move through them (the last shown first; without script all are shown)."""
    if len(items) == 1:
        label, path = items[0]
        return image(path, f"{name} {label}", label)
    figs = "\n".join(image(p, f"{name} {label}", label, attrs=f' data-label="{esc(label)}"') for label, p in items)
    last = len(items) - 1
    return (f'<div class="slider"><p><input type="range" min="0" max="{last}" value="{last}" step="1" '
            f'aria-label="{esc(name)}"> <output></output></p>\n{figs}\n</div>')


def section(title: str, body: str, anchor: str = "") -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<h2{ident}>{esc(title)}</h2>\n{body}"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def page(title: str, body: str, refresh: float | None = None) -> str:
    """A whole self-contained HTML document; `refresh`: seconds after which the browser reloads it."""
    meta = f'<meta http-equiv="refresh" content="{int(max(1, round(refresh)))}">\n' if refresh else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"{meta}<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n"
            f"<script>{SLIDER_JS}</script>\n</body>\n</html>\n")
