"""CIFAR-10, python pickle version (`cifar-10-batches-py/`: data_batch_1..5, test_batch, batches.meta)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from genzoo.errors import DataError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILES = ["test_batch"]


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="bytes")
    except FileNotFoundError:
        raise DataError(f"missing file {path}") from None
    except Exception as e:  # pickle raises many kinds of errors on corrupt input
        raise DataError(f"{path}: not a readable CIFAR-10 pickle ({type(e).__name__}: {e}); "
                        "the file is corrupt or truncated, download it again") from None
    if not isinstance(d, dict):
        raise DataError(f"{path}: expected a dict in the pickle, got {type(d).__name__}")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}


def load_cifar10(folder: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    folder = Path(folder)
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    xs, ys = [], []
    for name in TRAIN_FILES if split == "train" else TEST_FILES:
        d = _unpickle(folder / name)
        if "data" not in d or "labels" not in d:
            raise DataError(f"{folder / name}: missing 'data' or 'labels' entry")
        data = np.asarray(d["data"], dtype=np.uint8)
        labels = np.asarray(d["labels"], dtype=np.int64)
        if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
            raise DataError(f"{folder / name}: expected data N x 3072 with N labels, got {data.shape} "
                            f"and {labels.shape}")
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
        raise DataError(f"{folder}: labels outside 0..{len(classes) - 1}")
    return torch.from_numpy(np.concatenate(xs)), y, classes
