"""InfoGAN, CatGAN and BiGAN: each learns what it is for on tiny data, survives save/load, bad configs."""

import math

import pytest
import torch

import genzoo
from genzoo.data.imageset import DataSpec
from genzoo.errors import ConfigError
from genzoo.losses import marginal_entropy, mean_entropy
from genzoo.nn import LabelledPool, batch_statistics
from genzoo.training import TrainConfig, Trainer
from tests.learning import SEED, record

FC = {"arch": "fc", "g_width": 16, "d_width": 16, "z_dim": 8, "g_hidden": 0, "d_hidden": 0}
FAST = {**FC, "g_width": 32, "d_width": 32, "lr_g": 1e-3, "lr_d": 1e-3}  # learns in ~100 steps


def fit(model, data, steps, batch_size=64):
    rows = []
    trainer = Trainer(model, data, TrainConfig(steps=steps, batch_size=batch_size, progress=False, precision="fp32",
                                              log_every=1, channels_last=False, seed=SEED))
    trainer._write_row = rows.append
    trainer.fit()
    assert all(math.isfinite(v) for r in rows for v in r.values() if isinstance(v, float))
    return rows


@pytest.mark.learning
def test_infogan_q_recovers_its_categorical_code(mini):
    torch.manual_seed(SEED)
    model = genzoo.build("infogan", mini.spec, **FC, q_hidden=32)
    assert model.latent_dim == 8 + 10 + 2 and model.cfg.lr_g == 1e-3 and model.cfg.z_dim == 8
    z = model.sample_latent(5, torch.Generator().manual_seed(0))
    cat, cont = model.split_codes(z)
    assert cat.shape == (5, 1) and cont.shape == (5, 2) and cont.abs().max() <= 1
    assert torch.equal(model.latent_with_codes(z[:, :8], cat, cont), z)
    before = model.code_figures(mini.take(200), n=500)["q_accuracy"]
    rows = fit(model, mini.take(640), 60)
    after = model.code_figures(mini.take(200), n=500)
    info = [r["d_info_cat"] for r in rows]
    record(before=before, q_accuracy=after["q_accuracy"], info_ratio=sum(info[-10:]) / sum(info[:10]))
    assert before < 0.3 and after["q_accuracy"] > 0.6  # chance: 0.1; measured 0.126, 0.92..0.968
    assert 0 <= after["code_accuracy"] <= 1 and 0 <= after["q_cluster_accuracy"] <= 1
    assert sum(info[-10:]) < sum(info[:10])  # the information term's cross-entropy falls (ratio 0.843..0.856)


@pytest.mark.learning
def test_catgan_d_becomes_certain_and_balanced_on_real_data(mini):
    torch.manual_seed(SEED)
    model = genzoo.build("catgan", mini.spec, **FAST)
    real = model.prepare(mini.images[:500])

    def entropies():
        with batch_statistics(model.D):
            logits = model.critic(real).aux
        return float(mean_entropy(logits)), float(marginal_entropy(logits))

    h0, _ = entropies()
    rows = fit(model, mini.take(640), 300)  # after 150 steps h1/h0 ranged 0.46-0.71 over seeds (0.64 on a Xeon)
    h1, marginal = entropies()
    cluster_accuracy = model.evaluate(mini.take(300))["cluster_accuracy"]
    record(h0=h0, h1=h1, ratio=h1 / h0, marginal=marginal, h_fake=rows[-1]["h_fake"], h_real=rows[-1]["h_real"],
           cluster_accuracy=cluster_accuracy)
    # certain about real images (log 10 = 2.30): h1 / h0 measured 0.29..0.57 (0.6 was the old threshold, at
    # 150 steps, where it ranged 0.46..0.71 and a Xeon gave 0.64)
    assert h0 > 2.0 and h1 < 0.75 * h0
    assert marginal > 1.6  # and not by putting them all in one class (measured 1.99..2.21)
    assert rows[-1]["h_fake"] > rows[-1]["h_real"]  # unsure about fakes: h_fake - h_real measured 0.43..1.30
    assert cluster_accuracy > 0.15  # measured 0.39..0.52


@pytest.mark.learning
def test_catgan_semi_supervised_reads_only_its_labelled_pool(mini):
    torch.manual_seed(SEED)
    model = genzoo.build("catgan-semi", mini.spec, **FAST)
    assert model.cfg.labelled == 100
    rows = fit(model, mini.take(640), 100)
    assert int(model.pool.count.sum()) == 100 and model.pool.count.tolist() == [10] * 10
    res = model.evaluate(mini.take(300))
    record(ce_ratio=rows[-1]["ce_labelled"] / rows[0]["ce_labelled"], accuracy=res["accuracy"])
    assert rows[-1]["ce_labelled"] < 0.5 * rows[0]["ce_labelled"]  # measured 0.061..0.102
    assert res["accuracy"] > 0.4  # chance 0.1; D's class k is digit k, no matching needed (measured 0.807..0.857)


def test_labelled_pool_is_class_balanced_and_capped():
    pool = LabelledPool(5, 2, (1,))
    pool.add(torch.arange(6.0)[:, None], torch.tensor([0, 0, 0, 0, 1, 1]))
    assert pool.count.tolist() == [3, 2] and pool.full
    assert sorted(pool.x[:, 0].tolist()) == [0.0, 1.0, 2.0, 4.0, 5.0]  # the first 3 zeros, both ones
    pool.add(torch.tensor([[9.0]]), torch.tensor([1]))
    assert 9.0 not in pool.x
    x, y = pool.draw(50)
    assert set(y.tolist()) == {0, 1} and all((x[y == 1] >= 4).tolist())


@pytest.mark.learning
def test_bigan_encoder_and_generator_come_to_match(mini):
    torch.manual_seed(SEED)
    model = genzoo.build("bigan", mini.spec, **{**FAST, "lr_g": 5e-4, "lr_d": 5e-4}, z_branch=32, joint_hidden=32)
    test = mini.take(400)
    before = model.evaluate(test)
    fit(model, mini.take(640), 600)  # at 300 steps the 1-NN gain fell to 0.04 for a seed with no vector kernels
    after = model.evaluate(test)
    x = model.prepare(test.images)
    rec = model.reconstruct(x)
    assert rec.shape == x.shape
    # How much more G(E(x)) resembles x than another image. Recorded, not asserted: at this size and length E and
    # G do not reliably correspond. Measured 2026-12-03 (seeds 0-3, native and AVX2 kernels, one thread): 0.75..1.05
    # at 600 and at 1200 steps (at two threads 0.83..0.91), i.e. for some seeds no correspondence at all; BiGAN's
    # reconstructions share only loose semantics with their inputs in the paper too.
    own_vs_other = (rec - x).pow(2).mean() / (rec - x.roll(1, 0)).pow(2).mean()
    record(mse_ratio=after["reconstruction_mse"] / before["reconstruction_mse"],
           nn_gain=after["feature_1nn_accuracy"] - before["feature_1nn_accuracy"], own_vs_other=own_vs_other)
    assert after["reconstruction_mse"] < 0.85 * before["reconstruction_mse"]  # measured 0.295..0.662
    # E(x) became a better feature than the untrained encoder's: gain measured 0.17..0.255 at two threads,
    # 0.135..0.28 at one (AVX2 kernels 0.135..0.18: the tightest margin of the one-thread re-run)
    assert after["feature_1nn_accuracy"] > before["feature_1nn_accuracy"] + 0.1


def test_structured_gans_survive_save_and_load(mini, tmp_path):
    from genzoo.training import load_model

    for name in ("infogan", "catgan-semi", "bigan"):
        torch.manual_seed(0)
        model = genzoo.build(name, mini.spec, **FC)
        run = tmp_path / name
        Trainer(model, mini.take(128), TrainConfig(steps=2, batch_size=64, progress=False, precision="fp32",
                                                   channels_last=False, eval_every=0), run_dir=run,
                data_args={"name": "mnist-mini"}).fit()
        again = load_model(run, which="last")
        a = model.eval().sample(4, generator=torch.Generator().manual_seed(3))
        assert torch.equal(a, again.sample(4, generator=torch.Generator().manual_seed(3)))


def test_bad_configs_are_rejected():
    with pytest.raises(ConfigError, match="at least one code"):
        genzoo.build("infogan", DataSpec(1, 28, 28, 10), n_cat=0, n_cont=0)
    with pytest.raises(ConfigError, match="clusters=K"):
        genzoo.build("catgan", DataSpec(1, 28, 28, 0))
    with pytest.raises(ConfigError, match="semi-supervised CatGAN"):
        genzoo.build("catgan", DataSpec(1, 28, 28, 10), clusters=5, labelled=10)


def test_batch_statistics_normalises_per_batch_and_restores_running_averages():
    bn = torch.nn.BatchNorm1d(3).eval()
    x = torch.randn(64, 3) * 5 + 2
    state = {k: v.clone() for k, v in bn.state_dict().items()}
    with batch_statistics(bn):
        y = bn(x)
    assert y.mean(0).abs().max() < 1e-5  # normalised with the batch's own statistics
    assert not bn.training and all(torch.equal(v, bn.state_dict()[k]) for k, v in state.items())
