"""FID: the closed form for Gaussians, agreement with scipy and torchmetrics, estimates from samples."""

import numpy as np
import pytest
import scipy.linalg
import torch
from torch.testing import assert_close

from genzoo.metrics.fid import fid, frechet_distance, gaussian_stats, trace_sqrt_product


def random_cov(d, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, 2 * d, generator=g, dtype=torch.float64)
    return scale * a @ a.T / (2 * d) + 1e-3 * torch.eye(d, dtype=torch.float64)


def test_closed_form_for_commuting_covariances():
    # same eigenvectors R: FID = |mu1 - mu2|² + sum_i (sqrt(a_i) - sqrt(b_i))²
    g = torch.Generator().manual_seed(0)
    r, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    a = torch.tensor([0.5, 1.0, 2.0, 3.0, 0.1, 4.0], dtype=torch.float64)
    b = torch.tensor([1.0, 1.0, 0.5, 2.0, 0.3, 9.0], dtype=torch.float64)
    mu1, mu2 = torch.arange(6.0, dtype=torch.float64), torch.ones(6, dtype=torch.float64)
    expected = float((mu1 - mu2).square().sum() + (a.sqrt() - b.sqrt()).square().sum())
    got = frechet_distance(mu1, r @ a.diag() @ r.T, mu2, r @ b.diag() @ r.T)
    assert_close(got, expected, rtol=1e-10, atol=1e-10)
    # by hand, 1-d: N(0, 4) vs N(3, 1): 9 + (2 - 1)² = 10
    one = torch.ones(1, 1, dtype=torch.float64)
    assert_close(frechet_distance(torch.zeros(1), 4 * one, torch.full((1,), 3.0), one), 10.0)


@pytest.mark.parametrize("d", [2, 17, 128])
def test_trace_sqrt_agrees_with_scipy_sqrtm(d):
    s1, s2 = random_cov(d, 1), random_cov(d, 2, scale=3.0)
    ref = np.trace(scipy.linalg.sqrtm(s1.numpy() @ s2.numpy())).real
    assert_close(float(trace_sqrt_product(s1, s2)), float(ref), rtol=1e-8, atol=1e-8)


def test_singular_covariances():
    # rank-deficient covariance (fewer samples than dimensions, or dead features) still works
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(5, 20, generator=g), torch.randn(7, 20, generator=g) + 1
    s1, s2 = gaussian_stats(x)[1], gaussian_stats(y)[1]
    ref = np.trace(scipy.linalg.sqrtm(s1.numpy() @ s2.numpy())).real
    assert_close(float(trace_sqrt_product(s1, s2)), float(ref), rtol=1e-6, atol=1e-6)


def test_agrees_with_torchmetrics():
    fidmod = pytest.importorskip("torchmetrics.image.fid")
    mu1, mu2 = torch.randn(32, dtype=torch.float64), torch.randn(32, dtype=torch.float64)
    s1, s2 = random_cov(32, 4), random_cov(32, 5)
    assert_close(frechet_distance(mu1, s1, mu2, s2), float(fidmod._compute_fid(mu1, s1, mu2, s2)),
                 rtol=1e-8, atol=1e-8)


def test_stats_match_numpy():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    mu, s = gaussian_stats(x)
    assert_close(mu, torch.from_numpy(x.double().numpy().mean(0)))
    assert_close(s, torch.from_numpy(np.cov(x.double().numpy(), rowvar=False)))


def test_set_with_itself_is_zero_and_sample_estimate_matches_closed_form():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 8, generator=g)
    assert fid(x, x) == pytest.approx(0.0, abs=1e-9)
    # samples of N(0, I) and N(m, 4I): closed form |m|² + 8 (2 - 1)² = 8 + 8 = 16
    y = 2 * torch.randn(20000, 8, generator=g) + 1.0
    x = torch.randn(20000, 8, generator=g)
    assert fid(x, y) == pytest.approx(16.0, rel=0.03)


def test_rejects_too_few_vectors():
    with pytest.raises(ValueError, match="at least 2"):
        gaussian_stats(torch.zeros(1, 3))
