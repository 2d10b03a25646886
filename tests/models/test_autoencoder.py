"""Autoencoders: the linear one learns the PCA subspace; deep and conv ones learn; binary codes are
binary and retrieve same-class images far above chance; checkpoints round-trip."""

import pytest
import torch
from torch.testing import assert_close

import genzoo
from genzoo.data.imageset import ImageSet, to_float
from genzoo.errors import ConfigError
from genzoo.models.pca import PCA, principal_angles
from genzoo.train import TrainConfig, Trainer, load_model


def fit(model, data, steps, bs=100, run_dir=None):
    Trainer(model, data, TrainConfig(steps=steps, batch_size=bs, progress=False), run_dir=run_dir).fit()
    return model


def low_rank_images(n=2000, rank=4, seed=0) -> ImageSet:
    """8x8 images = mean + a rank-4 signal with distinct variances + a little noise."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(64, rank, generator=g)).Q
    coef = torch.randn(n, rank, generator=g) * torch.tensor([1.2, 1.0, 0.8, 0.6])
    x = 0.5 + coef @ basis.T + 0.01 * torch.randn(n, 64, generator=g)
    return ImageSet((x.clamp(0, 1) * 255).round().to(torch.uint8).reshape(n, 1, 8, 8), name="low-rank")


def test_linear_ae_learns_the_pca_subspace():
    data = low_rank_images()
    x = to_float(data.images, (0.0, 1.0))
    pca = PCA.fit(x, 4)
    model = genzoo.build("linear-ae", data.spec, code_dim=4, lr=0.03)
    decoder_columns = model.decoder[0].weight  # 64 x 4: the directions the decoder can produce
    assert principal_angles(decoder_columns, pca.components.T).max() > 1.0  # a random start is far off
    fit(model, data, 300)
    angles = principal_angles(decoder_columns, pca.components.T)
    assert angles.max() < 0.05, angles
    res = model.evaluate(data)
    assert_close(res["mse"], pca.expected_mse(), rtol=0.1, atol=0)  # same reconstruction error as PCA
    assert_close(model.centre.mean, x.flatten(1).mean(0), atol=1e-4, rtol=0)


def test_deep_and_conv_autoencoders_learn(mini, mini_test):
    test = mini_test.take(500)
    for name in ("ae", "conv-ae"):
        model = genzoo.build(name, mini.spec, hidden=(256, 64), width=8)
        before = model.evaluate(test)
        fit(model, mini.take(3000), 150)
        after = model.evaluate(test)
        assert after["mse"] < 0.4 * before["mse"] and after["mse"] < 0.07, (name, before, after)
        assert after["bce"] < before["bce"] - 200
        x = model.prepare(mini_test.images[:4])
        assert model.encode(x).shape == (4, 30) and model.reconstruct(x).shape == (4, 1, 28, 28)


def test_binary_codes_are_binary_and_retrieve_same_class(mini, mini_test):
    model = genzoo.build("binary-ae", mini.spec, code_dim=64, hidden=(512,))
    fit(model, mini.take(5000), 300)
    model.eval()
    codes = model.encode(model.prepare(mini_test.images[:100]))
    assert codes.shape == (100, 64) and set(codes.unique().tolist()) == {0.0, 1.0}
    res = model.evaluate(mini_test)
    assert res["distinct_codes"] > 1500  # of 2000: the code is used, not collapsed
    assert 0.3 < res["bits_on"] < 0.7
    # same-class neighbours by Hamming distance: far above the 10% of random retrieval
    assert res["precision_at_10"] > 4 * res["chance_precision"], res


def test_noise_binarization_also_trains(mini, mini_test):
    model = genzoo.build("binary-ae", mini.spec, code_dim=32, hidden=(256,), binarize="noise")
    before = model.evaluate(mini_test.take(500))["bce"]
    fit(model, mini.take(3000), 150)
    res = model.evaluate(mini_test.take(500))
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
