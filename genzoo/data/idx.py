"""MNIST / Fashion-MNIST IDX files (LeCun's format), gzip-compressed or raw; the datasets `mnist-mini`
(embedded), `mnist` and `fashion-mnist`, whose official files `genzoo data fetch` checks by md5.

Format: big-endian magic (0, 0, dtype code, ndim), ndim big-endian uint32 sizes, then the data.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from genzoo.data.catalog import EMBEDDED_DIR, DatasetInfo, RemoteFile, Request, register_dataset
from genzoo.data.imageset import ImageSet
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


def has_files(folder: Path) -> bool:
    """Both image files are there (as .gz or raw): a folder of this dataset (missing labels are named on load)."""
    try:
        for img_stem, _ in FILES.values():
            find_file(folder, img_stem)
    except DataError:
        return False
    return True


def load_split(req: Request) -> ImageSet:
    """One split of an MNIST-style dataset, its labels checked against the dataset's classes."""
    folder = req.folder()
    x, y = load_idx_pair(folder, req.split)
    top = len(req.ds.class_names) - 1
    if len(y) and (int(y.max()) > top or int(y.min()) < 0):
        raise DataError(f"{split_files(folder, req.split)[1]}: labels outside 0..{top}; the file does not belong to "
                        f"{req.name}, download the dataset again (`genzoo data fetch {req.name}`)")
    return ImageSet(x, y, class_names=req.ds.class_names, name=req.name, hflip_ok=req.ds.hflip_ok)


# ---- the datasets -----------------------------------------------------------------------------------------
_MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
DIGITS = tuple(str(i) for i in range(10))

register_dataset(DatasetInfo(
    "mnist-mini", "Embedded subset of official MNIST (10,000 train / 2,000 test); the default, no download",
    shape=(1, 28, 28), num_classes=10, license="CC BY-SA 3.0 (MNIST), see genzoo/data/embedded/PROVENANCE.md",
    class_names=DIGITS, embedded=EMBEDDED_DIR, loader=load_split))
register_dataset(DatasetInfo(
    "mnist", "MNIST handwritten digits, 60,000 train / 10,000 test, 28x28 grey (LeCun et al. 1998)",
    tuple(RemoteFile(n, _MNIST + n, m) for n, m in zip(IDX_FILES, (
        "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
        "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
    IDX_FILES, (1, 28, 28), 10, license="CC BY-SA 3.0", class_names=DIGITS, aliases=("MNIST",),
    loader=load_split, split_files=split_files, present=has_files))
register_dataset(DatasetInfo(
    "fashion-mnist", "Fashion-MNIST clothes, 60,000 train / 10,000 test, 28x28 grey (Xiao et al. 2017)",
    tuple(RemoteFile(n, _FASHION + n, m) for n, m in zip(IDX_FILES, (
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
        "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
    IDX_FILES, (1, 28, 28), 10, hflip_ok=True, license="MIT",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                 "Bag", "Ankle boot"), aliases=("fashion_mnist", "FashionMNIST"),
    loader=load_split, split_files=split_files, present=has_files))
