"""Captioned digits and clothes: attributes measured on each image, and template captions built from them.

Measurement (`measure`, vectorised over the batch; images of another size are resized to 28 x 28 first, as
the thresholds below were measured there; colour images are taken as their BT.601 luminance):

digits (MNIST), white ink on black; "ink" is a pixel of at least `INK` (128):
    thickness   the width of the rectangle with the ink's area A and boundary length P, in pixels: the smaller
                root t of t^2 - (P/2) t + A = 0 (A = t L, P = 2 (t + L)). P is the number of ink/background
                transitions between 4-neighbours (the image border counts as background). A long stroke of
                width t measures about t whatever its length and curvature; it needs no thinning. (Slanted
                strokes' boundaries are stairs, so they measure up to ~25% thinner at 45 degrees.)
    slant       the shear of the ink, from its central moments (intensity-weighted): -mu11 / mu02, where rows
                grow downwards; the horizontal shift per row going up. > 0: the top leans right, < 0: left.
    size        the ink's extent: the square root of its bounding box's height x width, in pixels.
    brightness  the mean intensity (0..255) of the ink pixels.

clothes (Fashion-MNIST), the garment bright on a black (0) background; "garment" is a pixel of at least
`GARMENT` (16):
    brightness  the mean intensity (0..255) of the garment pixels: dark or light.
    width       the bounding box's width over its height: narrow or wide.
    size        the fraction of the image the garment covers: small or large.

Words: each measurement becomes a word with two thresholds (`THRESHOLDS`), the 1/3 and 2/3 quantiles of the
measurement on the training set (the first 10,000 MNIST training images, as embedded in mnist-mini, for the
digits; the 60,000 Fashion-MNIST training images for the clothes; the figures are written beside them): below
the low one the first word ("thin"), above the high one the second ("thick"), in between no word (''). The
slant's thresholds are not the quantiles (most MNIST digits lean right, so its lower third would call many a
right-leaning digit "left"): they are +-0.15 around upright, so the sign of a stated slant is the sign of the
measured one. The thresholds are constants: every split, and every generated sample, is judged on one scale.

Captions (`captions_for`): K = 5 per image, from templates over its class word (always present: "seven",
"ankle boot") and a random subset, in random order, of its attribute words, e.g. "a thick seven leaning right",
"a small light sandal", "seven", "a seven written thin and small". The draws come from a torch.Generator seeded
by `caption_seed(dataset name, split)` (CRC-32 of "name/split"): the same captions on every load. The vocabulary
(`vocabulary(family)`) is every word the templates can use, fixed before any data is seen, so every split (and
'all', their concatenation) shares it.

Datasets: `mnist-captions`, `mnist-mini-captions` (embedded: needs no files) and `fashion-captions`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genzoo.data.text import tokenize
from genzoo.errors import DataError

SIZE = 28  # the side at which the thresholds were measured; other sizes are resized to it
INK = 128  # a digit pixel at least this bright is ink (thickness, size)
GARMENT = 16  # a clothes pixel at least this bright belongs to the garment

FAMILIES: dict[str, tuple[str, ...]] = {
    "digits": ("thickness", "slant", "size", "brightness"),
    "clothes": ("brightness", "width", "size"),
}

# attribute -> (word below the low threshold, word above the high one)
WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "digits": {"thickness": ("thin", "thick"), "slant": ("left", "right"), "size": ("small", "large"),
               "brightness": ("faint", "bright")},
    "clothes": {"brightness": ("dark", "light"), "width": ("narrow", "wide"), "size": ("small", "large")},
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
}

CLASS_WORDS: dict[str, tuple[str, ...]] = {
    "digits": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "clothes": ("t-shirt", "trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                "ankle boot"),
}

# captioned dataset -> (its base dataset, its family)
CAPTIONED: dict[str, tuple[str, str]] = {
    "mnist-captions": ("mnist", "digits"),
    "mnist-mini-captions": ("mnist-mini", "digits"),
    "fashion-captions": ("fashion-mnist", "clothes"),
}


def _family(family: str) -> str:
    if family not in FAMILIES:
        raise DataError(f"unknown caption family {family!r} (choose from {', '.join(FAMILIES)})")
    return family


def caption_family(dataset_name: str) -> str:
    """The family ('digits' or 'clothes') of a captioned dataset's images (also accepts its base dataset)."""
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
_CHUNK = 8192  # images per vectorised step (bounds the float memory)


def _prepare(images: torch.Tensor) -> torch.Tensor:
    """uint8 N x C x H x W -> float N x 28 x 28 luminance in 0..255."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4 \
            or images.shape[1] not in (1, 3):
        raise DataError("measure() takes uint8 images N x C x H x W with 1 or 3 channels (genzoo.data.to_uint8 "
                        f"converts model outputs), got {getattr(images, 'dtype', type(images))} "
                        f"{tuple(getattr(images, 'shape', ()))}")
    x = images.float()
    if x.shape[1] == 3:
        x = (x * torch.tensor((0.299, 0.587, 0.114)).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if x.shape[2:] != (SIZE, SIZE):
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", antialias=True, align_corners=False)
    return x[:, 0]


def _bbox(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Height and width (pixels) of the bounding box of each N x H x W mask (0 where empty)."""
    def extent(any_: torch.Tensor) -> torch.Tensor:
        n = any_.shape[1]
        first = any_.to(torch.uint8).argmax(1)  # the first True (argmax returns the first maximum)
        last = n - 1 - any_.flip(1).to(torch.uint8).argmax(1)
        return ((last - first + 1) * any_.any(1)).float()

    return extent(mask.any(2)), extent(mask.any(1))


def _boundary(mask: torch.Tensor) -> torch.Tensor:
    """Ink/background transitions between 4-neighbours (the border counts as background)."""
    m = F.pad(mask.to(torch.uint8), (1, 1, 1, 1)).bool()
    return ((m[:, :, 1:] ^ m[:, :, :-1]).sum((1, 2)) + (m[:, 1:] ^ m[:, :-1]).sum((1, 2))).float()


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
    ink = x >= INK
    area = ink.sum((1, 2)).float()
    height, width = _bbox(ink)
    half = _boundary(ink) / 2
    return {"thickness": (half - (half * half - 4 * area).clamp(min=0).sqrt()) / 2,
            "slant": _slant(x),
            "size": (height * width).sqrt(),
            "brightness": (x * ink).sum((1, 2)) / area.clamp(min=1)}


def _measure_clothes(x: torch.Tensor) -> dict[str, torch.Tensor]:
    cloth = x >= GARMENT
    n = cloth.sum((1, 2)).float()
    height, width = _bbox(cloth)
    return {"brightness": (x * cloth).sum((1, 2)) / n.clamp(min=1),
            "width": width / height.clamp(min=1),
            "size": n / (x.shape[1] * x.shape[2])}


def measure(images_uint8: torch.Tensor, family: str) -> dict[str, torch.Tensor]:
    """The attributes of `family` (FAMILIES[family]) measured on each image: {name: float tensor of N}.

    `images_uint8`: N x 1 (or 3) x H x W uint8. See the module docstring for what each measures."""
    measure_one = {"digits": _measure_digits, "clothes": _measure_clothes}[_family(family)]
    x = _prepare(images_uint8)
    parts = [measure_one(x[i:i + _CHUNK]) for i in range(0, max(len(x), 1), _CHUNK)]
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
