"""genzoo.data.captions: attributes measured on synthetic strokes and shapes, words, captions, datasets."""

import pytest
import torch

from genzoo.data import cache, load
from genzoo.data.captions import (
    CLASS_WORDS,
    FAMILIES,
    THRESHOLDS,
    WORDS,
    K,
    attribute_levels,
    attribute_words,
    caption,
    caption_family,
    caption_ids,
    caption_length,
    caption_texts,
    class_word,
    measure,
    stated_attributes,
    vocabulary,
)
from genzoo.data.text import SPECIALS, decode, tokenize
from genzoo.errors import DataError
from tests.data.test_cifar_jpeg import members, write_archive
from tests.data.test_translation_data import idx_set


def stroke(top: tuple[float, float], bottom: tuple[float, float], width: float, value: int = 255,
           size: int = 28) -> torch.Tensor:
    """1 x 1 x size x size uint8: a straight stroke of `width` pixels from `top` to `bottom` ((row, col))."""
    r = torch.arange(size, dtype=torch.float32).view(-1, 1)
    c = torch.arange(size, dtype=torch.float32).view(1, -1)
    (r0, c0), (r1, c1) = top, bottom
    dr, dc = r1 - r0, c1 - c0
    t = (((r - r0) * dr + (c - c0) * dc) / (dr * dr + dc * dc)).clamp(0, 1)
    dist = ((r - r0 - t * dr) ** 2 + (c - c0 - t * dc) ** 2).sqrt()
    return ((dist <= width / 2).to(torch.uint8) * value).view(1, 1, size, size)


def block(rows: tuple[int, int], cols: tuple[int, int], value: int = 200) -> torch.Tensor:
    """1 x 1 x 28 x 28 uint8: a filled rectangle (a synthetic garment)."""
    x = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    x[..., rows[0]:rows[1], cols[0]:cols[1]] = value
    return x


def test_families_words_and_thresholds_agree():
    for family, names in FAMILIES.items():
        assert tuple(WORDS[family]) == names and tuple(THRESHOLDS[family]) == names
        words = [w for pair in WORDS[family].values() for w in pair]
        assert len(set(words)) == len(words)  # one word, one attribute
        assert all(lo < hi for lo, hi in THRESHOLDS[family].values())


def test_slanted_strokes_measure_as_slanted():
    right = stroke((4, 18), (24, 10), 3)  # the top to the right of the bottom: leaning right
    left = stroke((4, 10), (24, 18), 3)
    upright = stroke((4, 14), (24, 14), 3)
    s = measure(torch.cat([right, left, upright]), "digits")["slant"]
    assert s[0] == pytest.approx(8 / 20, abs=0.05) and s[1] == pytest.approx(-8 / 20, abs=0.05)
    assert abs(s[2]) < 1e-4
    assert attribute_words(torch.cat([right, left, upright]), "digits")["slant"] == ["right", "left", ""]


def test_thick_strokes_measure_thicker_than_thin_ones():
    thin, thick = stroke((4, 14), (24, 14), 1.2), stroke((4, 14), (24, 14), 5)
    t = measure(torch.cat([thin, thick]), "digits")["thickness"]
    assert t[0] == pytest.approx(1, abs=0.15) and t[1] == pytest.approx(5, abs=0.6)  # about the width
    slanted = measure(stroke((4, 18), (24, 10), 5), "digits")["thickness"]
    assert slanted[0] == pytest.approx(5, rel=0.3)
    assert attribute_words(torch.cat([thin, thick]), "digits")["thickness"] == ["thin", "thick"]


def test_small_strokes_measure_smaller_and_faint_ones_fainter():
    small, large = stroke((10, 12), (17, 15), 3), stroke((4, 8), (24, 20), 3)
    m = measure(torch.cat([small, large]), "digits")
    assert m["size"][0] < m["size"][1]
    assert attribute_words(torch.cat([small, large]), "digits")["size"] == ["small", "large"]
    faint, bright = stroke((4, 14), (24, 14), 3, value=180), stroke((4, 14), (24, 14), 3, value=255)
    assert attribute_words(torch.cat([faint, bright]), "digits")["brightness"] == ["faint", "bright"]
    assert measure(faint, "digits")["brightness"].item() == pytest.approx(180)


def test_clothes_measure_dark_light_narrow_wide_small_large():
    x = torch.cat([block((2, 26), (10, 18), 90), block((4, 24), (1, 27), 230), block((8, 16), (10, 18), 200)])
    m, w = measure(x, "clothes"), attribute_words(x, "clothes")
    assert m["brightness"].tolist() == pytest.approx([90, 230, 200])
    assert m["width"].tolist() == pytest.approx([8 / 24, 26 / 20, 1])
    assert w == {"brightness": ["dark", "light", "light"], "width": ["narrow", "wide", ""],
                 "size": ["small", "large", "small"]}


def test_photos_measure_dark_bright_dull_colourful_cool_warm():
    colours = [(255, 180, 60), (120, 170, 250), (120, 120, 120), (30, 30, 40)]  # orange, sky, grey, night
    x = torch.tensor(colours, dtype=torch.uint8).view(4, 3, 1, 1).expand(4, 3, 8, 8).contiguous()
    m = measure(x, "photos")
    assert m["saturation"].tolist() == pytest.approx([195, 130, 0, 10]) and m["warmth"][1] == -130
    assert attribute_words(x, "photos") == {"brightness": ["bright", "bright", "", "dark"],
                                            "saturation": ["colourful", "colourful", "dull", "dull"],
                                            "warmth": ["warm", "cool", "", "cool"]}
    grey = torch.full((1, 1, 8, 8), 120, dtype=torch.uint8)  # one channel: as three equal ones
    assert {a: v.tolist() for a, v in measure(grey, "photos").items()} == \
        {a: v[2:3].tolist() for a, v in m.items()}


def test_other_sizes_and_colour_are_measured_at_28_pixels():
    s28 = stroke((4, 18), (24, 10), 3)
    s56 = stroke((8, 36), (48, 20), 6, size=56)
    a, b = measure(s28, "digits"), measure(s56.expand(1, 3, 56, 56).contiguous(), "digits")
    assert b["slant"].item() == pytest.approx(a["slant"].item(), abs=0.05)
    assert b["thickness"].item() == pytest.approx(a["thickness"].item(), rel=0.25)
    assert b["size"].item() == pytest.approx(a["size"].item(), rel=0.1)


def test_empty_images_and_batches_measure_without_error():
    m = measure(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), "digits")
    assert all(v.shape == (2,) and torch.isfinite(v).all() for v in m.values())
    assert all(v.shape == (0,) for v in measure(torch.zeros(0, 1, 28, 28, dtype=torch.uint8), "clothes").values())


def test_bad_input_is_a_clear_error():
    with pytest.raises(DataError, match="uint8"):
        measure(torch.zeros(1, 1, 28, 28), "digits")
    with pytest.raises(DataError, match="digits, clothes"):
        measure(torch.zeros(1, 1, 28, 28, dtype=torch.uint8), "faces")
    with pytest.raises(DataError, match="mnist-captions"):
        caption_family("cifar10")


def test_stated_attributes():
    assert stated_attributes("a thick seven leaning right", "digits") == {"thickness": "thick", "slant": "right"}
    assert stated_attributes("A seven written thin and small.", "digits") == {"thickness": "thin", "size": "small"}
    assert stated_attributes("seven", "digits") == {}
    assert stated_attributes("a thin thick seven", "digits") == {}  # a contradiction states nothing
    assert stated_attributes("a small light sandal", "clothes") == {"size": "small", "brightness": "light"}


def test_families_and_class_words():
    assert caption_family("mnist-captions") == caption_family("mnist-mini-captions") == "digits"
    assert caption_family("fashion-captions") == "clothes"
    assert class_word("mnist-mini-captions", 7) == "seven" and class_word("fashion-captions", 5) == "sandal"
    assert class_word("fashion-captions", 9) == "ankle boot" and class_word("cifar10-captions", 1) == "car"
    assert caption_family("cifar10-captions") == caption_family("cifar10-jpeg") == "photos"
    with pytest.raises(DataError, match="0..9"):
        class_word("mnist-captions", 10)


# ---- captions -------------------------------------------------------------------------------------------------
def test_templates_by_hand():
    words = [("thickness", "thick"), ("slant", "right")]
    assert caption("digits", 7, words, "before") == "a thick seven leaning right"
    assert caption("digits", 7, [("thickness", "thin"), ("size", "small")], "after") == "a seven written thin and small"
    assert caption("digits", 7, words, "bare") == "seven"
    assert caption("digits", 8, [("slant", "left")], "picture") == "a picture of an eight leaning left"
    assert caption("digits", 1, [], "before") == "a one"
    assert caption("clothes", 5, [("size", "small"), ("brightness", "light")], "before") == "a small light sandal"
    assert caption("clothes", 9, [], "after") == "an ankle boot"
    assert caption("clothes", 1, [("brightness", "dark"), ("width", "wide")], "after") == \
        "a pair of trousers that is dark and wide"


def test_vocabulary_is_fixed_and_holds_every_word():
    for family in FAMILIES:
        vocab = vocabulary(family)
        assert vocab[:3] == SPECIALS and list(vocab[3:]) == sorted(vocab[3:])
        words = {w for pair in WORDS[family].values() for w in pair}
        words |= {w for c in CLASS_WORDS[family] for w in tokenize(c)}
        assert words <= set(vocab)
    assert caption_length("digits") == 11 and caption_length("clothes") == 11 and caption_length("photos") == 9


def test_captions_state_the_class_and_the_measured_words():
    data = load("mnist-mini-captions", "test", limit=300)
    base = load("mnist-mini", "test", limit=300)
    assert torch.equal(data.images, base.images) and torch.equal(data.labels, base.labels)
    assert data.captions.shape == (300, K, caption_length("digits")) and data.vocab == vocabulary("digits")
    measured = attribute_words(data.images, "digits")
    seen = set()
    for i in range(300):
        for ids in data.captions[i]:
            text = decode(ids, data.vocab)
            assert class_word("mnist-mini-captions", int(data.labels[i])) in tokenize(text)
            for attr, word in stated_attributes(text, "digits").items():
                assert measured[attr][i] == word, (i, text)
                seen.add(word)
    assert seen == {w for pair in WORDS["digits"].values() for w in pair}  # every word turns up somewhere


def test_captions_are_seeded():
    data = load("mnist-mini", "test", limit=200)
    levels = attribute_levels(data.images, "digits")
    a, b = caption_ids(data.labels, levels, "digits", 3), caption_ids(data.labels, levels, "digits", 3)
    assert torch.equal(a, b) and not torch.equal(a, caption_ids(data.labels, levels, "digits", 4))
    texts = caption_texts(data.labels, levels, "digits", 3)
    assert [[decode(c, vocabulary("digits")) for c in row] for row in a] == texts
    assert len({s for row in texts for s in row}) > 100  # varied: templates, subsets and orders


def test_all_splits_share_one_vocabulary():
    """'all' is train then test, each captioned with its own seed in the one vocabulary (and loading again
    gives the same captions)."""
    test, both = load("mnist-mini-captions", "test"), load("mnist-mini-captions", "all")
    assert test.vocab == both.vocab == vocabulary("digits")
    assert both.captions.shape == (12000, K, caption_length("digits"))
    assert torch.equal(both.captions[10000:], test.captions)
    assert both.spec.vocab == vocabulary("digits") and both.spec.caption_length == caption_length("digits")
    assert not torch.equal(both.captions[:2000], test.captions)  # each split its own draws


def test_fashion_and_mnist_captions_from_their_files(tmp_path):
    idx_set(tmp_path / "fashion-mnist", 24, 10, seed=0)
    idx_set(tmp_path / "mnist", 20, 10, seed=1)
    clothes = load("fashion-captions", "all", tmp_path)
    assert clothes.name == "fashion-captions" and clothes.vocab == vocabulary("clothes")
    assert clothes.captions.shape == (34, K, caption_length("clothes"))
    for i in range(34):
        for ids in clothes.captions[i]:
            assert class_word("fashion-captions", int(clothes.labels[i])) in decode(ids, clothes.vocab)
    digits = load("mnist-captions", "train", tmp_path, image_size=32)
    assert digits.shape == (1, 32, 32) and digits.vocab == vocabulary("digits") and len(digits.captions) == 20


def test_data_info_shows_captions_and_the_vocabulary(cli):
    r = cli("data", "info", "mnist-mini-captions", check=True)
    assert "captions: 5 per image" in r.stdout and "vocabulary of" in r.stdout
    assert "thick thin three" in r.stdout  # the vocabulary, in order
    assert "image 0 (5): " in r.stdout and "five" in r.stdout.split("image 0 (5): ")[1].splitlines()[0]


def test_cifar10_captions_from_the_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # its own decoded-CIFAR cache
    monkeypatch.setattr(cache, "_MD5S", {})
    write_archive(tmp_path / "cifar10-jpeg", members())
    photos = load("cifar10-captions", "all", tmp_path)
    assert photos.shape == (3, 32, 32) and photos.vocab == vocabulary("photos")
    assert photos.captions.shape == (50, K, caption_length("photos"))
    measured = attribute_words(photos.images, "photos")
    for i in range(50):
        for ids in photos.captions[i]:
            text = decode(ids, photos.vocab)
            assert class_word("cifar10-captions", int(photos.labels[i])) in tokenize(text)
            assert all(measured[a][i] == w for a, w in stated_attributes(text, "photos").items())
