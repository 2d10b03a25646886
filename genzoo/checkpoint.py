"""Checkpoint files: atomic (temp file + fsync + rename), checksummed, loaded weights-only; and RNG
state capture for exact resume.

A checkpoint is `torch.save`d twice: the state is serialised into memory, and the file holds
{"genzoo_checkpoint": 2, "sha256": hex digest of those bytes, "payload": the bytes as a uint8 tensor}.
`torch.load` itself does not notice flipped bits (it loads them silently as different numbers), so
`load` checks the digest. Files written before the checksum (the bare state) still load.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import pickle
import random
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genzoo.errors import CheckpointError

FORMAT = 2
_WRAPPER_KEYS = ("genzoo_checkpoint", "sha256", "payload")
_CHUNK = 1 << 20


def _write_bytes(f, data: bytes | memoryview) -> None:
    """Write `data` in chunks: the one place bytes of a checkpoint reach the file (tests fault it here)."""
    view = memoryview(data)
    for i in range(0, len(view), _CHUNK):
        f.write(view[i:i + _CHUNK])


def write_failure(path: Path | None, e: OSError) -> tuple[str, str]:
    """What went wrong when writing `path` (None: unknown), and what to do, in words a user can act on."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        what = "no space left on the device" if e.errno == errno.ENOSPC else "disk quota exceeded"
        if path is None:
            return what, "free some space"
        try:
            free = f"{shutil.disk_usage(path.parent).free / 2**20:.1f} MiB free"
        except OSError:
            free = "free space unknown"
        return f"{what} ({free} in {path.parent})", "free some space"
    if e.errno == errno.EFBIG:
        return "file too large for this process's file-size limit (ulimit -f) or the filesystem", "raise the limit"
    return f"{e.strerror or e} ({type(e).__name__})", "fix the cause"


def atomic_write(path: str | os.PathLike, write, then: str = "") -> None:
    """Write a file so that readers see the old or the new version, never a half-written one.

    `write(fileobj)` writes the content; it goes to a temp file in the same folder, which is fsynced
    and renamed over `path` (rename is atomic on POSIX), then the folder entry is fsynced. A failed
    write (disk full, file-size limit, ...) removes the temp file, leaves `path` as it was and raises
    a CheckpointError that says so, and what to do (`then`: what to do after fixing the cause).
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        what, todo = write_failure(path, e)
        kept = f"{path.name} keeps its previous version" if path.exists() else f"{path.name} was not written"
        todo = f"{todo}, then {then}" if then else todo
        raise CheckpointError(f"could not write {path}: {what}; {kept}. {todo[0].upper()}{todo[1:]}.") from None
    except BaseException:
        _remove(tmp)
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # some filesystems cannot fsync a directory; the rename is still atomic
        pass


def _remove(tmp: str | None) -> None:
    if tmp is not None:
        try:
            Path(tmp).unlink(missing_ok=True)
        except OSError:
            pass


def remove_temp_files(folder: Path, names: tuple[str, ...] | None = None) -> None:
    """Delete temp files that `atomic_write`s cut short by a kill left in `folder` (of the files `names`,
    or all); call it holding the run's lock (see `RunLock`), so that no live writer's temp file goes."""
    if folder.is_dir():
        for p in folder.glob(".*.tmp"):
            if names is None or any(p.name.startswith(f".{n}.") for n in names):
                p.unlink(missing_ok=True)


def save(obj: dict[str, Any], path: str | os.PathLike, then: str = "") -> None:
    """Write checkpoint `obj` atomically, with a SHA-256 of its serialised bytes (`then`: see atomic_write)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getbuffer()
    payload = torch.frombuffer(data, dtype=torch.uint8) if len(data) else torch.zeros(0, dtype=torch.uint8)
    outer = io.BytesIO()
    torch.save({"genzoo_checkpoint": FORMAT, "sha256": hashlib.sha256(data).hexdigest(), "payload": payload}, outer)
    del payload
    atomic_write(path, lambda f: _write_bytes(f, outer.getbuffer()), then)


_READ_ERRORS = (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError,
                KeyError, TypeError, AttributeError, IndexError, UnicodeDecodeError)


def _torch_load(source, path: Path, map_location) -> Any:
    try:
        return torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL (\S+)", str(e))
        if found:  # the pickle names a function or class: weights_only refused it unrun (or a bit flipped)
            raise CheckpointError(f"checkpoint {path} refers to {found.group(1)}, which is neither a tensor nor "
                                  "plain data, so it was not loaded (loading it could run code): the file is "
                                  "damaged or was not written by genzoo") from None
        raise _unreadable(path, e) from None
    except _READ_ERRORS as e:
        raise _unreadable(path, e) from None


def _unreadable(path: Path, e: BaseException) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} cannot be read ({type(e).__name__}: {str(e)[:200]}); "
                           "it is corrupt or was not written by genzoo")


def _damaged(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} is damaged ({why}): its bytes changed after it was written "
                           "(a disk or copy error). Resume from another copy of the run folder, or retrain")


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with `weights_only=True` after checking its checksum; any failure is a clear
    CheckpointError (missing, truncated, damaged, or holding code)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    outer = _torch_load(path, path, "cpu")
    if not (isinstance(outer, dict) and any(k in outer for k in _WRAPPER_KEYS)):
        return _torch_load(path, path, map_location) if map_location != "cpu" else outer  # before checksums
    digest, payload = outer.get("sha256"), outer.get("payload")
    if not all(k in outer for k in _WRAPPER_KEYS) or not isinstance(payload, torch.Tensor) \
            or payload.dtype != torch.uint8 or not isinstance(digest, str):
        raise _damaged(path, "its checksum envelope is malformed")
    data = payload.numpy().tobytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise _damaged(path, "checksum mismatch")
    return _torch_load(io.BytesIO(data), path, map_location)


def rng_state() -> dict[str, Any]:
    """All random number generator states a training step may read (torch, CUDA, numpy, python)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
