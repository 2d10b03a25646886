"""Image-to-image translation data (pix2pix, CycleGAN): `ImageSet`s whose `sources` are domain A and whose
`images` are domain B (see `genzoo.data.imageset.ImageSet`).

Paired (pix2pix, Isola et al. 2017: `sources[i]` is the input whose translation is `images[i]`), built from
each image by a fixed filter, so they need no randomness:

    fashion-edges   Fashion-MNIST: edges (1 x 28 x 28) -> the garment (1 x 28 x 28)
    cifar10-edges   CIFAR-10 (JPEG copy): edges (1 x 32 x 32) -> the photo (3 x 32 x 32)
    cifar10-grey    CIFAR-10 (JPEG copy): colourization, the luminance (1 x 32 x 32) -> the photo

Unpaired (CycleGAN, Zhu et al. 2017: two independent collections, stored with equal counts):

    mnist-to-mnistm   MNIST digits -> MNIST-M digits (made from a different, seeded permutation of MNIST)
    mnist-to-fashion  MNIST digits -> Fashion-MNIST clothes

`mnist-m` (Ganin & Lempitsky 2015) is a plain labelled 3 x 28 x 28 digit set (no sources), usable by every
model: each MNIST digit difference-blended over a random 28 x 28 patch of a CIFAR-10 (JPEG copy) photo.

Your own data: `pairs:DIR_A,DIR_B` (paired by file stem) and `unpaired:DIR_A,DIR_B`, read as `folder:` reads
an image folder (train/ and test/ subfolders give those splits).

Labels are domain B's classes; `source_labels` domain A's. Sets needing two base datasets (mnist-m and what is
made of it, mnist-to-fashion) are derived from mnist and load the other base themselves, from the same data
folder, with a message naming it when it is missing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F

from genzoo.data.catalog import DATASETS, DatasetInfo, Request, derived_dataset, locate, register_family
from genzoo.data.folder import PREFIX as FOLDER_PREFIX
from genzoo.data.folder import class_folders, list_images
from genzoo.data.images import IMAGE_SUFFIXES, decode_many
from genzoo.data.imageset import ImageSet
from genzoo.errors import DataError

# ---- filters ----------------------------------------------------------------------------------------------
BT601 = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights of R, G, B
EDGE_FRACTION = 0.3  # an edge pixel's gradient is at least this fraction of its image's strongest gradient...
EDGE_FLOOR = 40.0  # ... and at least this Sobel magnitude (a step of 10 grey levels): flat noise has no edges
_CHUNK = 2048  # images per step of the vectorised filters (bounds the float32 memory)


def grey(images: torch.Tensor) -> torch.Tensor:
    """N x C x H x W uint8 -> N x 1 x H x W uint8 luminance: Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601),
    rounded to the nearest level; 1-channel images come back as they are."""
    if images.shape[1] == 1:
        return images
    out = []
    w = torch.tensor(BT601, dtype=torch.float32).view(1, 3, 1, 1)
    for i in range(0, len(images), _CHUNK):
        y = (images[i:i + _CHUNK].float() * w).sum(1, keepdim=True)
        out.append(y.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out) if out else images.new_empty((0, 1, *images.shape[2:]))


TAN_22_5 = 0.41421356  # tan(22.5 degrees): the bounds of the four gradient directions


def _edges(luma: torch.Tensor) -> torch.Tensor:
    h, w = luma.shape[2:]
    x = F.pad(luma.float(), (1, 1, 1, 1), mode="replicate")  # the image border is no edge
    # Sobel 3 x 3, separable, as slices (a 1-channel conv2d is several times slower on a CPU)
    s = x[:, :, :-2] + 2 * x[:, :, 1:-1] + x[:, :, 2:]  # smoothed down the columns
    gx = s[..., 2:] - s[..., :-2]
    t = x[..., :-2] + 2 * x[..., 1:-1] + x[..., 2:]  # smoothed along the rows
    gy = t[:, :, 2:] - t[:, :, :-2]
    mag = gx * gx + gy * gy  # squared magnitude: the same order, no square root
    m = F.pad(mag, (1, 1, 1, 1))

    def peak(dy: int, dx: int) -> torch.Tensor:
        """A maximum across the edge along (dy, dx); on a tie (a step between two pixels gives both the same
        magnitude) the pixel after the step wins."""
        before = m[..., 1 - dy:1 - dy + h, 1 - dx:1 - dx + w]
        after = m[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
        return (mag >= before) & (mag > after)

    # non-maximum suppression along the gradient direction, quantised to 0, 45, 90 and 135 degrees
    ax, ay = gx.abs(), gy.abs()
    across_x, across_y = ay <= ax * TAN_22_5, ax < ay * TAN_22_5
    diagonal = ~(across_x | across_y)
    down_right = (gx * gy) > 0
    keep = ((across_x & peak(0, 1)) | (across_y & peak(1, 0)) | (diagonal & down_right & peak(1, 1))
            | (diagonal & ~down_right & peak(1, -1)))
    top = mag.amax((2, 3), keepdim=True)
    keep &= mag >= (top * EDGE_FRACTION**2).clamp(min=EDGE_FLOOR**2)
    return keep.to(torch.uint8) * 255


def edges(images: torch.Tensor) -> torch.Tensor:
    """N x C x H x W uint8 -> N x 1 x H x W uint8 edge maps: white (255) edges on black (0), one pixel thin.

    The filter (fixed, vectorised over the batch): the luminance (`grey`, BT.601); its Sobel gradient (3 x 3,
    the image border replicated, so the border is no edge); non-maximum suppression along the gradient
    direction quantised to 0/45/90/135 degrees, as in Canny 1986 without the hysteresis (a step between
    columns k-1 and k is marked on column k); then a pixel is an edge where its gradient magnitude is at least
    `EDGE_FRACTION` (0.3) of the strongest in its image and at least `EDGE_FLOOR` (40, a step of 10 grey
    levels), so a flat or nearly flat image has no edges.
    """
    if images.dim() != 4 or images.dtype != torch.uint8 or images.shape[1] not in (1, 3):
        raise DataError(f"edges() takes uint8 images of N x C x H x W with 1 or 3 channels, got {images.dtype} "
                        f"{tuple(images.shape)}")
    luma = grey(images)
    out = [_edges(luma[i:i + _CHUNK]) for i in range(0, len(luma), _CHUNK)]
    return torch.cat(out) if out else luma.clone()


# ---- paired sets made by a filter ---------------------------------------------------------------------------
def paired_by(data: ImageSet, make_source, name: str) -> ImageSet:
    """`data` as a paired translation set: sources = make_source(images), labels and source labels its labels."""
    return dataclasses.replace(data, sources=make_source(data.images), source_labels=data.labels, paired=True,
                               name=name)


def _info(base: str):
    ds = DATASETS[base]
    return {"num_classes": ds.num_classes, "class_names": ds.class_names, "hflip_ok": ds.hflip_ok,
            "license": ds.license}


PIX2PIX = "a paired translation set in the manner of pix2pix's edges2shoes / colourization (Isola et al. 2017)"


@derived_dataset("fashion-edges", "Fashion-MNIST edges -> garment: paired translation, domain A the edge map "
                 "(1x28x28, Sobel + non-maximum suppression, genzoo.data.translation.edges), domain B the "
                 f"garment (1x28x28); {PIX2PIX}. 60,000 train / 10,000 test, 10 classes (both domains)",
                 base="fashion-mnist", shape=(1, 28, 28), **_info("fashion-mnist"))
def fashion_edges(base: ImageSet, req: Request) -> ImageSet:
    return paired_by(base, edges, req.name)


@derived_dataset("cifar10-edges", "CIFAR-10 (JPEG copy) edges -> photo: paired translation, domain A the edge "
                 "map (1x32x32, genzoo.data.translation.edges), domain B the colour photo (3x32x32); "
                 f"{PIX2PIX}. 50,000 train / 10,000 test, 10 classes", base="cifar10-jpeg", shape=(3, 32, 32),
                 **_info("cifar10-jpeg"))
def cifar10_edges(base: ImageSet, req: Request) -> ImageSet:
    return paired_by(base, edges, req.name)


@derived_dataset("cifar10-grey", "CIFAR-10 (JPEG copy) colourization: paired translation, domain A the "
                 "luminance (1x32x32, ITU-R BT.601), domain B the colour photo (3x32x32); as pix2pix's "
                 "colourization task (Isola et al. 2017). 50,000 train / 10,000 test, 10 classes",
                 base="cifar10-jpeg", shape=(3, 32, 32), **_info("cifar10-jpeg"))
def cifar10_grey(base: ImageSet, req: Request) -> ImageSet:
    return paired_by(base, grey, req.name)


# ---- sets needing a second base dataset ------------------------------------------------------------------------
SEEDS = {"train": 0, "test": 1}  # the seed of each split's random draws (other sets offset it)


def second_base(req: Request, base: str) -> ImageSet:
    """The requested split of dataset `base`, which `req`'s dataset needs besides its own base (from the same data
    folder, loaded by `req.load`); a DataError of that load says so."""
    name, split, data_dir = req.name, req.split, req.data_dir
    own = DATASETS[name].derived_from
    try:
        folder = locate(own, data_dir)
        if locate(base, data_dir) == folder:  # e.g. --data-dir DIR/mnist, where fashion-mnist's file names match
            raise DataError(f"{base} and {own} were both found in {folder} (the same file names), so one of them is "
                            f"missing: pass the folder that holds both {own}/ and {base}/")
        return req.load(base, split, data_dir)
    except DataError as e:
        raise type(e)(f"{name} needs {base} as well as {own}: {e}") from None


def blend(digits: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
    """MNIST-M's difference blend: |patch - digit| per channel (uint8). `digits` N x 1 x H x W, `patches`
    N x 3 x H x W: where the digit is white the photo's colours are inverted, where it is black they stay."""
    return (patches.to(torch.int16) - digits.to(torch.int16)).abs().to(torch.uint8)


def random_patches(photos: torch.Tensor, n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """n random size x size crops (no resampling): photo i_k (uniform, with replacement) at a uniform offset."""
    h, w = photos.shape[2:]
    if h < size or w < size:
        raise DataError(f"patches of {size}x{size} need photos at least that large, got {h}x{w}")
    idx = torch.randint(len(photos), (n,), generator=generator)
    oy = torch.randint(h - size + 1, (n,), generator=generator)
    ox = torch.randint(w - size + 1, (n,), generator=generator)
    out = torch.empty((n, photos.shape[1], size, size), dtype=torch.uint8)
    for y in range(h - size + 1):  # one vectorised copy per offset (25 for 28 in 32), not one per image
        for x in range(w - size + 1):
            at = ((oy == y) & (ox == x)).nonzero().flatten()
            if len(at):
                out[at] = photos[idx[at], :, y:y + size, x:x + size]
    return out


def mnist_m(digits: ImageSet, photos: ImageSet, seed: int, name: str = "mnist-m") -> ImageSet:
    """MNIST-M from labelled MNIST digits: digit k blended (`blend`) over a random 28 x 28 crop of a random
    photo (`random_patches`, seeded); labels are the digits'."""
    if digits.shape[0] != 1 or photos.shape[0] != 3 or not len(photos):
        raise DataError(f"MNIST-M blends grey digits over colour photos, got {digits!r} and {photos!r}")
    g = torch.Generator().manual_seed(seed)
    patches = random_patches(photos.images, len(digits), digits.shape[1], g)
    return ImageSet(blend(digits.images, patches), digits.labels, class_names=digits.class_names, name=name)


def _mnist_m_split(digits: ImageSet, req: Request) -> ImageSet:
    return mnist_m(digits, second_base(req, "cifar10-jpeg"), SEEDS[req.split], "mnist-m")


@derived_dataset("mnist-m", "MNIST-M (after Ganin & Lempitsky 2015): each MNIST digit difference-blended "
                 "(|patch - digit| per channel) over a random 28x28 crop of a CIFAR-10 (JPEG copy) photo of the same "
                 "split (the original used BSDS500 photos); seeded, 60,000 train / 10,000 test, 3x28x28, labels "
                 "the digits. Needs mnist and cifar10-jpeg", base="mnist", shape=(3, 28, 28), num_classes=10,
                 class_names=DATASETS["mnist"].class_names,
                 license="MNIST: CC BY-SA 3.0; CIFAR-10 as its authors distribute it (Krizhevsky 2009)")
def mnist_m_from_mnist(digits: ImageSet, req: Request) -> ImageSet:
    """Train: seed 0 over CIFAR train photos; test: seed 1 over CIFAR test photos.

    Ganin & Lempitsky cut patches from BSDS500 photos and used each digit as a binary mask; here the patches
    are random 28x28 crops (offsets 0-4, no resizing) of 32x32 CIFAR-10 photos, and the digit keeps MNIST's
    grey levels (anti-aliased strokes): |patch - digit| inverts the photo fully where the digit is white.
    """
    return dataclasses.replace(_mnist_m_split(digits, req), name=req.name)


def equal_counts(a: ImageSet, b: ImageSet, seed: int) -> tuple[ImageSet, ImageSet]:
    """Both sets cut to the smaller's size: the larger keeps a seeded random subset (in stored order)."""
    n = min(len(a), len(b))
    g = torch.Generator().manual_seed(seed)

    def cut(d: ImageSet) -> ImageSet:
        return d if len(d) == n else d.subset(torch.randperm(len(d), generator=g)[:n].sort().values)

    return cut(a), cut(b)


def unpaired(a: ImageSet, b: ImageSet, name: str, seed: int) -> ImageSet:
    """Domain A `a` and domain B `b` as one unpaired translation set (equal counts: `equal_counts`)."""
    if a.shape[1:] != b.shape[1:]:
        raise DataError(f"{name}: domain A images are {a.shape[2]}x{a.shape[1]} pixels, domain B's "
                        f"{b.shape[2]}x{b.shape[1]}; both must be the same size: pass an image size "
                        "(--set data.image_size=N) to resize both")
    a, b = equal_counts(a, b, seed)
    return dataclasses.replace(b, sources=a.images, source_labels=a.labels, paired=False, name=name)


CYCLEGAN = "an unpaired translation set for CycleGAN (Zhu et al. 2017)"


@derived_dataset("mnist-to-mnistm", "MNIST -> MNIST-M, unpaired: domain A the MNIST digits (1x28x28), domain B "
                 "the mnist-m digits (3x28x28) made from a different seeded permutation of the same MNIST split, "
                 f"so sources[i] and images[i] are unrelated; {CYCLEGAN} and the domain-adaptation benchmark of "
                 "Ganin & Lempitsky 2015. 60,000 train / 10,000 test; labels (and source labels) the digits. Needs "
                 "mnist and cifar10-jpeg", base="mnist", shape=(3, 28, 28), num_classes=10,
                 class_names=DATASETS["mnist"].class_names, license=DATASETS["mnist-m"].license)
def mnist_to_mnistm(digits: ImageSet, req: Request) -> ImageSet:
    """Domain B is the mnist-m split itself, permuted (seed 10 train / 11 test): images[i] = mnist-m[perm[i]],
    whose digit is MNIST digit perm[i], while sources[i] is MNIST digit i."""
    target = _mnist_m_split(digits, req)
    perm = torch.randperm(len(target), generator=torch.Generator().manual_seed(10 + SEEDS[req.split]))
    return unpaired(digits, target.subset(perm), req.name, SEEDS[req.split])


@derived_dataset("mnist-to-fashion", "MNIST -> Fashion-MNIST, unpaired: domain A the MNIST digits (1x28x28), "
                 f"domain B the Fashion-MNIST clothes (1x28x28), each with its own labels; {CYCLEGAN}. 60,000 "
                 "train / 10,000 test (a larger domain would be cut to the smaller's count by a seeded random "
                 "subset). Needs mnist and fashion-mnist", base="mnist", shape=(1, 28, 28), num_classes=10,
                 class_names=DATASETS["fashion-mnist"].class_names, hflip_ok=True,
                 license="MNIST: CC BY-SA 3.0; Fashion-MNIST: MIT")
def mnist_to_fashion(digits: ImageSet, req: Request) -> ImageSet:
    clothes = second_base(req, "fashion-mnist")
    return unpaired(digits, clothes, req.name, SEEDS[req.split])


# ---- your own data: pairs:DIR_A,DIR_B and unpaired:DIR_A,DIR_B -------------------------------------------------
PAIRS, UNPAIRED = "pairs:", "unpaired:"
SHOWN = 5  # unmatched file stems named in a message


def folders(name: str) -> tuple[Path, Path]:
    """The two folders of `pairs:DIR_A,DIR_B` / `unpaired:DIR_A,DIR_B`."""
    prefix = PAIRS if name.startswith(PAIRS) else UNPAIRED
    parts = name.removeprefix(prefix).split(",")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise DataError(f"dataset {name!r}: give two folders, {prefix}DIR_A,DIR_B (domain A, the input, first; no "
                        "comma inside a folder name)")
    return Path(parts[0].strip()).expanduser(), Path(parts[1].strip()).expanduser()


def _has_test(a: Path, b: Path) -> bool:
    return (a / "test").is_dir() and (b / "test").is_dir()


def _split_root(name: str, root: Path, other: Path, split: str) -> Path:
    """The folder holding `split` (as `folder:` does: train/ and test/ when there is a test/, else the whole)."""
    if (root / "test").is_dir() != (other / "test").is_dir():
        has, lacks = (root, other) if (root / "test").is_dir() else (other, root)
        raise DataError(f"{name}: {has} has a test/ subfolder but {lacks} has none; give both folders train/ and "
                        "test/ subfolders, or neither (then all images are the train split)")
    return root / split if (root / "test").is_dir() else root


def _stems(folder: Path, name: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(f"{name}: image folder {folder} does not exist")
    files = list_images(folder)
    if not files:
        sub = " (pairs are matched by file name, so the images go directly in the folder, not in subfolders)" \
            if class_folders(folder) else ""
        raise DataError(f"{name}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}{sub}")
    stems: dict[str, Path] = {}
    for p in files:
        if p.stem in stems:
            raise DataError(f"{name}: {stems[p.stem]} and {p} have the same stem, so a partner is ambiguous; "
                            "rename or remove one")
        stems[p.stem] = p
    return stems


def _check_sizes(name: str, a: torch.Tensor, b: torch.Tensor, root_a: Path, root_b: Path) -> None:
    if a.shape[2:] != b.shape[2:]:
        raise DataError(f"{name}: the images of {root_a} are {a.shape[3]}x{a.shape[2]} pixels but those of {root_b} "
                        f"{b.shape[3]}x{b.shape[2]}; both domains must be the same size: pass an image size "
                        "(--set data.image_size=N, image_size=N in Python; data.crop=N center-crops first) or "
                        "resize the files")


def load_pairs(req: Request) -> ImageSet:
    """Images of DIR_A and DIR_B paired by file stem (`x.png` with `x.jpg`), in stem order; no labels."""
    name = req.name
    a_dir, b_dir = folders(name)
    a_root, b_root = _split_root(name, a_dir, b_dir, req.split), _split_root(name, b_dir, a_dir, req.split)
    a, b = _stems(a_root, name), _stems(b_root, name)
    for root, mine, other in ((a_root, a, b), (b_root, b, a)):
        lone = sorted(set(mine) - set(other))
        if lone:
            more = f" and {len(lone) - SHOWN} more" if len(lone) > SHOWN else ""
            partner = b_root if root == a_root else a_root
            raise DataError(f"{name}: {len(lone)} image(s) in {root} have no partner of the same name in {partner}: "
                            f"{', '.join(mine[s].name for s in lone[:SHOWN])}{more}; pairs are matched by file name "
                            "without its suffix: add the partners or remove these (or use unpaired:DIR_A,DIR_B)")
    stems = sorted(a)
    xa = decode_many([a[s] for s in stems], None, req.image_size, req.crop)
    xb = decode_many([b[s] for s in stems], None, req.image_size, req.crop)
    _check_sizes(name, xa, xb, a_root, b_root)
    return ImageSet(xb, sources=xa, paired=True, name=name)


def _folder_split(path: Path, req: Request) -> ImageSet:
    """Domain `path`'s split as `folder:PATH` reads it (class subfolders give labels)."""
    return req.load(f"{FOLDER_PREFIX}{path}", req.split, image_size=req.image_size, crop=req.crop)


def load_unpaired(req: Request) -> ImageSet:
    """DIR_A and DIR_B as `folder:` reads them (labels from class subfolders, if any); the larger cut to the
    smaller's count by a seeded random subset (seed 0 train, 1 test; 'all', read here when there are no test/
    subfolders, is the train split)."""
    name = req.name
    a_dir, b_dir = folders(name)
    _split_root(name, a_dir, b_dir, req.split)  # the same splits in both, or a message
    a, b = _folder_split(a_dir, req), _folder_split(b_dir, req)
    _check_sizes(name, a.images, b.images, a_dir, b_dir)
    return unpaired(a, b, name, SEEDS.get(req.split, 0))


def describe(name: str) -> DatasetInfo:
    """train/ and test/ where both folders have a test/ subfolder ('all' is both), else the whole folders are
    split 'train' (and 'all')."""
    a, b = folders(name)
    splits = ("train", "test") if _has_test(a, b) else ("train", "all")
    if name.startswith(PAIRS):
        return DatasetInfo(name, f"paired translation set: domain A {a}, domain B {b}, paired by file stem",
                           splits=splits, loader=load_pairs, resizes=True)
    return DatasetInfo(name, f"unpaired translation set: domain A {a}, domain B {b} (equal counts: the larger "
                       "folder seeded-subsampled)", splits=splits, loader=load_unpaired, resizes=True)


register_family(PAIRS, describe, usage=f"{PAIRS}DIR_A,DIR_B for two image folders paired by file name")
register_family(UNPAIRED, describe, usage=f"{UNPAIRED}DIR_A,DIR_B for two independent image folders")
