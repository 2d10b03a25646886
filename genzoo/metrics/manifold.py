"""k-NN manifold metrics: precision/recall, density/coverage, nearest-training-neighbour distances.

Each set of feature vectors approximates its manifold by balls around every point whose radius is
the distance to the point's k-th nearest neighbour in the same set.

- precision: fraction of fakes inside some real ball; recall: fraction of reals inside some fake
  ball (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric", eqs. 1-3; k = 3).
- density: real balls containing each fake, / k, averaged over fakes (can exceed 1); coverage:
  fraction of reals whose own ball holds a fake (Naeem et al. 2020, "Reliable Fidelity and
  Diversity Metrics", eqs. 3-4; k = 5).

Distances are computed in blocks (memory ~ block x N), never as a whole N x N matrix. The strict
`<` follows the authors' reference code `prdc`; tests check agreement with it.
"""

from __future__ import annotations

import torch

BLOCK = 2048  # rows of a distance block


def knn_radii(features: torch.Tensor, ks: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """Distance from each point to its k-th nearest other point, for each k in `ks`."""
    kmax = max(ks)
    if len(features) <= kmax:
        raise ValueError(f"{len(features)} points are too few for {kmax}-nearest-neighbour radii")
    out = []
    for i in range(0, len(features), BLOCK):
        d = torch.cdist(features[i:i + BLOCK], features)  # B x N
        out.append(d.topk(kmax + 1, dim=1, largest=False).values)  # the point itself comes first
    near = torch.cat(out)  # N x (kmax + 1), ascending
    return {k: near[:, k] for k in ks}


def prdc(real: torch.Tensor, fake: torch.Tensor, k_pr: int = 3, k_dc: int = 5,
         real_radii: dict[int, torch.Tensor] | None = None) -> dict[str, float]:
    """Precision, recall (k = k_pr), density, coverage (k = k_dc) of `fake` against `real` features.

    `real_radii` (from `knn_radii(real, (k_pr, k_dc))`) may be passed in to reuse them.
    """
    if real_radii is None:
        real_radii = knn_radii(real, (k_pr, k_dc))
    fake_radius = knn_radii(fake, (k_pr,))[k_pr]
    r_pr, r_dc = real_radii[k_pr], real_radii[k_dc]
    in_real_pr, in_real_dc = [], []
    real_in_fake = torch.zeros(len(real), dtype=torch.bool)
    nearest_fake = torch.full((len(real),), float("inf"), dtype=real.dtype)
    for i in range(0, len(fake), BLOCK):
        d = torch.cdist(fake[i:i + BLOCK], real)  # B x N_real
        in_real_pr.append((d < r_pr).any(1))
        in_real_dc.append((d < r_dc).sum(1))
        real_in_fake |= (d < fake_radius[i:i + BLOCK, None]).any(0)
        nearest_fake = torch.minimum(nearest_fake, d.min(0).values)
    return {"precision": torch.cat(in_real_pr).double().mean().item(),
            "recall": real_in_fake.double().mean().item(),
            "density": torch.cat(in_real_dc).double().mean().item() / k_dc,
            "coverage": (nearest_fake < r_dc).double().mean().item()}


def nearest_distances(query: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Distance from each query point to its nearest reference point."""
    return torch.cat([torch.cdist(query[i:i + BLOCK], reference).min(1).values
                      for i in range(0, len(query), BLOCK)])


def memorization(fake: torch.Tensor, train: torch.Tensor, heldout: torch.Tensor) -> dict[str, float]:
    """How close samples come to training images, relative to how close unseen real images come.

    nn_train_dist: median distance from a sample to its nearest training image;
    nn_train_ratio: that over the same median for held-out real images (about 1 for a model that does
    not copy, near 0 for one that reproduces training images);
    nn_copy_fraction: fraction of samples nearer to a training image than 99% of held-out images are
    (about 0.01 without copying, near 1 when copying).
    """
    d_fake = nearest_distances(fake, train)
    d_real = nearest_distances(heldout, train)
    threshold = d_real.quantile(0.01)
    median_real = d_real.median()
    return {"nn_train_dist": d_fake.median().item(),
            "nn_train_ratio": (d_fake.median() / median_real.clamp(min=1e-12)).item(),
            "nn_copy_fraction": (d_fake < threshold).double().mean().item()}
