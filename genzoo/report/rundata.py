"""Everything a report shows about one run folder, read once: config, environment, log rows, final figures,
checkpoints, sample grids, and whether the run is still training.

Reading never writes to the run folder. A missing folder, or one without a readable config.json, is a
CheckpointError naming it; a damaged metrics.json too (as for `genzoo eval`); lines of metrics.jsonl cut by
a crash are skipped.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genzoo.errors import CheckpointError
from genzoo.runs import RunDir, lock_holder_alive
from genzoo.training.trainer import FINAL_STATUSES

# log-row keys that are x-axes or counters, not curves
AXES = ("step", "epoch", "time_s", "wall_s", "cpu_s")
STEP_GRID = re.compile(r"step-(\d+)\.png")


@dataclass
class RunData:
    path: Path
    config: dict[str, Any]
    env: dict[str, Any]
    rows: list[dict[str, Any]]
    figures: dict[str, Any]
    checkpoints: list[tuple[str, int]]  # (file name, bytes)
    grids: list[tuple[int, Path]]  # training sample grids (step, file), by step
    other_grids: list[Path] = field(default_factory=list)  # `genzoo sample` views written into samples/
    status: str = "unknown"  # finished, early_stopped, time_limit, diverged, running, stopped

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def model(self) -> str:
        return str(self.config.get("model", "?"))

    @property
    def data(self) -> str:
        return str(self.config.get("data", {}).get("name", "?"))

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def steps(self) -> int | None:
        step = self.figures.get("train_step")
        if isinstance(step, int):
            return step
        logged = [r["step"] for r in self.rows if isinstance(r.get("step"), int)]
        return max(logged) if logged else None

    def last(self, key: str) -> Any:
        """The value of `key` in the last log row that has it (None if no row has it)."""
        return next((r[key] for r in reversed(self.rows) if key in r), None)

    def cost(self) -> dict[str, Any]:
        """Wall-clock, training-step and CPU seconds, images/s and the CPU use, as far as the run recorded them."""
        f = self.figures
        wall = f.get("train_wall_seconds", self.last("wall_s"))
        train = f.get("train_seconds", self.last("time_s"))
        cpu = f.get("train_cpu_seconds", self.last("cpu_s"))
        ips = f.get("train_images_per_s")
        if ips is None:
            rates = [r["images_per_s"] for r in self.rows if isinstance(r.get("images_per_s"), (int, float))]
            ips = round(sum(rates) / len(rates), 1) if rates else None
        out = {"wall_seconds": wall, "train_step_seconds": train, "cpu_seconds": cpu, "images_per_s": ips}
        if isinstance(cpu, (int, float)) and isinstance(wall, (int, float)) and wall > 0:
            out["cpu_cores_busy"] = round(cpu / wall, 2)  # average number of cores kept busy
        return out


def read_run(path: str | os.PathLike) -> RunData:
    """Read a run folder for a report (see the module docstring for the errors)."""
    run = RunDir(path)
    if not run.path.is_dir():
        raise CheckpointError(f"run folder {run.path} does not exist (give the folder `genzoo train` printed)")
    config = run.read_config()
    env = run.read_json("env.json") if (run.path / "env.json").is_file() else {}
    figures = run.read_metrics()
    rows = [r for r in run.read_metrics_log() if isinstance(r, dict)]
    checkpoints = sorted((p.name, p.stat().st_size) for p in run.checkpoints.glob("*.pt")) \
        if run.checkpoints.is_dir() else []
    grids, others = [], []
    if run.samples.is_dir():
        for p in sorted(run.samples.glob("*.png")):
            m = STEP_GRID.fullmatch(p.name)
            if m:
                grids.append((int(m.group(1)), p))
            else:
                others.append(p)
    grids.sort()
    return RunData(run.path, config, env, rows, figures, checkpoints, grids, others, run_status(run.path, figures))


def run_status(path: Path, figures: dict[str, Any]) -> str:
    """How the run stands: the end it recorded (finished, early_stopped, time_limit, diverged), else
    `running` while the process that locked the folder (RUN/.lock holds its pid) is alive, else `stopped`
    (interrupted, paused or killed: `genzoo train --resume` continues it)."""
    status = figures.get("train_status")
    if status in FINAL_STATUSES or status == "diverged":
        return str(status)
    return "running" if lock_holder_alive(path) else "stopped"


def numeric_keys(rows: list[dict[str, Any]]) -> list[str]:
    """Logged keys with numbers (curves), in first-seen order, without the x-axes."""
    keys: dict[str, None] = {}
    for r in rows:
        for k, v in r.items():
            if k not in AXES and isinstance(v, (int, float)) and not isinstance(v, bool):
                keys.setdefault(k, None)
    return list(keys)


def short_json(value: Any, limit: int = 200) -> str:
    """A value as compact text for a table cell (long lists cut)."""
    text = value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, float):
        text = f"{value:.6g}"
    return text if len(text) <= limit else text[:limit - 3] + "..."
