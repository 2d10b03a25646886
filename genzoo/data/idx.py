"""MNIST / Fashion-MNIST IDX files (LeCun's format), gzip-compressed or raw.

Format: big-endian magic (0, 0, dtype code, ndim), ndim big-endian uint32 sizes, then the data.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from genzoo.errors import DataError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


REDOWNLOAD = "delete it and download the dataset again (`genzoo data fetch`)"


def _raw_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when they start with the gzip magic."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: cannot read or decompress ({e}); the file is corrupt or truncated, "
                        f"{REDOWNLOAD}") from None
    return raw


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (.gz or raw) into a numpy array, checking header and size."""
    path = Path(path)
    raw = _raw_bytes(path)
    if not raw:
        raise DataError(f"{path} is empty (0 bytes); the download was cut short, {REDOWNLOAD}")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        gz = " and not gzip-compressed although named .gz" if path.suffix == ".gz" else ""
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()}{gz}); the file is damaged or "
                        f"in another format, {REDOWNLOAD}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header; {REDOWNLOAD}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path}: header says {dims} ({expected} bytes of data) but the file holds "
                        f"{len(raw) - header} bytes; the file is truncated or corrupt, {REDOWNLOAD}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzip-compressed if the name ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.write_bytes(data)


def find_file(folder: Path, stem: str) -> Path:
    """Locate `stem` in `folder` as .gz, raw, or with the common '.idx' spelling."""
    candidates = [stem + ".gz", stem, stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"]
    for name in candidates:
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"missing file {folder / (stem + '.gz')} (also looked for {', '.join(candidates[1:])}); "
                    "put it there, or download the dataset again (`genzoo data fetch`)")


def split_files(folder: str | Path, split: str) -> tuple[Path, Path]:
    """The (images, labels) files of the 'train' or 'test' split; a DataError names a missing one."""
    img_stem, lbl_stem = FILES[split]
    return find_file(Path(folder), img_stem), find_file(Path(folder), lbl_stem)


def load_idx_pair(folder: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N x 1 x H x W uint8) and labels (N int64) of the 'train' or 'test' split."""
    img_path, lbl_path = split_files(folder, split)
    images = read_idx(img_path)
    labels = read_idx(lbl_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{img_path}: expected N x H x W uint8 images, got {images.dtype.name} {images.shape}; "
                        f"this is not an MNIST-style image file, {REDOWNLOAD}")
    if labels.ndim != 1 or labels.dtype.kind not in "ui":
        raise DataError(f"{lbl_path}: expected N integer labels, got {labels.dtype.name} {labels.shape}; "
                        f"this is not an MNIST-style label file, {REDOWNLOAD}")
    if len(images) != len(labels):
        raise DataError(f"{img_path} has {len(images)} images but {lbl_path} has {len(labels)} labels; "
                        "the two files do not belong together, download both again")
    x = torch.from_numpy(images.copy()).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y
