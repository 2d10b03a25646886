"""Conditional metrics: per-class accuracy and FID, attribute accuracy, against known answers."""

import math

import pytest
import torch
from torch.testing import assert_close

from genzoo.data import load
from genzoo.metrics import domain_net, evaluate_images
from genzoo.metrics.conditional import (
    attribute_accuracy,
    digit_attribute_judge,
    per_class_accuracy,
    per_class_fid,
)
from genzoo.metrics.fid import frechet_distance, gaussian_stats
from genzoo.metrics.suite import aggregate
from tests.learning import SEED, record


def test_per_class_accuracy_by_hand():
    pred = torch.tensor([0, 0, 1, 2, 2, 2])
    asked = torch.tensor([0, 1, 1, 2, 2, 0])
    acc = per_class_accuracy(pred, asked, 4)
    assert acc[:3] == [0.5, 0.5, 1.0] and math.isnan(acc[3])


def test_per_class_fid_known_answers():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(600, 4, generator=g)
    y = torch.arange(600) % 3
    same = per_class_fid(f, y, f, y, 3)
    assert_close(torch.tensor(same, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), atol=1e-6, rtol=0)
    shifted = f.clone()
    shifted[y == 1] += 2.0  # class 1 moved by 2 in each of 4 dimensions: FID = |mean shift|^2 = 16
    out = per_class_fid(f, y, shifted, y, 3)
    assert_close(out[1], 16.0, atol=1e-4, rtol=0)
    assert out[0] < 1e-6 and out[2] < 1e-6
    ref = frechet_distance(*gaussian_stats(f[y == 2]), *gaussian_stats(f[y == 0]))
    assert_close(per_class_fid(f, y, f, (y + 1) % 3, 3)[0], ref)  # "class 0" samples are real class 2
    assert math.isnan(per_class_fid(f, y, f[:1], y[:1], 3)[0])


def test_attribute_accuracy_by_hand():
    pred = torch.tensor([[1, 0], [1, 1], [0, 0], [1, 0]])
    asked = torch.tensor([[1, 0], [0, 1], [0, 1], [1, 0]])
    per, mean, exact = attribute_accuracy(pred, asked)
    assert per == [0.75, 0.75] and mean == 0.75 and exact == 0.5


def test_real_labelled_data_scores_as_the_classifier():
    real = load("mnist-mini", "test")
    net = domain_net("mnist")
    acc = float((net(real.images).logits.argmax(1) == real.labels).double().mean())
    res = evaluate_images(real.images, real, metrics="cacc,cfid", fake_labels=real.labels)
    assert res["cond_accuracy"] == pytest.approx(acc) and acc > 0.98
    per = torch.tensor(res["cond_accuracy_per_class"])
    assert_close(per.mean(), torch.tensor(acc, dtype=per.dtype), atol=0.01, rtol=0) and per.min() > 0.95
    assert len(res["fid_per_class"]) == 10 and max(res["fid_per_class"]) < 1e-3 and res["fid_class_mean"] < 1e-3
    # labels shuffled across classes: the per-class FID sees the mismatch, the overall FID would not
    wrong = evaluate_images(real.images, real, metrics="cfid", fake_labels=(real.labels + 1) % 10)
    assert wrong["fid_class_mean"] > 10


def test_digit_attribute_judge_on_real_digits():
    real = load("mnist-mini-attrs", "test")
    judge = digit_attribute_judge(real.attr_names)
    per, mean, exact = attribute_accuracy(judge(real.images), real.attrs)
    assert min(per) > 0.98 and exact > 0.98 and mean >= exact


def test_aggregate_averages_per_class_lists():
    out = aggregate([{"fid_per_class": [1.0, 3.0], "fid": 2.0}, {"fid_per_class": [3.0, 5.0], "fid": 4.0}])
    assert out["fid_per_class"] == [2.0, 4.0] and out["fid"] == 3.0


@pytest.mark.learning
def test_attribute_classifier_run_is_a_judge(tmp_path, mini_test):
    from genzoo import registry
    from genzoo.metrics.conditional import attribute_judge
    from genzoo.training import TrainConfig, Trainer

    train, test = load("mnist-mini-attrs").take(3000), load("mnist-mini-attrs", "test").take(500)
    model = registry.build("classifier", train.spec, {"target": "attrs", "width": 8}, seed=SEED)
    assert model.net.head.out_features == 3
    Trainer(model, train, TrainConfig(epochs=1, batch_size=64, progress=False, seed=SEED), run_dir=tmp_path / "clf",
            eval_data=test, data_args={"name": "mnist-mini-attrs"}).fit()
    res = model.evaluate(test)
    record(accuracy=res["accuracy"])
    # majority guess per attribute: 0.54; measured 0.825..0.918
    assert res["accuracy"] > 0.75 and set(res["per_attribute_accuracy"]) == set(test.attr_names)
    judge = attribute_judge("celeba", ("closed_loop", "even"), features=str(tmp_path / "clf"))
    per, _, _ = attribute_accuracy(judge(test.images), test.attrs[:, [2, 0]])
    assert_close(per, [res["per_attribute_accuracy"]["closed_loop"], res["per_attribute_accuracy"]["even"]])
    with pytest.raises(Exception, match="does not predict Smiling"):
        attribute_judge("celeba", ("Smiling",), features=str(tmp_path / "clf"))
    with pytest.raises(Exception, match="target=attrs"):
        attribute_judge("celeba", ("Smiling",))
