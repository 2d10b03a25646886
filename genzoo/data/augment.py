"""Batch-wise tensor augmentations (no per-sample Python loop): random crop with padding, h-flip, cutout."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop(x: torch.Tensor, pad: int, generator: torch.Generator | None = None,
                fill: float = 0.0, mode: str = "constant") -> torch.Tensor:
    """Pad by `pad` pixels and crop back at a random offset per image: a random translation of up to `pad`
    pixels in each direction. The border is the constant `fill` (mode "constant") or the image mirrored about its
    edge pixels (mode "reflect", as F.pad's: airbench94's), for any dtype, uint8 included.
    """
    if pad <= 0:
        return x
    if mode not in ("constant", "reflect"):
        raise ValueError(f"random_crop mode must be 'constant' or 'reflect', got {mode!r}")
    n, c, h, w = x.shape
    if mode == "reflect" and pad >= min(h, w):
        raise ValueError(f"reflect padding of {pad} pixels needs images larger than that, got {h}x{w}")
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device)[None, :])  # N x H, in padded coordinates
    cols = (dx[:, None] + torch.arange(w, device=x.device)[None, :])  # N x W
    batch = torch.arange(n, device=x.device)[:, None, None]
    if mode == "reflect":  # gather straight from the image at the mirrored coordinates: no padded copy
        source, rows, cols = x, _reflect(rows - pad, h), _reflect(cols - pad, w)
    else:
        source = F.pad(x, (pad, pad, pad, pad), value=fill)
    out = source.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # N x H x W x C
    return out.permute(0, 3, 1, 2).contiguous()


def _reflect(i: torch.Tensor, size: int) -> torch.Tensor:
    """Indices in [-size + 1, 2 size - 2] mirrored into [0, size - 1] about the edge pixels (-1 -> 1,
    size -> size - 2)."""
    i = i.abs()
    return torch.where(i > size - 1, 2 * (size - 1) - i, i)


def random_hflip(x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip a random subset (probability `p`) of the batch left-right."""
    flip = torch.rand(x.shape[0], generator=generator, device=x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def alternating_hflip(x: torch.Tensor, index: torch.Tensor, epoch: int) -> torch.Tensor:
    """airbench's derandomised flip (Jordan 2024, "94% on CIFAR-10 in 3.29 seconds", alternating flip): half the
    training images (a fixed, evenly spread half, chosen by their index in the set) are flipped in even epochs,
    the other half in odd ones, so that every image is seen both ways in any two consecutive epochs (random flips
    show half of them the same way in both).
    """
    # the top bit of Knuth's multiplicative hash (2^32 / golden ratio): the fractional parts of index * 0.618...
    # are evenly spread over [0, 1), so consecutive indices (a class-sorted set) are split evenly too
    base = ((index.to(torch.int64) * 2654435761) & 0xFFFFFFFF) >> 31
    flip = (base ^ (epoch % 2)).bool().to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_cutout(x: torch.Tensor, size: int, generator: torch.Generator | None = None,
                  fill: float | torch.Tensor = 0.0, inside: bool = False) -> torch.Tensor:
    """Set a `size` x `size` square at a random place per image to `fill` (a number, or a tensor that broadcasts
    against the batch, e.g. a 1 x C x 1 x 1 colour).

    The square's centre is anywhere in the image, so it may be cut by the border (DeVries & Taylor 2017, as in
    DiffAugment); with `inside` the whole square lies in the image (airbench96's). Differentiable with respect to
    the pixels that are kept.
    """
    if size <= 0:
        return x
    n, _, h, w = x.shape
    if inside:
        size = min(size, h, w)
        top = torch.randint(0, h - size + 1, (n, 1), generator=generator, device=x.device)
        left = torch.randint(0, w - size + 1, (n, 1), generator=generator, device=x.device)
    else:
        lo = size // 2
        top = torch.randint(0, h, (n, 1), generator=generator, device=x.device) - lo
        left = torch.randint(0, w, (n, 1), generator=generator, device=x.device) - lo
    dy = torch.arange(h, device=x.device)[None, :] - top  # N x H: row offset from the square's top
    dx = torch.arange(w, device=x.device)[None, :] - left  # N x W
    rows, cols = (dy >= 0) & (dy < size), (dx >= 0) & (dx < size)
    square = (rows[:, :, None] & cols[:, None, :])[:, None]  # N x 1 x H x W
    return torch.where(square, torch.as_tensor(fill, dtype=x.dtype, device=x.device), x)
