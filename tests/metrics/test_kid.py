"""KID: hand-computed MMD, unbiasedness, agreement with torchmetrics."""

import pytest
import torch
from torch.testing import assert_close

from genzoo.metrics.kid import kid, mmd2_unbiased, polynomial_kernel


def test_mmd_by_hand():
    # 1-d features, degree-1 kernel with gamma 1 and coef 0: k(x, y) = x y
    x = torch.tensor([[1.0], [2.0]])
    y = torch.tensor([[3.0], [5.0]])
    kxx, kxy, kyy = (polynomial_kernel(a, b, degree=1, gamma=1.0, coef=0.0) for a, b in ((x, x), (x, y), (y, y)))
    # off-diagonal sums: xx 2*2=4, yy 2*15=30 -> (4+30)/(2*1)=17; cross: (1+2)(3+5)=24 -> 2*24/4=12
    assert_close(float(mmd2_unbiased(kxx, kxy, kyy)), 17.0 - 12.0)
    # the cubic kernel with gamma = 1/d: (x y / 1 + 1)^3
    assert_close(polynomial_kernel(x, y), torch.tensor([[64.0, 216.0], [343.0, 1331.0]]))


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_agrees_with_torchmetrics():
    kidmod = pytest.importorskip("torchmetrics.image.kid")
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 16, generator=g), torch.randn(250, 16, generator=g) + 0.3
    ref = kidmod.poly_mmd(x.double(), y.double())
    ours = mmd2_unbiased(*(polynomial_kernel(a.double(), b.double()) for a, b in ((x, x), (x, y), (y, y))))
    assert_close(float(ours), float(ref))
    # subsets drawn like torchmetrics' KernelInceptionDistance.compute does (global RNG, same order)
    metric = kidmod.KernelInceptionDistance(feature=torch.nn.Identity(), subsets=7, subset_size=100)
    metric.update(x.double(), real=True)
    metric.update(y.double(), real=False)
    torch.manual_seed(11)
    ref_mean, ref_std = metric.compute()
    mean, std = kid(x.double(), y.double(), subsets=7, subset_size=100, generator=torch.Generator().manual_seed(11))
    assert_close((mean, std), (float(ref_mean), float(ref_std)))


def test_identical_and_same_distribution_sets_give_about_zero():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2000, 32, generator=g)
    same, _ = kid(x, x, subsets=20, subset_size=500, generator=g)
    y = torch.randn(2000, 32, generator=g)
    other, other_std = kid(x, y, subsets=50, subset_size=500, generator=g)
    shifted, _ = kid(x, y + 0.5, subsets=20, subset_size=500, generator=g)
    assert abs(same) < 0.02 * shifted and abs(other) < 3 * other_std + 1e-3 * shifted
    assert shifted > 0.05


def test_subset_size_is_capped():
    x = torch.randn(50, 4)
    mean, std = kid(x, x + 1, subsets=3, subset_size=1000, generator=torch.Generator().manual_seed(0))
    assert mean > 0 and std >= 0
    with pytest.raises(ValueError, match="at least 2"):
        kid(x[:1], x, subsets=1)



def test_whole_matrix_and_per_subset_paths_agree():
    from genzoo.metrics.kid import _mmd2_of_subsets, _subset_kernels

    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(400, 8, generator=g, dtype=torch.float64), torch.randn(300, 8, generator=g, dtype=torch.float64)
    r_idx = torch.stack([torch.randperm(400, generator=g)[:150] for _ in range(12)])
    f_idx = torch.stack([torch.randperm(300, generator=g)[:150] for _ in range(12)])
    whole = _mmd2_of_subsets(x, y + 0.2, r_idx, f_idx, 3)
    per_subset = mmd2_unbiased(*_subset_kernels(x[r_idx], (y + 0.2)[f_idx], 3))
    assert_close(whole, per_subset)
    # kid() on large sets takes the per-subset path; it agrees with torchmetrics' subset draws too
    big_x, big_y = torch.randn(3000, 4, generator=g), torch.randn(3000, 4, generator=g)
    mean, _ = kid(big_x, big_y, subsets=3, subset_size=1000, generator=torch.Generator().manual_seed(0))
    idx_g = torch.Generator().manual_seed(0)
    ref = []
    for _ in range(3):
        r, f = torch.randperm(3000, generator=idx_g)[:1000], torch.randperm(3000, generator=idx_g)[:1000]
        ref.append(float(mmd2_unbiased(*_subset_kernels(big_x[r][None], big_y[f][None], 3))))
    assert_close(mean, sum(ref) / 3)
