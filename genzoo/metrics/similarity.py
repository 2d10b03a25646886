"""Full-reference image similarity for translation with a known target: PSNR and SSIM, per image.

Both take float images N x C x H x W on one scale whose range is `data_range` (1 for [0, 1], 2 for [-1, 1],
255 for uint8 values) and return one figure per image (N). SSIM is Wang et al. 2004 ("Image Quality Assessment:
From Error Visibility to Structural Similarity"): an 11x11 Gaussian window of standard deviation 1.5, K1 = 0.01,
K2 = 0.03, computed where the window fits inside the image ('valid', as the authors' MATLAB code), averaged over
positions and channels. Colour images are scored per channel and averaged (not on luminance).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["psnr", "ssim"]


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"need two image batches of one shape N x C x H x W, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """10 log10(data_range^2 / MSE) per image, in dB (inf for identical images)."""
    _check(x, y)
    mse = (x.double() - y.double()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(data_range ** 2 / mse)).float()


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float, window: int = 11, sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Mean SSIM per image: the mean over positions and channels of
    (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
    C1 = (k1 L)^2, C2 = (k2 L)^2, local statistics under a Gaussian window (Wang et al. 2004, Eq. 13-16)."""
    _check(x, y)
    n, c, h, w = x.shape
    if min(h, w) < window:
        raise ValueError(f"SSIM's {window}x{window} window does not fit in {h}x{w} images; pass a smaller window")
    x, y = x.double(), y.double()
    kernel = _gaussian_window(window, sigma).to(x.device).expand(c, 1, window, window)

    def local_mean(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=c)

    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x ** 2
    var_y = local_mean(y * y) - mu_y ** 2
    cov = local_mean(x * y) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1).float()
