"""CatGAN entropies and InfoGAN's mutual-information term against hand-computed values."""

import math

import torch
from torch.testing import assert_close

from genzoo.losses import d_loss_catgan, g_loss_catgan, infogan_info_loss, marginal_entropy, mean_entropy

T = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
H34 = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))  # entropy of (3/4, 1/4) = 0.5623


def test_entropies_of_uniform_and_skewed_predictions():
    assert_close(mean_entropy(torch.zeros(5, 4)), T(math.log(4)))
    assert_close(marginal_entropy(torch.zeros(5, 4)), T(math.log(4)))
    skewed = T([[math.log(3), 0.0], [0.0, math.log(3)]])  # p = (3/4, 1/4) and (1/4, 3/4)
    assert_close(mean_entropy(skewed), T(H34))
    assert_close(marginal_entropy(skewed), T(math.log(2)))  # the marginal is (1/2, 1/2)
    confident_same = T([[20.0, 0.0], [20.0, 0.0]])
    assert_close(marginal_entropy(confident_same), T(0.0), atol=1e-6, rtol=0)


def test_catgan_objectives():
    skewed = T([[math.log(3), 0.0], [0.0, math.log(3)]])
    # D: -H(marginal real) + E H(real) - E H(fake)
    assert_close(d_loss_catgan(skewed, torch.zeros(2, 2)), T(-math.log(2) + H34 - math.log(2)))
    # the ideal D (certain and balanced on real, uniform on fake) reaches the minimum -2 log K
    certain = T([[30.0, 0.0], [0.0, 30.0]])
    assert_close(d_loss_catgan(certain, torch.zeros(4, 2)), T(-2 * math.log(2)), atol=1e-5, rtol=0)
    assert_close(g_loss_catgan(skewed), T(-math.log(2) + H34))


def test_infogan_info_loss_terms():
    cat, cont = infogan_info_loss([torch.zeros(1, 4), T([[0.0, math.log(3)]])], [torch.tensor([2]), torch.tensor([1])],
                                  cont_mean=T([[0.5, 0.0]]), cont_codes=T([[1.5, 0.0]]))
    assert_close(cat, T(math.log(4) - math.log(0.75)))  # -log 1/4 - log 3/4
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    assert_close(cont, T(0.5 + half_log_2pi + half_log_2pi))  # fixed std 1: 0.5 (c - m)^2 + const per code
    _, cont_learned = infogan_info_loss([], [], cont_mean=T([[0.5]]), cont_codes=T([[1.5]]),
                                        cont_log_std=T([[math.log(2)]]))
    assert_close(cont_learned, T(0.5 * (1 / 2) ** 2 + math.log(2) + half_log_2pi))
