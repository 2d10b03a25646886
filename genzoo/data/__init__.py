"""Datasets as in-memory `ImageSet`s: `load(name, split)`; one registry entry per dataset, beside its loader.

The entries (`genzoo.data.catalog.DatasetInfo`) live in the format modules imported below, which register
them on import: `genzoo data list` shows them in this order. `load` has no per-name code: it asks the entry.

Loading any split of a dataset whose entry names its files per split (mnist, fashion-mnist, cifar10 and
what is built from them) also checks the files of its other splits, once per process and file version: a
damaged test file fails the command that loads the training data, not an evaluation hours later.
"""

from __future__ import annotations

import dataclasses
import os

import torch

from genzoo.data.catalog import (
    DATASETS,
    DEFAULT_DATASET,
    EMBEDDED_DIR,
    DatasetInfo,
    Request,
    dataset,
    derived_dataset,
    fetch,
    info,
    locate,
    register_dataset,
)
from genzoo.data.imageset import Batch, DataSpec, ImageSet, to_float, to_uint8
from genzoo.errors import ConfigError, DataError, SplitUnavailable

# isort: off
# the modules that register datasets, in the order `genzoo data list` shows them (the embedded default first)
from genzoo.data import idx, cifar, cifar_jpeg, stacked, digit_attrs, frey, celeba, folder, translation  # noqa: F401
from genzoo.data import captions  # noqa: F401
from genzoo.data import moving_mnist  # noqa: F401
# isort: on

__all__ = ["load", "resize", "ImageSet", "DataSpec", "Batch", "to_float", "to_uint8", "DATASETS",
           "DEFAULT_DATASET", "EMBEDDED_DIR", "DatasetInfo", "Request", "dataset", "derived_dataset",
           "register_dataset", "fetch", "info", "locate", "SplitUnavailable"]


def load(name: str | None = None, split: str = "train", data_dir: str | os.PathLike | None = None,
         image_size: int | None = None, limit: int | None = None, crop: int | None = None) -> ImageSet:
    """Load dataset `name` (default: the embedded `mnist-mini`) split 'train', 'test' or 'all'.

    `data_dir` is the dataset's folder or a folder holding it (see `genzoo.data.catalog`);
    `image_size` resizes, `limit` keeps the first N images, `crop` center-crops (CelebA, folders).
    """
    name = name or DEFAULT_DATASET
    ds = info(name)
    _check_options(image_size=image_size, limit=limit, crop=crop)
    if split not in ds.splits + ("all",):
        raise DataError(f"dataset {name!r} has no split {split!r} (choose from {', '.join(ds.splits)})")
    req = Request(ds, split, data_dir, image_size, crop, limit, load=load)
    if split == "all" and "all" not in ds.splits:  # formed here: the declared splits one after the other
        data = _concat([_read(dataclasses.replace(req, split=s)) for s in ds.splits], name)
    else:
        data = _read(req)
    if limit:
        data = data.take(limit)
    if image_size and not ds.resizes and data.shape[1:] != (image_size, image_size):
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


def _version(files) -> tuple:
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


def _read(req: Request) -> ImageSet:
    """One split as the entry makes it: a derived set from its base set's split, else by its loader, after
    reading the files of every other split (once per process and file version: a damaged one raises a
    DataError naming it)."""
    ds = req.ds
    if ds.derived_from:
        return ds.transform(load(ds.derived_from, req.split, req.data_dir), req)
    files = {s: ds.split_files(req.folder(), s) for s in ds.splits} if ds.split_files else {}
    for other, paths in files.items():
        if other != req.split and _version(paths) not in _CHECKED:
            ds.loader(dataclasses.replace(req, split=other, limit=None))
            _CHECKED.add(_version(paths))
    data = ds.loader(req)
    if files:
        _CHECKED.add(_version(files[req.split]))
    return data


def _concat(parts: list[ImageSet], name: str) -> ImageSet:
    def cat(tensors):
        return None if any(t is None for t in tensors) else torch.cat(tensors)

    first = parts[0]
    odd = next((p for p in parts if p.shape != first.shape), None)
    if odd is not None:
        shapes = " and ".join("x".join(map(str, p.shape)) for p in (first, odd))
        raise DataError(f"dataset {name!r}: its splits hold images of different shapes ({shapes}); pass an image "
                        "size (--set data.image_size=N)")
    if any(p.vocab != first.vocab for p in parts):
        raise DataError(f"dataset {name!r}: its splits' captions use different vocabularies; build every split's "
                        "captions in one fixed vocabulary (genzoo.data.text.encode_captions(..., vocab))")
    return ImageSet(torch.cat([p.images for p in parts]), cat([p.labels for p in parts]),
                    cat([p.attrs for p in parts]), attr_names=first.attr_names, class_names=first.class_names,
                    name=name, hflip_ok=first.hflip_ok, sources=cat([p.sources for p in parts]),
                    source_labels=cat([p.source_labels for p in parts]), paired=first.paired,
                    captions=_cat_captions([p.captions for p in parts]), vocab=first.vocab)


def _cat_captions(parts: list[torch.Tensor | None]) -> torch.Tensor | None:
    """Captions of several splits (same vocabulary) as one tensor, padded to the longest split's length."""
    if any(p is None for p in parts):
        return None
    length = max(p.shape[2] for p in parts)
    return torch.cat([torch.nn.functional.pad(p, (0, length - p.shape[2])) for p in parts])


def resize(data: ImageSet, size: int) -> ImageSet:
    """Resize all images (bilinear, antialiased) to size x size, e.g. MNIST 28 -> 32 for DCGAN."""
    import torch.nn.functional as F

    def resized(images: torch.Tensor) -> torch.Tensor:
        out = []
        for i in range(0, len(images), 4096):
            x = images[i:i + 4096].float()
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            out.append(x.round().clamp(0, 255).to(torch.uint8))
        return torch.cat(out)

    sources = None if data.sources is None else resized(data.sources)
    return dataclasses.replace(data, images=resized(data.images), sources=sources)
