"""Image grids (what torchvision.utils.make_grid/save_image do, without torchvision)."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genzoo.data.images import write_png
from genzoo.data.imageset import to_uint8


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: int = 255,
              value_range: tuple[float, float] | None = (-1.0, 1.0)) -> torch.Tensor:
    """Tile N x C x H x W images (uint8, or floats in `value_range`) into one C x H' x W' uint8 image."""
    if images.dim() != 4:
        raise ValueError(f"make_grid expects N x C x H x W, got shape {tuple(images.shape)}")
    x = images.detach().cpu()
    if x.dtype != torch.uint8:
        x = to_uint8(x, value_range or (0.0, 1.0))
    n, c, h, w = x.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    ncol = math.ceil(n / nrow)
    grid = torch.full((c, ncol * (h + padding) + padding, nrow * (w + padding) + padding), pad_value,
                      dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top:top + h, left:left + w] = x[i]
    return grid


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None,
              value_range: tuple[float, float] | None = (-1.0, 1.0), padding: int = 2) -> Path:
    """Write a PNG grid of `images`; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, make_grid(images, nrow=nrow, padding=padding, value_range=value_range))
    return path
