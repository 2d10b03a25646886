"""`genzoo train / eval / sample` for autoencoders and VAEs: eval --k, the manifold, reconstruct and
scatter views, class-conditional samples, and the errors (in-process: same code path, no start-up)."""

import json

import pytest
from PIL import Image

from genzoo.cli import main

FAST = ["--batch-size", "100", "--quiet", "--set", "data.limit=2000", "eval_k=5", "schedule=constant",
        "train.eval_batch_size=500"]


def run(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def vae2d(tmp_path_factory):
    out = tmp_path_factory.mktemp("vae") / "run"
    assert run("train", "vae", "--steps", 40, "--out", out, *FAST, "latent_dim=2", "hidden=64") == 0
    return out


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def test_eval_k_and_views(vae2d, tmp_path, capsys):
    assert run("eval", vae2d, "--k", 7, "--n", 300, "--metrics", "fid,kid") == 0
    m = json.loads((vae2d / "metrics.json").read_text())
    assert m["log_likelihood_k"] == 7 and m["elbo"] <= m["log_likelihood"] < 0
    assert m["fid"] > 0 and m["eval_split"] == "test"  # VAE samples are scored like any generator's
    assert run("sample", vae2d, "--manifold", "--steps", 5, "--out", tmp_path / "m.png") == 0
    # 5 x 5 cells of 28 px upscaled 3x (84 px) + 2 px padding, and z1/z2 labels in a left and a top margin
    w, h = png_size(tmp_path / "m.png")
    assert 5 * 86 + 2 < w < 5 * 86 + 2 + 100 and 5 * 86 + 2 < h < 5 * 86 + 2 + 40
    assert run("sample", vae2d, "--reconstruct", "--n", 12, "--out", tmp_path / "r.png") == 0
    w, h = png_size(tmp_path / "r.png")  # 2 pairs of rows, 8 per row; input/output labels at the left
    assert h == 4 * 86 + 2 and 8 * 86 + 2 < w < 8 * 86 + 2 + 100
    assert run("sample", vae2d, "--reconstruct", "--n", 12, "--scale", 1, "--out", tmp_path / "r1.png") == 0
    assert png_size(tmp_path / "r1.png")[1] == 4 * 30 + 2  # 1 pixel per pixel
    assert run("sample", vae2d, "--scatter", "--out", tmp_path / "s.png") == 0
    w, h = png_size(tmp_path / "s.png")
    assert h == 512 + 4 and w > 512  # the plot plus its legend column


def test_cvae_class_conditional_samples(tmp_path):
    out = tmp_path / "cvae"
    assert run("train", "cvae", "--steps", 20, "--out", out, *FAST, "hidden=64") == 0
    assert run("sample", out, "--labels", "3,7", "--n", 8, "--out", tmp_path / "c.png") == 0
    assert run("sample", out, "--n", 20, "--out", tmp_path / "all.png") == 0
    w, h = png_size(tmp_path / "all.png")  # one column per class, its name on top
    assert w == 10 * 86 + 2 and 2 * 86 + 2 < h < 2 * 86 + 2 + 40


def test_autoencoder_views_and_errors(tmp_path, capsys):
    out = tmp_path / "ae"
    assert run("train", "ae", "--steps", 20, "--out", out, "--batch-size", "100", "--quiet",
               "--set", "hidden=64", "data.limit=1000") == 0
    assert run("sample", out, "--reconstruct", "--n", 8, "--out", tmp_path / "r.png") == 0
    assert run("sample", out, "--scatter", "--out", tmp_path / "s.png") == 0
    capsys.readouterr()
    assert run("sample", out, "--n", 4) == 2
    assert "not a generative model" in capsys.readouterr().err
    assert run("sample", out, "--manifold") == 2
    assert "not a generative model" in capsys.readouterr().err
    assert run("eval", out, "--k", 5) == 2
    assert "--k is for likelihood models" in capsys.readouterr().err
    assert run("eval", out) == 0
    assert "test_mse" in json.loads((out / "metrics.json").read_text())


def test_manifold_needs_a_2d_latent(tmp_path, capsys):
    out = tmp_path / "vae"
    assert run("train", "vae", "--steps", 2, "--out", out, *FAST, "hidden=16", "latent_dim=3") == 0
    capsys.readouterr()
    assert run("sample", out, "--manifold") == 2
    assert "--set latent_dim=2" in capsys.readouterr().err


def test_semi_supervised_from_a_class_balanced_labelled_subset(tmp_path, capsys):
    out = tmp_path / "few"
    assert run("train", "ae-classifier", "--steps", 3, "--out", out, "--batch-size", 10, "--quiet",
               "--set", "data.per_class=2") == 0
    assert "20 images" in capsys.readouterr().out  # 2 of each of the 10 digits
    assert json.loads((out / "config.json").read_text())["data"]["per_class"] == 2
    assert run("eval", out) == 0  # evaluation uses the whole test split
    m = json.loads((out / "metrics.json").read_text())
    assert m["test_n"] == 2000 and 0 <= m["test_accuracy"] <= 1
    assert run("train", "ae-classifier", "--steps", 3, "--out", tmp_path / "bad", "--quiet",
               "--set", "data.per_class=0") == 2
    assert "data.per_class must be a positive whole number" in capsys.readouterr().err
