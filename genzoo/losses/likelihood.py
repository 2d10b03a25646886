"""Likelihood-model losses: reconstruction log-likelihoods, KL divergences, ELBO and IWAE bounds.

Conventions: every function takes flattened events, sums over the LAST dimension and keeps the
leading ones, so `(N, D)` gives `(N,)` and `(k, N, D)` (k samples per example) gives `(k, N)`.
All values are natural-log densities/probabilities (nats), computed stably from logits and
log-variances (never from probabilities or standard deviations).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["bernoulli_log_likelihood", "gaussian_log_likelihood", "gaussian_kl", "elbo", "iwae_bound",
           "log_mean_exp", "log_sigmoid_difference", "discretized_logistic_log_mass",
           "discretized_logistic_log_likelihood", "discretized_logistic_mixture_log_prob"]

LOG_2PI = math.log(2 * math.pi)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x | logits) of independent Bernoullis, summed over the last dim.

    log sigma(l)^x (1 - sigma(l))^(1 - x) = x*l - softplus(l), which is exact and stable for any
    logit (no log of a probability that underflows); at l = 0 it is -ln 2 per pixel whatever x is.
    `x` may be binary or in [0, 1] (then it is the cross-entropy, not a normalised likelihood).
    Broadcasts, e.g. logits (k, N, D) against x (N, D).
    """
    return (x * logits - F.softplus(logits)).sum(-1)


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor | float) -> torch.Tensor:
    """log N(x; mean, diag(exp(log_var))), summed over the last dim (broadcasts)."""
    log_var = torch.as_tensor(log_var, dtype=mean.dtype, device=mean.device)
    return -0.5 * (LOG_2PI + log_var + (x - mean).pow(2) * torch.exp(-log_var)).sum(-1)


def gaussian_kl(mu: torch.Tensor, log_var: torch.Tensor, prior_mu: torch.Tensor | float = 0.0,
                prior_log_var: torch.Tensor | float = 0.0) -> torch.Tensor:
    """KL( N(mu, exp(log_var)) || N(prior_mu, exp(prior_log_var)) ) for diagonal Gaussians, summed over
    the last dim. With the default standard-normal prior this is Kingma & Welling (2014), appendix B:
    -1/2 sum(1 + log_var - mu^2 - exp(log_var)).
    """
    prior_mu = torch.as_tensor(prior_mu, dtype=mu.dtype, device=mu.device)
    prior_log_var = torch.as_tensor(prior_log_var, dtype=mu.dtype, device=mu.device)
    return 0.5 * (prior_log_var - log_var - 1.0
                  + (torch.exp(log_var) + (mu - prior_mu).pow(2)) * torch.exp(-prior_log_var)).sum(-1)


def elbo(log_px_given_z: torch.Tensor, kl: torch.Tensor) -> torch.Tensor:
    """Evidence lower bound E_q[log p(x|z)] - KL(q(z|x) || p(z)) per example (Kingma & Welling 2014, eq. 7).

    `log_px_given_z` is (N,) for one sample of z per example or (k, N) for k samples, which are averaged;
    `kl` is the analytic KL, shape (N,).
    """
    if log_px_given_z.dim() == kl.dim() + 1:
        log_px_given_z = log_px_given_z.mean(0)
    return log_px_given_z - kl


def log_mean_exp(t: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log(mean(exp(t))) along `dim`, via logsumexp so that very negative values do not underflow."""
    return torch.logsumexp(t, dim) - math.log(t.shape[dim])


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """Importance-weighted bound L_k = log (1/k) sum_i w_i (Burda et al. 2016, eq. 8), per example.

    `log_w` (k, N) holds log w_i = log p(x, z_i) - log q(z_i | x) for z_i ~ q(z | x). With k = 1 it is
    the single-sample ELBO estimate; E[L_k] increases with k towards log p(x) (their theorem 1), and
    the same expression with large k is the importance-sampled log-likelihood estimate.
    """
    return log_mean_exp(log_w, 0)


def log_sigmoid_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log(sigmoid(a) - sigmoid(b)) for a > b, exact in floating point for any a, b:
    sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - exp(b - a)). (PixelCNN++'s code switches to the
    density at the bin centre when the difference underflows; this identity needs no switch.)"""
    return F.logsigmoid(a) + F.logsigmoid(-b) + torch.log(-torch.expm1(b - a))


def discretized_logistic_log_mass(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor,
                                  levels: int = 256) -> torch.Tensor:
    """Elementwise log of the logistic(mean, exp(log_scale)) mass of x's bin (broadcasts, no sum).

    x lies on the grid -1 + 2k / (levels - 1), k = 0..levels-1; its bin is [x - 1/(levels-1), x + 1/(levels-1)],
    and the two edge bins take the tails, so the masses of all `levels` values sum to 1."""
    half = 1.0 / (levels - 1)
    inv_s = torch.exp(-log_scale)
    upper = (x - mean + half) * inv_s
    lower = (x - mean - half) * inv_s
    inner = log_sigmoid_difference(upper, lower)
    return torch.where(x < -1 + half / 2, F.logsigmoid(upper),
                       torch.where(x > 1 - half / 2, F.logsigmoid(-lower), inner))


def discretized_logistic_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor,
                                        levels: int = 256) -> torch.Tensor:
    """log p(x) of independent discretized logistics, one per value, summed over the last dim (broadcasts):
    the decoder of Kingma et al. 2016 (IAF) and PixelCNN++'s single-component case. x on the [-1, 1] grid of
    `discretized_logistic_log_mass`; a discrete probability, so -log p / (D ln 2) is bits per dimension."""
    return discretized_logistic_log_mass(x, mean, log_scale, levels).sum(-1)


def discretized_logistic_mixture_log_prob(x: torch.Tensor, logit_pi: torch.Tensor, means: torch.Tensor,
                                          log_scales: torch.Tensor, coeffs: torch.Tensor | None = None,
                                          levels: int = 256) -> torch.Tensor:
    """log p(x) per image under PixelCNN++'s discretized logistic mixture (Salimans et al. 2017, eq. 2 and sec. 2.2).

    x: (N, C, H, W) on the grid -1 + 2k / (levels - 1), k = 0..levels-1. Per pixel, K components:
    logit_pi (N, K, H, W); means, log_scales (N, K, C, H, W); for C > 1, coeffs (N, K, C(C-1)/2, H, W), the linear
    dependence of each channel's mean on the earlier channels of the same pixel (C = 3: mean_g = mu_g + a x_r,
    mean_b = mu_b + b x_r + c x_g). Each bin is the logistic mass of [x - 1/(levels-1), x + 1/(levels-1)], the
    edge bins take the tails. Returns (N,): the sum over channels and pixels of the per-pixel mixture."""
    n, c = x.shape[:2]
    xk = x.unsqueeze(1)  # N x 1 x C x H x W, broadcast over components
    mean = means
    if c > 1:
        pairs = [(i, j) for i in range(1, c) for j in range(i)]
        shift = [torch.zeros_like(means[:, :, 0])] * c
        for p, (i, j) in enumerate(pairs):
            shift[i] = shift[i] + coeffs[:, :, p] * xk[:, :, j]
        mean = means + torch.stack(shift, 2)
    log_p = discretized_logistic_log_mass(xk, mean, log_scales, levels)
    per_pixel = torch.logsumexp(F.log_softmax(logit_pi, 1) + log_p.sum(2), 1)  # N x H x W
    return per_pixel.flatten(1).sum(1)
