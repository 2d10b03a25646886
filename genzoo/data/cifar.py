"""CIFAR-10, python pickle version (`cifar-10-batches-py/`: data_batch_1..5, test_batch, batches.meta): the
dataset `cifar10`.

The files are pickles, and a pickle can name any Python callable to run while it loads. They are read
with an unpickler that knows only what real CIFAR-10 files hold (dicts, lists, bytes, numbers and numpy
arrays) and refuses anything else before it runs.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from genzoo.data.catalog import RemoteFile, Request, dataset
from genzoo.data.imageset import ImageSet
from genzoo.errors import DataError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILES = ["test_batch"]


# (module, name) pairs a CIFAR-10 pickle may refer to: numpy arrays (old and new numpy module paths),
# numpy scalars, and the codec protocol-2 pickles use for bytes
_ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")} | {
    (f"numpy.{core}.{module}", name) for core in ("core", "_core")
    for module, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer"))}


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which CIFAR-10 files never hold; "
                                         "refused without running it")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            d = _DataOnlyUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise DataError(f"missing file {path}; download the dataset again (`genzoo data fetch cifar10`)") from None
    except Exception as e:  # pickle raises many kinds of errors on corrupt input
        raise DataError(f"{path}: not a readable CIFAR-10 pickle ({type(e).__name__}: {e}); "
                        "the file is corrupt, truncated or not from CIFAR-10; download it again "
                        "(`genzoo data fetch cifar10`)") from None
    if not isinstance(d, dict):
        raise DataError(f"{path}: expected a dict in the pickle, got {type(d).__name__}; the file is not a "
                        "CIFAR-10 batch, download it again (`genzoo data fetch cifar10`)")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}


def batches_folder(folder: str | Path) -> Path:
    folder = Path(folder)
    return folder / "cifar-10-batches-py" if (folder / "cifar-10-batches-py").is_dir() else folder


def split_files(folder: str | Path, split: str) -> list[Path]:
    """The batch files of the 'train' or 'test' split; a DataError names a missing one."""
    folder = batches_folder(folder)
    paths = [folder / name for name in (TRAIN_FILES if split == "train" else TEST_FILES)]
    for p in paths:
        if not p.is_file():
            raise DataError(f"missing file {p}; download the dataset again (`genzoo data fetch cifar10`)")
    return paths


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: data (N x 3072 uint8) and labels (N int64)."""
    d = _unpickle(path)
    missing = [k for k in ("data", "labels") if k not in d]
    if missing:
        raise DataError(f"{path}: no {' or '.join(repr(k) for k in missing)} entry; the file is not a CIFAR-10 "
                        "batch, download the dataset again (`genzoo data fetch cifar10`)")
    try:
        data = np.asarray(d["data"])
        labels = np.asarray(d["labels"])
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: 'data' or 'labels' is not an array ({e}); download it again") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),) \
            or labels.dtype.kind not in "ui":
        raise DataError(f"{path}: expected uint8 data N x 3072 with N integer labels, got {data.dtype} "
                        f"{data.shape} and {labels.dtype} {labels.shape}; download it again "
                        "(`genzoo data fetch cifar10`)")
    return data, labels.astype(np.int64)


def load_cifar10(folder: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    folder = batches_folder(folder)
    xs, ys = [], []
    for path in split_files(folder, split):
        data, labels = _read_batch(path)
        xs.append(data.reshape(-1, 3, 32, 32))
        ys.append(labels)
    classes = CLASSES
    meta = folder / "batches.meta"
    if meta.is_file():
        names = _unpickle(meta).get("label_names")
        if names:
            classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    y = torch.from_numpy(np.concatenate(ys))
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(classes)):
        raise DataError(f"{folder}: labels outside 0..{len(classes) - 1}; the batch files do not belong to "
                        "CIFAR-10, download the dataset again (`genzoo data fetch cifar10`)")
    return torch.from_numpy(np.concatenate(xs)), y, classes


@dataset("cifar10", "CIFAR-10, 50,000 train / 10,000 test, 32x32 colour, 10 classes (Krizhevsky 2009)",
         files=(RemoteFile("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                           "c58f30108f718f92721af3b95e74349a", unpack=True,
                           provides=("cifar-10-batches-py/data_batch_1", "cifar-10-batches-py/test_batch")),),
         required=("cifar-10-batches-py/data_batch_1", "cifar-10-batches-py/test_batch"), shape=(3, 32, 32),
         num_classes=10, hflip_ok=True, license="no license stated; cite Krizhevsky 2009", class_names=CLASSES,
         aliases=("cifar-10", "CIFAR10"), split_files=split_files)
def load_split(req: Request) -> ImageSet:
    x, y, classes = load_cifar10(req.folder(), req.split)
    return ImageSet(x, y, class_names=classes, name=req.name, hflip_ok=True)
