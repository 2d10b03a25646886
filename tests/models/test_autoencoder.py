"""Autoencoders: the linear one learns the PCA subspace; deep and conv ones learn; binary codes are
binary and retrieve same-class images far above chance; checkpoints round-trip."""

import pytest
import torch
from torch.testing import assert_close

import genzoo
from genzoo.data.imageset import ImageSet, to_float
from genzoo.errors import ConfigError
from genzoo.models.pca import PCA, principal_angles
from genzoo.training import TrainConfig, Trainer, load_model
from tests.learning import SEED, record


def fit(model, data, steps, bs=100, run_dir=None):
    Trainer(model, data, TrainConfig(steps=steps, batch_size=bs, progress=False, seed=SEED), run_dir=run_dir).fit()
    return model


def low_rank_images(n=2000, rank=4, seed=0) -> ImageSet:
    """8x8 images = mean + a rank-4 signal with distinct variances + a little noise."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(64, rank, generator=g)).Q
    coef = torch.randn(n, rank, generator=g) * torch.tensor([1.2, 1.0, 0.8, 0.6])
    x = 0.5 + coef @ basis.T + 0.01 * torch.randn(n, 64, generator=g)
    return ImageSet((x.clamp(0, 1) * 255).round().to(torch.uint8).reshape(n, 1, 8, 8), name="low-rank")


@pytest.mark.learning
def test_linear_ae_learns_the_pca_subspace():
    data = low_rank_images()
    x = to_float(data.images, (0.0, 1.0))
    pca = PCA.fit(x, 4)
    model = genzoo.build("linear-ae", data.spec, code_dim=4, lr=0.03, seed=SEED)
    decoder_columns = model.decoder[0].weight  # 64 x 4: the directions the decoder can produce
    assert principal_angles(decoder_columns, pca.components.T).max() > 1.0  # a random start is far off
    fit(model, data, 300)
    angles = principal_angles(decoder_columns, pca.components.T)
    res = model.evaluate(data)
    record(max_angle=angles.max(), mse_ratio_to_pca=res["mse"] / pca.expected_mse())
    assert angles.max() < 0.05, angles  # measured 0.0011..0.016 rad
    assert_close(res["mse"], pca.expected_mse(), rtol=0.1, atol=0)  # as PCA's: ratio measured 1.018..1.026
    assert_close(model.centre.mean, x.flatten(1).mean(0), atol=1e-4, rtol=0)


@pytest.mark.learning
@pytest.mark.parametrize("name", ["ae", "conv-ae"])
def test_deep_and_conv_autoencoders_learn(name, mini, mini_test):
    test = mini_test.take(500)
    model = genzoo.build(name, mini.spec, hidden=(256, 64), width=8, seed=SEED)
    before = model.evaluate(test)
    fit(model, mini.take(3000), 150)
    after = model.evaluate(test)
    record(mse_ratio=after["mse"] / before["mse"], mse=after["mse"], bce_gain=before["bce"] - after["bce"])
    # mse ratio measured 0.278..0.279 (ae), 0.250..0.344 (conv-ae); mse 0.0644..0.0675; bce gain 273..388
    assert after["mse"] < 0.45 * before["mse"] and after["mse"] < 0.075, (name, before, after)
    assert after["bce"] < before["bce"] - 200
    x = model.prepare(mini_test.images[:4])
    assert model.encode(x).shape == (4, 30) and model.reconstruct(x).shape == (4, 1, 28, 28)


@pytest.mark.learning
def test_binary_codes_are_binary_and_retrieve_same_class(mini, mini_test):
    model = genzoo.build("binary-ae", mini.spec, code_dim=64, hidden=(512,), seed=SEED)
    fit(model, mini.take(5000), 300)
    model.eval()
    codes = model.encode(model.prepare(mini_test.images[:100]))
    assert codes.shape == (100, 64) and set(codes.unique().tolist()) == {0.0, 1.0}
    res = model.evaluate(mini_test)
    record(distinct_codes=res["distinct_codes"], bits_on=res["bits_on"],
           p10_over_chance=res["precision_at_10"] / res["chance_precision"])
    assert res["distinct_codes"] > 1500  # of 2000: the code is used, not collapsed (measured 1973..1988)
    assert 0.3 < res["bits_on"] < 0.7  # measured 0.529..0.534
    # same-class neighbours by Hamming distance: far above the 10% of random retrieval
    assert res["precision_at_10"] > 4 * res["chance_precision"], res  # measured 7.4..7.6 x chance


@pytest.mark.learning
def test_noise_binarization_also_trains(mini, mini_test):
    model = genzoo.build("binary-ae", mini.spec, code_dim=32, hidden=(256,), binarize="noise", seed=SEED)
    before = model.evaluate(mini_test.take(500))["bce"]
    fit(model, mini.take(3000), 150)
    res = model.evaluate(mini_test.take(500))
    record(bce_gain=before - res["bce"], p10_over_chance=res["precision_at_10"] / res["chance_precision"])
    # bce gain measured 371..375, precision@10 4.3..4.8 x chance
    assert res["bce"] < before - 150 and res["precision_at_10"] > 2.5 * res["chance_precision"]


def test_checkpoint_round_trip(mini, mini_test, tmp_path):
    model = fit(genzoo.build("linear-ae", mini.spec, code_dim=8), mini.take(1000), 30, run_dir=tmp_path / "run")
    loaded = load_model(tmp_path / "run", which="last")
    assert loaded.evaluate(mini_test.take(200)) == model.eval().evaluate(mini_test.take(200))
    assert_close(loaded.centre.mean, model.centre.mean)


def test_config_errors(mini):
    odd = ImageSet(torch.zeros(4, 1, 30, 30, dtype=torch.uint8), name="odd")
    with pytest.raises(ConfigError, match="divisible by 4"):
        genzoo.build("conv-ae", odd.spec)
    with pytest.raises(ConfigError, match="loss=mse"):
        genzoo.build("linear-ae", mini.spec, loss="bce")
    with pytest.raises(ConfigError, match="code_dim"):
        genzoo.build("ae", mini.spec, code_dim=0)
