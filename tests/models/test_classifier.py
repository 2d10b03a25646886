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
