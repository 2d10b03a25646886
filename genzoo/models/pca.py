"""PCA: the baseline every autoencoder is compared with (and what a linear autoencoder learns).

A linear autoencoder trained with squared error spans the same subspace as the top-k principal
components (Baldi & Hornik 1989), so `principal_angles` between its decoder columns and
`PCA.components` should be near zero, and its reconstruction error should match PCA's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genzoo.errors import ConfigError


@dataclass
class PCA:
    """Top-k principal components of flattened data: `mean` (D,), `components` (k, D) orthonormal rows,
    `variances` (k,) the variance along each; `total_variance` is the sum over all D directions."""

    mean: torch.Tensor
    components: torch.Tensor
    variances: torch.Tensor
    total_variance: float

    @classmethod
    def fit(cls, x: torch.Tensor, k: int) -> PCA:
        """Fit on x (N x ...), flattened to N x D; exact, via the eigendecomposition of the D x D covariance."""
        x = x.reshape(len(x), -1).double()
        n, d = x.shape
        if not 1 <= k <= min(n, d):
            raise ConfigError(f"PCA needs 1 <= k <= min(N, D) = {min(n, d)}, got k={k}")
        mean = x.mean(0)
        xc = x - mean
        cov = xc.T @ xc / n  # D x D
        evals, evecs = torch.linalg.eigh(cov)  # ascending
        order = evals.argsort(descending=True)[:k]
        return cls(mean.float(), evecs[:, order].T.contiguous().float(), evals[order].float(),
                   float(evals.clamp(min=0).sum()))

    @property
    def k(self) -> int:
        return self.components.shape[0]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """N x ... -> N x k coordinates along the components."""
        return (x.reshape(len(x), -1) - self.mean) @ self.components.T

    def decode(self, codes: torch.Tensor, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        out = codes @ self.components + self.mean  # N x D
        return out if shape is None else out.reshape(len(out), *shape)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x), tuple(x.shape[1:]))

    def expected_mse(self) -> float:
        """Mean squared error per dimension on the fitting data: the discarded variance / D."""
        return (self.total_variance - float(self.variances.double().sum())) / self.mean.numel()


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Principal angles (radians, descending) between the column spaces of a (D x k) and b (D x m).

    scipy.linalg.subspace_angles is the well-tested implementation (Bjorck & Golub, with the
    sine-based formula for small angles that the plain arccos of singular values gets wrong).
    """
    from scipy.linalg import subspace_angles

    return torch.from_numpy(subspace_angles(np.asarray(a.detach().double().cpu()),
                                            np.asarray(b.detach().double().cpu())))
