"""Likelihood losses against closed forms (both sides of each tolerance), and the bound ordering
ELBO <= IWAE_k <= log p(x) on a linear-Gaussian model whose marginal likelihood is analytic."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, MultivariateNormal, Normal, kl_divergence
from torch.testing import assert_close

from genzoo.losses import bernoulli_log_likelihood, elbo, gaussian_kl, gaussian_log_likelihood, iwae_bound, log_mean_exp


def test_bernoulli_at_logit_zero_is_ln2_per_pixel():
    x = torch.rand(3, 784)  # any target in [0, 1]
    assert_close(bernoulli_log_likelihood(torch.zeros(3, 784), x), torch.full((3,), -784 * math.log(2)))


def test_bernoulli_matches_torch_distribution_and_is_stable():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 50, generator=g) * 5
    x = torch.bernoulli(torch.full((4, 50), 0.3), generator=g)
    assert_close(bernoulli_log_likelihood(logits, x), Bernoulli(logits=logits).log_prob(x).sum(-1))
    # extreme logits: exact values where a log of a probability would give -inf or nan
    big = torch.tensor([[100.0, -100.0]])
    assert_close(bernoulli_log_likelihood(big, torch.tensor([[1.0, 0.0]])), torch.tensor([0.0]))
    assert_close(bernoulli_log_likelihood(big, torch.tensor([[0.0, 0.0]])), torch.tensor([-100.0]))


def test_bernoulli_broadcasts_over_samples():
    logits = torch.randn(5, 2, 7)  # k=5 samples for N=2 examples
    x = torch.bernoulli(torch.full((2, 7), 0.5))
    out = bernoulli_log_likelihood(logits, x)
    assert out.shape == (5, 2)
    assert_close(out[3], bernoulli_log_likelihood(logits[3], x))


def test_gaussian_log_likelihood_matches_normal():
    x, mean, log_var = torch.randn(3, 6), torch.randn(3, 6), torch.randn(3, 6)
    assert_close(gaussian_log_likelihood(x, mean, log_var),
                 Normal(mean, (0.5 * log_var).exp()).log_prob(x).sum(-1))
    # standard normal at 0 in D dims: -D/2 log(2 pi)
    assert_close(gaussian_log_likelihood(torch.zeros(1, 4), torch.zeros(1, 4), 0.0),
                 torch.tensor([-2 * math.log(2 * math.pi)]))


def test_kl_closed_form():
    # by hand: KL(N(m, s^2) || N(0, 1)) = (s^2 + m^2 - 1 - ln s^2) / 2 per dimension
    mu = torch.tensor([[0.0, 1.0, 0.0]])
    log_var = torch.tensor([[0.0, 0.0, math.log(4.0)]])
    expected = 0.0 + 0.5 + 0.5 * (4.0 - 1.0 - math.log(4.0))
    assert_close(gaussian_kl(mu, log_var), torch.tensor([expected]))
    assert_close(gaussian_kl(torch.zeros(2, 5), torch.zeros(2, 5)), torch.zeros(2))


def test_kl_matches_torch_for_general_prior():
    g = torch.Generator().manual_seed(1)
    mu, lv, pm, plv = (torch.randn(4, 8, generator=g) for _ in range(4))
    ref = kl_divergence(Normal(mu, (0.5 * lv).exp()), Normal(pm, (0.5 * plv).exp())).sum(-1)
    assert_close(gaussian_kl(mu, lv, pm, plv), ref)
    assert_close(gaussian_kl(mu, lv), kl_divergence(Normal(mu, (0.5 * lv).exp()), Normal(0.0, 1.0)).sum(-1))


def test_log_mean_exp_does_not_underflow():
    t = torch.tensor([[-1000.0], [-1000.0 + math.log(3.0)]])  # mean of exp = 2 exp(-1000)
    assert_close(log_mean_exp(t, 0), torch.tensor([-1000.0 + math.log(2.0)]))


def test_elbo_averages_samples():
    lp = torch.tensor([[-10.0, -20.0], [-12.0, -22.0]])
    kl = torch.tensor([1.0, 2.0])
    assert_close(elbo(lp, kl), torch.tensor([-12.0, -23.0]))
    assert_close(elbo(lp[0], kl), torch.tensor([-11.0, -22.0]))


def test_iwae_with_one_sample_is_the_elbo_sample():
    log_w = torch.randn(1, 9)
    assert_close(iwae_bound(log_w), log_w[0])
    # k equal weights: L_k = the common value
    assert_close(iwae_bound(torch.full((7, 2), -3.5)), torch.full((2,), -3.5))


# ---- a linear-Gaussian latent model: p(z) = N(0, I_d), p(x|z) = N(Wz + b, s2 I_D) ----------------
class LinearGaussian:
    def __init__(self, d=2, D=5, s2=0.3, seed=0, orthogonal=False):
        g = torch.Generator().manual_seed(seed)
        W = torch.randn(D, d, generator=g, dtype=torch.float64)
        if orthogonal:  # orthogonal columns make the exact posterior diagonal
            W = torch.linalg.qr(W).Q * torch.tensor([1.5, 0.7], dtype=torch.float64)
        self.W, self.b, self.s2 = W, torch.randn(D, generator=g, dtype=torch.float64), s2
        self.d, self.D = d, D

    def log_px(self, x):  # exact marginal: N(b, W W^T + s2 I)
        cov = self.W @ self.W.T + self.s2 * torch.eye(self.D, dtype=torch.float64)
        return MultivariateNormal(self.b, cov).log_prob(x)

    def posterior(self, x):  # exact: cov = (I + W^T W / s2)^-1, mean = cov W^T (x - b) / s2
        cov = torch.linalg.inv(torch.eye(self.d, dtype=torch.float64) + self.W.T @ self.W / self.s2)
        return (x - self.b) @ self.W @ cov.T / self.s2, cov

    def log_w(self, x, mu, log_var, k, g):
        """k importance log-weights per example with the diagonal proposal N(mu, exp(log_var))."""
        z = mu + (0.5 * log_var).exp() * torch.randn(k, *mu.shape, generator=g, dtype=torch.float64)
        log_pxz = gaussian_log_likelihood(x, z @ self.W.T + self.b, math.log(self.s2))
        return log_pxz + gaussian_log_likelihood(z, torch.zeros_like(z), 0.0) - gaussian_log_likelihood(z, mu, log_var)

    def analytic_elbo(self, x, mu, log_var):
        """E_q log p(x|z) - KL(q || p(z)) in closed form for q = N(mu, diag(exp(log_var)))."""
        resid = x - self.b - mu @ self.W.T
        trace = (self.W.pow(2) * log_var.exp()[:, None, :]).sum((-1, -2))  # tr(W diag(v) W^T)
        e_log = -0.5 * self.D * math.log(2 * math.pi * self.s2) - (resid.pow(2).sum(-1) + trace) / (2 * self.s2)
        return e_log - gaussian_kl(mu, log_var)


def test_exact_posterior_makes_every_weight_the_marginal_likelihood():
    m = LinearGaussian(orthogonal=True)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, m.D, generator=g, dtype=torch.float64) * 2
    mean, cov = m.posterior(x)
    assert_close(cov, torch.diag(cov.diagonal()))  # diagonal, so a factorised q can be exact
    log_var = cov.diagonal().log().expand_as(mean)
    log_w = m.log_w(x, mean, log_var, 5, g)
    assert_close(log_w, m.log_px(x).expand(5, -1))  # p(x,z)/q(z|x) = p(x) for every z
    assert_close(m.analytic_elbo(x, mean, log_var), m.log_px(x))
    assert_close(iwae_bound(log_w), m.log_px(x))


def test_elbo_below_iwae_below_log_px_and_iwae_rises_with_k():
    m = LinearGaussian(seed=3)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(200, m.D, generator=g, dtype=torch.float64)
    mean, cov = m.posterior(x)
    # an imperfect proposal: the true posterior mean shifted, too wide, and diagonal
    mu, log_var = mean + 0.3, (cov.diagonal() * 2.0).log().expand_as(mean)
    exact, lower = m.log_px(x).mean(), m.analytic_elbo(x, mu, log_var).mean()
    # Monte Carlo ELBO (k=1 IWAE) agrees with the closed form (standard error ~0.03 here)
    mc_elbo = torch.stack([iwae_bound(m.log_w(x, mu, log_var, 1, g)).mean() for _ in range(50)]).mean()
    assert_close(mc_elbo, lower, atol=0.1, rtol=0)
    # E[L_k] over 200 examples x 10 repeats (Monte Carlo error well below the gaps between k's)
    bounds = [torch.stack([iwae_bound(m.log_w(x, mu, log_var, k, g)).mean() for _ in range(10)]).mean()
              for k in (1, 10, 100, 5000)]
    assert lower < exact - 1.0  # the proposal is poor enough for the gaps to be clear
    for a, b in zip(bounds, bounds[1:]):
        assert a < b
    assert bounds[-1] < exact + 1e-3
    assert_close(bounds[-1], exact, atol=0.01, rtol=0)  # k=5000 importance sampling is nearly exact


@pytest.mark.parametrize("fn", [gaussian_kl, bernoulli_log_likelihood])
def test_gradients_are_finite_at_extremes(fn):
    a = torch.tensor([[80.0, -80.0]], requires_grad=True)
    b = torch.tensor([[-80.0, 0.0]])
    fn(a, b if fn is gaussian_kl else torch.tensor([[0.0, 1.0]])).sum().backward()
    assert torch.isfinite(a.grad).all()


# ---- discretized logistic mixture (PixelCNN++) ---------------------------------------------------------------
def test_log_sigmoid_difference_is_exact_where_the_naive_form_underflows():
    from genzoo.losses import log_sigmoid_difference

    a = torch.tensor([2.0, 0.3, -30.0, 40.0], dtype=torch.float64)
    b = torch.tensor([-1.0, 0.2, -31.0, 39.0], dtype=torch.float64)
    naive = torch.log(torch.sigmoid(a) - torch.sigmoid(b))
    assert_close(log_sigmoid_difference(a, b)[:3], naive[:3])
    # far in the upper tail sigmoid(40) - sigmoid(39) is ~1.4e-17: float32 rounds both to 1, the identity does not
    exact = math.log(math.exp(-39) - math.exp(-40)) - math.log((1 + math.exp(-40)) * (1 + math.exp(-39)))
    got = log_sigmoid_difference(a.float(), b.float())
    assert float(got[3]) == pytest.approx(exact, abs=1e-4)
    assert torch.isinf(torch.log(torch.sigmoid(a.float()) - torch.sigmoid(b.float())))[3]


def test_discretized_logistic_single_component_by_hand():
    """One grey pixel, one component: the mass of the bin [x - 1/255, x + 1/255] of a logistic(mu, s), and the
    edge bins take the tails."""
    from genzoo.losses import discretized_logistic_mixture_log_prob

    mu, log_s = 0.1, math.log(0.2)
    params = dict(logit_pi=torch.zeros(1, 1, 1, 1), means=torch.full((1, 1, 1, 1, 1), mu),
                  log_scales=torch.full((1, 1, 1, 1, 1), log_s))

    def cdf(v):
        return 1 / (1 + math.exp(-(v - mu) / 0.2))

    for k, want in [(140, cdf(-1 + 2 * 140 / 255 + 1 / 255) - cdf(-1 + 2 * 140 / 255 - 1 / 255)),
                    (0, cdf(-1 + 1 / 255)), (255, 1 - cdf(1 - 1 / 255))]:
        x = torch.full((1, 1, 1, 1), -1 + 2 * k / 255)
        got = discretized_logistic_mixture_log_prob(x, **params)
        assert float(got) == pytest.approx(math.log(want), rel=1e-5), k


@pytest.mark.parametrize("channels", [1, 3])
def test_discretized_logistic_mixture_sums_to_one_over_every_pixel_value(channels):
    """With 8 levels per channel, summing p over all 8^C values of one pixel gives 1 (the channels' linear
    dependence included): a normalised distribution, not only a density."""
    from genzoo.losses import discretized_logistic_mixture_log_prob

    g = torch.Generator().manual_seed(0)
    k, levels = 3, 8
    grid = torch.cartesian_prod(*[torch.arange(levels)] * channels).reshape(-1, channels).double()
    x = (-1 + 2 * grid / (levels - 1))[:, :, None, None]  # (8^C, C, 1, 1)
    n = len(x)

    def rep(t):
        return t.double().expand(n, *t.shape[1:])

    logit_pi = torch.randn(1, k, 1, 1, generator=g)
    means = torch.rand(1, k, channels, 1, 1, generator=g) * 2 - 1
    log_scales = torch.randn(1, k, channels, 1, 1, generator=g) * 0.5 - 1.5
    coeffs = torch.tanh(torch.randn(1, k, channels * (channels - 1) // 2, 1, 1, generator=g))
    lp = discretized_logistic_mixture_log_prob(x, rep(logit_pi), rep(means), rep(log_scales), rep(coeffs),
                                               levels=levels)
    assert float(torch.logsumexp(lp, 0)) == pytest.approx(0.0, abs=1e-9)
    # and the coefficients matter: zeroing them changes the probabilities (still normalised)
    if channels > 1:
        lp0 = discretized_logistic_mixture_log_prob(x, rep(logit_pi), rep(means), rep(log_scales),
                                                    rep(coeffs) * 0, levels=levels)
        assert float(torch.logsumexp(lp0, 0)) == pytest.approx(0.0, abs=1e-9)
        assert float((lp - lp0).abs().max()) > 0.01


def test_discretized_logistic_per_value_sums_to_one_and_is_the_single_component_mixture():
    """The VAE's per-value decoder: over all 256 values each (mean, scale) gives total probability 1, whatever the
    mean (also outside [-1, 1]) or scale; on images it equals the one-component mixture of PixelCNN++."""
    from genzoo.losses import discretized_logistic_log_likelihood, discretized_logistic_mixture_log_prob

    grid = (-1 + 2 * torch.arange(256, dtype=torch.float64) / 255)[:, None, None]  # 256 values x 1 x 1
    mean = torch.tensor([[[-1.3, -0.2, 0.0, 0.9, 1.0]]], dtype=torch.float64)
    log_scale = torch.tensor([[[-6.0, -2.0, 0.0, 1.0, -4.0]]], dtype=torch.float64)
    mass = discretized_logistic_log_likelihood(grid.expand(256, 1, 5)[..., None], mean[..., None],
                                               log_scale[..., None])  # 256 x 1 x 5: one value each
    assert_close(torch.logsumexp(mass, 0), torch.zeros(1, 5, dtype=torch.float64), atol=1e-9, rtol=0)
    g = torch.Generator().manual_seed(0)
    x = -1 + 2 * torch.randint(0, 256, (4, 3, 5, 6), generator=g).float() / 255
    mu, ls = torch.randn(4, 3, 5, 6, generator=g), torch.randn(4, 3, 5, 6, generator=g) - 2
    per_image = discretized_logistic_log_likelihood(x.flatten(1), mu.flatten(1), ls.flatten(1))
    mixture = discretized_logistic_mixture_log_prob(x, torch.zeros(4, 1, 5, 6), mu[:, None], ls[:, None],
                                                    torch.zeros(4, 1, 3, 5, 6))
    assert_close(per_image, mixture)
