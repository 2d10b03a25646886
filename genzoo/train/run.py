"""The run folder, the contract every command reads and writes:

    runs/<name>/config.json  env.json  metrics.jsonl  metrics.json  checkpoints/{last,best}.pt  samples/
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from genzoo.errors import CheckpointError
from genzoo.train.checkpoint import atomic_write


def _jsonable(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu()
        return v.item() if v.numel() == 1 else v.tolist()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # JSON has no nan/inf
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        return _jsonable(v.item())
    return v


def git_commit(path: Path) -> str | None:
    """The git commit of the checkout `path` lives in (None outside a checkout), '+dirty' if modified."""
    try:
        sha = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5).stdout.strip()
        if not sha:
            return None
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: torch.device | str | None = None) -> dict[str, Any]:
    import numpy

    import genzoo

    pkg = Path(genzoo.__file__).resolve().parent
    env = {
        "genzoo": genzoo.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "git_commit": git_commit(pkg.parent),
        "device": str(device) if device is not None else None,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_threads": torch.get_num_threads(),
        "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }
    return env


class RunDir:
    """Paths and writers of one run folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    # paths
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best(self) -> Path:
        return self.checkpoints / "best.pt"

    def exists(self) -> bool:
        return self.config_path.is_file()

    def create(self) -> None:
        if self.last.exists():
            raise CheckpointError(f"{self.path} already holds a training run; continue it with "
                                  f"`genzoo train --resume {self.path}` or choose another --out")
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        self.samples.mkdir(parents=True, exist_ok=True)

    # writers
    def write_json(self, name: str, data: dict[str, Any]) -> None:
        text = json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n"
        atomic_write(self.path / name, lambda f: f.write(text.encode()))

    def read_json(self, name: str) -> dict[str, Any]:
        p = self.path / name
        if not p.is_file():
            raise CheckpointError(f"{p} does not exist: {self.path} is not a genzoo run folder "
                                  "(run `genzoo train ...` to make one)")
        try:
            return json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{p} is not valid JSON ({e}); the run folder is damaged") from None

    def read_config(self) -> dict[str, Any]:
        return self.read_json("config.json")

    def append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.path / "metrics.jsonl", "a") as f:
            f.write(json.dumps(_jsonable(row)) + "\n")

    def read_metrics_log(self) -> list[dict[str, Any]]:
        p = self.path / "metrics.jsonl"
        if not p.is_file():
            return []
        rows = []
        for line in p.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash mid-write
                continue
        return rows

    def truncate_metrics_log(self, after_step: int) -> None:
        """Drop log rows past `after_step` (written after the checkpoint a resume starts from)."""
        p = self.path / "metrics.jsonl"
        if not p.is_file():
            return
        keep = [json.dumps(r) for r in self.read_metrics_log() if r.get("step", 0) <= after_step]
        text = "\n".join(keep) + ("\n" if keep else "")
        atomic_write(p, lambda f: f.write(text.encode()))

    def update_metrics(self, figures: dict[str, Any]) -> dict[str, Any]:
        """Merge `figures` into metrics.json (keeping figures other commands wrote)."""
        p = self.path / "metrics.json"
        current = json.loads(p.read_text()) if p.is_file() else {}
        current.update(_jsonable(figures))
        self.write_json("metrics.json", current)
        return current


def load_model(run_dir: str | os.PathLike, which: str = "best", device: str | torch.device = "cpu"):
    """Rebuild the model of a run folder and load its `best` (falling back to `last`) weights."""
    from genzoo import registry
    from genzoo.config import from_dict
    from genzoo.data.imageset import DataSpec
    from genzoo.train.checkpoint import load

    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise CheckpointError(f"run folder {run.path} does not exist")
    cfg = run.read_config()
    entry = registry.get(cfg["model"])
    model_cfg = from_dict(entry.config_cls, cfg["model_config"])
    spec = DataSpec.from_dict(cfg["data_spec"])
    model = registry.build(cfg["model"], spec, config=model_cfg)
    path = run.best if which == "best" and run.best.is_file() else run.last
    if not path.is_file():
        raise CheckpointError(f"{run.path} has no checkpoint yet (expected {run.last}); "
                              "the run was stopped before its first checkpoint")
    state = load(path)
    model.load_training_state(state["training_state"], weights_only=True)
    model.to(device)
    model.eval()
    model.checkpoint_step = state.get("step")
    return model
