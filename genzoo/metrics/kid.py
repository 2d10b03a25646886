"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs", Sec. 5 / App. D).

KID is the squared MMD between real and generated features under the cubic polynomial kernel
k(x, y) = (x·y / d + 1)^3, estimated without bias (eq. 2 of Gretton et al. 2012 with the U-statistic
for the within-set terms):

    MMD²_u = sum_{i≠j} k(x_i, x_j) / (m(m-1)) + sum_{i≠j} k(y_i, y_j) / (m(m-1)) - 2 sum_{i,j} k(x_i, y_j) / m²

averaged over random subsets of size m (the paper's code: 100 subsets of 1000), with the standard
deviation over subsets. Unbiased: two samples of the same distribution give 0 on average (values
can be slightly negative). Tests check agreement with torchmetrics' `poly_mmd`.
"""

from __future__ import annotations

import torch


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3, gamma: float | None = None,
                      coef: float = 1.0) -> torch.Tensor:
    """(gamma x·y + coef)^degree for ... x M x D and ... x N x D -> ... x M x N (gamma = 1/D by default)."""
    gamma = 1.0 / x.shape[-1] if gamma is None else gamma
    return (x @ y.transpose(-1, -2)).mul_(gamma).add_(coef).pow_(degree)


def mmd2_unbiased(kxx: torch.Tensor, kxy: torch.Tensor, kyy: torch.Tensor) -> torch.Tensor:
    """MMD²_u from kernel matrices (... x m x m each; leading dims are independent subsets).

    The three terms are large and nearly cancel: rows are summed in the kernel's precision (pairwise
    summation, accurate), the row sums in float64.
    """
    m = kxx.shape[-1]

    def total(k):
        return k.sum(-1).double().sum(-1)

    def off_diagonal_sum(k):
        return total(k) - k.diagonal(dim1=-2, dim2=-1).double().sum(-1)

    within = (off_diagonal_sum(kxx) + off_diagonal_sum(kyy)) / (m * (m - 1))
    return within - 2 * total(kxy) / (m * m)


def kid(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
        generator: torch.Generator | None = None, degree: int = 3, chunk: int = 10) -> tuple[float, float]:
    """KID mean and standard deviation (over subsets) between N x D real and M x D fake features.

    `subset_size` is capped at the smaller set; subsets are drawn without replacement within a subset
    (real then fake, one `randperm` each, in the order torchmetrics draws them).
    """
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ValueError(f"KID needs at least 2 feature vectors per set, got {len(real)} and {len(fake)}")
    idx = [(torch.randperm(len(real), generator=generator)[:m], torch.randperm(len(fake), generator=generator)[:m])
           for _ in range(subsets)]
    r_idx, f_idx = torch.stack([r for r, _ in idx]), torch.stack([f for _, f in idx])  # S x m each
    nr, nf, d = len(real), len(fake), real.shape[1]
    # whole kernel matrices once, or each subset's own: whichever multiplies less (small sets, e.g. the
    # 2000-sample evaluations during training, are ~10x faster whole)
    whole_cost = (nr * nr + nf * nf + nr * nf) * (d + subsets)
    if whole_cost < 3 * subsets * m * m * d and max(nr, nf) ** 2 <= 2 ** 24:  # each matrix <= 128 MB
        v = _mmd2_of_subsets(real, fake, r_idx, f_idx, degree)
    else:
        v = torch.cat([mmd2_unbiased(*_subset_kernels(real[r_idx[i:i + chunk]], fake[f_idx[i:i + chunk]], degree))
                       for i in range(0, subsets, chunk)])  # a few subsets at a time: S x m x m stays small
    return float(v.mean()), float(v.std(unbiased=False))


def _subset_kernels(x: torch.Tensor, y: torch.Tensor, degree: int) -> tuple[torch.Tensor, ...]:
    return polynomial_kernel(x, x, degree), polynomial_kernel(x, y, degree), polynomial_kernel(y, y, degree)


def _mmd2_of_subsets(real: torch.Tensor, fake: torch.Tensor, r_idx: torch.Tensor, f_idx: torch.Tensor,
                     degree: int) -> torch.Tensor:
    """MMD²_u of every subset from the whole kernel matrices: with s the 0/1 indicator of a subset,
    sum_{i,j in S} K_ij = s^T K s, so all subsets at once are (S_r K S_r^T), (S_r K S_f^T), (S_f K S_f^T)."""
    m = r_idx.shape[1]
    s_r = torch.zeros(len(r_idx), len(real), dtype=torch.float64).scatter_(1, r_idx, 1.0)  # S x N_real
    s_f = torch.zeros(len(f_idx), len(fake), dtype=torch.float64).scatter_(1, f_idx, 1.0)  # S x N_fake

    def quad(a, k, b):  # rowwise a_s^T K b_s, S values
        return ((a @ k) * b).sum(1)

    krr = polynomial_kernel(real, real, degree).double()
    kff = polynomial_kernel(fake, fake, degree).double()
    krf = polynomial_kernel(real, fake, degree).double()
    within = (quad(s_r, krr, s_r) - s_r @ krr.diagonal() + quad(s_f, kff, s_f) - s_f @ kff.diagonal()) / (m * (m - 1))
    return within - 2 * quad(s_r, krf, s_f) / (m * m)
