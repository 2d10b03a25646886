"""ae-classifier: the pretrained encoder is really used (copied, frozen when asked), and the
classifier learns from 100 labels, from scratch and from a pretrained autoencoder."""

import pytest
import torch

import genzoo
from genzoo.errors import ConfigError
from genzoo.training import TrainConfig, Trainer
from tests.learning import SEED, record

SMALL = {"hidden": (256, 64)}


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory, mini):
    run = tmp_path_factory.mktemp("ae") / "run"
    model = genzoo.build("ae", mini.spec, **SMALL, seed=SEED)
    Trainer(model, mini, TrainConfig(steps=600, batch_size=100, progress=False, seed=SEED), run_dir=run).fit()
    return run, model


def fit(model, data, steps, bs=50):
    Trainer(model, data, TrainConfig(steps=steps, batch_size=bs, progress=False, seed=SEED)).fit()
    return model


@pytest.mark.learning
def test_learns_from_100_labels_with_and_without_pretraining(ae_run, mini, mini_test):
    run, ae = ae_run
    labelled = mini.per_class(10, seed=0)  # 100 labels
    assert len(labelled) == 100 and labelled.labels.bincount().tolist() == [10] * 10
    scratch = fit(genzoo.build("ae-classifier", labelled.spec, **SMALL, seed=SEED), labelled, 300)
    frozen = genzoo.build("ae-classifier", labelled.spec, pretrained=str(run), freeze=True, lr=1e-2, **SMALL, seed=SEED)
    fit(frozen, labelled, 300)
    tuned = fit(genzoo.build("ae-classifier", labelled.spec, pretrained=str(run), **SMALL, seed=SEED), labelled, 300)
    accuracy = {name: m.evaluate(mini_test)["accuracy"] for name, m in
                (("scratch", scratch), ("frozen", frozen), ("tuned", tuned))}
    record(**accuracy)
    for acc in accuracy.values():
        assert acc > 0.45  # chance: 0.1; measured scratch 0.651..0.687, frozen 0.570..0.627, tuned 0.668..0.699
    # frozen: the encoder is exactly the autoencoder's; fine-tuned: it started there and moved
    for a, b in zip(frozen.encoder.parameters(), ae.encoder.parameters()):
        assert torch.equal(a.cpu(), b.cpu())
    assert any(not torch.equal(a, b) for a, b in zip(tuned.encoder.parameters(), ae.encoder.parameters()))


def test_architecture_mismatch_says_what_to_set(ae_run, mini):
    run, _ = ae_run
    model = genzoo.build("ae-classifier", mini.spec, pretrained=str(run))  # default hidden 1000,500,250
    with pytest.raises(ConfigError, match="hidden=256,64"):
        model.configure_optimizers(10)


def test_freeze_needs_pretrained(mini):
    model = genzoo.build("ae-classifier", mini.spec, freeze=True, **SMALL)
    with pytest.raises(ConfigError, match="pretrained"):
        model.configure_optimizers(10)
