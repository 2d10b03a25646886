"""Fixtures for the attack tests: hand-set linear models whose attacks have closed forms, and a small conv net
trained on mnist-mini (about 95% test accuracy) for the tests that need a real decision boundary."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from genzoo.metrics.fid import single_thread
from tests.learning import SEED


@pytest.fixture(autouse=True)
def _one_thread():
    # These models are tiny: one thread is as fast as two, and two OpenMP threads on a shared 2-core machine
    # slow down up to 80-fold when another process holds a core (measured: 2 ms vs 160 ms per training step).
    with single_thread():
        yield


class BinaryLinear(nn.Module):
    """Two classes with logits (-z/2, z/2), z = w.x + b: class 1 iff z > 0, and CE's input gradient is parallel
    to w (+w for label 0, -w for label 1), so FGSM and the minimal L2 perturbation (|z| / ||w||) are known."""

    def __init__(self, w: torch.Tensor, b: float = 0.0):
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = nn.Parameter(torch.tensor(float(b)))

    def forward(self, x):
        z = x.flatten(1) @ self.w.flatten() + self.b
        return torch.stack([-z / 2, z / 2], dim=1)


def linear_model(shape=(2, 4, 4), classes=10, scale=3.0, seed=0) -> nn.Module:
    """A fixed random linear classifier on images of `shape`."""
    g = torch.Generator().manual_seed(seed)
    d = int(torch.tensor(shape).prod())
    net = nn.Sequential(nn.Flatten(), nn.Linear(d, classes))
    with torch.no_grad():
        net[1].weight.copy_(torch.randn(classes, d, generator=g) * scale / d**0.5)
        net[1].bias.copy_(torch.randn(classes, generator=g) * 0.1)
    return net.eval()


def small_conv(channels=2, classes=10, seed=0, dropout=0.0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.Dropout(dropout), nn.Flatten(),
                        nn.Linear(4 * 16, classes))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return net


@pytest.fixture(scope="session")
def mnist_data():
    """(train x, train y, test x, test y): mnist-mini as floats in [0, 1]; the first 3000 training images."""
    from genzoo.data import load

    train, test = load("mnist-mini"), load("mnist-mini", split="test")
    return (train.images[:3000].float() / 255, train.labels[:3000], test.images.float() / 255, test.labels)


@pytest.fixture(scope="session")
def mnist_net(mnist_data):
    """A two-conv-layer net trained for 300 Adam steps on 3000 mnist-mini images (about 1 s); accuracy on the first
    500 test images measured 0.944..0.952. Eval mode; its parameters keep requires_grad=True, as in training."""
    x, y = mnist_data[:2]
    with single_thread(), torch.random.fork_rng():
        torch.manual_seed(SEED)
        net = nn.Sequential(nn.Conv2d(1, 8, 5, stride=2, padding=2), nn.ReLU(),
                            nn.Conv2d(8, 16, 5, stride=2, padding=2), nn.ReLU(),
                            nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        g = torch.Generator().manual_seed(SEED)
        for _ in range(300):
            idx = torch.randint(0, len(x), (64,), generator=g)
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.zero_grad(set_to_none=True)
    return net.eval()
