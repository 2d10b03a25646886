"""Inception-style score, class KL, conditional accuracy and mode counting on known answers."""

import math

import pytest
import torch
from torch.testing import assert_close

from genzoo.metrics.classes import class_kl, conditional_accuracy, histogram, inception_score, mode_counts


def onehot_logits(classes, k, confidence=30.0):
    return torch.nn.functional.one_hot(classes, k).float() * confidence


def test_inception_score_extremes():
    k = 10
    balanced = onehot_logits(torch.arange(1000) % k, k)
    mean, std = inception_score(balanced, splits=10)
    assert_close(mean, float(k), rtol=1e-6, atol=1e-6) and std < 1e-6
    assert_close(inception_score(torch.zeros(100, k))[0], 1.0)  # maximally unsure
    assert_close(inception_score(onehot_logits(torch.zeros(100, dtype=torch.long), k))[0], 1.0, rtol=1e-6,
                 atol=1e-6)  # confident but one class only
    # by hand: two classes, half the samples certain of each: exp(log 2) = 2
    assert_close(inception_score(onehot_logits(torch.tensor([0, 1]), 2), splits=1)[0], 2.0, rtol=1e-6, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Metric `InceptionScore` will save")
def test_inception_score_agrees_with_torchmetrics():
    ismod = pytest.importorskip("torchmetrics.image.inception")
    logits = torch.randn(400, 10, generator=torch.Generator().manual_seed(0)) * 3
    metric = ismod.InceptionScore(feature=torch.nn.Identity(), splits=4)
    metric.update(logits)
    torch.manual_seed(5)
    ref_mean, _ = metric.compute()
    torch.manual_seed(5)
    perm = torch.randperm(400)  # torchmetrics shuffles before splitting
    assert_close(inception_score(logits[perm], splits=4)[0], float(ref_mean), rtol=1e-5, atol=1e-5)


def test_class_kl_and_histogram():
    real = histogram(torch.arange(1000) % 10, 10)
    assert_close(real, torch.full((10,), 0.1, dtype=torch.float64))
    assert class_kl(torch.arange(500) % 10, real) == pytest.approx(0.0, abs=1e-12)
    assert class_kl(torch.arange(900) % 9, real) == pytest.approx(math.log(10 / 9))
    assert class_kl(torch.zeros(10, dtype=torch.long), real) == pytest.approx(math.log(10))


def test_conditional_accuracy():
    assert conditional_accuracy(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 2, 0, 4])) == 0.75


def test_mode_counts():
    r = mode_counts(torch.arange(5000) % 1000, 1000)
    assert r["modes"] == 1000 and r["modes_kl"] == pytest.approx(0.0, abs=1e-12)
    r = mode_counts(torch.arange(5000) % 125, 1000)
    assert r["modes"] == 125 and r["modes_kl"] == pytest.approx(math.log(8))
