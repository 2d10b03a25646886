"""Precision/recall, density/coverage and memorization: hand-made cases and agreement with `prdc`."""

import pytest
import torch
from torch.testing import assert_close

from genzoo.metrics.manifold import knn_radii, memorization, nearest_distances, prdc


def test_radii_by_hand():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    r = knn_radii(x, (1, 2))
    assert_close(r[1], torch.tensor([1.0, 1.0, 2.0, 4.0]))
    assert_close(r[2], torch.tensor([3.0, 2.0, 3.0, 6.0]))
    with pytest.raises(ValueError, match="too few"):
        knn_radii(x, (4,))


def test_by_hand_on_a_line():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])  # 1-NN radii: 1 each
    fake = torch.tensor([[0.5], [10.0], [11.0], [12.0]])  # one fake inside, three far away
    r = prdc(real, fake, k_pr=1, k_dc=1)
    assert r["precision"] == 0.25  # only 0.5 lies inside a real ball (strictly)
    assert r["density"] == 0.5  # 0.5 lies in the balls of 0 and 1: 2 / (k=1 * 4 fakes)
    assert r["coverage"] == 0.5  # reals 0 and 1 have a fake within their radius
    # fake radii (1-NN): 0.5 -> 9.5, others 1: reals within 9.5 of 0.5 -> all four
    assert r["recall"] == 1.0


def test_identical_sets_and_disjoint_sets():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 8, generator=g)
    same = prdc(x, x.clone())
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] == pytest.approx(1.0, abs=0.1)
    far = prdc(x, x + 100)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_agrees_with_prdc_package(capsys):
    prdc_pkg = pytest.importorskip("prdc")
    g = torch.Generator().manual_seed(1)
    real = torch.randn(700, 10, generator=g, dtype=torch.float64)
    fake = 1.2 * torch.randn(600, 10, generator=g, dtype=torch.float64) + 0.3
    ours = prdc(real, fake, k_pr=3, k_dc=5)
    ref3 = prdc_pkg.compute_prdc(real.numpy(), fake.numpy(), nearest_k=3)
    ref5 = prdc_pkg.compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
    assert_close(ours["precision"], float(ref3["precision"]))
    assert_close(ours["recall"], float(ref3["recall"]))
    assert_close(ours["density"], float(ref5["density"]))
    assert_close(ours["coverage"], float(ref5["coverage"]))


def test_blocks_do_not_change_results(monkeypatch):
    g = torch.Generator().manual_seed(2)
    real, fake = torch.randn(300, 5, generator=g), torch.randn(280, 5, generator=g) * 1.5
    whole = prdc(real, fake)
    monkeypatch.setattr("genzoo.metrics.manifold.BLOCK", 64)
    assert prdc(real, fake) == whole


def test_memorization_flags_copies():
    g = torch.Generator().manual_seed(3)
    train, heldout = torch.randn(2000, 6, generator=g), torch.randn(500, 6, generator=g)
    fresh = memorization(torch.randn(500, 6, generator=g), train, heldout)
    copies = memorization(train[:500] + 1e-4, train, heldout)
    assert 0.8 < fresh["nn_train_ratio"] < 1.25 and fresh["nn_copy_fraction"] < 0.05
    assert copies["nn_train_ratio"] < 0.01 and copies["nn_copy_fraction"] == 1.0
    assert_close(nearest_distances(torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0], [6.0, 8.0]])),
                 torch.tensor([5.0]))
