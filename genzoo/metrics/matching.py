"""Accuracy of an unsupervised assignment (clusters, latent codes) against true classes.

A clustering or an InfoGAN categorical code has no fixed order: cluster 3 may be the digit 7. Its
accuracy is the best over ways of naming the clusters with classes:

- one-to-one (the usual "clustering accuracy", e.g. Springenberg 2016 and Makhzani et al. 2016 with
  K = number of classes): the permutation maximising agreement, found with the Hungarian algorithm
  (scipy.optimize.linear_sum_assignment) on the K x C contingency table. With more clusters than
  classes the unmatched clusters count as wrong.
- many-to-one (Makhzani et al. 2016, Sec. 6, with 16 or 30 clusters): each cluster takes the class
  most frequent in it.
"""

from __future__ import annotations

import torch

from genzoo.errors import ConfigError


def contingency(pred: torch.Tensor, target: torch.Tensor, num_pred: int | None = None,
                num_true: int | None = None) -> torch.Tensor:
    """K x C counts: entry (k, c) = how many items were assigned k and belong to class c."""
    pred, target = pred.reshape(-1).long().cpu(), target.reshape(-1).long().cpu()
    if len(pred) != len(target) or len(pred) == 0:
        raise ConfigError(f"need equally many (and some) assignments and classes, got {len(pred)} and {len(target)}")
    k = num_pred or int(pred.max()) + 1
    c = num_true or int(target.max()) + 1
    return torch.bincount(pred * c + target, minlength=k * c).reshape(k, c)


def matching(pred: torch.Tensor, target: torch.Tensor, num_pred: int | None = None,
             num_true: int | None = None) -> tuple[float, dict[int, int]]:
    """One-to-one: (accuracy under the best assignment, {cluster: class} for the matched clusters)."""
    # imported here: scipy.optimize takes ~0.5 s to import, which every genzoo command would otherwise pay
    from scipy.optimize import linear_sum_assignment

    table = contingency(pred, target, num_pred, num_true)
    rows, cols = linear_sum_assignment(table.numpy(), maximize=True)
    hits = int(table[torch.as_tensor(rows), torch.as_tensor(cols)].sum())
    return hits / int(table.sum()), {int(r): int(c) for r, c in zip(rows, cols)}


def matching_accuracy(pred: torch.Tensor, target: torch.Tensor, num_pred: int | None = None,
                      num_true: int | None = None) -> float:
    """Accuracy of `pred` (cluster/code ids) against `target` classes under the best one-to-one naming."""
    return matching(pred, target, num_pred, num_true)[0]


def majority_accuracy(pred: torch.Tensor, target: torch.Tensor, num_pred: int | None = None,
                      num_true: int | None = None) -> float:
    """Accuracy when every cluster is named by the class most frequent in it (many-to-one)."""
    table = contingency(pred, target, num_pred, num_true)
    return int(table.max(1).values.sum()) / int(table.sum())


def cluster_figures(pred: torch.Tensor, target: torch.Tensor, num_clusters: int, supervised: bool = False
                    ) -> dict[str, float]:
    """What a clustering model reports: `cluster_accuracy` (one-to-one), `cluster_majority_accuracy`
    (many-to-one) and, when its outputs are tied to the classes by labels, plain `accuracy`."""
    k = max(num_clusters, int(target.max()) + 1)
    res = {"cluster_accuracy": matching_accuracy(pred, target, k, k),
           "cluster_majority_accuracy": majority_accuracy(pred, target, k, k)}
    if supervised:
        res["accuracy"] = float((pred.reshape(-1).cpu() == target.reshape(-1).cpu()).double().mean())
    return res
