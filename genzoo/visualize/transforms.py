"""Priors for activation maximisation: random transformations and penalties.

Unregularised gradient ascent finds high-frequency patterns that excite a unit but look like noise (and
do not survive small shifts). The remedies used here:

- transformation robustness: before every step the image is shifted by a few pixels ("jitter",
  Mordvintsev et al. 2015, "Inceptionism"; Olah et al. 2017) and rescaled by a random factor close to 1
  (Olah et al. 2017), so only patterns that work wherever they land are reinforced;
- periodic Gaussian blur of the image (Yosinski et al. 2015, "Understanding Neural Networks Through
  Deep Visualization"), see `params.Image.blur_`;
- a total-variation penalty (Mahendran & Vedaldi 2015) and an L2 penalty on the image's deviation from
  mid-grey (Simonyan et al. 2014 penalise the L2 norm of the mean-subtracted image).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BLUR_SIGMA = 0.5  # pixels; Yosinski et al. 2015 found 0.3..1 px blurs every few steps to work well


def jitter(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Shift by (dy, dx) pixels, wrapping around: no new border content for the net to exploit."""
    return torch.roll(x, shifts=(dy, dx), dims=(-2, -1)) if dy or dx else x


def rescale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Zoom by `factor` about the centre, keeping H x W (a net with a dense head needs its input size);
    zooming out fills the border by reflection."""
    if factor == 1.0:
        return x
    n = x.shape[0]
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / factor  # output coordinate u samples input at u / factor
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic TV per image (N,): mean absolute difference between neighbouring pixels."""
    dy = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().flatten(1).mean(1)
    dx = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().flatten(1).mean(1)
    return dy + dx


def l2_from_grey(x: torch.Tensor) -> torch.Tensor:
    """Mean squared deviation from mid-grey per image (N,) (images in [0, 1])."""
    return (x - 0.5).pow(2).flatten(1).mean(1)


class RandomTransform:
    """Draws a jitter and a scale per step from `generator`, so a seeded run repeats exactly."""

    def __init__(self, jitter: int, scales: tuple[float, ...], generator: torch.Generator):
        self.jitter = int(jitter)
        self.scales = tuple(float(s) for s in scales)
        self.generator = generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Transformed images; `self.last` is the (dy, dx, factor) applied (neuron targets follow it)."""
        g = self.generator
        dy = dx = 0
        factor = 1.0
        if self.jitter:
            dy, dx = torch.randint(-self.jitter, self.jitter + 1, (2,), generator=g, device=g.device).tolist()
            x = jitter(x, dy, dx)
        if len(self.scales) > 1 or (self.scales and self.scales[0] != 1.0):
            factor = self.scales[int(torch.randint(len(self.scales), (1,), generator=g, device=g.device))]
            x = rescale(x, factor)
        self.last = (dy, dx, factor)
        return x
