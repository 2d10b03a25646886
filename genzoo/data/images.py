"""Decoding image files with Pillow into uint8 tensors (threaded; resize and center-crop)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from genzoo.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


def _to_pair(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def decode(path: Path, mode: str, size: tuple[int, int] | None, crop: int | None) -> np.ndarray:
    """One image as H x W x C uint8: optional centered square crop of side `crop`, then resize."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert(mode)
            if crop:
                w, h = im.size
                c = min(crop, w, h)
                left, top = (w - c) // 2, (h - c) // 2
                im = im.crop((left, top, left + c, top + c))
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BICUBIC, reducing_gap=None)
            arr = np.asarray(im, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"missing image file {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{path}: cannot decode image ({e}); the file is corrupt or not an image") from None
    return arr[:, :, None] if arr.ndim == 2 else arr


def decode_many(paths: list[Path], channels: int, size: int | tuple[int, int] | None = None,
                crop: int | None = None, threads: int = 8) -> torch.Tensor:
    """Decode image files to an N x C x H x W uint8 tensor; all must end up the same size."""
    if not paths:
        raise DataError("no image files to decode")
    mode = "L" if channels == 1 else "RGB"
    pair = _to_pair(size)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        arrays = list(pool.map(lambda p: decode(p, mode, pair, crop), paths))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DataError(f"images have different sizes {sorted(shapes)[:3]}...; pass an image size "
                        "(e.g. --set data.image_size=32 or image_size=32 in Python) to resize them")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def write_png(path: str | Path, image: torch.Tensor) -> None:
    """Save a C x H x W uint8 tensor as PNG."""
    from PIL import Image

    arr = image.detach().cpu().permute(1, 2, 0).numpy()
    Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr).save(path)
