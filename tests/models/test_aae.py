"""Adversarial autoencoders: reconstructions improve, codes move to the prior (compared with the same
network without the adversarial phases), semi-supervised labels, conditional sampling, save/load."""

import pytest
import torch

import genzoo
from genzoo.data.imageset import DataSpec
from genzoo.errors import ConfigError
from genzoo.training import TrainConfig, Trainer, load_model
from tests.learning import SEED, record

TINY = {"hidden": (128,), "d_hidden": (64,), "latent_dim": 4}


def fit(model, data, steps):
    rows = []
    trainer = Trainer(model, data, TrainConfig(steps=steps, batch_size=64, progress=False, precision="fp32",
                                              log_every=1, channels_last=False, seed=SEED))
    trainer._write_row = rows.append
    trainer.fit()
    model.eval_options = None  # own figures only below
    return rows


def gaussian_kl_to_prior(codes: torch.Tensor) -> float:
    """KL(N(m, diag s^2) || N(0, I)) of a diagonal Gaussian fitted to the codes."""
    m, v = codes.mean(0), codes.var(0)
    return float(0.5 * (v + m ** 2 - 1 - v.log()).sum())


@pytest.mark.learning
def test_aae_reconstructs_and_pushes_codes_to_the_prior(mini):
    data, test = mini.take(1280), mini.take(300)
    torch.manual_seed(SEED)
    aae = genzoo.build("aae", mini.spec, **TINY)
    before = aae.evaluate(test)
    rows = fit(aae, data, 300)
    after = aae.evaluate(test)
    torch.manual_seed(SEED)
    plain = genzoo.build("aae", mini.spec, **TINY, lr_adv=0.0)  # the same autoencoder, no regularisation
    fit(plain, data, 300)
    x = aae.prepare(test.images)
    with torch.no_grad():
        kl_aae, kl_plain = gaussian_kl_to_prior(aae.encode(x)), gaussian_kl_to_prior(plain.encode(x))
    record(mse_ratio=after["mse"] / before["mse"], rec_ratio=rows[-1]["loss_rec"] / rows[0]["loss_rec"],
           kl_ratio=kl_aae / kl_plain)
    assert after["mse"] < 0.5 * before["mse"]  # measured 0.176..0.177
    assert rows[-1]["loss_rec"] < 0.6 * rows[0]["loss_rec"]  # measured 0.257..0.270
    assert kl_aae < 0.5 * kl_plain  # against the unregularised twin: measured 0.297..0.312
    s = aae.sample(6, generator=torch.Generator().manual_seed(0))
    assert s.shape == (6, 1, 28, 28) and 0 <= s.min() and s.max() <= 1


@pytest.mark.learning
def test_aae_semi_supervised_learns_the_classes_from_100_labels(mini):
    torch.manual_seed(SEED)
    model = genzoo.build("aae-semi", mini.spec, **TINY)
    rows = fit(model, mini.take(1280), 300)
    assert model.pool.count.tolist() == [10] * 10
    res = model.evaluate(mini.take(300))
    record(ce_ratio=rows[-1]["ce_labelled"] / rows[0]["ce_labelled"], accuracy=res["accuracy"])
    assert rows[-1]["ce_labelled"] < 0.5 * rows[0]["ce_labelled"]  # measured 0.19..0.31
    assert res["accuracy"] > 0.4 and res["cluster_accuracy"] >= res["accuracy"] - 1e-9  # matching can only help
    assert model.sample_latent(3).shape == (3, 4 + 10)


def test_aae_supervised_is_conditional_and_round_trips(mini, tmp_path):
    torch.manual_seed(0)
    model = genzoo.build("aae-supervised", mini.spec, **TINY)
    assert model.conditional
    with pytest.raises(ConfigError, match="one label per image"):
        model.sample(2, labels=torch.tensor([1]))
    assert model.sample(3).shape == (3, 1, 28, 28)  # default labels 0, 1, 2
    run = tmp_path / "run"
    Trainer(model, mini.take(128), TrainConfig(steps=2, batch_size=64, progress=False, channels_last=False,
                                               eval_every=0), run_dir=run, data_args={"name": "mnist-mini"}).fit()
    again = load_model(run, which="last")
    labels = torch.tensor([1, 7])
    a = model.sample(2, labels=labels, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, again.sample(2, labels=labels, generator=torch.Generator().manual_seed(0)))


def test_aae_mixture_prior_and_bad_configs():
    model = genzoo.build("aae", DataSpec(1, 8, 8, 10), **TINY, prior="mixture")
    z = model.sample_prior(2000, torch.Generator().manual_seed(0))
    radius = z[:, :2].norm(dim=1)
    assert 3.0 < float(radius.median()) < 5.0  # modes on the circle of radius 4
    with pytest.raises(ConfigError, match="categorical"):
        genzoo.build("aae", DataSpec(1, 8, 8, 10), labelled=10)
    with pytest.raises(ConfigError, match="needs labels"):
        genzoo.build("aae-supervised", DataSpec(1, 8, 8, 0))
