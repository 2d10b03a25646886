"""Batch-wise tensor augmentations (no per-sample Python loop): random crop with padding, h-flip, cutout."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop(x: torch.Tensor, pad: int, generator: torch.Generator | None = None,
                fill: float = 0.0) -> torch.Tensor:
    """Pad by `pad` pixels (constant `fill`) and crop back at a random offset per image.

    Equivalent to a random translation of up to `pad` pixels in each direction.
    """
    if pad <= 0:
        return x
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), value=fill)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device)[None, :])  # N x H
    cols = (dx[:, None] + torch.arange(w, device=x.device)[None, :])  # N x W
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # N x H x W x C
    return out.permute(0, 3, 1, 2).contiguous()


def random_hflip(x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip a random subset (probability `p`) of the batch left-right."""
    flip = torch.rand(x.shape[0], generator=generator, device=x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_cutout(x: torch.Tensor, size: int, generator: torch.Generator | None = None,
                  fill: float = 0.0) -> torch.Tensor:
    """Set a `size` x `size` square at a random place per image to `fill` (DeVries & Taylor 2017).

    The square's centre is anywhere in the image, so it may be cut by the border (as in DiffAugment).
    Differentiable with respect to the pixels that are kept.
    """
    if size <= 0:
        return x
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n, 1), generator=generator, device=x.device)
    cx = torch.randint(0, w, (n, 1), generator=generator, device=x.device)
    lo = size // 2
    dy = torch.arange(h, device=x.device)[None, :] - cy + lo  # N x H: row offset from the square's top
    dx = torch.arange(w, device=x.device)[None, :] - cx + lo  # N x W
    rows, cols = (dy >= 0) & (dy < size), (dx >= 0) & (dx < size)
    inside = (rows[:, :, None] & cols[:, None, :])[:, None]  # N x 1 x H x W
    return torch.where(inside, torch.as_tensor(fill, dtype=x.dtype, device=x.device), x)
