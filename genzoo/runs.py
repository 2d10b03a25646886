"""The run folder, the contract every command reads and writes:

    runs/<name>/config.json  env.json  metrics.jsonl  metrics.json  checkpoints/{last,best}.pt  samples/
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import math
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy
import torch

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from genzoo import checkpoint, registry
from genzoo.checkpoint import atomic_write
from genzoo.config import from_dict
from genzoo.data import info as data_info
from genzoo.data import load as load_dataset
from genzoo.data.imageset import DataSpec
from genzoo.errors import CheckpointError, ConfigError, SplitUnavailable
from genzoo.version import __version__

# config.json entries every command reads, and the kind of value each holds
CONFIG_ENTRIES = {"model": str, "model_config": dict, "data": dict, "data_spec": dict, "train": dict}


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
    pkg = Path(__file__).resolve().parent
    env = {
        "genzoo": __version__,
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

    def check_free(self) -> None:
        """Raise unless a new run may start here (no checkpoint of another run)."""
        if self.last.exists():
            raise CheckpointError(f"{self.path} already holds a training run; continue it with "
                                  f"`genzoo train --resume {self.path}` (unless it has ended) or choose another --out")

    def create(self) -> None:
        """Make the folders of a new run (call it holding the lock, see `RunLock`)."""
        self.check_free()
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        self.samples.mkdir(parents=True, exist_ok=True)
        # a run here stopped before its first checkpoint: its log rows belong to no run now
        for name in ("metrics.jsonl", "metrics.json"):
            (self.path / name).unlink(missing_ok=True)

    # writers
    def write_json(self, name: str, data: dict[str, Any]) -> None:
        text = json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n"
        atomic_write(self.path / name, lambda f: f.write(text.encode()))

    def read_json(self, name: str, fix: str = "restore it from a copy, or train a new run") -> dict[str, Any]:
        """A JSON object file of the run; a CheckpointError names it, and says `fix`, when it is damaged."""
        p = self.path / name
        if not p.is_file():
            raise CheckpointError(f"{p} does not exist: {self.path} is not a genzoo run folder "
                                  "(run `genzoo train ...` to make one)")
        try:
            data = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CheckpointError(f"{p} is not valid JSON ({e}); the run folder is damaged: {fix}") from None
        if not isinstance(data, dict):
            raise CheckpointError(f"{p} holds a JSON {type(data).__name__}, not an object; the run folder is "
                                  f"damaged: {fix}")
        return data

    def read_config(self) -> dict[str, Any]:
        """config.json, with the entries every command reads present and of the right kind."""
        cfg = self.read_json("config.json")
        bad = [k for k, kind in CONFIG_ENTRIES.items() if not isinstance(cfg.get(k), kind)]
        if bad:
            raise CheckpointError(f"{self.config_path} lacks {', '.join(map(repr, bad))} (or has the wrong kind of "
                                  "value there): it is damaged or was written by another genzoo version; restore "
                                  "it from a copy, or train a new run")
        return cfg

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

    def read_metrics(self) -> dict[str, Any]:
        """metrics.json ({} before the first figures); a CheckpointError names it when it is damaged."""
        if not (self.path / "metrics.json").is_file():
            return {}
        return self.read_json("metrics.json", fix="delete metrics.json (the figures it held are lost) and run "
                                                  "the command again")

    def update_metrics(self, figures: dict[str, Any]) -> dict[str, Any]:
        """Merge `figures` into metrics.json (keeping figures other commands wrote).

        Read, merge and write happen under a short lock of their own (`genzoo eval` may update the file
        while training does: without it, one of the two updates would be lost).
        """
        with self._metrics_lock():
            current = self.read_metrics()
            current.update(_jsonable(figures))
            self.write_json("metrics.json", current)
        return current

    @contextlib.contextmanager
    def _metrics_lock(self):
        if fcntl is None:  # no flock on this platform: unlocked
            yield
            return
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / ".metrics.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # held for milliseconds: wait for it
            except OSError:  # a filesystem without flock: unlocked
                pass
            yield
        finally:
            os.close(fd)


class RunLock:
    """An exclusive lock on a run folder, so that two processes cannot interleave writes to it.

    `flock` on RUN/.lock (which also holds the owner's pid for the message); the kernel drops the lock
    when its process ends, kill -9 included, so a stale lock cannot block a resume.
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / ".lock"
        self._fd: int | None = None

    def acquire(self, check: Callable[[], Any] | None = None) -> None:
        """Take the lock, or raise a CheckpointError naming the process that holds it. `check` runs once the
        lock is held and before this process marks it with its pid: if it raises, nothing was changed."""
        if fcntl is None:  # no flock on this platform (Windows): run unlocked
            if check is not None:
                check()
            return
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:  # a file in the way, a read-only or missing filesystem: name it, not errno's traceback
            what = "is a file, not a folder" if self.run_dir.is_file() else f"cannot be written ({e.strerror})"
            raise CheckpointError(f"run folder {self.run_dir} {what}; choose another --out") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                holder = _read_pid(fd)
                os.close(fd)
                raise CheckpointError(f"{self.run_dir} is being written by another genzoo process (pid {holder}); "
                                      "wait for it or choose another --out") from None
            os.close(fd)  # a filesystem without flock (some network mounts): run unlocked
            fd = None
        try:
            if check is not None:
                check()
        except BaseException:
            if fd is not None:
                os.close(fd)
            raise
        if fd is None:
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays (deleting it would race)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    return text if text.isdigit() else "unknown"


def lock_holder_alive(run_dir: str | os.PathLike) -> bool:
    """Whether another live process holds the run's lock, judged from the pid RunLock writes into RUN/.lock
    (without taking the lock, so that a `genzoo train --resume` starting now is never refused). The file
    stays after its process ends: a dead pid, or this process's own, means no one is training the run."""
    try:
        with open(Path(run_dir) / ".lock", "rb") as f:
            pid = _read_pid(f.fileno())
    except OSError:
        return False
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except PermissionError:  # alive, owned by another user
        return True
    except OSError:  # ProcessLookupError: gone
        return False
    return True


def build_from_config(run: RunDir):
    """The (untrained) model config.json describes; a CheckpointError names the file when it cannot be built."""
    cfg = run.read_config()
    try:
        spec = DataSpec.from_dict(cfg["data_spec"])
    except TypeError as e:  # missing or unexpected fields
        raise CheckpointError(f"{run.config_path}: data_spec cannot be read ({e}); the file is damaged or was "
                              "written by another genzoo version: restore it from a copy, or train a new run") from None
    try:
        entry = registry.get(cfg["model"])
    except ConfigError as e:
        raise CheckpointError(f"{run.config_path}: {e} (was the run made by another genzoo version?)") from None
    try:
        return registry.build(entry.name, spec, config=from_dict(entry.config_cls, cfg["model_config"]))
    except ConfigError as e:
        raise CheckpointError(f"{run.config_path}: {e}") from None


def _load_weights(model, state: dict[str, Any], path: Path, run: RunDir) -> None:
    """Put a checkpoint's weights into `model`; a CheckpointError names the checkpoint when they do not fit."""
    if not isinstance(state, dict) or not isinstance(state.get("training_state"), dict):
        raise CheckpointError(f"checkpoint {path} holds no genzoo training state; it was not written by genzoo: "
                              "put back the run's own checkpoint, or train again")
    saved_name = state.get("model_name", model.name)
    if saved_name != model.name:
        raise CheckpointError(f"checkpoint {path} belongs to model {saved_name!r}, but {run.config_path} says "
                              f"{model.name!r}: the folder mixes files of two runs; put back the run's own "
                              "checkpoint, or train again")
    try:
        model.load_training_state(state["training_state"], weights_only=True)
    except (RuntimeError, KeyError, TypeError) as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(e).__name__)
        raise CheckpointError(f"checkpoint {path} does not fit the model {run.config_path} describes ({detail[:300]}); "
                              "it comes from a run with another config: put back the run's own checkpoint, or "
                              "train again") from None


def load_model(run_dir: str | os.PathLike, which: str = "best", device: str | torch.device = "cpu"):
    """Rebuild the model of a run folder and load its `best` (falling back to `last`) weights."""
    if which not in ("best", "last"):
        raise ConfigError(f"which={which!r}: a run keeps its 'best' and its 'last' weights; choose one of them")
    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise CheckpointError(f"run folder {run.path} does not exist")
    model = build_from_config(run)
    path = run.best if which == "best" and run.best.is_file() else run.last
    if not path.is_file():
        raise CheckpointError(f"{run.path} has no checkpoint yet (expected {run.last}); "
                              "the run was stopped before its first checkpoint")
    state = checkpoint.load(path)
    _load_weights(model, state, path, run)
    model.to(device)
    model.eval()
    model.checkpoint_step = state.get("step")
    return model


DATA_OPTS = ("image_size", "limit", "crop")  # keys of a run's "data" config passed to genzoo.data.load


def load_split(data_args: dict[str, Any], split: str, data_dir: str | None = None):
    """One split of the data a run's config describes (its "data" entry), as the run trained or evaluated on it."""
    opts = {k: data_args.get(k) for k in DATA_OPTS if data_args.get(k) is not None}
    data = load_dataset(data_args.get("name"), split=split, data_dir=data_dir or data_args.get("data_dir"), **opts)
    per_class = data_args.get("per_class")
    if per_class is not None and split == "train":  # a labelled subset to learn from; evaluation stays whole
        if not isinstance(per_class, int) or per_class < 1:
            raise ConfigError(f"data.per_class must be a positive whole number, got {per_class!r}")
        data = data.per_class(per_class, seed=0)
    return data


def eval_split(data_args: dict[str, Any]):
    """The test split where the dataset has one (None otherwise, or where this copy holds none); a damaged
    test split is an error, not a run without evaluation."""
    if "test" not in data_info(data_args["name"]).splits:
        return None
    try:
        return load_split(data_args, "test")
    except SplitUnavailable:
        return None
