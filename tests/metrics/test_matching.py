"""Cluster/code-to-class matching accuracy against hand-made cases."""

import pytest
import torch

from genzoo.errors import ConfigError
from genzoo.metrics.matching import cluster_figures, contingency, majority_accuracy, matching, matching_accuracy


def test_a_permuted_labelling_scores_one_and_the_permutation_is_recovered():
    target = torch.tensor([0, 0, 1, 1, 2, 2, 3])
    perm = torch.tensor([2, 0, 3, 1])  # class c is called cluster perm[c]
    acc, mapping = matching(perm[target], target)
    assert acc == 1.0
    assert mapping == {2: 0, 0: 1, 3: 2, 1: 3}


def test_hand_counted_case_with_mistakes():
    # clusters:   0 0 0 1 1 1 2 2 ; classes: 1 1 0 0 0 2 2 2
    pred = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])
    target = torch.tensor([1, 1, 0, 0, 0, 2, 2, 2])
    assert contingency(pred, target).tolist() == [[1, 2, 0], [2, 0, 1], [0, 0, 2]]
    # best one-to-one: 0->1 (2), 1->0 (2), 2->2 (2) = 6 of 8; a greedy/identity naming gets 1+0+2 = 3
    assert matching_accuracy(pred, target) == pytest.approx(6 / 8)


def test_more_clusters_than_classes_one_to_one_vs_majority():
    pred = torch.tensor([0, 0, 1, 1, 2, 2])
    target = torch.tensor([0, 0, 0, 0, 1, 1])
    assert matching_accuracy(pred, target) == pytest.approx(4 / 6)  # cluster 0 or 1 left unmatched
    assert majority_accuracy(pred, target) == 1.0  # both 0 and 1 may be named class 0


def test_rejects_mismatched_lengths():
    with pytest.raises(ConfigError, match="equally many"):
        matching_accuracy(torch.tensor([0, 1]), torch.tensor([0]))


def test_cluster_figures():
    pred, target = torch.tensor([1, 1, 0, 0]), torch.tensor([0, 0, 1, 1])
    assert cluster_figures(pred, target, 2) == {"cluster_accuracy": 1.0, "cluster_majority_accuracy": 1.0}
    assert cluster_figures(pred, target, 2, supervised=True)["accuracy"] == 0.0  # outputs tied to classes: wrong
