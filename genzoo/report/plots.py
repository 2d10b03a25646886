"""Curves of logged keys as inline SVG, drawn by matplotlib off-screen (no pyplot, no display, no global
backend switch: a `Figure` saved as SVG works under any backend, so a notebook's own plots are untouched).

One small panel per key (small multiples: losses, learning rates and FIDs live on different scales), one
line per run; text stays text in the SVG (searchable, and small).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

COLUMNS = 3
PANEL_W, PANEL_H = 3.4, 2.3  # inches per panel
MAX_PANELS = 36  # beyond this the figure gets slow to draw and hard to read: the rest are listed, not drawn
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]  # tab10


def time_axis(seconds: float) -> tuple[float, str]:
    """(divisor, unit label) that keeps a wall-time axis readable."""
    if seconds >= 7200:
        return 3600.0, "hours"
    if seconds >= 600:
        return 60.0, "minutes"
    return 1.0, "seconds"


def plain(text: str) -> str:
    """Text matplotlib draws as it is (a '$' would start mathtext)."""
    return text.replace("$", r"\$")


def points(rows: Sequence[dict[str, Any]], x: str, key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in rows:
        a, b = r.get(x), r.get(key)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(b, bool) \
                and math.isfinite(a) and math.isfinite(b):
            xs.append(float(a))
            ys.append(float(b))
    return xs, ys


def curves_svg(series: Sequence[tuple[str, Sequence[dict[str, Any]]]], keys: Sequence[str], x: str, xlabel: str,
               salt: str, hlines: dict[str, tuple[float, str]] | None = None) -> str:
    """An SVG of one panel per key (at most MAX_PANELS), each with one line per (label, rows) series, the
    key against row[x]; `hlines`: key -> (value, label) drawn as a dashed reference line (e.g. an FID floor).
    `salt` makes the SVG's element ids unique within a page holding several figures."""
    keys = list(keys)[:MAX_PANELS]
    if not keys:
        return ""
    scale, unit = 1.0, ""
    if x in ("wall_s", "time_s"):
        longest = max((max(points(rows, x, x)[0] or [0.0]) for _, rows in series), default=0.0)
        scale, unit = time_axis(longest)
        xlabel = f"{xlabel} ({unit})"
    nrows = math.ceil(len(keys) / COLUMNS)
    legend = 0.3 if len(series) > 1 else 0.0  # inches for the legend above the panels
    height = PANEL_H * nrows + legend
    fig = Figure(figsize=(PANEL_W * COLUMNS, height))
    # fixed margins (in inches) instead of tight_layout, which costs as much as drawing the figure again
    fig.subplots_adjust(left=0.06, right=0.985, wspace=0.28, top=1 - (0.3 + legend) / height,
                        bottom=0.42 / height, hspace=0.85 / (PANEL_H - 0.85 / nrows) if nrows > 1 else 0.2)
    axes = fig.subplots(nrows, COLUMNS, squeeze=False).flatten()
    handles = {}
    for ax, key in zip(axes, keys):
        for i, (label, rows) in enumerate(series):
            xs, ys = points(rows, x, key)
            if not xs:
                continue
            few = len(xs) < 25
            (line,) = ax.plot([v / scale for v in xs], ys, color=PALETTE[i % len(PALETTE)], lw=1.2,
                              marker="o" if few else None, ms=3)
            handles.setdefault(label, line)
        if hlines and key in hlines:
            value, text = hlines[key]
            ax.axhline(value, color="black", lw=0.9, ls="--")
            ax.annotate(text, (0.01, value), xycoords=("axes fraction", "data"), fontsize=7, va="bottom")
        ax.set_title(plain(key), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel(xlabel, fontsize=7)
        if x == "step":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    if legend and handles:
        fig.legend(list(handles.values()), [plain(k) for k in handles], loc="upper center", ncol=min(len(handles), 4),
                   fontsize=8, frameon=False)
    return to_svg(fig, salt)


def to_svg(fig: Figure, salt: str) -> str:
    """The figure as an <svg> element for inlining: no XML declaration, DOCTYPE or metadata (which name
    external URLs), fixed ids (salted per figure)."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"genzoo-{salt}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    # percent width, natural height: the figure scales with the page
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 class="plot"', text, count=1)
