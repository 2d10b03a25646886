"""2-D ring/grid mode counting on samples with a known answer."""

import torch

from genzoo.metrics.modes import grid_centers, mode_coverage, ring_centers, sample_mixture


def test_centers():
    ring = ring_centers(8, 2.0)
    assert torch.allclose(ring.norm(dim=1), torch.full((8,), 2.0))
    grid = grid_centers(5, 2.0)
    assert grid.shape == (25, 2) and set(grid[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_true_distribution_covers_everything():
    g = torch.Generator().manual_seed(0)
    for centers, std in ((ring_centers(), 0.02), (grid_centers(), 0.05)):
        r = mode_coverage(sample_mixture(centers, std, 2500, g), centers, std)
        assert r["modes_covered"] == r["modes_total"] == len(centers)
        assert r["high_quality_fraction"] > 0.98  # 3 std in 2-D holds 98.9% of the mass


def test_collapsed_and_blurry_generators():
    g = torch.Generator().manual_seed(1)
    centers, std = grid_centers(), 0.05
    collapsed = sample_mixture(centers[:3], std, 2500, g)
    r = mode_coverage(collapsed, centers, std)
    assert r["modes_covered"] == 3 and r["high_quality_fraction"] > 0.98
    blurry = sample_mixture(centers, 0.5, 2500, g)  # every mode visited, few samples sharp
    r = mode_coverage(blurry, centers, std)
    assert r["high_quality_fraction"] < 0.1
    # PacGAN-style threshold: modes need min_count samples
    few = torch.cat([sample_mixture(centers[:1], std, 100, g), centers[1:2] + 0.0])
    assert mode_coverage(few, centers, std, min_count=1)["modes_covered"] == 2
    assert mode_coverage(few, centers, std, min_count=20)["modes_covered"] == 1
