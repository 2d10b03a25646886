"""Fréchet distance between Gaussians fitted to features: FID (Heusel et al. 2017, Sec. 3).

For N(mu1, S1) and N(mu2, S2) (Dowson & Landau 1982):

    d² = ||mu1 - mu2||² + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2})

Tr((S1 S2)^{1/2}) without a general matrix square root: with A = S1^{1/2} (symmetric, from `eigh`),
S1 S2 = A (A S2 A) A^{-1} has the same eigenvalues as the symmetric PSD matrix A S2 A (for singular A
too: XY and YX share their non-zero eigenvalues), so Tr((S1 S2)^{1/2}) = sum_i sqrt(eig_i(A S2 A)).
Two symmetric eigendecompositions in float64: faster than scipy.linalg.sqrtm's Schur method on the
non-symmetric product and free of its spurious imaginary parts; tests check agreement with scipy and
torchmetrics.
"""

from __future__ import annotations

import torch

from genzoo.nn import single_thread


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D) and covariance (D x D, divided by N - 1 like numpy.cov) of N x D features, in float64."""
    f = features.detach().to(torch.float64)
    if f.dim() != 2 or f.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors as an N x D tensor, got shape {tuple(f.shape)}")
    mu = f.mean(0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def sqrtm_psd(s: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (negative round-off eigenvalues -> 0)."""
    vals, vecs = torch.linalg.eigh(s)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def trace_sqrt_product(s1: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
    """Tr((S1 S2)^{1/2}) for symmetric PSD S1, S2 (see the module docstring)."""
    with single_thread():
        a = sqrtm_psd(s1.to(torch.float64))
        m = a @ s2.to(torch.float64) @ a
        m = (m + m.T) / 2  # symmetric up to round-off; eigvalsh needs it exactly
        return torch.linalg.eigvalsh(m).clamp(min=0).sqrt().sum()


def frechet_distance(mu1: torch.Tensor, s1: torch.Tensor, mu2: torch.Tensor, s2: torch.Tensor) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, s1) and N(mu2, s2)."""
    mu1, mu2 = mu1.to(torch.float64), mu2.to(torch.float64)
    s1, s2 = s1.to(torch.float64), s2.to(torch.float64)
    d = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * trace_sqrt_product(s1, s2)
    return float(d.clamp(min=0))  # >= 0 in exact arithmetic; round-off can give -1e-12


def fid(features1: torch.Tensor, features2: torch.Tensor) -> float:
    """FID between two sets of feature vectors (N1 x D and N2 x D)."""
    return frechet_distance(*gaussian_stats(features1), *gaussian_stats(features2))
