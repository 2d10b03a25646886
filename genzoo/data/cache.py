"""Decoded datasets cached on disk, so that a dataset stored as many small compressed images (a JPEG
archive) is decoded once: the next load reads one raw file per split.

A cache file holds named tensors (uint8 images, int64 labels) as raw bytes after a short JSON header with
their shapes and CRC-32s; it is written atomically and read back only when the header, the file size and
every CRC agree, else it counts as absent (and is rebuilt by its caller), never as data. Files live under
`~/.cache/genzoo/decoded/<dataset>/` (`$XDG_CACHE_HOME` moves it), named by a digest of their source (an
archive's md5), so a changed source never meets an old cache. One source's files are kept per dataset:
writing a new one removes the others.

An archive's md5 is remembered by (path, size, mtime) in this process and in `md5s.json` beside the caches,
so a second load neither decodes nor hashes it.
"""

from __future__ import annotations

import json
import os
import struct
import warnings
import zlib
from pathlib import Path

import torch

from genzoo.checkpoint import atomic_write
from genzoo.data.catalog import cache_root, md5sum
from genzoo.errors import GenzooError

MAGIC = b"GENZOO-DECODED-1"
_DTYPES = {"uint8": torch.uint8, "int64": torch.int64}
_CHUNK = 1 << 24
_MD5S: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> md5, this process


def cache_dir(dataset: str) -> Path:
    return cache_root() / "decoded" / dataset


def _crc(t: torch.Tensor) -> int:
    return zlib.crc32(memoryview(t.numpy()).cast("B")) if t.numel() else 0


def read(path: Path) -> dict[str, torch.Tensor] | None:
    """The tensors of cache file `path`, or None when it is absent, damaged or of another format."""
    try:
        with open(path, "rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                return None
            (n,) = struct.unpack("<I", f.read(4))
            header = json.loads(f.read(n))
            out = {}
            for entry in header["tensors"]:
                t = torch.empty(entry["shape"], dtype=_DTYPES[entry["dtype"]])
                if t.numel():
                    view = memoryview(t.numpy()).cast("B")
                    if f.readinto(view) != len(view) or _crc(t) != entry["crc32"]:
                        return None
                out[entry["name"]] = t
            if f.read(1):  # more bytes than the header accounts for
                return None
            return out
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None


def write(path: Path, tensors: dict[str, torch.Tensor]) -> bool:
    """Write `tensors` (contiguous CPU uint8/int64) to cache file `path` atomically. A cache that cannot be
    written (read-only or full disk) is a warning: the data is still returned, and decoded again next time."""
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    header = json.dumps({"tensors": [{"name": k, "dtype": str(v.dtype).removeprefix("torch."),
                                      "shape": list(v.shape), "crc32": _crc(v)} for k, v in tensors.items()]})

    def put(f):
        f.write(MAGIC + struct.pack("<I", len(header)) + header.encode())
        for t in tensors.values():
            raw = memoryview(t.numpy()).cast("B") if t.numel() else b""
            for i in range(0, len(raw), _CHUNK):
                f.write(raw[i:i + _CHUNK])

    try:
        atomic_write(path, put)
    except (GenzooError, OSError) as e:
        warnings.warn(f"could not cache decoded data in {path} ({e}); it will be decoded again next time",
                      stacklevel=3)
        return False
    return True


def remove_others(folder: Path, keep: set[str]) -> None:
    """Delete the cache files in `folder` not named in `keep` (older sources' caches)."""
    for p in folder.glob("*.bin"):
        if p.name not in keep:
            p.unlink(missing_ok=True)


def _md5_memo_file() -> Path:
    return cache_root() / "decoded" / "md5s.json"


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def file_md5(path: Path) -> str:
    """md5 of `path`, hashed only when no memo (this process, or md5s.json) has it for its size and mtime."""
    key = _stat_key(path)
    if key in _MD5S:
        return _MD5S[key]
    try:
        saved = json.loads(_md5_memo_file().read_text()).get(key[0])
        if isinstance(saved, list) and len(saved) == 3 and tuple(saved[:2]) == key[1:] and isinstance(saved[2], str):
            _MD5S[key] = saved[2]
            return saved[2]
    except (OSError, ValueError, AttributeError):
        pass
    _MD5S[key] = md5sum(path)
    return _MD5S[key]


def remember_md5(path: Path, md5: str) -> None:
    """Save md5 of `path` (with its size and mtime) in md5s.json for later processes; silent if it cannot."""
    key = _stat_key(path)
    memo_file = _md5_memo_file()
    try:
        memo = json.loads(memo_file.read_text())
        memo = memo if isinstance(memo, dict) else {}
    except (OSError, ValueError):
        memo = {}
    if memo.get(key[0]) == [key[1], key[2], md5]:
        return
    memo = {p: v for p, v in memo.items() if os.path.exists(p)}  # forget archives that are gone
    memo[key[0]] = [key[1], key[2], md5]
    try:
        atomic_write(memo_file, lambda f: f.write(json.dumps(memo, indent=1).encode()))
    except (GenzooError, OSError):
        pass
