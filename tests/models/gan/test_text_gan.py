"""text-gan (Reed et al. 2016, GAN-INT-CLS): the CLS loss against its closed form, the mismatched captions, shapes,
sampling for text, exact resume, bad input, the sample views, evaluation, and a learning test on tiny data.

The tests build a tiny captioned set from the embedded mnist-mini (class-word captions, "a seven" / "the digit
seven"), so they need no files; `mnist-mini-captions` (genzoo.data.captions) is used where it is registered."""

from __future__ import annotations

import argparse
import dataclasses
import math

import pytest
import torch
from torch.testing import assert_close

import genzoo
from genzoo.data import DATASETS, load
from genzoo.data.captions import class_word
from genzoo.data.imageset import Batch, DataSpec
from genzoo.data.text import build_vocab, decode, encode_captions
from genzoo.errors import ConfigError, DataError
from genzoo.losses.text import d_loss_cls, interpolate_embeddings, mismatched
from genzoo.sampling import VIEWS, grid_labels
from genzoo.training import TrainConfig, Trainer
from tests.learning import SEED, record

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEMPLATES = ("a {}", "the digit {}")
VOCAB = build_vocab(t.format(w) for t in TEMPLATES for w in WORDS)
TINY = {"g_width": 8, "d_width": 8, "z_dim": 16, "word_dim": 8, "text_dim": 16, "text_proj": 8, "d_joint": 32}
SMALL = {"g_width": 16, "d_width": 16, "z_dim": 16, "word_dim": 16, "text_dim": 32, "text_proj": 16, "d_joint": 64,
         "lr_g": 2e-3, "lr_d": 2e-3}


def captioned(data):
    """`data` with two class-word captions per image, in the fixed vocabulary VOCAB."""
    caps = [[t.format(WORDS[int(y)]) for t in TEMPLATES] for y in data.labels]
    ids, vocab = encode_captions(caps, VOCAB)
    return dataclasses.replace(data, captions=ids, vocab=vocab)


@pytest.fixture(scope="module")
def train():
    return captioned(load("mnist-mini").take(2048))


@pytest.fixture(scope="module")
def test_set():
    return captioned(load("mnist-mini", "test").take(200))


def fit(model, data, steps, batch_size=32, run_dir=None, until=None, resume=False, log_every=1):
    rows = []
    trainer = Trainer(model, data, TrainConfig(steps=steps, batch_size=batch_size, progress=False, precision="fp32",
                                               log_every=log_every, seed=SEED), run_dir=run_dir)
    if run_dir is None:
        trainer._write_row = rows.append  # collect the logged rows without a run folder
    trainer.fit(resume=resume, until=until)
    return rows


# ---- losses ----------------------------------------------------------------------------------------------
def test_cls_loss_is_the_papers_discriminator_loss_in_closed_form():
    # Reed et al. 2016, Algorithm 1: L_D = -log s_r - (log(1 - s_w) + log(1 - s_f)) / 2, s = sigmoid(logit)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    s_r, s_w, s_f = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 0.0]), torch.tensor([-3.0, 1.0])
    expected = (-(math.log(sig(2.0)) + math.log(sig(-1.0))) / 2
                - 0.5 * ((math.log(1 - sig(0.5)) + math.log(1 - sig(0.0))) / 2
                         + (math.log(1 - sig(-3.0)) + math.log(1 - sig(1.0))) / 2))
    assert_close(d_loss_cls(s_r, s_w, s_f), torch.tensor(expected))
    zeros = torch.zeros(3)
    assert_close(d_loss_cls(zeros, zeros, zeros), torch.tensor(2 * math.log(2)))  # D = 1/2 everywhere
    # one-sided label smoothing: the real term is the cross-entropy against 0.9
    smooth = -(0.9 * math.log(sig(2.0)) + 0.1 * math.log(1 - sig(2.0))) + 0.5 * (-math.log(0.5) * 2)
    assert_close(d_loss_cls(torch.tensor([2.0]), torch.zeros(1), torch.zeros(1), real_target=0.9),
                 torch.tensor(smooth))
    # finite for extreme logits (no probabilities are formed)
    assert torch.isfinite(d_loss_cls(torch.tensor([-200.0]), torch.tensor([200.0]), torch.tensor([200.0])))
    assert_close(interpolate_embeddings(torch.tensor([[1.0, 3.0]]), torch.tensor([[3.0, -1.0]])),
                 torch.tensor([[2.0, 1.0]]))
    assert_close(interpolate_embeddings(torch.ones(1, 2), torch.zeros(1, 2), beta=0.25), torch.full((1, 2), 0.25))


def test_mismatched_captions_are_of_another_class_wherever_the_batch_has_one():
    labels = torch.tensor([0, 0, 1, 2, 2])
    assert mismatched(labels).tolist() == [2, 2, 3, 0, 0]  # the nearest next row of another class, cyclically
    assert mismatched(torch.tensor([4, 4, 4])).tolist() == [1, 2, 0]  # one class only: the next row
    assert mismatched(torch.tensor([7])).tolist() == [0]
    ids = torch.tensor([[3, 4, 2], [3, 4, 2], [3, 5, 2]])  # caption ids as keys (data without labels)
    assert mismatched(ids).tolist() == [2, 2, 0]
    y = torch.randint(10, (64,), generator=torch.Generator().manual_seed(0))
    assert (y[mismatched(y)] != y).all()


# ---- the model ----------------------------------------------------------------------------------------------
def test_shapes_encoder_and_sampling_for_text(train):
    model = genzoo.build("text-gan", train.spec, **TINY)
    assert model.cfg.beta == 0.5 and model.cfg.int_weight == 1.0 and model.cfg.cls and model.cfg.z_dim == 16
    ids = model.caption_ids(["a seven", "the digit two"])
    assert ids.shape == (2, train.spec.caption_length) and ids.dtype == torch.long
    t = model.embed_text(ids)
    assert t.shape == (2, 16)
    # padding after <eos> never reaches the embedding
    assert_close(model.E(torch.nn.functional.pad(ids, (0, 3))), model.E(ids))
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    score, h = model.D(x, model.embed_text(["a one"] * 5))
    assert score.shape == (5,) and h.shape == (5, model.D.feature_dim)
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    s = model.sample(6, generator=g(), text="A Seven!")  # tokenized as the captions are
    assert s.shape == (6, 1, 28, 28) and s.min() >= -1 and s.max() <= 1
    assert torch.equal(s, model.sample(6, generator=g(), text=["a seven"]))
    assert not torch.equal(s, model.sample(6, generator=g(), text="a two"))
    mixed = model.sample(4, generator=g(), text=["a one", "a two"])  # cycled to n
    assert torch.equal(mixed[0], model.sample(4, generator=g(), text="a one")[0])


def test_training_steps_update_all_networks_and_the_encoder(train):
    torch.manual_seed(SEED)
    model = genzoo.build("text-gan", train.spec, **TINY)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    rows = fit(model, train.take(256), 4)
    assert all(math.isfinite(v) for r in rows for v in r.values() if isinstance(v, float))
    assert {"loss_d", "loss_g", "loss_g_int", "d_wrong"} <= set(rows[-1])
    for prefix in ("G.", "D.", "E."):
        assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters() if n.startswith(prefix)), prefix
    # samples without text use one stored training caption per class, cycled
    assert model.default_text.shape == (10, train.spec.caption_length)
    assert model.sample(12, generator=torch.Generator().manual_seed(0)).shape == (12, 1, 28, 28)
    # the training grids put each example caption in a column named by its class (the stored captions name them)
    nrow, names = model.sample_columns()
    assert nrow == 10 and names == [str(c) for c in train.spec.class_names[:10]]
    words = [decode(model.default_text[c], train.vocab) for c in range(10)]
    assert all(class_word(train.name, c) in w for c, w in enumerate(words)), words
    # views that only move z (--interpolate, --arithmetic) decode with the first example caption throughout
    z = model.sample_latent(3, torch.Generator().manual_seed(1))
    first = model.embed_text(model.default_text[:1]).expand(3, -1)
    assert torch.equal(model.decode(z), model.decode(z, first))


def test_exact_resume(train, tmp_path):
    def run(out, until=None, resume=False):
        model = genzoo.build("text-gan", train.spec, seed=0, ema=0.9, **TINY)
        fit(model, train.take(128), 8, run_dir=out, until=until, resume=resume, log_every=4)

    run(tmp_path / "straight")
    run(tmp_path / "split", until=3)  # mid-epoch (4 steps of 32 images an epoch): the data order resumes too
    run(tmp_path / "split", resume=True)
    from genzoo.checkpoint import load as load_ckpt

    a = load_ckpt(tmp_path / "straight/checkpoints/last.pt")["training_state"]
    b = load_ckpt(tmp_path / "split/checkpoints/last.pt")["training_state"]
    assert a["model"].keys() == b["model"].keys() and any(k.startswith("E.") for k in a["model"])
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]) if isinstance(v, torch.Tensor) else v == b["model"][k], k
    for name in a["optimizers"]:
        for i, st in a["optimizers"][name]["state"].items():
            for k, v in st.items():
                assert torch.equal(torch.as_tensor(v), torch.as_tensor(b["optimizers"][name]["state"][i][k]))


def test_bad_input(train, mini):
    with pytest.raises(DataError, match="needs a captioned dataset.*mnist-captions.*fashion-captions"):
        genzoo.build("text-gan", mini.spec, **TINY)
    with pytest.raises(DataError, match="needs a captioned dataset"):
        genzoo.build("text-gan", DataSpec(1, 28, 28, 10), **TINY)
    model = genzoo.build("text-gan", train.spec, **TINY)
    with pytest.raises(DataError, match=r"unknown word 'purple' in 'a purple seven'; the vocabulary is: a, digit, "
                                        r"eight, five"):
        model.sample(2, text="a purple seven")
    with pytest.raises(DataError, match="has no words"):
        model.sample(2, text="  !! ")
    with pytest.raises(ConfigError, match="captions, not class labels"):
        model.sample(2, labels=torch.zeros(2, dtype=torch.long))
    with pytest.raises(ConfigError, match="no example captions yet"):
        model.sample(2)  # never trained or attached to data: nothing to draw without text
    with pytest.raises(ConfigError, match="loss=nonsaturating"):
        genzoo.build("text-gan", train.spec, loss="hinge", **TINY)
    with pytest.raises(ConfigError, match="does not take penalty"):
        genzoo.build("text-gan", train.spec, penalty="r1", **TINY)
    model.configure_optimizers(1)
    with pytest.raises(DataError, match="needs captions"):
        model.train_step(Batch(torch.zeros(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)), 0)


# ---- sample views -----------------------------------------------------------------------------------------
def args(**kw):
    base = {"n": 8, "text": None, "interpolate": False, "steps": 4, "labels": None}
    return argparse.Namespace(**{**base, **kw})


def test_text_views_and_their_grid_labels(train):
    model = genzoo.build("text-gan", train.spec, **TINY)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    x, nrow = VIEWS["text"](model, args(text=["a seven"]), g())
    assert x.shape == (8, 1, 28, 28) and nrow is None
    assert grid_labels("text", model, args(text=["a seven"])) == (None, None)
    a = args(text=["a one", "a two", "a three"], n=9)
    x, nrow = VIEWS["text"](model, a, g())
    assert x.shape == (9, 1, 28, 28) and nrow == 3
    assert grid_labels("text", model, a) == (["a one", "a two", "a three"], None)
    a = args(text=["a one", "the digit eight"], interpolate=True, steps=4, n=8)
    x, nrow = VIEWS["text"](model, a, g())
    assert x.shape == (8, 1, 28, 28) and nrow == 2  # 4 rows (steps) x 2 latents
    first, last = model.embed_text(["a one", "the digit eight"])
    z = model.sample_latent(2, g())
    assert_close(x[:2], model.decode(z, first.expand(2, -1)))  # row 0 is the first caption, row 3 the second
    assert_close(x[6:], model.decode(z, last.expand(2, -1)))
    rows, _ = grid_labels("text", model, a)
    assert rows == ["a one", "t=0.33", "t=0.67", "the digit eight"]
    with pytest.raises(ConfigError, match="give --text twice"):
        VIEWS["text"](model, args(text=["a one"], interpolate=True), g())
    with pytest.raises(DataError, match="unknown word 'ten'.*vocabulary is"):
        VIEWS["text"](model, args(text=["a ten"]), g())
    other = genzoo.build("dcgan", DataSpec(1, 28, 28, 10), g_width=8, d_width=8, z_dim=8, g_hidden=0, d_hidden=0)
    with pytest.raises(ConfigError, match="--text is for text-to-image models"):
        VIEWS["text"](other, args(text=["a one"]), g())


# ---- evaluation ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def captions_train():
    return load("mnist-mini-captions")


@pytest.fixture(scope="module")
def captions_test():
    return load("mnist-mini-captions", "test").take(200)


def test_evaluation_scores_samples_for_the_test_captions(captions_train, captions_test):
    from genzoo.metrics import EvalOptions

    model = genzoo.build("text-gan", captions_train.spec, **TINY)
    model.attach_data(captions_train)
    model.eval_options = EvalOptions(n=100, metrics=("fid",))
    res = model.evaluate(captions_test)
    assert 0 <= res["class_accuracy"] <= 1 and res["real_class_accuracy"] > 0.9  # the ceiling: real digits
    assert res["fid"] > 0 and "mnist classifier" in res["features"]
    # the attributes the captions state, measured on samples and (the ceiling) on the real images they describe
    assert set(res["attr_agreement_per_attr"]) == set(res["real_attr_agreement_per_attr"]) == \
        {"thickness", "slant", "size", "brightness"}
    assert res["real_attr_agreement"] == 1.0  # the captions were written from these very measurements
    assert 0 <= res["attr_agreement"] < 1
    assert res == model.evaluate(captions_test)  # seeded: the same captions and latents each time
    with pytest.raises(DataError, match="evaluated on captioned data"):
        model.evaluate(load("mnist-mini", "test").take(10))


def test_attribute_agreement_counts_only_the_stated_attributes(test_set):
    from genzoo.models.gan.text import attribute_agreement

    assert attribute_agreement(test_set.images[:4], test_set.captions[:4, 0], test_set) == {}  # no attribute stated
    vocab = load("mnist-mini-captions", "test").vocab
    ids, _ = encode_captions([["a thick seven"], ["a thin seven"], ["a seven"], ["a thick seven leaning right"]], vocab)
    data = dataclasses.replace(test_set.take(4), name="mnist-mini-captions", captions=None, vocab=vocab)
    images = data.images
    from genzoo.data.captions import attribute_words

    words = attribute_words(images, "digits")
    res = attribute_agreement(images, ids[:, 0], data)
    thick = [words["thickness"][i] == w for i, w in ((0, "thick"), (1, "thin"), (3, "thick"))]
    assert res["attr_agreement_per_attr"]["thickness"] == sum(thick) / 3
    assert set(res["attr_agreement_per_attr"]) == {"thickness", "slant"}
    assert res["attr_agreement"] == (sum(thick) + (words["slant"][3] == "right")) / 4


@pytest.mark.learning
def test_samples_show_the_captions_class_after_a_short_run(captions_train, captions_test):
    from genzoo.metrics import EvalOptions

    torch.manual_seed(SEED)
    model = genzoo.build("text-gan", captions_train.spec, **SMALL)
    fit(model, captions_train, 200, log_every=50)
    model.eval_options = EvalOptions(n=200, metrics=("fid",))
    res = model.evaluate(captions_test)
    record(class_accuracy=res["class_accuracy"], attr_agreement=res["attr_agreement"])
    # chance is 0.1 (the shipped MNIST classifier reads the samples for 200 test captions); measured 0.470..0.530
    # (seeds 0-2, native AVX-512 and ATEN_CPU_CAPABILITY=avx2 alike); attr_agreement 0.425..0.494
    assert res["class_accuracy"] > 0.3


@pytest.mark.skipif("mnist-mini-captions" not in DATASETS, reason="genzoo.data.captions not in this tree")
def test_command_line_on_the_embedded_captioned_set(tmp_path):
    from tests.conftest import run_cli_here

    run = tmp_path / "run"
    proc = run_cli_here("train", "text-gan", "--data", "mnist-mini-captions", "--steps", "4", "--batch-size", "16",
                        "--out", str(run), "--set", "g_width=8", "d_width=8", "train.eval_samples=50")
    assert proc.returncode == 0, proc.stderr
    ok = run_cli_here("sample", str(run), "--text", "a seven", "--n", "4", "--out", str(tmp_path / "s.png"))
    assert ok.returncode == 0 and (tmp_path / "s.png").is_file(), ok.stderr
    bad = run_cli_here("sample", str(run), "--text", "a purple seven")
    assert bad.returncode != 0 and "the vocabulary is" in bad.stderr and "Traceback" not in bad.stderr
    wrong = run_cli_here("train", "text-gan", "--data", "mnist-mini", "--steps", "2", "--out", str(tmp_path / "w"))
    assert wrong.returncode != 0 and "mnist-captions" in wrong.stderr and "Traceback" not in wrong.stderr
