"""The evaluation suite end to end on real digits with stand-in generators whose answers are known."""

import json
import math

import pytest
import torch

from genzoo.errors import ConfigError
from genzoo.metrics import EvalOptions, evaluate_images, evaluate_model, sample_quality
from genzoo.metrics.features import WEIGHTS_DIR, FeaturesUnavailable
from genzoo.metrics.suite import generate


@pytest.fixture(scope="module")
def scores(mini, mini_test):
    """real-train vs real-test, noise, and a generator stuck on one digit (1000 samples each)."""
    from tests.metrics.conftest import StandIn

    kw = {"n": 1000, "metrics": "fid,kid,pr,dc,is,cls,modes"}
    return {"real": evaluate_model(StandIn(mini), mini_test, **kw),
            "noise": evaluate_model(StandIn(None), mini_test, **kw),
            "one_digit": evaluate_model(StandIn(mini, classes=(3,)), mini_test, **kw)}


def test_identical_sets(mini_test, scores):
    r = evaluate_images(mini_test.images, mini_test, metrics="fid,kid,pr,dc")
    assert r["fid"] == pytest.approx(0.0, abs=1e-6)
    # subsets of the same 2000 images (a little negative: shared images enter the cross term with k(x, x))
    assert abs(r["kid"]) < 0.01 * scores["noise"]["kid"] and abs(r["kid"]) < 0.01 * scores["one_digit"]["kid"]
    assert r["precision"] == r["recall"] == r["coverage"] == 1.0


def test_real_vs_real_is_far_better_than_noise_or_collapse(scores):
    real, noise, one = scores["real"], scores["noise"], scores["one_digit"]
    assert real["fid"] < 2.0 and noise["fid"] > 50 * real["fid"] and one["fid"] > 20 * real["fid"]
    assert real["kid"] < 0.1 * min(noise["kid"], one["kid"])
    assert real["precision"] > 0.7 and real["recall"] > 0.7 and real["coverage"] > 0.8
    assert noise["precision"] == 0.0 and noise["density"] == 0.0
    assert one["precision"] > 0.7 and one["recall"] < 0.3 and one["coverage"] < 0.3  # faithful, not diverse
    assert real["is"] > 9.0 and one["is"] < 1.5
    assert real["class_kl"] < 0.01
    assert one["class_kl"] == pytest.approx(math.log(1 / 0.1), rel=0.15)  # all mass on one of ~10% classes
    # a few 3s are misread as other digits, so the collapsed generator still "hits" 2-3 classes
    assert real["modes"] == 10 and one["modes"] <= 3 and one["modes_kl"] > 2.0


def test_conditional_accuracy_of_real_data_matches_the_classifier(mini_test, stand_in):
    record = json.loads((WEIGHTS_DIR / "mnist.json").read_text())
    model = stand_in(mini_test, conditional=True)
    r = evaluate_model(model, mini_test, n=2000, metrics="cacc")
    # real test images of the requested class: the classifier's test accuracy, up to sampling noise
    assert r["cond_accuracy"] == pytest.approx(record["test_accuracy"], abs=0.01)
    wrong = stand_in(mini_test, classes=(0,))  # ignores labels: right only for requested 0s
    wrong.conditional = True
    wrong.sample = lambda n, labels=None, generator=None: stand_in(mini_test, classes=(0,)).sample(n, None, generator)
    assert evaluate_model(wrong, mini_test, n=1000, metrics="cacc")["cond_accuracy"] < 0.2


def test_seeds_give_mean_and_std_and_are_reproducible(mini, mini_test, stand_in):
    a = evaluate_model(stand_in(mini), mini_test, n=500, metrics="fid,pr", seeds=2)
    b = evaluate_model(stand_in(mini), mini_test, n=500, metrics="fid,pr", seeds=2)
    assert a == b and a["seeds"] == 2 and a["fid_std"] > 0 and "precision_std" in a
    one = evaluate_model(stand_in(mini), mini_test, n=500, metrics="fid", seed=1)
    assert one["fid"] != a["fid"] and "fid_std" not in one


def test_float_images_round_like_png(mini_test):
    x = mini_test.images[:200]
    from genzoo.data.imageset import to_float

    as_float = evaluate_images(to_float(x, (0, 1)), mini_test, metrics="fid", value_range=(0, 1))
    assert as_float["fid"] == evaluate_images(x, mini_test, metrics="fid")["fid"]
    with pytest.raises(ConfigError, match="value_range"):
        evaluate_images(to_float(x, (0, 1)), mini_test, metrics="fid")


def test_memorization_check(mini, mini_test, stand_in):
    copier = evaluate_model(stand_in(mini), mini_test, n=500, metrics="nn", train=mini)
    fresh = evaluate_model(stand_in(mini_test), mini_test.take(1000), n=500, metrics="nn", train=mini)
    assert copier["nn_train_dist"] == 0.0 and copier["nn_copy_fraction"] == 1.0
    assert 0.7 < fresh["nn_train_ratio"] < 1.4 and fresh["nn_copy_fraction"] < 0.05
    with pytest.raises(ConfigError, match="training images"):
        evaluate_model(stand_in(mini), mini_test, n=100, metrics="nn")


def test_bad_requests_are_clear_errors(mini, mini_test, stand_in):
    with pytest.raises(ConfigError, match="unknown metric"):
        evaluate_model(stand_in(mini), mini_test, n=10, metrics="fid,fdi")
    with pytest.raises(ConfigError, match="conditional"):
        evaluate_model(stand_in(mini), mini_test, n=10, metrics="cacc")
    with pytest.raises(ConfigError, match="3 channels"):
        evaluate_images(torch.zeros(10, 3, 28, 28, dtype=torch.uint8), mini_test, metrics="fid")
    with pytest.raises(ConfigError, match="more than 5"):
        evaluate_images(mini_test.images[:4], mini_test, metrics="pr")
    with pytest.raises(ConfigError, match="cannot sample"):
        evaluate_model(torch.nn.Linear(1, 1), mini_test)


def test_broken_samplers_are_caught(mini, stand_in):
    m = stand_in(mini)
    m.sample = lambda n, labels=None, generator=None: torch.zeros(n, 28, 28)
    with pytest.raises(ConfigError, match="expected"):
        generate(m, 10, None, torch.Generator())
    m.sample = lambda n, labels=None, generator=None: torch.full((n, 1, 28, 28), float("nan"))
    with pytest.raises(ConfigError, match="NaN"):
        generate(m, 10, None, torch.Generator())


def test_datasets_without_feature_network(mini, stand_in):
    cifar = mini.take(100)  # official CIFAR-10: its net is not shipped (the build command is the fix)
    cifar.name = "cifar10"
    with pytest.raises(FeaturesUnavailable, match="build_feature_nets.py cifar10"):
        evaluate_model(stand_in(mini), cifar, n=10)
    frey = mini.take(100)
    frey.name = "frey"
    with pytest.raises(FeaturesUnavailable, match="no domain feature network for dataset 'frey'"):
        evaluate_model(stand_in(mini), frey, n=10)
    # during training (strict=False) a missing network is a warning and no figures, not an error
    model = stand_in(mini)
    with pytest.warns(UserWarning, match="skipped"):
        assert sample_quality(model, frey, EvalOptions(n=10, strict=False)) == {}
