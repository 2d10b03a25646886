"""Bits/dim baselines against closed forms: a uniform pixel, a copied pixel, a quantized Gaussian."""

import math

import pytest
import torch

from genzoo.metrics.density import gaussian_bits_per_dim, histogram_bits_per_dim


def uniform(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, d), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_uniform_pixels_score_their_entropy():
    train, test = uniform(200_000, 1, 0), uniform(100_000, 1, 1)
    assert histogram_bits_per_dim(train, test) == pytest.approx(8.0, abs=0.005)
    # the Gaussian of the dequantized uniform on [0, 256): variance 256^2 / 12, so its differential entropy
    # 8 + log2(2 pi e / 12) / 2 = 8.2546 bits, which the bound meets
    assert gaussian_bits_per_dim(train, test) == pytest.approx(8 + 0.5 * math.log2(2 * math.pi * math.e / 12),
                                                                abs=0.01)


def test_the_gaussian_sees_a_copied_pixel_and_the_histograms_do_not():
    train, test = uniform(50_000, 1, 0).repeat(1, 2), uniform(20_000, 1, 1).repeat(1, 2)
    assert histogram_bits_per_dim(train, test) == pytest.approx(8.0, abs=0.02)
    assert gaussian_bits_per_dim(train, test) < 5.0  # ~8.25 for the first value, under 1 for its copy


def test_quantized_gaussian_scores_its_discrete_entropy():
    """Pixels = round(N(128, 20^2)): the discrete entropy is 0.5 log2(2 pi e 20^2) = 6.37 bits to within 1e-3
    (the bin is small against sigma); both baselines get it, the Gaussian's bound up to the dequantization's
    small cost."""
    g = torch.Generator().manual_seed(0)

    def draw(n):
        return (128 + 20 * torch.randn(n, 3, generator=g)).round().clamp(0, 255).to(torch.uint8)

    want = 0.5 * math.log2(2 * math.pi * math.e * 400)
    train, test = draw(200_000), draw(100_000)
    assert histogram_bits_per_dim(train, test) == pytest.approx(want, abs=0.01)
    assert gaussian_bits_per_dim(train, test) == pytest.approx(want, abs=0.01)
