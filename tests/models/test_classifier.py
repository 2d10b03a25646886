import pytest
import torch

import genzoo
from genzoo.data.imageset import ImageSet
from genzoo.errors import ConfigError
from genzoo.training import TrainConfig, Trainer
from tests.learning import SEED, record


def fit(model, data, steps, bs=64, **kw):
    cfg = TrainConfig(steps=steps, batch_size=bs, progress=False, precision="fp32", seed=SEED, **kw)
    Trainer(model, data, cfg).fit()
    return model


@pytest.mark.learning
def test_fast_net_learns_mnist_mini(mini, mini_test):
    data = mini.take(3000)
    model = genzoo.build("classifier", data.spec, width=8, seed=SEED)
    before = model.evaluate(mini_test)["accuracy"]
    fit(model, data, 120)
    res = model.evaluate(mini_test)
    record(before=before, accuracy=res["accuracy"], worst_class=min(res["per_class_accuracy"]))
    assert before < 0.3 and res["accuracy"] > 0.85, (before, res["accuracy"])  # measured 0.089..0.115, 0.933..0.95
    assert sum(map(sum, res["confusion_matrix"])) == len(mini_test) == res["n"]
    assert len(res["per_class_accuracy"]) == 10 and min(res["per_class_accuracy"]) > 0.5  # measured 0.865..0.916


@pytest.mark.learning
def test_classic_net_learns(mini, mini_test):
    data = mini.take(2000)
    model = genzoo.build("classifier-classic", data.spec, width=8, hidden=64, lr=1e-3, seed=SEED)
    assert model.cfg.arch == "classic" and model.cfg.optimizer == "adam" and model.cfg.dropout == 0.5
    fit(model, data, 100)
    accuracy = model.evaluate(mini_test)["accuracy"]
    record(accuracy=accuracy)
    assert accuracy > 0.7  # measured 0.795..0.857


@pytest.mark.learning
def test_three_channel_data_and_flip_tta():
    # colour images whose class is the dominant channel: learnable, and flips preserve the label
    g = torch.Generator().manual_seed(0)
    n = 600
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randint(0, 100, (n, 3, 16, 16), generator=g, dtype=torch.uint8)
    x[torch.arange(n), y] += 120
    data = ImageSet(x, y, class_names=("r", "g", "b"), name="toy", hflip_ok=True)
    model = genzoo.build("classifier", data.spec, width=4, seed=SEED)
    assert model.tta_mode() == "flip" and model.use_hflip
    fit(model, data, 40, bs=50)
    accuracy = model.evaluate(data)["accuracy"]
    record(accuracy=accuracy)
    assert accuracy > 0.9  # measured 1.0 throughout


@pytest.mark.learning
def test_tta_modes_do_not_hurt(mini, mini_test):
    model = fit(genzoo.build("classifier", mini.spec, width=8, tta="none", seed=SEED), mini.take(3000), 100)
    plain = model.evaluate(mini_test)["accuracy"]
    model.cfg.tta = "auto"
    assert model.tta_mode() == "shift"  # digits: translations preserve the label, flips do not
    shifted = model.evaluate(mini_test)["accuracy"]
    record(plain=plain, shift_gain=shifted - plain)
    assert shifted > plain - 0.02  # gain measured +0.005..+0.0135


def test_features_are_penultimate(mini):
    model = genzoo.build("classifier", mini.spec, width=8)
    x = torch.zeros(5, 1, 28, 28)
    f = model.features(x)
    assert f.shape == (5, model.feature_dim) == (5, 32)
    assert torch.allclose(model.net.head(f), model(x), atol=1e-6)


def test_needs_labels():
    data = ImageSet(torch.zeros(10, 1, 28, 28, dtype=torch.uint8), name="unlabelled")
    with pytest.raises(ConfigError, match="at least 2 classes"):
        genzoo.build("classifier", data.spec)


def test_attribute_target_reads_celeba_and_rejects_data_without_attributes():
    import math

    from genzoo.data import load
    from genzoo.data.imageset import Batch, DataSpec
    from tests.conftest import shared_path

    with pytest.raises(ConfigError, match="target=attrs needs a dataset with attributes"):
        genzoo.build("classifier", DataSpec(1, 28, 28, 10), target="attrs")
    data = load("celeba", "all", data_dir=shared_path("celeba-subset"), image_size=32)
    model = genzoo.build("classifier", data.spec, target="attrs", width=8)
    model.configure_optimizers(100)
    x = data.images[:16].float() / 255
    logs = [model.train_step(Batch(x, None, data.attrs[:16]), s) for s in range(3)]
    assert all(math.isfinite(float(r["loss"])) for r in logs) and logs[-1]["loss"] < logs[0]["loss"]
    assert model.predict(x).shape == (16, 40)
    res = model.evaluate(data.take(16))
    assert len(res["per_attribute_accuracy"]) == 40 and 0 <= res["accuracy"] <= 1


@pytest.mark.parametrize("steps, warmup", [(1, 0.2), (2, 0.2), (4, 0.2), (5, 0.2), (10, 0.0), (10, 1.0)])
def test_one_cycle_schedule_takes_any_length(steps, warmup, mini):
    """OneCycleLR divides by each phase's length: 4 steps with 20% warm-up (0.2 x 5 = 1) used to divide by 0."""
    model = genzoo.build("classifier", mini.spec, width=4, warmup=warmup)
    fit(model, mini.take(256), steps)
    lrs = model.optimizers["net"].param_groups[0]["lr"]
    assert 0 < lrs < model.cfg.lr


def test_predict_uses_running_statistics_even_in_training_mode(mini):
    model = genzoo.build("classifier", mini.spec, width=4)
    model.train()
    x = model.prepare(mini.images[:32])
    before = {k: v.clone() for k, v in model.net.state_dict().items()}
    in_training_mode = model.predict(x)
    assert all(torch.equal(before[k], v) for k, v in model.net.state_dict().items())  # running stats untouched
    assert model.net.training  # the caller's mode is restored
    model.eval()
    assert torch.equal(in_training_mode, model.predict(x))
    # one image at a time gives the same classes: nothing depends on the batch
    assert torch.equal(torch.cat([model.predict(x[i:i + 1]) for i in range(8)]), in_training_mode[:8])


# ---- adversarial training ---------------------------------------------------------------------------------
@pytest.mark.learning
def test_adversarial_training_buys_robustness(mini, mini_test):
    data, test = mini.take(3000), mini_test.take(300)
    small = {"width": 8, "hidden": 64, "adv_eval_n": 300}
    robust = fit(genzoo.build("classifier-robust", data.spec, seed=SEED, **small), data, 150, bs=100)
    standard = fit(genzoo.build("classifier-robust", data.spec, seed=SEED, adv="none", **small), data, 150, bs=100)
    r, s = robust.evaluate(test), {**standard.evaluate(test), **standard.robust_figures(test)}
    record(robust_clean=r["accuracy"], robust_pgd=r["pgd_accuracy"], standard_clean=s["accuracy"],
           standard_pgd=s["pgd_accuracy"])
    assert r["robust_eps"] == s["robust_eps"] == 0.3 and r["catastrophic_overfitting"] == 0.0
    # measured over seeds 0-4 x native/avx2/no-vector kernels: standard clean 0.943..0.963, PGD 0 throughout;
    # PGD-trained clean 0.863..0.937, PGD 0.457..0.533
    assert s["pgd_accuracy"] < 0.1 < s["accuracy"] - 0.5  # a standard net has no defence at eps 0.3
    assert r["pgd_accuracy"] > s["pgd_accuracy"] + 0.3 and r["fgsm_accuracy"] >= r["pgd_accuracy"]


def test_adversarial_options(mini):
    from genzoo.data.imageset import DataSpec

    spec = mini.spec
    assert genzoo.build("classifier", spec).val_metric == "accuracy"
    m = genzoo.build("classifier", spec, adv="pgd", adv_ramp=0.5)
    assert m.val_metric == "pgd_accuracy" and m.adv_eps == 0.3  # MNIST's usual budget
    m.total_steps = 100
    assert m.eps_at(0) == pytest.approx(0.3 / 50) and m.eps_at(24) == pytest.approx(0.15) and m.eps_at(80) == 0.3
    assert genzoo.build("classifier", spec, adv="fgsm", adv_eps=0.1).eps_at(0) == 0.1
    with pytest.raises(ConfigError, match="adv=none with target=attrs"):
        genzoo.build("classifier", DataSpec(3, 32, 32, attr_names=("Smiling",)), target="attrs", adv="fgsm")


def test_catastrophic_overfitting_is_flagged_and_logged(mini, mini_test, monkeypatch):
    from types import SimpleNamespace

    from genzoo.models import adversarial

    assert adversarial.collapsed(0.92, 0.01, 0.85) and not adversarial.collapsed(0.92, 0.8, 0.85)
    assert not adversarial.collapsed(0.7, 0.24, 0.24)  # early in training PGD accuracy is low, not fallen
    assert not adversarial.collapsed(0.34, 0.02, 0.04)  # nor a fall from a best that meant nothing (seen mid-ramp)
    grey, colour = SimpleNamespace(channels=1, name="fashion-mnist"), SimpleNamespace(channels=3, name="cifar10")
    assert adversarial.default_eps(grey) == 0.1 and adversarial.default_eps(colour) == 8 / 255
    model = genzoo.build("classifier-robust", mini.spec, width=4, hidden=16, adv_eval_n=50, seed=SEED)
    monkeypatch.setattr(adversarial, "collapsed", lambda fgsm, pgd, best: True)  # as right after a collapse
    lines = []
    cfg = TrainConfig(steps=2, batch_size=32, progress=True, precision="fp32", seed=SEED)
    Trainer(model, mini.take(64), cfg, eval_data=mini_test.take(50), log=lines.append).fit()
    assert any(line.startswith("warning at step 2: catastrophic overfitting: FGSM accuracy") for line in lines), lines
    assert model.notes == []  # logged once, then cleared
    rows = [line for line in lines if "test_catastrophic_overfitting 1" in line]
    assert rows, lines
