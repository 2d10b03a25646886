"""GAN objectives against closed forms and hand-computed values, and their gradient directions."""

import math

import pytest
import torch
from torch.testing import assert_close

from genzoo.losses import (
    clip_weights_,
    d_loss_bce,
    d_loss_hinge,
    d_loss_lsgan,
    d_loss_wasserstein,
    dragan_penalty,
    feature_matching_loss,
    g_loss_hinge,
    g_loss_lsgan,
    g_loss_minimax,
    g_loss_nonsaturating,
    g_loss_wasserstein,
    gradient_penalty,
    r1_penalty,
)


def t(*v):
    return torch.tensor(v, dtype=torch.float32)


def grad_of(fn, x):
    x = x.clone().requires_grad_(True)
    fn(x).backward()
    return x.grad


# ---- cross-entropy family -------------------------------------------------------------------------
def test_bce_at_equilibrium_is_log4():
    # D(x) = 1/2 everywhere (logits 0): -log(1/2) - log(1/2) = log 4
    z = torch.zeros(7)
    assert_close(d_loss_bce(z, z), torch.tensor(math.log(4.0)))
    assert_close(g_loss_nonsaturating(z), torch.tensor(math.log(2.0)))
    assert_close(g_loss_minimax(z), torch.tensor(-math.log(2.0)))


def test_bce_hand_computed():
    real, fake = t(2.0, -1.0), t(0.5, -3.0)
    sig = torch.sigmoid
    expect = -(torch.log(sig(real))).mean() - torch.log(1 - sig(fake)).mean()
    assert_close(d_loss_bce(real, fake), expect)
    assert_close(g_loss_nonsaturating(fake), -torch.log(sig(fake)).mean())
    assert_close(g_loss_minimax(fake), torch.log(1 - sig(fake)).mean())


def test_one_sided_label_smoothing_changes_only_the_real_term():
    real, fake = t(2.0, -1.0), t(0.5, -3.0)
    p = torch.sigmoid(real)
    real_term = -(0.9 * torch.log(p) + 0.1 * torch.log(1 - p)).mean()
    fake_term = -torch.log(1 - torch.sigmoid(fake)).mean()
    assert_close(d_loss_bce(real, fake, real_target=0.9), real_term + fake_term)
    # the smoothed optimum of the real term is at D = 0.9 (logit log 9), not at D -> 1
    g = grad_of(lambda r: d_loss_bce(r, fake, 0.9), torch.full((1,), math.log(9.0)))
    assert_close(g, torch.zeros(1), atol=1e-6, rtol=0)


def test_bce_stays_finite_for_extreme_logits():
    # log(sigmoid(-100)) is -inf in float32; softplus keeps the exact value ~100
    big = t(100.0, -100.0)
    for v in (d_loss_bce(big, big), g_loss_nonsaturating(big), g_loss_minimax(big)):
        assert torch.isfinite(v)
    assert_close(g_loss_nonsaturating(t(-100.0)), torch.tensor(100.0))
    assert_close(d_loss_bce(t(-100.0), t(100.0)), torch.tensor(200.0))


def test_gradient_directions_and_saturation():
    fake = t(-6.0)  # D confidently rejects the fake, as early in training
    g_ns = grad_of(g_loss_nonsaturating, fake)
    g_mm = grad_of(g_loss_minimax, fake)
    # both push the fake logit up (negative gradient), but the minimax one has almost vanished
    assert g_ns.item() < -0.99 and -0.01 < g_mm.item() < 0
    # the discriminator pushes real logits up and fake logits down
    gr = grad_of(lambda r: d_loss_bce(r, t(0.0)), t(0.0))
    gf = grad_of(lambda f: d_loss_bce(t(0.0), f), t(0.0))
    assert gr.item() == pytest.approx(-0.5) and gf.item() == pytest.approx(0.5)


# ---- least squares, Wasserstein, hinge -------------------------------------------------------------
def test_lsgan_hand_computed():
    real, fake = t(1.5, 0.0), t(0.5, -1.0)
    # 1/2 mean((r-1)^2) + 1/2 mean(f^2) = 1/2 * (0.25 + 1)/2 + 1/2 * (0.25 + 1)/2
    assert_close(d_loss_lsgan(real, fake), torch.tensor(0.625))
    assert_close(g_loss_lsgan(fake), torch.tensor(0.5 * (0.25 + 4.0) / 2))
    assert_close(d_loss_lsgan(t(1.0), t(0.0)), torch.tensor(0.0))  # optimum of the 0-1 coding
    assert grad_of(g_loss_lsgan, t(0.5)).item() < 0  # pulls fakes toward c = 1


def test_wasserstein_and_clipping():
    real, fake = t(3.0, 1.0), t(-1.0, 0.0)
    assert_close(d_loss_wasserstein(real, fake), torch.tensor(-0.5 - 2.0))
    assert_close(g_loss_wasserstein(fake), torch.tensor(0.5))
    assert_close(grad_of(lambda r: d_loss_wasserstein(r, fake), real), t(-0.5, -0.5))
    w = torch.nn.Parameter(t(-0.5, 0.005, 0.2))
    clip_weights_([w], 0.01)
    assert_close(w.data, t(-0.01, 0.005, 0.01))


def test_hinge_hand_computed():
    real, fake = t(2.0, 0.5, -1.0), t(-2.0, 0.0, 1.0)
    # relu(1-r): 0, 0.5, 2 -> mean 5/6; relu(1+f): 0, 1, 2 -> mean 1
    assert_close(d_loss_hinge(real, fake), torch.tensor(5 / 6 + 1.0))
    assert_close(g_loss_hinge(fake), torch.tensor(1 / 3 * (2.0 - 1.0)))
    # samples beyond the margin get no gradient
    assert_close(grad_of(lambda r: d_loss_hinge(r, fake), real), t(0.0, -1 / 3, -1 / 3))


# ---- penalties on a linear critic D(x) = <w, x> + b: the input gradient is w everywhere ----------------
def linear_critic(shape=(1, 3, 4)):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(shape, generator=g)
    return w, (lambda x: (x * w).flatten(1).sum(1) + 0.3)


def test_gradient_penalty_of_linear_critic_is_exact():
    w, critic = linear_critic()
    real, fake = torch.randn(5, 1, 3, 4), torch.randn(5, 1, 3, 4)
    expect = (w.norm() - 1.0) ** 2
    assert_close(gradient_penalty(critic, real, fake), expect)
    assert_close(gradient_penalty(critic, real, fake, alpha=torch.linspace(0, 1, 5)), expect)
    unit = lambda x: (x * w / w.norm()).flatten(1).sum(1)  # noqa: E731  a 1-Lipschitz critic: no penalty
    assert_close(gradient_penalty(unit, real, fake), torch.tensor(0.0), atol=1e-10, rtol=0)


def test_gradient_penalty_on_a_quadratic_critic_at_given_interpolates():
    # D(x) = 1/2 ||x||^2 has gradient x: the penalty is mean((||x_hat|| - 1)^2) at x_hat = a r + (1-a) f
    real, fake = torch.tensor([[3.0, 4.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    alpha = torch.tensor([0.5, 0.25])
    x_hat = torch.tensor([[1.5, 2.0], [0.0, 1.5]])  # norms 2.5 and 1.5
    critic = lambda x: 0.5 * x.pow(2).sum(1)  # noqa: E731
    assert_close(gradient_penalty(critic, real, fake, alpha=alpha), torch.tensor((1.5**2 + 0.5**2) / 2))
    # the penalty's gradient reaches the critic's parameters (it is trained through create_graph)
    scale = torch.tensor(1.0, requires_grad=True)
    gradient_penalty(lambda x: scale * critic(x), real, fake, alpha=alpha).backward()
    # d/ds mean((s ||x|| - 1)^2) at s = 1 = mean(2 (||x|| - 1) ||x||)
    n = x_hat.norm(dim=1)
    assert_close(scale.grad, (2 * (n - 1) * n).mean())


def test_dragan_penalty_perturbs_real_data():
    w, critic = linear_critic()
    real = torch.randn(6, 1, 3, 4)
    assert_close(dragan_penalty(critic, real), (w.norm() - 1.0) ** 2)
    # on the quadratic critic the gradient at x_p = x + a * c * std(x) * u is x_p itself
    real = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
    noise, alpha = torch.ones(2, 2), torch.tensor([1.0, 0.0])
    step = 0.5 * real.std()
    x_p = torch.stack([real[0] + step, real[1]])
    expect = ((x_p.norm(dim=1) - 1) ** 2).mean()
    critic = lambda x: 0.5 * x.pow(2).sum(1)  # noqa: E731
    assert_close(dragan_penalty(critic, real, noise=noise, alpha=alpha), expect)


def test_r1_penalty():
    w, critic = linear_critic()
    assert_close(r1_penalty(critic, torch.randn(4, 1, 3, 4)), w.pow(2).sum())
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    assert_close(r1_penalty(lambda v: 0.5 * v.pow(2).sum(1), x), torch.tensor((25.0 + 1.0) / 2))


def test_feature_matching():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # mean (1, 1)
    assert_close(feature_matching_loss(real, fake), torch.tensor(1.0 + 4.0))
    g = grad_of(lambda f: feature_matching_loss(real, f), fake)
    assert_close(g, torch.tensor([[-1.0, -2.0], [-1.0, -2.0]]))  # moves fake means toward real means
