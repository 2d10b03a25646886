"""The GAN learns a mixture of 8 Gaussians on a ring (the standard mode-collapse toy problem).

The points are fed to the model directly as 1x1x2 "images" (the dense nets take any shape), so this
exercises the same train_step, losses and networks as image training.
"""

import math

import pytest
import torch

import genzoo
from genzoo.data.imageset import Batch, DataSpec
from tests.learning import SEED, record

RADIUS, STD, MODES = 0.8, 0.02, 8
CENTERS = torch.stack([torch.cos(torch.arange(MODES) * 2 * math.pi / MODES),
                       torch.sin(torch.arange(MODES) * 2 * math.pi / MODES)], 1) * RADIUS


def ring(n: int, g: torch.Generator) -> torch.Tensor:
    k = torch.randint(0, MODES, (n,), generator=g)
    return CENTERS[k] + STD * torch.randn(n, 2, generator=g)


def coverage(x: torch.Tensor) -> tuple[int, float]:
    """(modes holding at least 1% of the samples within 4 std of their centre, fraction of such samples)."""
    dist, idx = torch.cdist(x, CENTERS).min(1)
    good = dist < 4 * STD
    counts = torch.bincount(idx[good], minlength=MODES)
    return int((counts >= 0.01 * len(x)).sum()), good.float().mean().item()


def test_coverage_counts_modes():
    g = torch.Generator().manual_seed(0)
    assert coverage(ring(1000, g))[0] == 8
    assert coverage(CENTERS[:3].repeat(100, 1))[0] == 3  # a collapsed generator covers few modes
    assert coverage(torch.zeros(100, 2)) == (0, 0.0)


@pytest.mark.learning
@pytest.mark.parametrize("offset", [0, 1, 2])
def test_gan_covers_the_ring(offset):
    """With the minibatch standard deviation feature, 16 of 16 seeds covered 7 or 8 modes (without it,
    some seeds collapse to one point hopping between modes, the classic failure); with no vector kernels,
    one seed of 7 covered 6."""
    seed = SEED + offset
    torch.manual_seed(seed)
    model = genzoo.build("gan", DataSpec(1, 1, 2), seed=seed, g_width=32, d_width=32, z_dim=8, g_norm="none",
                         init="default", lr_g=1e-3, lr_d=1e-3, minibatch_std=True)
    model.configure_optimizers(2000)
    g = torch.Generator().manual_seed(seed)
    before = coverage(model.sample(1000, generator=torch.Generator().manual_seed(0)).view(-1, 2))
    for step in range(2000):
        model.train_step(Batch(ring(128, g).view(128, 1, 1, 2)), step)
    modes, quality = coverage(model.sample(1000, generator=torch.Generator().manual_seed(0)).view(-1, 2))
    record(modes=modes, quality=quality)
    assert before[0] <= 1
    # measured over seeds 0-6: 6..8 modes (6 once, with no vector kernels), quality 0.355..0.629; a collapsed
    # generator covers 1-3 modes
    assert modes >= 5 and quality > 0.25, (modes, quality)
