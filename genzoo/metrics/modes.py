"""Mode counting on 2-D mixtures of Gaussians: the ring and the grid.

The ring (8 modes on a circle of radius 2, std 0.02) is Metz et al. 2017 ("Unrolled GANs", Sec. 3.1);
the grid (5 x 5 modes spaced 2 apart, std 0.05) is the 2D-grid of Lin et al. 2018 (PacGAN, Sec. 5).
Scores follow Srivastava et al. 2017 (VEEGAN, Sec. 5.1): a sample is *high quality* if it lies
within `k_std` (3) standard deviations of its nearest mode; a mode is *covered* when at least
`min_count` high-quality samples have it as nearest mode (VEEGAN: 1; PacGAN counts a mode as lost
below 20 of 2,500 samples, i.e. min_count = 0.008 n).
"""

from __future__ import annotations

import math

import torch


def ring_centers(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """`modes` points evenly spaced on a circle (modes x 2)."""
    angle = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return torch.stack([radius * angle.cos(), radius * angle.sin()], 1).float()


def grid_centers(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    """A side x side grid centred on 0 (side² x 2): -4, -2, 0, 2, 4 by default."""
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(axis, axis)


def sample_mixture(centers: torch.Tensor, std: float, n: int, generator: torch.Generator | None = None
                   ) -> torch.Tensor:
    """n points from the equal-weight Gaussian mixture with these centers and isotropic std (n x 2)."""
    which = torch.randint(len(centers), (n,), generator=generator)
    return centers[which] + std * torch.randn(n, centers.shape[1], generator=generator)


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float, k_std: float = 3.0,
                  min_count: int = 1) -> dict[str, float]:
    """Modes covered (of `modes_total`) and the fraction of high-quality samples (N x 2 samples)."""
    if samples.dim() != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(f"samples must be N x {centers.shape[1]}, got {tuple(samples.shape)}")
    d = torch.cdist(samples.float(), centers.float())  # N x modes
    dist, nearest = d.min(1)
    good = dist <= k_std * std
    counts = torch.bincount(nearest[good], minlength=len(centers))
    return {"modes_covered": int((counts >= min_count).sum()),
            "modes_total": len(centers),
            "high_quality_fraction": float(good.double().mean())}
