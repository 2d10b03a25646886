import math

import pytest
import torch
from torch.testing import assert_close

from genzoo.errors import ConfigError
from genzoo.models.pca import PCA, principal_angles


def test_pca_recovers_known_axes_and_discarded_variance():
    g = torch.Generator().manual_seed(0)
    axes = torch.linalg.qr(torch.randn(10, 10, generator=g, dtype=torch.float64)).Q
    std = torch.tensor([5.0, 3.0, 2.0, 1.0, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05], dtype=torch.float64)
    x = (torch.randn(20000, 10, generator=g, dtype=torch.float64) * std) @ axes.T + 7.0
    pca = PCA.fit(x, 3)
    assert_close(pca.mean, torch.full((10,), 7.0), atol=0.1, rtol=0)
    assert_close(pca.components @ pca.components.T, torch.eye(3))  # orthonormal rows
    assert principal_angles(pca.components.T, axes[:, :3]).max() < 0.02
    assert_close(pca.variances, std[:3].pow(2).float(), rtol=0.03, atol=0)
    # reconstruction error = the discarded variance (per dimension), measured and predicted
    err = (pca.reconstruct(x.float()) - x.float()).pow(2).mean()
    assert_close(err.item(), pca.expected_mse(), rtol=1e-3, atol=0)
    assert_close(pca.expected_mse(), float(std[3:].pow(2).sum()) / 10, rtol=0.03, atol=0)


def test_principal_angles_known_values():
    e = torch.eye(3, dtype=torch.float64)
    assert_close(principal_angles(e[:, :2], e[:, :2]), torch.zeros(2, dtype=torch.float64))
    assert_close(principal_angles(e[:, :1], e[:, 1:2]), torch.tensor([math.pi / 2], dtype=torch.float64))
    tilted = torch.tensor([[1.0], [1.0], [0.0]], dtype=torch.float64)
    assert_close(principal_angles(tilted, e[:, :1]), torch.tensor([math.pi / 4], dtype=torch.float64))
    # the span matters, not the basis: scaled and mixed columns give zero angles
    assert principal_angles(e[:, :2] @ torch.tensor([[2.0, 1.0], [0.0, 3.0]], dtype=torch.float64),
                            e[:, :2]).max() < 1e-7


def test_pca_bad_k():
    with pytest.raises(ConfigError, match="k <="):
        PCA.fit(torch.zeros(5, 3), 4)
