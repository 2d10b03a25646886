"""genzoo.data.captions: attributes measured on synthetic strokes and shapes, words, captions, datasets."""

import pytest
import torch

from genzoo.data.captions import (
    FAMILIES,
    THRESHOLDS,
    WORDS,
    attribute_words,
    caption_family,
    class_word,
    measure,
    stated_attributes,
)
from genzoo.errors import DataError


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
    assert class_word("fashion-captions", 9) == "ankle boot"
    with pytest.raises(DataError, match="0..9"):
        class_word("mnist-captions", 10)
