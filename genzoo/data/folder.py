"""An image folder: one subfolder per class (`root/cat/1.png`), or images directly in `root`.

All images are grey or all have colour (a mix is an error, unless `channels` says what to convert to);
without an image size, all must have the same size.
"""

from __future__ import annotations

from pathlib import Path

import torch

from genzoo.data.images import IMAGE_SUFFIXES, decode_many
from genzoo.errors import DataError


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_folder(root: str | Path, channels: int | None = None, image_size: int | None = None,
                crop: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None, tuple[str, ...]]:
    """Images, labels (None when unlabelled) and class names from an image folder."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes:
        paths, labels = [], []
        for i, c in enumerate(classes):
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
