"""Image grids (what torchvision.utils.make_grid/save_image do, without torchvision), at a readable size.

Cells are upscaled by nearest neighbour (each pixel becomes a k x k block, so no value is invented) to at
least MIN_CELL pixels by default: a 28x28 MNIST sample is drawn 84 px wide, not 28. Optional row labels
(left margin, e.g. a class name per row) and column labels (top margin, e.g. interpolation fractions) are
drawn with Pillow's default font.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch

from genzoo.data.images import write_png
from genzoo.data.imageset import to_uint8

MIN_CELL = 64  # "auto" scale: the smallest whole factor that makes a cell at least this many pixels
LABEL_PAD = 4  # pixels around a label


def auto_scale(h: int, w: int, min_cell: int = MIN_CELL) -> int:
    """The smallest whole factor k with min(h, w) * k >= min_cell (1 for cells already that large)."""
    return max(1, math.ceil(min_cell / max(1, min(h, w))))


def resolve_scale(scale: int | str, h: int, w: int) -> int:
    if scale == "auto":
        return auto_scale(h, w)
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"grid scale must be 'auto' or a whole number >= 1, got {scale!r}")
    return scale


def upscale(images: torch.Tensor, k: int) -> torch.Tensor:
    """Nearest-neighbour upscaling of N x C x H x W images by a whole factor k (each pixel -> k x k)."""
    if k == 1:
        return images
    return images.repeat_interleave(k, dim=2).repeat_interleave(k, dim=3)


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: int = 255,
              value_range: tuple[float, float] | None = (-1.0, 1.0), scale: int | str = "auto",
              row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
              captions: Sequence[str] | None = None) -> torch.Tensor:
    """Tile N x C x H x W images (uint8, or floats in `value_range`) into one C x H' x W' uint8 image.

    `nrow` images per row (default: a square-ish grid); cells upscaled by `scale` ("auto": to at least
    MIN_CELL px; 1: as they are); `row_labels` / `col_labels`: text at the left of each row / above
    each column ("" leaves one blank); `captions`: text under each image (e.g. a predicted class and its
    confidence), one per image.
    """
    if images.dim() != 4:
        raise ValueError(f"make_grid expects N x C x H x W, got shape {tuple(images.shape)}")
    x = images.detach().cpu()
    if x.dtype != torch.uint8:
        x = to_uint8(x, value_range or (0.0, 1.0))
    x = upscale(x, resolve_scale(scale, x.shape[2], x.shape[3]))
    n, c, h, w = x.shape
    if captions is not None and len(captions) != n:
        raise ValueError(f"make_grid got {len(captions)} captions for {n} images; give one per image")
    cap_h = caption_height() if captions else 0
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    ncol = math.ceil(n / nrow)
    grid = torch.full((c, ncol * (h + cap_h + padding) + padding, nrow * (w + padding) + padding), pad_value,
                      dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + cap_h + padding), padding + col * (w + padding)
        grid[:, top:top + h, left:left + w] = x[i]
    if captions:
        grid = add_captions(grid, (h, w), cap_h, padding, nrow, list(captions), pad_value)
    if row_labels or col_labels:
        grid = add_labels(grid, (h + cap_h, w), padding, list(row_labels or []), list(col_labels or []), pad_value)
    return grid


def _font():
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=12)  # a scalable font where Pillow has FreeType
    except (TypeError, ValueError, ImportError, OSError):
        return ImageFont.load_default()  # its bitmap font otherwise


def _text_box(text: str, font) -> tuple[int, int, int, int]:
    """(width, height, left offset, top offset) of the text as drawn at (0, 0)."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font)
    return right - left, bottom - top, left, top


def caption_height() -> int:
    """Pixels of the strip under each cell that holds its caption."""
    return _text_box("Ag(9%)", _font())[1] + 2 * LABEL_PAD


def add_captions(grid: torch.Tensor, cell: tuple[int, int], cap_h: int, padding: int, nrow: int,
                 captions: list[str], pad_value: int = 255) -> torch.Tensor:
    """Draw captions[i] centred in the strip under cell i (the grid already leaves `cap_h` pixels there)."""
    import numpy as np
    from PIL import Image, ImageDraw

    c, height, width = grid.shape
    h, w = cell
    font = _font()
    canvas = Image.new("L", (width, height), pad_value)
    draw = ImageDraw.Draw(canvas)
    strips = torch.zeros(height, dtype=torch.bool)
    for i, text in enumerate(captions):
        r, col = divmod(i, nrow)
        top = padding + r * (h + cap_h + padding) + h
        strips[top:top + cap_h] = True
        while text and _text_box(text, font)[0] > w + padding:  # too wide for the cell: cut, keep the start
            text = text[:-1]
        if text:
            tw, th, dx, dy = _text_box(text, font)
            left = padding + col * (w + padding) + (w - tw) // 2
            draw.text((max(0, left) - dx, top + (cap_h - th) // 2 - dy), text, fill=0, font=font)
    ink = torch.from_numpy(np.asarray(canvas, dtype=np.uint8).copy())
    out = grid.clone()
    out[:, strips, :] = ink[strips]
    return out


def add_labels(grid: torch.Tensor, cell: tuple[int, int], padding: int, row_labels: list[str],
               col_labels: list[str], pad_value: int = 255) -> torch.Tensor:
    """The grid with a left margin holding `row_labels` (one per row, vertically centred) and a top margin
    holding `col_labels` (one per column, centred); text in black, margins in `pad_value`."""
    import numpy as np
    from PIL import Image, ImageDraw

    c, height, width = grid.shape
    h, w = cell
    font = _font()

    def box(text: str) -> tuple[int, int, int, int]:
        return _text_box(text, font)

    def fit(text: str, room: int) -> str:
        """The text, shortened with '..' until it is at most `room` pixels wide."""
        short = text
        while short and box(short)[0] > room:
            short = short[:-1]
            text = short.rstrip() + ".."
            if box(text)[0] <= room:
                break
        return text if short else ""

    col_labels = [fit(t, w + padding) if t else "" for t in col_labels]
    boxes = [box(t) for t in row_labels + col_labels if t]
    text_h = max([b[1] for b in boxes] or [0])
    left_m = max([box(t)[0] for t in row_labels if t] or [0]) + 2 * LABEL_PAD if any(row_labels) else 0
    top_m = text_h + 2 * LABEL_PAD if any(col_labels) else 0
    out = torch.full((c, height + top_m, width + left_m), pad_value, dtype=torch.uint8)
    out[:, top_m:, left_m:] = grid
    # labels are drawn in grey levels on a canvas of the margins' colour, then copied into every channel's margins
    canvas = Image.new("L", (width + left_m, height + top_m), pad_value)
    draw = ImageDraw.Draw(canvas)
    for r, text in enumerate(row_labels):
        if text:
            tw, th, dx, dy = box(text)
            y = top_m + padding + r * (h + padding) + (h - th) // 2
            draw.text((left_m - LABEL_PAD - tw - dx, y - dy), text, fill=0, font=font)
    for col, text in enumerate(col_labels):
        if text:
            tw, th, dx, dy = box(text)
            x = left_m + padding + col * (w + padding) + (w - tw) // 2
            draw.text((max(0, x) - dx, LABEL_PAD + (text_h - th) // 2 - dy), text, fill=0, font=font)
    ink = torch.from_numpy(np.asarray(canvas, dtype=np.uint8).copy())
    out[:, :top_m, :] = ink[:top_m]
    out[:, :, :left_m] = ink[:, :left_m]
    return out


MAX_GRID_IMAGES = 10_000  # in one grid picture: 10,000 28x28 digits at 64 px a cell are 6,400 px a side


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None,
              value_range: tuple[float, float] | None = (-1.0, 1.0), padding: int = 2, scale: int | str = "auto",
              row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
              captions: Sequence[str] | None = None) -> Path:
    """Write a PNG grid of `images` (see `make_grid`); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, make_grid(images, nrow=nrow, padding=padding, value_range=value_range, scale=scale,
                              row_labels=row_labels, col_labels=col_labels, captions=captions))
    return path
