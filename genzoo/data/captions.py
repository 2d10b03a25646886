"""Captioned digits and clothes: attributes measured on each image, and template captions built from them.

Measurement (`measure`, vectorised over the batch; digits and clothes of another size are resized to 28 x 28
first, as the thresholds below were measured there, and colour images are taken as their BT.601 luminance):

digits (MNIST), white ink on black; "ink" is a pixel of at least `INK` (128):
    thickness   the width of the rectangle with the ink's area A and boundary length P, in pixels: the smaller
                root t of t^2 - (P/2) t + A = 0 (A = t L, P = 2 (t + L)). P is the number of ink/background
                transitions between 4-neighbours (the image border counts as background). A long stroke of
                width t measures about t whatever its length and curvature; it needs no thinning. (Slanted
                strokes' boundaries are stairs, so they measure up to ~25% thinner at 45 degrees.)
    slant       the shear of the ink, from its central moments (intensity-weighted): -mu11 / mu02, where rows
                grow downwards; the horizontal shift per row going up. > 0: the top leans right, < 0: left.
    size        the ink's extent: the square root of its bounding box's height x width, in pixels. (MNIST
                scales every digit to a 20-pixel box, so this mostly tells narrow from wide digits: 85% of
                the ones are "small".)
    brightness  the mean intensity (0..255) of the ink pixels. (Thin strokes have fewer saturated pixels:
                its correlation with thickness on MNIST is 0.75.)

clothes (Fashion-MNIST), the garment bright on a black (0) background; "garment" is a pixel of at least
`GARMENT` (16):
    brightness  the mean intensity (0..255) of the garment pixels: dark or light.
    width       the bounding box's width over its height: narrow or wide.
    size        the fraction of the image the garment covers: small or large.

photos (CIFAR-10, JPEG copy), colour, measured at any size (grey images as three equal channels):
    brightness  the mean luminance (BT.601, 0..255): dark or bright.
    saturation  the mean over pixels of max(R, G, B) - min(R, G, B): dull or colourful.
    warmth      the mean of R - B: cool (bluer than red) or warm.

Words: each measurement becomes a word with two thresholds (`THRESHOLDS`), the 1/3 and 2/3 quantiles of the
measurement on the training set (the first 10,000 MNIST training images, as embedded in mnist-mini, for the
digits; the 60,000 Fashion-MNIST training images for the clothes; the 50,000 CIFAR-10 (JPEG copy) training
images for the photos; the figures are written beside them): below
the low one the first word ("thin"), above the high one the second ("thick"), in between no word (''). The
slant's thresholds are not the quantiles (most MNIST digits lean right, so its lower third would call many a
right-leaning digit "left"): they are +-0.15 around upright, so the sign of a stated slant is the sign of the
measured one. The thresholds are constants: every split, and every generated sample, is judged on one scale.

Captions (`make_captions` from images and labels; `caption_ids` / `caption_texts` from measured levels): K = 5
per image, from templates (`TEMPLATES`: the bare class word 10%, adjectives before the noun 40%, after it 30%,
"a picture of ..." 20%) over its class word (always present: "seven", "ankle boot") and a random subset (each
worded attribute kept with probability `INCLUDE`, 0.6), in random order, of its attribute words, e.g. "a thick
seven leaning right", "a small light sandal", "seven", "a seven written thin and small". The draws come from a
torch.Generator seeded by `caption_seed(dataset name, split)` (CRC-32 of "name/split"): the same captions on
every load. The vocabulary
(`vocabulary(family)`) is every word the templates can use, fixed before any data is seen, so every split (and
'all', their concatenation) shares it.

Datasets: `mnist-captions`, `mnist-mini-captions` (embedded: needs no files), `fashion-captions` and
`cifar10-captions` (from cifar10-jpeg).
"""

from __future__ import annotations

import dataclasses
import functools
import zlib

import torch
import torch.nn.functional as F

from genzoo.data.catalog import DATASETS, Request, derived_dataset
from genzoo.data.imageset import ImageSet
from genzoo.data.text import build_vocab, encode_captions, tokenize
from genzoo.errors import DataError
from genzoo.nn import single_thread

SIZE = 28  # the side at which the thresholds were measured; other sizes are resized to it
INK = 128  # a digit pixel at least this bright is ink (thickness, size)
GARMENT = 16  # a clothes pixel at least this bright belongs to the garment

FAMILIES: dict[str, tuple[str, ...]] = {
    "digits": ("thickness", "slant", "size", "brightness"),
    "clothes": ("brightness", "width", "size"),
    "photos": ("brightness", "saturation", "warmth"),
}

# attribute -> (word below the low threshold, word above the high one)
WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "digits": {"thickness": ("thin", "thick"), "slant": ("left", "right"), "size": ("small", "large"),
               "brightness": ("faint", "bright")},
    "clothes": {"brightness": ("dark", "light"), "width": ("narrow", "wide"), "size": ("small", "large")},
    "photos": {"brightness": ("dark", "bright"), "saturation": ("dull", "colourful"), "warmth": ("cool", "warm")},
}

# attribute -> (low, high) thresholds: the 1/3 and 2/3 quantiles on the training set, rounded (beside them the
# quantiles on the 60,000 MNIST training images, for comparison), except the slant's (see the module docstring)
THRESHOLDS: dict[str, dict[str, tuple[float, float]]] = {
    "digits": {  # mnist-mini train (the first 10,000 MNIST training images)
        "thickness": (1.817, 2.308),  # quantiles 1.8172, 2.3085 (all MNIST: 1.8220, 2.3015)
        "slant": (-0.15, 0.15),  # quantiles 0.0062, 0.2464 (all MNIST: -0.0101, 0.2236); median 0.125
        "size": (16.12, 17.89),  # quantiles 16.1245 = sqrt 260, 17.8885 = sqrt 320 (all MNIST: the same)
        "brightness": (223.4, 229.8),  # quantiles 223.42, 229.82 (all MNIST: 223.24, 229.67)
    },
    "clothes": {  # Fashion-MNIST train (60,000 images)
        "brightness": (140.4, 181.4),  # quantiles 140.40, 181.43
        "width": (0.714, 1.077),  # quantiles 0.7143 = 20/28, 1.0769 = 28/26
        "size": (0.375, 0.551),  # quantiles 0.3750, 0.5510
    },
    "photos": {  # CIFAR-10 (JPEG copy) train (50,000 images)
        "brightness": (109.1, 133.6),  # quantiles 109.13, 133.56
        "saturation": (21.45, 37.82),  # quantiles 21.449, 37.815
        "warmth": (0.0, 22.47),  # quantiles 1.486, 22.474; low at 0: "cool" is bluer than red (31% of them)
    },
}

CLASS_WORDS: dict[str, tuple[str, ...]] = {
    "digits": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "clothes": ("t-shirt", "trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                "ankle boot"),
    "photos": ("airplane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}

# captioned dataset -> (its base dataset, its family)
CAPTIONED: dict[str, tuple[str, str]] = {
    "mnist-captions": ("mnist", "digits"),
    "mnist-mini-captions": ("mnist-mini", "digits"),
    "fashion-captions": ("fashion-mnist", "clothes"),
    "cifar10-captions": ("cifar10-jpeg", "photos"),
}


# the captioned datasets, for error messages that tell the user what to train on
CAPTIONED_SETS = ", ".join(CAPTIONED) + " (mnist-mini-captions is embedded: no files needed)"


def _family(family: str) -> str:
    if family not in FAMILIES:
        raise DataError(f"unknown caption family {family!r} (choose from {', '.join(FAMILIES)})")
    return family


def caption_family(dataset_name: str) -> str:
    """The family ('digits', 'clothes' or 'photos') of a captioned dataset's images (also accepts its base
    dataset)."""
    for name, (base, family) in CAPTIONED.items():
        if dataset_name in (name, base):
            return family
    raise DataError(f"dataset {dataset_name!r} has no captions (captioned datasets: {', '.join(CAPTIONED)})")


def class_word(dataset_name: str, label: int) -> str:
    """The words captions use for class `label` of a captioned dataset: e.g. 'seven', 'sandal', 'ankle boot'."""
    words = CLASS_WORDS[caption_family(dataset_name)]
    if not 0 <= int(label) < len(words):
        raise DataError(f"class {label} is outside 0..{len(words) - 1} for {dataset_name!r}")
    return words[int(label)]


# ---- measurement ------------------------------------------------------------------------------------------------
_CHUNK = 1024  # images per vectorised step (small enough to stay in the CPU cache: ~2x faster than 8192)


def _prepare(images: torch.Tensor, family: str) -> torch.Tensor:
    """uint8 N x C x H x W -> float in 0..255: photos N x 3 x H x W (grey images as 3 equal channels), digits
    and clothes N x 28 x 28 luminance."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4 \
            or images.shape[1] not in (1, 3):
        raise DataError("measure() takes uint8 images N x C x H x W with 1 or 3 channels (genzoo.data.to_uint8 "
                        f"converts model outputs), got {getattr(images, 'dtype', type(images))} "
                        f"{tuple(getattr(images, 'shape', ()))}")
    x = images.float()
    if family == "photos":
        return x.expand(-1, 3, -1, -1)
    if x.shape[1] == 3:
        x = (x * torch.tensor((0.299, 0.587, 0.114)).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if x.shape[2:] != (SIZE, SIZE):
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", antialias=True, align_corners=False)
    return x[:, 0]


def _bbox(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Height and width (pixels) of the bounding box of each N x H x W 0/1 float mask (0 where empty)."""
    def extent(profile: torch.Tensor) -> torch.Tensor:
        hit = (profile > 0).to(torch.uint8)
        first = hit.argmax(1)  # the first hit (argmax returns the first maximum)
        last = hit.shape[1] - 1 - hit.flip(1).argmax(1)
        return (last - first + 1).float() * hit.amax(1)

    return extent(mask.sum(2)), extent(mask.sum(1))


def _boundary(mask: torch.Tensor) -> torch.Tensor:
    """Ink/background transitions between 4-neighbours of each N x H x W 0/1 float mask (the border counts as
    background): each run of ink along a row or column has two ends, and a row holds (ink pixels - adjacent
    ink pairs) runs."""
    pairs = (mask[:, :, 1:] * mask[:, :, :-1]).sum((1, 2)) + (mask[:, 1:] * mask[:, :-1]).sum((1, 2))
    return 2 * (2 * mask.sum((1, 2)) - pairs)


def _slant(x: torch.Tensor) -> torch.Tensor:
    """-mu11 / mu02 of the intensity: > 0 when the top of the ink lies to the right of its bottom. The moments
    come from the row and column profiles and one matrix product (no N x H x W temporaries)."""
    h, w = x.shape[1:]
    ys = torch.arange(h, dtype=torch.float32) - (h - 1) / 2  # centred coordinates keep float32 sums small
    xs = torch.arange(w, dtype=torch.float32) - (w - 1) / 2
    rows, cols = x.sum(2), x.sum(1)  # N x H, N x W
    m = rows.sum(1).clamp(min=1e-6)
    cy, cx = rows @ ys / m, cols @ xs / m
    mu02 = rows @ (ys * ys) / m - cy * cy
    mu11 = (x @ xs) @ ys / m - cx * cy
    return -mu11 / mu02.clamp(min=1e-6)


def _measure_digits(x: torch.Tensor) -> dict[str, torch.Tensor]:
    ink = (x >= INK).float()
    area = ink.sum((1, 2))
    height, width = _bbox(ink)
    half = _boundary(ink) / 2
    return {"thickness": (half - (half * half - 4 * area).clamp(min=0).sqrt()) / 2,
            "slant": _slant(x),
            "size": (height * width).sqrt(),
            "brightness": (x * ink).sum((1, 2)) / area.clamp(min=1)}


def _measure_clothes(x: torch.Tensor) -> dict[str, torch.Tensor]:
    cloth = (x >= GARMENT).float()
    n = cloth.sum((1, 2))
    height, width = _bbox(cloth)
    return {"brightness": (x * cloth).sum((1, 2)) / n.clamp(min=1),
            "width": width / height.clamp(min=1),
            "size": n / (x.shape[1] * x.shape[2])}


def _measure_photos(x: torch.Tensor) -> dict[str, torch.Tensor]:
    r, g, b = x.unbind(1)
    return {"brightness": (0.299 * r + 0.587 * g + 0.114 * b).mean((1, 2)),
            "saturation": (x.amax(1) - x.amin(1)).mean((1, 2)),
            "warmth": (r - b).mean((1, 2))}


def measure(images_uint8: torch.Tensor, family: str) -> dict[str, torch.Tensor]:
    """The attributes of `family` (FAMILIES[family]) measured on each image: {name: float tensor of N}.

    `images_uint8`: N x 1 (or 3) x H x W uint8. See the module docstring for what each measures."""
    measure_one = {"digits": _measure_digits, "clothes": _measure_clothes, "photos": _measure_photos}[
        _family(family)]
    _prepare(images_uint8[:0], family)  # checks the input
    with single_thread():
        parts = [measure_one(_prepare(images_uint8[i:i + _CHUNK], family))
                 for i in range(0, max(len(images_uint8), 1), _CHUNK)]
    return {a: torch.cat([p[a] for p in parts]).float() for a in FAMILIES[family]}


def attribute_levels(images_uint8: torch.Tensor, family: str) -> dict[str, torch.Tensor]:
    """Each attribute as a level per image: -1 (the low word), 0 (neutral: no word), +1 (the high word)."""
    out = {}
    for a, v in measure(images_uint8, family).items():
        lo, hi = THRESHOLDS[family][a]
        out[a] = (v > hi).to(torch.int64) - (v < lo).to(torch.int64)
    return out


def attribute_words(images_uint8: torch.Tensor, family: str) -> dict[str, list[str]]:
    """For each attribute of `family`, its word for each image ('' in the neutral band), e.g.
    {'thickness': ['thick', '', 'thin', ...], 'slant': ['right', ...], ...}."""
    out = {}
    for a, level in attribute_levels(images_uint8, family).items():
        low, high = WORDS[family][a]
        names = ("", high, low)  # indexed by level: 0, 1, -1
        out[a] = [names[v] for v in level.tolist()]
    return out


def stated_attributes(text: str, family: str) -> dict[str, str]:
    """The attribute words a caption states: e.g. 'a thick seven leaning right' -> {'thickness': 'thick',
    'slant': 'right'}. An attribute whose two words both appear (a contradiction) is left out."""
    words = set(tokenize(text))
    out = {}
    for a, pair in WORDS[_family(family)].items():
        said = [w for w in pair if w in words]
        if len(said) == 1:
            out[a] = said[0]
    return out


# ---- captions -----------------------------------------------------------------------------------------------
K = 5  # captions per image
INCLUDE = 0.6  # each attribute that has a word is mentioned in a caption with this probability
# template -> its probability: the bare class word, adjectives before the noun, a phrase after it, "a picture of"
TEMPLATES = {"bare": 0.1, "before": 0.4, "after": 0.3, "picture": 0.2}
PHRASES = {"slant": "leaning"}  # attributes said after the noun: "a seven leaning right"
_ARTICLE = {"trousers": "a pair of"}  # else 'a', or 'an' before a vowel sound


def _article(noun: str, phrase: str) -> str:
    """The article of `phrase` (which ends in `noun`): 'a pair of' trousers, 'an' before a vowel sound, else 'a'."""
    first = phrase.split()[0]
    if noun in _ARTICLE:
        return _ARTICLE[noun]
    return "an" if first[0] in "aeiou" and first != "one" else "a"


def caption(family: str, label: int, words: list[tuple[str, str]], template: str) -> str:
    """One caption of class `label` stating `words` ((attribute, word) pairs, in the order given) with
    `template` (one of TEMPLATES), e.g. 'before' -> 'a thick seven leaning right'."""
    noun = CLASS_WORDS[family][label]
    if template == "bare":
        return noun
    adjs = [w for a, w in words if a not in PHRASES]
    post = "".join(f" {PHRASES[a]} {w}" for a, w in words if a in PHRASES)
    if template == "after" and adjs:  # 'a seven written thin and small', 'a sandal that is dark and wide'
        joined = " ".join(adjs[:-1]) + " and " + adjs[-1] if len(adjs) > 1 else adjs[0]
        how = " written " if family == "digits" else " that is "
        return f"{_article(noun, noun)} {noun}{how}{joined}{post}"
    phrase = " ".join(adjs + [noun])
    text = f"{_article(noun, phrase)} {phrase}{post}"
    return f"a picture of {text}" if template == "picture" else text


def _extremes(family: str) -> list[str]:
    """Every template for every class with all attributes at their low, and at their high, words."""
    out = []
    for label in range(len(CLASS_WORDS[family])):
        for side in (0, 1):
            words = [(a, pair[side]) for a, pair in WORDS[family].items()]
            out += [caption(family, label, words, t) for t in TEMPLATES]
    return out


@functools.cache
def vocabulary(family: str) -> tuple[str, ...]:
    """Every word a caption of `family` can use (after genzoo.data.text's special tokens), fixed: the same for
    every split and every dataset of the family."""
    return build_vocab(_extremes(_family(family)))


@functools.cache
def caption_length(family: str) -> int:
    """The stored length (ids) of every caption of `family`: its longest possible caption + <eos>."""
    return 1 + max(len(tokenize(s)) for s in _extremes(_family(family)))


def caption_seed(dataset_name: str, split: str) -> int:
    """The seed of a captioned split's draws: CRC-32 of 'name/split' (stable across processes and versions)."""
    return zlib.crc32(f"{dataset_name}/{split}".encode())


def _draws(labels: torch.Tensor, levels: dict[str, torch.Tensor], family: str, seed: int, k: int
           ) -> tuple[list[tuple[int, list[tuple[str, str]], str]], torch.Tensor]:
    """The random choices of K captions per image, as (the distinct captions' (label, words, template), an
    N x K index into them): each caption's template (TEMPLATES' probabilities), which worded attributes it keeps
    (each with probability INCLUDE) and their order, all drawn at once from a torch.Generator seeded with `seed`."""
    names, c = FAMILIES[_family(family)], len(CLASS_WORDS[family])
    n, a, g = len(labels), len(names), torch.Generator().manual_seed(seed)
    template = torch.multinomial(torch.tensor(list(TEMPLATES.values())), n * k, replacement=True,
                                 generator=g).view(n, k)
    keep = torch.rand(n, k, a, generator=g) < INCLUDE
    rank = torch.rand(n, k, a, generator=g)
    level = torch.stack([levels[x].long().view(-1) for x in names], 1) if a else torch.zeros(n, 0)
    said = level.view(n, 1, a) * keep * (template != 0).unsqueeze(-1)  # -1 / +1: the low / high word; 0: none
    # the said attributes first, in random order (the bare template, 0, says none)
    order = torch.where(said != 0, rank, 2.0).argsort(stable=True, dim=-1)
    order = order * (torch.arange(a) < (said != 0).sum(-1, keepdim=True))  # unsaid places: 0, so one code each
    # one integer per caption (label, template, order, what is said), so that each distinct caption is made once
    code = labels.long().view(n, 1) + c * (template + len(TEMPLATES) * (
        (order * a ** torch.arange(a)).sum(-1) + a ** a * ((said + 1) * 3 ** torch.arange(a)).sum(-1)))
    # the distinct codes, and each caption's index among them (a table over all codes: torch.unique sorts, slower)
    seen = torch.zeros(c * len(TEMPLATES) * a ** a * 3 ** a, dtype=torch.bool)
    seen[code.view(-1)] = True
    keys = seen.nonzero().view(-1)
    inverse = (seen.cumsum(0) - 1)[code.view(-1)]
    unique = []
    for key in keys.tolist():
        label, rest = key % c, key // c
        t, rest = rest % len(TEMPLATES), rest // len(TEMPLATES)
        perm, state = rest % a ** a, rest // a ** a
        st = [state // 3 ** i % 3 - 1 for i in range(a)]
        idx = [perm // a ** i % a for i in range(sum(v != 0 for v in st))]
        words = [(names[i], WORDS[family][names[i]][(st[i] + 1) // 2]) for i in idx]
        unique.append((label, words, list(TEMPLATES)[t]))
    return unique, inverse.view(n, k)


def caption_texts(labels: torch.Tensor, levels: dict[str, torch.Tensor], family: str, seed: int,
                  k: int = K) -> list[list[str]]:
    """K captions (strings) for each image from its label and attribute levels (`attribute_levels`); the draws
    as `caption_ids`, which gives the same captions as ids."""
    unique, inverse = _draws(labels, levels, family, seed, k)
    texts = [caption(family, *u) for u in unique]
    return [[texts[j] for j in row] for row in inverse.tolist()]


def caption_ids(labels: torch.Tensor, levels: dict[str, torch.Tensor], family: str, seed: int,
                k: int = K) -> torch.Tensor:
    """K captions for each image, from its label and attribute levels (`attribute_levels`), as N x K x
    caption_length(family) int64 ids in vocabulary(family) (words, <eos>, <pad>s; see genzoo.data.text)."""
    with single_thread():
        unique, inverse = _draws(labels, levels, family, seed, k)
    length = caption_length(family)
    table = torch.zeros(max(len(unique), 1), length, dtype=torch.int64)
    if unique:
        table, _ = encode_captions([[caption(family, *u)] for u in unique], vocabulary(family))
        table = F.pad(table[:, 0], (0, length - table.shape[2]))
    return table[inverse]


def make_captions(images_uint8: torch.Tensor, labels: torch.Tensor, family: str, seed: int,
                  k: int = K) -> torch.Tensor:
    """K captions for each image (N x K x L ids in vocabulary(family)), from its label and measured attributes."""
    return caption_ids(labels, attribute_levels(images_uint8, family), family, seed, k)


# ---- datasets -----------------------------------------------------------------------------------------------
def with_captions(data: ImageSet, name: str, family: str, seed: int) -> ImageSet:
    """`data` (labelled) with K captions per image (`make_captions`) in vocabulary(family), renamed `name`."""
    if data.labels is None:
        raise DataError(f"{name}: captions need the class of each image, and {data.name!r} has no labels")
    return dataclasses.replace(data, captions=make_captions(data.images, data.labels, family, seed),
                               vocab=vocabulary(family), name=name)


def _captioned(base: ImageSet, req: Request) -> ImageSet:
    return with_captions(base, req.name, caption_family(req.name), caption_seed(req.name, req.split))


_ABOUT = {"digits": ("thickness, slant, size, brightness", "a thick seven leaning right"),
          "clothes": ("brightness (dark/light), width (narrow/wide), size", "a small light sandal"),
          "photos": ("brightness, saturation (dull/colourful), warmth (cool/warm)", "a dark colourful frog")}
for _name, (_base, _fam) in CAPTIONED.items():
    _ds = DATASETS[_base]
    derived_dataset(
        _name, f"{_base} with {K} template captions per image from its class and attributes measured on it "
        f"({_ABOUT[_fam][0]}), e.g. {_ABOUT[_fam][1]!r}; for text-to-image and captioning (genzoo.data.captions)",
        base=_base, shape=_ds.shape, num_classes=_ds.num_classes, class_names=_ds.class_names,
        hflip_ok=_ds.hflip_ok, license=_ds.license)(_captioned)
