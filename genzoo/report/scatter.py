"""A scatter plot of 2-D points coloured by class, drawn straight into a uint8 image (no matplotlib).

Used for latent spaces: each point is a small square in its class colour (the 10-colour "tab10"
palette, in class order). With `legend` images (one per class, e.g. a test image of that class),
a column on the right shows each colour beside an example of its class, so the plot needs no text.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# matplotlib's tab10 palette: class 0 blue, 1 orange, 2 green, 3 red, 4 purple, 5 brown, 6 pink,
# 7 grey, 8 olive, 9 cyan; further classes cycle
PALETTE = torch.tensor([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
                        [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]],
                       dtype=torch.uint8)


def scatter_image(points: torch.Tensor, labels: torch.Tensor, size: int = 512, dot: int = 3, margin: int = 8,
                  legend: torch.Tensor | None = None) -> torch.Tensor:
    """Points (N x 2) coloured by `labels` (N,) -> a 3 x size x (size [+ legend column]) uint8 image.

    Axes are scaled to the points' range (equal scale on both axes, so distances are not distorted);
    y grows upwards. Later points are drawn over earlier ones. `legend`: K x C x h x w uint8 images.
    """
    if points.dim() != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ValueError(f"expected N x 2 points and N labels, got {tuple(points.shape)} and {len(labels)}")
    p = points.detach().float().cpu()
    lo, hi = p.min(0).values, p.max(0).values
    scale = (size - 2 * margin - dot) / float((hi - lo).max().clamp(min=1e-12))
    centre = (lo + hi) / 2
    col = ((p[:, 0] - centre[0]) * scale + size / 2).round().long().clamp(0, size - dot)
    row = (size / 2 - (p[:, 1] - centre[1]) * scale).round().long().clamp(0, size - dot)
    img = torch.full((size, size, 3), 255, dtype=torch.uint8)
    colours = PALETTE[labels.cpu().long() % len(PALETTE)]  # N x 3
    for dy in range(dot):  # a dot x dot square per point, vectorised over points
        for dx in range(dot):
            img[row + dy, col + dx] = colours
    img = img.permute(2, 0, 1)
    if legend is None:
        return img
    return torch.cat([img, legend_column(legend, size)], 2)


def legend_column(examples: torch.Tensor, height: int, cell: int = 28) -> torch.Tensor:
    """K example images (K x C x h x w uint8), each beside a swatch of its class colour, stacked."""
    k = len(examples)
    cell = min(cell, max(8, (height - 8) // max(k, 1) - 4))
    col = torch.full((3, height, 2 * cell + 12), 255, dtype=torch.uint8)
    ex = examples.float()
    if ex.shape[1] == 1:
        ex = ex.expand(-1, 3, -1, -1)
    ex = F.interpolate(ex, size=(cell, cell), mode="bilinear", align_corners=False).round().clamp(0, 255)
    for i in range(k):
        top = 4 + i * (cell + 4)
        if top + cell > height:
            break
        col[:, top:top + cell, 4:4 + cell] = PALETTE[i % len(PALETTE)].view(3, 1, 1)
        col[:, top:top + cell, cell + 8:2 * cell + 8] = ex[i].to(torch.uint8)
    return col
