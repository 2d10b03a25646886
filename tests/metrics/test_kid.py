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
