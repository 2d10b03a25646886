"""An image folder: one subfolder per class (`root/cat/1.png`), or images directly in `root`; the dataset
family `folder:PATH`.

All images are grey or all have colour (a mix is an error, unless `channels` says what to convert to);
without an image size, all must have the same size. `folder:PATH` with `train/` and `test/` subfolders has
those splits ('all' is both; the test images are labelled by the class list of train/); without, the whole
folder is split 'train' (and 'all').
"""

from __future__ import annotations

from pathlib import Path

import torch

from genzoo.data.catalog import DatasetInfo, Request, register_family
from genzoo.data.images import IMAGE_SUFFIXES, decode_many
from genzoo.data.imageset import ImageSet
from genzoo.errors import DataError, SplitUnavailable

PREFIX = "folder:"


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def class_folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def load_folder(root: str | Path, channels: int | None = None, image_size: int | None = None,
                crop: int | None = None, classes: tuple[str, ...] | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[str, ...]]:
    """Images, labels (None when unlabelled) and class names from an image folder. With `classes` (e.g. the
    training split's), labels are indices into it and every subfolder must be one of them."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    present = class_folders(root)
    if classes is not None:
        extra = [c for c in present if c not in classes]
        if extra:
            raise DataError(f"class folder {root / extra[0]} is not one of the training classes "
                            f"({', '.join(classes)}); rename or remove it, or add the class to the training images")
        if classes and not present:
            raise DataError(f"image folder {root} has no class subfolders, but the training images have "
                            f"({', '.join(classes)}); put these images in subfolders of the same names")
    else:
        classes = tuple(present)
    if present:
        paths, labels = [], []
        for c in present:
            i = classes.index(c)
            files = list_images(root / c)
            if not files:
                raise DataError(f"class folder {root / c} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                                "add images to it or remove it")
            paths += files
            labels += [i] * len(files)
        y = torch.tensor(labels, dtype=torch.int64)
    else:
        paths, y = list_images(root), None
    if not paths:
        raise DataError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {root} or its subfolders; "
                        "put the images there (one subfolder per class), or point to another folder")
    x = decode_many(paths, channels, image_size, crop)
    return x, y, tuple(classes)


def _root(name: str) -> Path:
    path = name.removeprefix(PREFIX)
    if not path.strip():  # Path("") is the working folder: its subfolders were taken for classes
        raise DataError(f"{name!r} names no folder: write {PREFIX}PATH, e.g. {PREFIX}./my-images")
    return Path(path).expanduser()


def load_split(req: Request) -> ImageSet:
    root = _root(req.name)
    classes = None
    if (root / "test").is_dir() and req.split in ("train", "test"):
        if req.split == "test" and (root / "train").is_dir():
            classes = tuple(class_folders(root / "train"))
        root = root / req.split
    elif req.split == "test":
        raise SplitUnavailable(f"image folder {root} has no test/ subfolder; use split 'all'")
    x, y, classes = load_folder(root, image_size=req.image_size, crop=req.crop, classes=classes)
    return ImageSet(x, y, class_names=classes, name=req.name)


def describe(name: str) -> DatasetInfo:
    """train/ and test/ subfolders where there is a test/ (and 'all' is both), else the whole folder is train."""
    has_test = (_root(name) / "test").is_dir()
    return DatasetInfo(name, f"image folder {name.removeprefix(PREFIX)} (one subfolder per class)",
                       splits=("train", "test") if has_test else ("train", "all"), loader=load_split, resizes=True)


register_family(PREFIX, describe, usage=f"{PREFIX}PATH for an image folder")
