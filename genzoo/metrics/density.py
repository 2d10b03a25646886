"""Baselines for likelihood models of 8-bit images, in bits per dimension on a test set: what a model that
ignores every dependence between pixels scores (per-pixel histograms), and what one full-covariance Gaussian
over the pixels scores. A VAE or autoregressive model's test bits/dim means little without them beside it."""

from __future__ import annotations

import math

import torch

__all__ = ["histogram_bits_per_dim", "gaussian_bits_per_dim"]


def histogram_bits_per_dim(train: torch.Tensor, test: torch.Tensor) -> float:
    """Test bits/dim of independent 256-way histograms, one per pixel and channel, fitted on the training images
    (add-one smoothing): what a model that ignores every dependence between pixels scores."""
    flat_train, flat_test = train.flatten(1).long(), test.flatten(1).long()
    d = flat_train.shape[1]
    counts = torch.ones(d, 256, dtype=torch.float64)
    counts.scatter_add_(1, flat_train.T.contiguous(), torch.ones(d, len(flat_train), dtype=torch.float64))
    log_p = (counts / counts.sum(1, keepdim=True)).log2()
    bits = -log_p.gather(1, flat_test.T.contiguous()).mean()
    return float(bits)


def gaussian_bits_per_dim(train: torch.Tensor, test: torch.Tensor) -> float:
    """Test bits/dim of one full-covariance Gaussian over the dequantized pixels x + u, u ~ U[0, 1)^D, in units of
    grey levels. E_u log N(x + u) <= log P(x) (Jensen), so this is an upper bound on the Gaussian's discrete bits/dim,
    and in closed form: E_u log N(x + u) = log N(x + 1/2) - tr(Sigma^-1) / 24 (Var u = 1/12). Fitted to the dequantized
    training images: mean + 1/2 and Sigma = Cov(x) + I/12. (A 1-D uniform over 256 values gives 8.25 bits.)"""
    x = train.flatten(1).double()
    d = x.shape[1]
    mean = x.mean(0)
    cov = torch.cov(x.T) + torch.eye(d, dtype=torch.float64) / 12
    chol = torch.linalg.cholesky(cov)
    y = test.flatten(1).double() - mean  # (x + 1/2) - (mean + 1/2)
    maha = torch.linalg.solve_triangular(chol, y.T, upper=False).pow(2).sum(0)
    log_det = 2 * chol.diagonal().log().sum()
    trace_inv = torch.cholesky_inverse(chol).diagonal().sum()
    log_p = -0.5 * (d * math.log(2 * math.pi) + log_det + maha) - trace_inv / 24
    return float(-log_p.mean() / (d * math.log(2)))
