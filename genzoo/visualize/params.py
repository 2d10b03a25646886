"""Image parameterisations for activation maximisation: what the optimiser changes.

- `pixel`: one unconstrained value per pixel and channel, squashed into [0, 1] by a sigmoid.
- `fourier`: the image's 2-D real spectrum, each coefficient scaled by 1/frequency, then an inverse
  real FFT and the sigmoid (Mordvintsev et al. 2018, "Differentiable Image Parameterizations", Distill;
  Olah et al. 2017, "Feature Visualization", section "Preconditioning and Parameterization"). Gradient
  steps of equal size on every coefficient then move low frequencies most: the optimiser is steered
  away from the high-frequency patterns that plain pixel ascent produces.

For colour images either parameterisation can additionally live in a decorrelated colour space: a fixed
3x3 matrix maps it to RGB before the sigmoid, so that independent, unit-variance inputs give colours
that co-vary like natural images' (again Olah et al. 2017).

The matrix: natural RGB values are strongly correlated (mostly brightness). We take the principal
components of ImageNet's RGB pixel covariance that Krizhevsky et al. 2012 (AlexNet, section 4.1, "PCA
colour augmentation") published - eigenvalues 0.2175, 0.0188, 0.0045 with their eigenvectors - rebuild
the covariance S = V diag(l) V^T and use its symmetric square root V diag(sqrt l) V^T, scaled so its
largest column has unit norm. Then white decorrelated input has per-channel variance 0.91..1 and
the inter-channel correlations of ImageNet (0.77..0.90). The symmetric root rather than the Cholesky
factor keeps the three channels on an equal footing.
"""

from __future__ import annotations

import math

import torch

from genzoo.errors import ConfigError

PARAMS = ("auto", "pixel", "fourier")

# ImageNet RGB covariance principal components (Krizhevsky et al. 2012): eigenvalues, eigenvectors as columns
_EIGVAL = (0.2175, 0.0188, 0.0045)
_EIGVEC = ((-0.5675, 0.7192, 0.4009),
           (-0.5808, -0.0045, -0.8140),
           (-0.5836, -0.6948, 0.4203))


def colour_matrix() -> torch.Tensor:
    """The 3x3 map from decorrelated colour space to RGB (see the module docstring), float32."""
    v = torch.tensor(_EIGVEC, dtype=torch.float64)
    root = v @ torch.diag(torch.tensor(_EIGVAL, dtype=torch.float64).sqrt()) @ v.T
    return (root / root.norm(dim=0).max()).float()


def frequency_scale(h: int, w: int) -> torch.Tensor:
    """H x (W//2+1) weights 1/f over the rfft2 grid (f in cycles per pixel, floored at 1/max(h, w) so the
    DC term is finite), normalised to unit RMS so the spectrum's initial std is the image's initial std."""
    scale = 1.0 / frequencies(h, w).double().clamp(min=1.0 / max(h, w))
    return (scale / scale.pow(2).mean().sqrt()).float()


def frequencies(h: int, w: int) -> torch.Tensor:
    """|f| in cycles per pixel at each point of the rfft2 grid (H x (W//2+1))."""
    fy = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]
    fx = torch.fft.rfftfreq(w, dtype=torch.float64)[None, :]
    return (fy ** 2 + fx ** 2).sqrt().float()


def gaussian_gain(h: int, w: int, sigma: float) -> torch.Tensor:
    """A Gaussian blur of std `sigma` px as a filter on the rfft2 grid: exp(-2 pi^2 sigma^2 |f|^2)."""
    return torch.exp(-2 * math.pi ** 2 * sigma ** 2 * frequencies(h, w) ** 2)


def _randn(shape, generator: torch.Generator | None) -> torch.Tensor:
    # drawn on the generator's own device (a CUDA generator cannot fill CPU tensors); moved by the caller
    return torch.randn(shape, generator=generator, device=generator.device if generator is not None else "cpu")


class Image:
    """A batch of images as a function of `params`: call it for N x C x H x W images in [0, 1]."""

    params: list[torch.Tensor]
    # logits = GAIN * parameters: the sigmoid's slope at 0 is 1/4, so with GAIN 4 an optimiser step of
    # size lr on a pixel changes a mid-grey pixel by about lr (lr is in pixel units, as in pixel-space ascent)
    GAIN = 4.0

    def __init__(self, shape: tuple[int, int, int], decorrelate: bool, device):
        self.shape = shape
        self.colour = colour_matrix().to(device) if decorrelate and shape[0] == 3 else None

    def _to_rgb(self, x: torch.Tensor) -> torch.Tensor:
        if self.colour is not None:
            x = torch.einsum("ij,njhw->nihw", self.colour, x)
        return torch.sigmoid(x)

    def logits(self) -> torch.Tensor:  # the image before colour mapping and sigmoid
        raise NotImplementedError

    def __call__(self) -> torch.Tensor:
        return self._to_rgb(self.logits())

    def blur_(self, sigma: float) -> None:
        """Gaussian-blur the image in place (in the space before the sigmoid; circular borders)."""
        raise NotImplementedError


class PixelImage(Image):
    def __init__(self, shape, n, generator, decorrelate=True, device="cpu", sd=0.01):
        super().__init__(shape, decorrelate, device)
        init = _randn((n, *shape), generator) * (sd / self.GAIN)  # logits' std = sd
        self.pixels = init.to(device).requires_grad_(True)
        self.params = [self.pixels]

    def logits(self) -> torch.Tensor:
        return self.GAIN * self.pixels

    @torch.no_grad()
    def blur_(self, sigma: float) -> None:
        # in the frequency domain: circular borders like the jitter's roll, and any image size
        h, w = self.shape[1:]
        gain = gaussian_gain(h, w, sigma).to(self.pixels.device)
        self.pixels.copy_(torch.fft.irfft2(torch.fft.rfft2(self.pixels) * gain, s=(h, w)))


class FourierImage(Image):
    def __init__(self, shape, n, generator, decorrelate=True, device="cpu", sd=0.01):
        super().__init__(shape, decorrelate, device)
        c, h, w = shape
        init = _randn((n, c, h, w // 2 + 1, 2), generator) * (sd / math.sqrt(2) / self.GAIN)  # logits' std ~ sd
        self.spectrum = init.to(device).requires_grad_(True)
        self.params = [self.spectrum]
        self.scale = frequency_scale(h, w).to(device)

    def logits(self) -> torch.Tensor:
        h, w = self.shape[1:]
        coeffs = torch.view_as_complex(self.spectrum) * (self.GAIN * self.scale)
        return torch.fft.irfft2(coeffs, s=(h, w), norm="ortho")  # orthonormal: std of coefficients = of pixels

    @torch.no_grad()
    def blur_(self, sigma: float) -> None:
        # a Gaussian blur multiplies the spectrum by the Gaussian's transform
        h, w = self.shape[1:]
        self.spectrum.mul_(gaussian_gain(h, w, sigma).to(self.spectrum.device)[..., None])


def make_image(param: str, shape: tuple[int, int, int], n: int, generator: torch.Generator | None = None,
               decorrelate: bool = True, device="cpu", sd: float = 0.01) -> Image:
    """A parameterised batch of `n` images of `shape` (C x H x W); param auto = fourier for 3 channels."""
    if param not in PARAMS:
        raise ConfigError(f"param must be one of {', '.join(PARAMS)}, got {param!r}")
    if param == "auto":
        param = "fourier" if shape[0] == 3 else "pixel"
    cls = FourierImage if param == "fourier" else PixelImage
    return cls(tuple(shape), n, generator, decorrelate=decorrelate, device=device, sd=sd)
