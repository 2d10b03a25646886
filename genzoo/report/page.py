"""`genzoo report RUN`: one self-contained HTML page about a run, written to RUN/report.html.

Sections: status and headline figures; final figures (metrics.json) with the dataset's FID floor beside
each FID; curves of every logged key against steps and against wall time; sample grids over training
(a slider); other grids `genzoo sample` wrote; cost (wall, training-step and CPU seconds, images/s);
checkpoints; config; environment.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

from genzoo.checkpoint import atomic_write
from genzoo.report import html as h
from genzoo.report.floor import Floor, floors
from genzoo.report.plots import curves_svg
from genzoo.report.rundata import RunData, numeric_keys, read_run, short_json

MAX_GRIDS = 12  # training grids carried in the page (evenly spaced, first and last included)
MAX_OTHER_GRIDS = 8
MAX_PROBE_GRIDS = 12  # grids of genzoo attack / genzoo viz carried in the page


def write_report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, refresh: float | None = None,
                 with_floor: bool = True) -> Path:
    """Write the report of a run (default RUN/report.html; atomically, so a browser never reads half a page)
    and return its path. `refresh`: the page reloads itself every so many seconds (while a run trains)."""
    run = read_run(run_dir)
    found = floors(run.config, run.figures) if with_floor else []
    text = render(run, found, refresh)
    path = Path(out) if out is not None else run.path / "report.html"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    os.chmod(path, 0o644)
    return path


def render(run: RunData, found: list[Floor], refresh: float | None = None) -> str:
    title = f"{run.model} on {run.data}: {run.name}"
    parts = [header(run, refresh), figures_section(run, found), curves_section(run, found), grids_section(run),
             probes_section(run), cost_section(run), checkpoints_section(run),
             config_section(run),
             h.section("Environment", h.table(((k, short_json(v, 400)) for k, v in run.env.items()), ("key", "value"))
                       if run.env else h.note("no env.json in the run folder"), "environment")]
    return h.page(title, "\n".join(parts), refresh)


def header(run: RunData, refresh: float | None) -> str:
    total = run.config.get("train", {}).get("steps")
    steps = run.steps
    progress = f"{steps:,}" if steps is not None else "no step logged yet"
    if isinstance(total, int) and steps is not None:
        progress += f" of {total:,} steps"
    elif steps is not None:
        progress += " steps"
    made = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    lines = [f"<h1>{h.esc(run.model)} on {h.esc(run.data)}</h1>",
             f'<p class="sub">{h.esc(run.path.resolve())} &middot; status <b class="status-{h.esc(run.status)}">'
             f"{h.esc(run.status)}</b> &middot; {h.esc(progress)} &middot; report written {h.esc(made)}</p>"]
    if refresh:
        lines.append(h.note(f"This page reloads every {refresh:g} s while the run trains "
                            "(genzoo report --watch); the last version stays without reloading."))
    if run.status == "stopped":
        lines.append(h.note(f"The run is not training and recorded no end (interrupted, paused or killed): "
                            f"continue it with `genzoo train --resume {run.path}`."))
    if run.status == "diverged":
        lines.append(h.note("Training diverged (a loss or weight became nan/inf); the last good checkpoint is kept."))
    return "\n".join(lines)


def floor_text(f: Floor) -> str:
    if f.value is None:
        return f"floor unavailable: {f.why}"
    return f"{f.value:.4g} (real train vs real {f.split}, n={f.n:,})"


def figures_section(run: RunData, found: list[Floor]) -> str:
    if not run.figures:
        return h.section("Final figures", h.note("No figures yet (metrics.json is written when the run ends, "
                                                 "and by `genzoo eval`)."), "figures")
    by_key = {f.key: f for f in found}
    rows = []
    for k, v in run.figures.items():
        shown: Any = v if isinstance(v, (int, float)) and not isinstance(v, bool) else short_json(v)
        rows.append((k, shown, floor_text(by_key[k]) if k in by_key else ""))
    body = h.table(rows, ("figure", "value", "floor"))
    if found:
        available = [f for f in found if f.value is not None]
        space = available[0].features if available else ""
        body += h.note("The FID floor is the FID of real training images against the real test images, with "
                       "the same number of images and in the same feature space as the run's FID: a model "
                       "cannot be expected to score below it." + (f" Features: {space}." if space else ""))
    return h.section("Final figures", body, "figures")


def curves_section(run: RunData, found: list[Floor]) -> str:
    keys = numeric_keys(run.rows)
    if not keys:
        return h.section("Curves", h.note("No rows in metrics.jsonl yet."), "curves")
    values = {k: [r[k] for r in run.rows if k in r] for k in keys}
    once = {k: v[0] for k, v in values.items() if len(v) == 1}
    constant = {k: v[0] for k, v in values.items() if len(v) > 1 and all(x == v[0] for x in v)}
    drawn = [k for k in keys if k not in once and k not in constant]
    hlines = {f.key: (f.value, f"floor {f.value:.3g}") for f in found if f.value is not None and f.key in drawn}
    series = [(run.name, run.rows)]
    parts = [f'<p class="note">Logged keys: {h.esc(", ".join(keys))}.</p>']
    if once:
        parts.append(h.note("Logged once (not drawn): " + ", ".join(f"{k} = {short_json(v)}" for k, v in once.items())
                            + "."))
    if constant:
        parts.append(h.note("Constant over the run (not drawn): "
                            + ", ".join(f"{k} = {short_json(v)}" for k, v in constant.items()) + "."))
    if drawn:
        parts.append("<h3>Against training steps</h3>")
        parts.append(curves_svg(series, drawn, "step", "step", salt="steps", hlines=hlines))
        wall = "wall_s" if any("wall_s" in r for r in run.rows) else "time_s"
        what = "wall-clock time" if wall == "wall_s" else "training-step time (this run logged no wall time)"
        parts.append(f"<h3>Against {h.esc(what)}</h3>")
        parts.append(curves_svg(series, drawn, wall, "wall time" if wall == "wall_s" else "training-step time",
                                salt="time", hlines=hlines))
    return h.section("Curves", "\n".join(parts), "curves")


def spread(items: list[Any], most: int) -> list[Any]:
    """At most `most` items, evenly spaced, the first and the last included."""
    if len(items) <= most:
        return items
    picks = sorted({round(i * (len(items) - 1) / (most - 1)) for i in range(most)})
    return [items[i] for i in picks]


def grids_section(run: RunData) -> str:
    parts = []
    if run.grids:
        shown = spread(run.grids, MAX_GRIDS)
        if len(shown) < len(run.grids):
            parts.append(h.note(f"{len(shown)} of {len(run.grids)} grids, evenly spaced (all are in "
                                f"{run.path / 'samples'})."))
        parts.append(h.slider([(f"step {step:,}", p) for step, p in shown], "samples at"))
    else:
        parts.append(h.note("No training sample grids (models that cannot sample have none; the others write "
                            "one at the end, and every train.sample_every steps)."))
    others = run.other_grids[:MAX_OTHER_GRIDS]
    if others:
        parts.append("<h3>Grids from genzoo sample</h3>")
        parts.append('<div class="strip">' + "".join(h.image(p, p.stem, p.name) for p in others) + "</div>")
    return h.section("Samples", "\n".join(parts), "samples")


def probes_section(run: RunData) -> str:
    """What `genzoo attack` and `genzoo viz` wrote: robust accuracy per attack and eps, and their grids
    (nothing when neither has been run)."""
    rows = []
    for key, res in run.figures.items():
        if key.startswith("attack_") and isinstance(res, dict) and isinstance(res.get("rows"), list):
            for r in res["rows"]:
                rows.append((key[7:], r.get("eps"), r.get("robust_accuracy"), r.get("target_success", ""),
                             res.get("n"), r.get("images_per_s")))
    grids = sorted((run.path / "attacks").glob("*.png")) + sorted((run.path / "viz").glob("*.png"))
    if not rows and not grids:
        return ""
    parts = []
    if rows:
        parts.append(h.table(rows, ("attack", "eps", "robust accuracy", "target success", "images", "images/s")))
    if grids:
        parts.append('<div class="strip">' + "".join(h.image(p, p.stem, f"{p.parent.name}/{p.name}")
                                                     for p in grids[:MAX_PROBE_GRIDS]) + "</div>")
    return h.section("Attacks and visualizations", "\n".join(parts), "probes")


def seconds_text(value: Any) -> Any:
    if not isinstance(value, (int, float)):
        return "not recorded"
    if value >= 120:
        return f"{value:,.1f} s ({value / 60:,.1f} min)"
    return f"{value:,.2f} s"


def cost_section(run: RunData) -> str:
    c = run.cost()
    train = run.config.get("train", {})
    rows = [("wall-clock time", seconds_text(c["wall_seconds"]), "training, evaluation, grids and checkpoints"),
            ("training-step time", seconds_text(c["train_step_seconds"]), "the steps alone (what max_minutes counts)"),
            ("CPU time", seconds_text(c["cpu_seconds"]), "all threads of the training process")]
    if "cpu_cores_busy" in c:
        rows.append(("cores busy", c["cpu_cores_busy"], "CPU time / wall-clock time"))
    rows.append(("images/s", c["images_per_s"] if c["images_per_s"] is not None else "not recorded",
                 "training images per training-step second"))
    rows.append(("batch size", train.get("batch_size", "?"), "per process"))
    if run.env:
        rows.append(("device", str(run.env.get("device")), f"{run.env.get('cpu_threads', '?')} CPU threads"))
    return h.section("Cost", h.table(rows, ("", "value", "")), "cost")


def size_text(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def config_section(run: RunData) -> str:
    """config.json as one key/value table per entry (model config, trainer settings, data, ...)."""
    blocks = []
    for name, value in run.config.items():
        if isinstance(value, dict):
            body = h.table(((k, short_json(v, 120)) for k, v in value.items()), ("key", "value"))
        else:
            body = h.table([(name, short_json(value, 120))])
        blocks.append(f"<div><h3>{h.esc(name)}</h3>{body}</div>")
    return h.section("Config", '<div class="strip">' + "".join(blocks) + "</div>"
                     + h.note(f"from {run.path / 'config.json'}"), "config")


def checkpoints_section(run: RunData) -> str:
    if not run.checkpoints:
        return h.section("Checkpoints", h.note("No checkpoint yet."), "checkpoints")
    rows = [(name, size_text(size), size) for name, size in run.checkpoints]
    return h.section("Checkpoints", h.table(rows, ("file", "size", "bytes"))
                     + h.note(f"in {run.path / 'checkpoints'}"), "checkpoints")
