"""EBGAN's and BEGAN's losses, the pulling-away term, BEGAN's k_t control and convergence measure M, against
hand-computed values."""

import torch
from torch.testing import assert_close

from genzoo.losses import (
    began_convergence,
    began_k_update,
    d_loss_began,
    d_loss_ebgan,
    pulling_away,
    reconstruction_energy,
)

T = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731


def test_reconstruction_energy_is_a_per_image_mean_over_pixels():
    x = torch.zeros(2, 1, 2, 2)
    rec = T([[[[1.0, -1.0], [0.0, 2.0]]], [[[0.5, 0.5], [0.5, 0.5]]]])
    assert_close(reconstruction_energy(x, rec, 2), T([(1 + 1 + 0 + 4) / 4, 0.25]))  # EBGAN: squared error
    assert_close(reconstruction_energy(x, rec, 1), T([(1 + 1 + 0 + 2) / 4, 0.5]))  # BEGAN: L1


def test_ebgan_margin_loss():
    # D(x) averages 0.5; fakes with energies 0.2 and 3 cost [1 - 0.2]^+ = 0.8 and [1 - 3]^+ = 0 (mean 0.4)
    assert_close(d_loss_ebgan(T([0.25, 0.75]), T([0.2, 3.0]), margin=1.0), T(0.5 + 0.4))
    # once every fake is beyond the margin only the real energy is left to lower
    assert_close(d_loss_ebgan(T([0.1]), T([5.0, 2.0]), margin=2.0), T(0.1))


def test_pulling_away_term():
    # orthogonal codes: 0; one repeated direction (any lengths): 1
    assert_close(pulling_away(torch.eye(3)), T(0.0))
    assert_close(pulling_away(T([[1.0, 0.0], [3.0, 0.0], [-2.0, 0.0]])), T(1.0))
    # two codes at 60 degrees: cos^2 = 1/4 for each ordered pair
    assert_close(pulling_away(T([[1.0, 0.0], [0.5, 3 ** 0.5 / 2]])), T(0.25))
    # three codes: pairs (a, b) cos 1, (a, c) and (b, c) cos 0 -> (1 + 0 + 0) * 2 / (3 * 2)
    assert_close(pulling_away(T([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])), T(1 / 3))
    assert_close(pulling_away(T([[1.0, 2.0]])), T(0.0))  # a single code has no pairs
    # N x C x H x W codes are flattened
    assert_close(pulling_away(torch.eye(4).view(4, 1, 2, 2)), T(0.0))


def test_began_losses_k_control_and_convergence_measure():
    real, fake = T([0.2, 0.4]), T([0.1, 0.3])  # L(x) = 0.3, L(G(z)) = 0.2
    assert_close(d_loss_began(real, fake, 0.5), T(0.3 - 0.5 * 0.2))
    # k + lambda (gamma L(x) - L(G(z))) = 0.5 + 0.1 * (0.5 * 0.3 - 0.2) = 0.495
    assert_close(began_k_update(T(0.5), real, fake, gamma=0.5, lambda_k=0.1), T(0.495))
    # clipped to [0, 1] on both sides
    assert_close(began_k_update(T(0.001), real, fake, gamma=0.5, lambda_k=0.1), T(0.0))
    assert_close(began_k_update(T(0.999), real, T([0.0]), gamma=1.0, lambda_k=0.1), T(1.0))
    # M = L(x) + |gamma L(x) - L(G(z))| = 0.3 + |0.15 - 0.2|
    assert_close(began_convergence(real, fake, gamma=0.5), T(0.35))
    # at the equilibrium L(G(z)) = gamma L(x), M is L(x) and k stands still
    assert_close(began_convergence(real, T([0.15]), gamma=0.5), T(0.3))
    assert_close(began_k_update(T(0.7), real, T([0.15]), gamma=0.5, lambda_k=0.1), T(0.7))
