"""`genzoo compare RUN RUN...`: runs side by side, across model families.

Only what the runs share is compared: the final figures every run has (plus model, data, steps and wall
time, which every run has), and the logged keys every run logs (overlaid curves). What was left out is
listed, by run. The last sample grid of each run is shown beside the others'.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genzoo.checkpoint import atomic_write
from genzoo.errors import ConfigError
from genzoo.report import html as h
from genzoo.report.plots import curves_svg
from genzoo.report.rundata import RunData, numeric_keys, read_run, short_json


@dataclass
class Comparison:
    runs: list[RunData]
    labels: list[str]  # one unique name per run
    figures: list[str]  # final figures every run has
    left_out: dict[str, list[str]]  # run label -> its figures not in every run
    curves: list[str]  # logged keys every run logs
    curves_left_out: dict[str, list[str]]


def _scalar(v: Any) -> bool:
    return isinstance(v, (int, float, str)) and not isinstance(v, bool)


def labels_for(runs: Sequence[RunData]) -> list[str]:
    """Folder names, made unique with their parent folder (then a number) where two are the same."""
    names = [r.name for r in runs]
    out = [n if names.count(n) == 1 else f"{r.path.resolve().parent.name}/{n}" for r, n in zip(runs, names)]
    return [n if out.count(n) == 1 else f"{n} ({i + 1})" for i, n in enumerate(out)]


def compare(run_dirs: Sequence[str | os.PathLike]) -> Comparison:
    if len(run_dirs) < 2:
        raise ConfigError("genzoo compare needs at least two run folders, e.g. genzoo compare RUN_A RUN_B")
    runs = [read_run(p) for p in run_dirs]
    labels = labels_for(runs)
    figure_keys = [[k for k, v in r.figures.items() if _scalar(v)] for r in runs]
    shared = [k for k in figure_keys[0] if all(k in keys for keys in figure_keys[1:])]
    left = {lab: [k for k in keys if k not in shared] for lab, keys in zip(labels, figure_keys)}
    logged = [numeric_keys(r.rows) for r in runs]
    curves = [k for k in logged[0] if all(k in keys for keys in logged[1:])]
    curves_left = {lab: [k for k in keys if k not in curves] for lab, keys in zip(labels, logged)}
    return Comparison(runs, labels, shared, {k: v for k, v in left.items() if v}, curves,
                      {k: v for k, v in curves_left.items() if v})


def rows(c: Comparison) -> list[tuple[Any, ...]]:
    """(key, value per run) rows: model, data, steps, wall time, then the shared figures."""
    out: list[tuple[Any, ...]] = [("model", *(r.model for r in c.runs)), ("data", *(r.data for r in c.runs)),
                                  ("steps", *(r.steps if r.steps is not None else "-" for r in c.runs)),
                                  ("wall time (s)", *(_or_dash(r.cost()["wall_seconds"]) for r in c.runs))]
    out += [(k, *(r.figures[k] for r in c.runs)) for k in c.figures]
    return out


def _or_dash(v: Any) -> Any:
    return v if isinstance(v, (int, float)) else "-"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.5g}"
    if isinstance(v, int):
        return f"{v:,}"
    return short_json(v, 40)


def table_text(c: Comparison) -> str:
    """The comparison as a plain-text table for the terminal, with what was left out below it."""
    body = [("", *c.labels)] + [(k, *(_cell(v) for v in vals)) for k, *vals in rows(c)]
    widths = [max(len(str(r[i])) for r in body) for i in range(len(body[0]))]
    lines = ["  ".join(str(cell).ljust(w) if i == 0 else str(cell).rjust(w) for i, (cell, w) in
                       enumerate(zip(r, widths))).rstrip() for r in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += left_out_lines(c)
    return "\n".join(lines)


def left_out_lines(c: Comparison) -> list[str]:
    out = []
    if c.left_out:
        out.append("left out (figures not every run has): "
                   + "; ".join(f"{lab}: {', '.join(keys)}" for lab, keys in c.left_out.items()))
    if not c.figures:
        out.append("the runs share no final figures (metrics.json) beyond the run sizes above")
    return out


def render(c: Comparison) -> str:
    parts = [f"<h1>Comparison of {len(c.runs)} runs</h1>",
             h.table(rows(c), ("", *c.labels)),
             *(h.note(line) for line in left_out_lines(c)),
             h.note("Runs: " + "; ".join(f"{lab} = {r.path}" for lab, r in zip(c.labels, c.runs)))]
    series = [(lab, r.rows) for lab, r in zip(c.labels, c.runs)]
    curves = []
    if c.curves:
        curves.append("<h3>Against training steps</h3>"
                      + curves_svg(series, c.curves, "step", "step", salt="cmp-steps"))
        if all(any("wall_s" in row for row in r.rows) for r in c.runs):
            curves.append("<h3>Against wall-clock time</h3>"
                          + curves_svg(series, c.curves, "wall_s", "wall time", salt="cmp-time"))
    else:
        curves.append(h.note("The runs log no key in common."))
    if c.curves_left_out:
        curves.append(h.note("Not drawn (logged by some runs only): " + "; ".join(
            f"{lab}: {', '.join(keys)}" for lab, keys in c.curves_left_out.items())))
    parts.append(h.section("Curves of the keys every run logs", "\n".join(curves), "curves"))
    grids = []
    for lab, r in zip(c.labels, c.runs):
        if r.grids:
            step, path = r.grids[-1]
            grids.append(h.image(path, f"{lab} samples", f"{lab} ({r.model}), step {step:,}"))
        else:
            grids.append(f"<figure><figcaption>{h.esc(lab)} ({h.esc(r.model)}): no sample grid</figcaption></figure>")
    parts.append(h.section("Last sample grids", '<div class="strip">' + "".join(grids) + "</div>", "samples"))
    return h.page(f"genzoo compare: {', '.join(c.labels)}", "\n".join(parts))


def write_compare(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike = "compare.html"
                  ) -> tuple[Path, Comparison]:
    """Compare runs and write the HTML page; returns its path and the comparison (for the terminal table)."""
    c = compare(run_dirs)
    path = Path(out)
    text = render(c)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    os.chmod(path, 0o644)
    return path, c
