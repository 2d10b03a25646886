"""Datasets as in-memory `ImageSet`s: `load(name, split)`; formats in one module each.

Loading any split of a file-backed dataset (mnist, fashion-mnist, cifar10 and what is built from them)
also checks the files of its other splits, once per process and file version: a damaged test file
fails the command that loads the training data, not an evaluation hours later.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

from genzoo.data import cifar, idx
from genzoo.data.catalog import DATASETS, DEFAULT_DATASET, EMBEDDED_DIR, fetch, info, locate
from genzoo.data.celeba import load_celeba
from genzoo.data.cifar import load_cifar10
from genzoo.data.digit_attrs import with_digit_attributes
from genzoo.data.folder import load_folder
from genzoo.data.frey import load_frey
from genzoo.data.idx import load_idx_pair, split_files
from genzoo.data.imageset import Batch, DataSpec, ImageSet, to_float, to_uint8
from genzoo.data.stacked import stack_digits
from genzoo.errors import ConfigError, DataError, SplitUnavailable

__all__ = ["load", "ImageSet", "DataSpec", "Batch", "to_float", "to_uint8", "DATASETS",
           "DEFAULT_DATASET", "fetch", "info", "locate"]

FREY_TEST = 200  # frames held out (seeded random choice) as Frey's test split; there is no official one


def load(name: str | None = None, split: str = "train", data_dir: str | os.PathLike | None = None,
         image_size: int | None = None, limit: int | None = None, crop: int | None = None) -> ImageSet:
    """Load dataset `name` (default: the embedded `mnist-mini`) split 'train', 'test' or 'all'.

    `data_dir` is the dataset's folder or a folder holding it (see `genzoo.data.catalog`);
    `image_size` resizes (folders, CelebA), `limit` keeps the first N images.
    """
    name = name or DEFAULT_DATASET
    ds = info(name)
    _check_options(image_size=image_size, limit=limit, crop=crop)
    if name.endswith("-attrs") and ds.derived_from:  # digit attributes on top of the digits (any split)

        return with_digit_attributes(load(ds.derived_from, split, data_dir, image_size, limit, crop), name)
    if split not in ds.splits + ("all",):
        raise DataError(f"dataset {name!r} has no split {split!r} (choose from {', '.join(ds.splits)})")
    if split == "all" and name not in ("frey", "celeba") and not name.startswith("folder:"):
        parts = [load(name, s, data_dir, image_size, limit, crop) for s in ("train", "test")]
        out = ImageSet(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]),
                       class_names=parts[0].class_names, name=name, hflip_ok=ds.hflip_ok)
        return out.take(limit) if limit else out
    split_files = _split_files(ds, data_dir)
    _check_other_splits(split_files, split)
    data = _load(name, ds, split, data_dir, image_size, crop, limit)
    if split_files:
        _CHECKED.add(_version(split_files[split][0]))
    if limit:
        data = data.take(limit)
    if image_size and data.shape[1:] != (image_size, image_size) and not name.startswith(("folder:", "celeba")):
        data = resize(data, image_size)
    return data


def _check_options(**options: int | None) -> None:
    """image_size and limit: a whole number >= 1; crop: >= 0 (0 = none); None = the default."""
    for key, value in options.items():
        least = 0 if key == "crop" else 1
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise ConfigError(f"{key} must be a whole number of at least {least}, got {value!r} "
                              f"(--set data.{key}=N)")


_CHECKED: set[tuple] = set()  # versions (path, size, mtime) of split files read without error in this process


def _split_files(ds, data_dir) -> dict[str, tuple]:
    """For datasets whose splits are separate files (mnist, fashion-mnist, cifar10 and what is built from
    them): split -> (its files, a reader that checks them). Empty for the others."""
    formats = {"mnist": (idx.split_files, idx.load_idx_pair), "fashion-mnist": (idx.split_files, idx.load_idx_pair),
               "cifar10": (cifar.split_files, cifar.load_cifar10)}
    base = ds.derived_from or ds.name
    if base not in formats:
        return {}
    files_of, read = formats[base]
    folder = locate(base, data_dir)
    return {s: (files_of(folder, s), functools.partial(read, folder, s)) for s in ("train", "test")}


def _version(files) -> tuple:
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


def _check_other_splits(split_files: dict[str, tuple], split: str) -> None:
    """Read the files of every split but `split` (read next anyway) once per process and file version:
    a damaged file raises a DataError naming it."""
    for other, (files, read) in split_files.items():
        if other != split and _version(files) not in _CHECKED:
            read()
            _CHECKED.add(_version(files))


def _load(name, ds, split, data_dir, image_size, crop, limit) -> ImageSet:
    if name == DEFAULT_DATASET:
        x, y = load_idx_pair(EMBEDDED_DIR, split)
        return ImageSet(x, y, class_names=ds.class_names, name=name)
    if name in ("mnist", "fashion-mnist"):
        folder = locate(name, data_dir)
        x, y = load_idx_pair(folder, split)
        if len(y) and (int(y.max()) >= 10 or int(y.min()) < 0):
            raise DataError(f"{split_files(folder, split)[1]}: labels outside 0..9; the file does not belong to "
                            f"{name}, download the dataset again (`genzoo data fetch {name}`)")
        return ImageSet(x, y, class_names=ds.class_names, name=name, hflip_ok=ds.hflip_ok)
    if name == "stacked-mnist":
        digits = _load("mnist", info("mnist"), split, data_dir, None, None, None)
        return stack_digits(digits, len(digits), seed=0 if split == "train" else 1)
    if name == "cifar10":
        x, y, classes = load_cifar10(locate(name, data_dir), split)
        return ImageSet(x, y, class_names=classes, name=name, hflip_ok=True)
    if name == "frey":
        x = load_frey(locate(name, data_dir))
        data = ImageSet(x, name=name)
        if split == "all":
            return data
        train, test = data.split(FREY_TEST, seed=0)
        return train if split == "train" else test
    if name == "celeba":
        x, attrs, names = load_celeba(locate(name, data_dir), split, image_size or 64,
                                      crop if crop is not None else 140, limit)
        return ImageSet(x, attrs=attrs, attr_names=tuple(names), name=name, hflip_ok=True)
    if name.startswith("folder:"):
        root = Path(name[7:]).expanduser()
        if split in ("train", "test") and (root / split).is_dir():
            root = root / split
        elif split == "test":
            raise SplitUnavailable(f"image folder {root} has no test/ subfolder; use split 'all'")
        x, y, classes = load_folder(root, image_size=image_size, crop=crop)
        return ImageSet(x, y, class_names=classes, name=name)
    raise DataError(f"no loader for dataset {name!r}")


def resize(data: ImageSet, size: int) -> ImageSet:
    """Resize all images (bilinear, antialiased) to size x size, e.g. MNIST 28 -> 32 for DCGAN."""
    import dataclasses

    import torch.nn.functional as F

    out = []
    for i in range(0, len(data), 4096):
        x = data.images[i:i + 4096].float()
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(x.round().clamp(0, 255).to(torch.uint8))
    return dataclasses.replace(data, images=torch.cat(out))
