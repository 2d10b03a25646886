"""Datasets as in-memory `ImageSet`s: `load(name, split)`; formats in one module each."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from genzoo.data.catalog import DATASETS, DEFAULT_DATASET, EMBEDDED_DIR, fetch, info, locate
from genzoo.data.imageset import Batch, DataSpec, ImageSet, to_float, to_uint8
from genzoo.errors import DataError

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
    if name.endswith("-attrs") and ds.derived_from:  # digit attributes on top of the digits (any split)
        from genzoo.data.digit_attrs import with_digit_attributes

        return with_digit_attributes(load(ds.derived_from, split, data_dir, image_size, limit, crop), name)
    if split not in ds.splits + ("all",):
        raise DataError(f"dataset {name!r} has no split {split!r} (choose from {', '.join(ds.splits)})")
    if split == "all" and name not in ("frey", "celeba") and not name.startswith("folder:"):
        parts = [load(name, s, data_dir, image_size, limit, crop) for s in ("train", "test")]
        out = ImageSet(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]),
                       class_names=parts[0].class_names, name=name, hflip_ok=ds.hflip_ok)
        return out.take(limit) if limit else out
    data = _load(name, ds, split, data_dir, image_size, crop, limit)
    if limit:
        data = data.take(limit)
    if image_size and data.shape[1:] != (image_size, image_size) and not name.startswith(("folder:", "celeba")):
        data = resize(data, image_size)
    return data


def _load(name, ds, split, data_dir, image_size, crop, limit) -> ImageSet:
    if name == DEFAULT_DATASET:
        from genzoo.data.idx import load_idx_pair

        x, y = load_idx_pair(EMBEDDED_DIR, split)
        return ImageSet(x, y, class_names=ds.class_names, name=name)
    if name in ("mnist", "fashion-mnist"):
        from genzoo.data.idx import load_idx_pair

        x, y = load_idx_pair(locate(name, data_dir), split)
        if int(y.max()) >= 10 or int(y.min()) < 0:
            raise DataError(f"{name}: labels outside 0..9; the label file does not belong to this dataset")
        return ImageSet(x, y, class_names=ds.class_names, name=name, hflip_ok=ds.hflip_ok)
    if name == "stacked-mnist":
        from genzoo.data.stacked import stack_digits

        digits = _load("mnist", info("mnist"), split, data_dir, None, None, None)
        return stack_digits(digits, len(digits), seed=0 if split == "train" else 1)
    if name == "cifar10":
        from genzoo.data.cifar import load_cifar10

        x, y, classes = load_cifar10(locate(name, data_dir), split)
        return ImageSet(x, y, class_names=classes, name=name, hflip_ok=True)
    if name == "frey":
        from genzoo.data.frey import load_frey

        x = load_frey(locate(name, data_dir))
        data = ImageSet(x, name=name)
        if split == "all":
            return data
        train, test = data.split(FREY_TEST, seed=0)
        return train if split == "train" else test
    if name == "celeba":
        from genzoo.data.celeba import load_celeba

        x, attrs, names = load_celeba(locate(name, data_dir), split, image_size or 64,
                                      crop if crop is not None else 140, limit)
        return ImageSet(x, attrs=attrs, attr_names=tuple(names), name=name, hflip_ok=True)
    if name.startswith("folder:"):
        from genzoo.data.folder import load_folder

        root = Path(name[7:]).expanduser()
        if split in ("train", "test") and (root / split).is_dir():
            root = root / split
        elif split == "test":
            raise DataError(f"image folder {root} has no test/ subfolder; use split 'all'")
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
