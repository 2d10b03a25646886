"""`genzoo project`: latent projection, editing and morphs (iGAN) on tiny trained runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from genzoo.cli import main
from genzoo.data import load
from genzoo.data.images import write_png
from genzoo.metrics.features import resolve
from genzoo.probe.project import ProjectOptions, edit, feature_function, latent_generator, morph, project, read_mask
from genzoo.runs import load_model
from tests.probe.conftest import _main

FAST = ["--starts", "2", "--iters", "40", "--feature-weight", "0"]  # CLI runs that check the plumbing only


@pytest.fixture(scope="session")
def gen_runs(tmp_path_factory) -> Path:
    """gan: a dense GAN of 300 steps on mnist-mini (digit-like, varied samples); cgan: its conditional twin;
    infogan: 20 steps (its latent layout, not its quality); clf: a 1-step classifier (a run without a generator)."""
    root = tmp_path_factory.mktemp("project-runs")
    common = ["--batch-size", "64", "--set", "g_width=32", "d_width=32", "z_dim=8", "data.limit=2000",
              "train.eval_samples=100", "train.eval_metrics=fid", "train.tensorboard=false", "--quiet"]
    _main("train", "gan", "--steps", "300", *common, "--out", str(root / "gan"))
    _main("train", "cgan", "--steps", "200", *common, "--out", str(root / "cgan"))
    _main("train", "infogan", "--steps", "20", "--batch-size", "32", "--set", "g_width=8", "d_width=8", "g_hidden=64",
          "d_hidden=64", "z_dim=8", "data.limit=256", "train.eval_samples=100", "train.eval_metrics=fid",
          "train.tensorboard=false", "--out", str(root / "infogan"), "--quiet")
    _main("train", "classifier", "--steps", "1", "--batch-size", "16", "--set", "width=4", "data.limit=64",
          "--out", str(root / "clf"), "--quiet")
    return root


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> Path:
    """Three mnist-mini test digits as PNGs, a stroke mask (a bar across the top), and bad inputs."""
    root = tmp_path_factory.mktemp("project-images")
    test = load("mnist-mini", split="test")
    (root / "digits").mkdir()
    for i in range(3):
        write_png(root / "digits" / f"d{i}.png", test.images[i])
    mask = torch.zeros(1, 28, 28, dtype=torch.uint8)
    mask[:, 4:9, 6:22] = 255
    write_png(root / "mask.png", mask)
    write_png(root / "mask32.png", torch.zeros(1, 32, 32, dtype=torch.uint8))
    write_png(root / "big.png", test.images[0].repeat(1, 2, 2)[:, :40, :40])
    write_png(root / "colour.png", test.images[0].expand(3, -1, -1).contiguous())
    (root / "notes.png").write_text("not an image")
    (root / "empty").mkdir()
    return root


@pytest.fixture
def gan(gen_runs):
    model = load_model(gen_runs / "gan")
    return latent_generator(model, "gan")


def _features():
    return feature_function(resolve("auto", "mnist-mini"), 1)


# ---- projection, editing, morphs (the Python API) --------------------------------------------------------------
def test_projecting_the_generators_own_samples_recovers_them(gan):
    """G(z*) for known z* projects back much closer than random codes come. Measured over seeds 0-5 (native and
    ATEN_CPU_CAPABILITY=avx2 alike), 4 starts of 60 steps: the worst per-image error / random-code error 0.007-0.018
    with the feature loss, 0.007-0.024 with pixels alone (with 2 starts one image of 24 stayed in a local minimum,
    ratio 1.08); asserted < 0.25. The feature loss is on for seed 0 only: it costs most of the time."""
    for seed in range(3):
        z_true = gan.sample(4, torch.Generator().manual_seed(100 + seed))
        with torch.no_grad():
            x = gan(z_true)
        features = _features() if seed == 0 else None
        p = project(gan, x, ProjectOptions(starts=4, iters=60, seed=seed, feature_weight=0.1 if seed == 0 else 0),
                    features)
        assert p.z.shape == (4, 8) and p.images.shape == x.shape and p.labels is None
        assert (p.mse < 0.25 * p.random_mse).all(), (seed, p.mse, p.random_mse)
        assert (p.feature < 0.05).all() if features else p.feature is None  # the feature distance falls too


def test_an_edit_follows_the_stroke_and_keeps_the_rest(gan, images):
    """A bar across the top, pulled to white with lambda 0.1 (this 300-step GAN must change the digit to draw a bar:
    larger lambdas move the rest as far as random codes are). Measured over seeds 0-4, native and avx2 alike: inside
    the stroke the mean distance to white falls from 0.80-0.81 to 0.70-0.71 (asserted: by > 0.05); outside it the
    edit's MSE to the projection is 0.006-0.007, that of 64 random codes 0.028-0.034 (ratio 0.19-0.24; asserted
    < 0.5)."""
    x = load("mnist-mini", split="test").images[:3].float() / 255
    mask = read_mask(str(images / "mask.png"), gan.model.spec, resize=False)
    keep = 1 - mask

    def inside(img: torch.Tensor) -> float:  # mean distance to white in the stroke
        return float(((1 - img) * mask).sum() / (mask.sum() * len(img)))

    def outside(img: torch.Tensor, proj: torch.Tensor) -> float:  # MSE to the projection elsewhere
        return float(((img - proj).pow(2) * keep).mean() / keep.mean())

    for seed in range(3):
        opts = ProjectOptions(starts=2, iters=100, seed=seed, edit_weight=0.1, edit_steps=2, feature_weight=0)
        p = project(gan, x, opts)
        frames, zs, labels = edit(gan, p, opts, mask, torch.ones(1))
        assert frames.shape == (3, 2, 1, 28, 28) and zs.shape == (3, 2, 8) and labels is None
        with torch.no_grad():
            rand = gan(gan.sample(64, torch.Generator().manual_seed(seed)))
        random_outside = sum(outside(r.expand_as(p.images), p.images) for r in rand) / len(rand)
        assert inside(frames[:, -1]) < inside(p.images) - 0.05, seed
        assert inside(frames[:, 0]) > inside(frames[:, -1]) - 1e-3  # the kept steps move along the way
        assert outside(frames[:, -1], p.images) < 0.5 * random_outside, (seed, random_outside)


def test_morph_frames_start_and_end_at_the_two_projections(gan):
    x = load("mnist-mini", split="test").images[:2].float() / 255
    opts = ProjectOptions(starts=2, iters=30, feature_weight=0)
    a, b = project(gan, x[:1], opts), project(gan, x[1:], opts)
    for spherical in (False, True):
        frames, z, labels = morph(gan, a, b, 5, spherical)
        assert frames.shape == (5, 1, 28, 28) and z.shape == (5, 8) and labels is None
        torch.testing.assert_close(frames[0], a.images[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(frames[-1], b.images[0], atol=1e-5, rtol=0)
        assert (frames[2] - frames[0]).abs().max() > 0.05  # the middle is somewhere else


def test_conditional_models_search_the_classes_and_change_them(gen_runs):
    """Projection searches the classes; measured over seeds 0-4 (native and avx2 alike): per-image error / random
    codes' at most 0.044; asserted < 0.25."""
    gen = latent_generator(load_model(gen_runs / "cgan"), "cgan")
    z_true, y_true = gen.sample(3, torch.Generator().manual_seed(5)), torch.tensor([1, 4, 7])
    with torch.no_grad():
        x = gen(z_true, y_true)
    p = project(gen, x, ProjectOptions(starts=2, iters=80, feature_weight=0))
    assert p.labels.shape == (3,) and (p.mse < 0.25 * p.random_mse).all()
    opts = ProjectOptions(starts=1, iters=20, target_class=3, edit_steps=2)
    frames, zs, labels = edit(gen, p, opts)
    assert labels.tolist() == [3, 3, 3] and frames.shape == (3, 2, 1, 28, 28)


def test_infogan_codes_are_searched_kept_in_the_prior_box_and_changed(gen_runs):
    model = load_model(gen_runs / "infogan")
    gen = latent_generator(model, "infogan")
    assert gen.labels == 10 and gen.dim == 8 + 2  # noise and continuous codes are free, the digit code searched
    with torch.no_grad():
        x = gen(gen.sample(2, torch.Generator().manual_seed(0)), torch.tensor([2, 5]))
    p = project(gen, x, ProjectOptions(starts=2, iters=40, feature_weight=0, lr=0.5))
    full = gen.full_latent(p.z, p.labels)  # what codes.npy holds: the model's own latent layout
    assert full.shape == (2, model.latent_dim) and full.abs().max() <= 1  # uniform noise and codes: clamped
    assert model.split_codes(full)[0][:, 0].tolist() == p.labels.tolist()
    torch.testing.assert_close((model.decode(full) + 1) / 2, p.images, atol=1e-5, rtol=0)
    frames, zs, labels = edit(gen, p, ProjectOptions(iters=5, target_class=7, edit_steps=1))
    assert labels.tolist() == [7, 7] and frames.shape == (2, 1, 1, 28, 28)


# ---- the command -----------------------------------------------------------------------------------------------
def test_cli_writes_the_grids_codes_and_errors(gen_runs, images, tmp_path, capsys):
    run = tmp_path / "gan"
    shutil.copytree(gen_runs / "gan", run)
    digits = images / "digits"
    _main("project", str(run), str(digits), *FAST, "--stroke", str(images / "mask.png"), "--color", "255",
          "--edit-steps", "3", "--morph", str(digits / "d0.png"), str(digits / "d1.png"), "--steps", "4",
          "--against", "train", "3", "--against", "test", "3")
    out = run / "projections"
    assert sorted(p.name for p in out.iterdir()) == ["against.png", "codes.npy", "edit-codes.npy", "morph-codes.npy",
                                                     "morph.png", "projection.json", "projection.png"]
    res = json.loads((out / "projection.json").read_text())
    assert [r["image"] for r in res["images"]] == ["d0.png", "d1.png", "d2.png"]
    assert all(0 <= r["mse"] < r["random_mse"] for r in res["images"])
    assert res["against"]["train"]["n"] == 3 and "mse" in res["against"]["test"]
    assert res["edit"]["inside_after"] < res["edit"]["inside_before"] and res["morph"]["frames"] == 4
    codes = np.load(out / "codes.npy")
    assert codes.shape == (3, 8)
    assert np.load(out / "edit-codes.npy").shape == (3, 3, 8) and np.load(out / "morph-codes.npy").shape == (4, 8)
    # the saved codes decode to the projections the errors were measured on
    model = load_model(run)
    x = load("mnist-mini", split="test").images[:3].float() / 255
    mse = ((model.decode(torch.from_numpy(codes)) + 1) / 2 - x).pow(2).flatten(1).mean(1)
    assert mse.tolist() == pytest.approx([r["mse"] for r in res["images"]], abs=1e-5)
    text = capsys.readouterr().out
    assert "d0.png" in text and "train (3 images, mean)" in text and "train/test mse ratio" in text
    assert "features: pixel loss" not in text and "features: genzoo mnist classifier" in text


def test_resize_converts_other_images_and_target_class_edits(gen_runs, images, tmp_path):
    _main("project", str(gen_runs / "gan"), str(images / "big.png"), str(images / "colour.png"), "--resize", *FAST,
          "--out", str(tmp_path / "a"))
    assert len(json.loads((tmp_path / "a" / "projection.json").read_text())["images"]) == 2
    _main("project", str(gen_runs / "cgan"), str(images / "digits" / "d0.png"), "--label", "7", "--target-class",
          "2", "--edit-steps", "2", *FAST, "--out", str(tmp_path / "b"))
    res = json.loads((tmp_path / "b" / "projection.json").read_text())
    assert res["images"][0]["label"] == 7 and res["edit"]["target"] == 2
    assert np.load(tmp_path / "b" / "labels.npy").tolist() == [7]


@pytest.mark.parametrize("run, args, message", [
    ("gan", ["notes.png"], "cannot decode image"),
    ("gan", ["empty"], "holds no images"),
    ("gan", ["missing.png"], "no such image file or folder"),
    ("gan", ["big.png"], "is 40x40, but this model makes 28x28 images: pass --resize"),
    ("gan", ["colour.png"], "is a colour image, but this model makes 1-channel images: pass --resize"),
    ("gan", ["digits", "--stroke", "mask32.png", "--color", "255"], "is 32x32, but the images are 28x28"),
    ("gan", ["digits", "--stroke", "mask.png", "--color", "255,0,0"], "give --color one intensity"),
    ("gan", ["digits", "--stroke", "mask.png"], "--stroke MASK and --color R,G,B go together"),
    ("gan", ["digits", "--target-class", "3"], "has no labels or codes"),
    ("gan", ["digits", "--encoder"], "--encoder needs a model with an encoder"),
    ("gan", ["--against", "val", "3"], "--against takes train or test"),
    ("gan", [], "give images to project"),
    ("gan", ["digits", "--slerp"], "--slerp shapes the walk of --morph A B"),  # were silently ignored
    ("gan", ["digits", "--steps", "5"], "--steps shapes the walk of --morph A B"),
    ("gan", ["digits", "--edit-steps", "2"], "--edit-steps: for an edit; give --stroke MASK --color C"),
    ("cgan", ["digits", "--label", "12"], "out of range"),
    ("clf", ["digits"], "has no generator to project into; projection takes GANs"),
])
def test_bad_input_is_one_clear_line_and_writes_nothing(gen_runs, images, capsys, run, args, message):
    args = [str(images / a) if (images / a).exists() else a for a in args]
    assert main(["project", str(gen_runs / run), *args, *FAST]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (gen_runs / run / "projections").exists()
