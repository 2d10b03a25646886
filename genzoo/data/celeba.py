"""CelebA aligned faces: `img_align_celeba/*.jpg` + `list_attr_celeba.txt` (+ `list_eval_partition.txt`).

Attributes are stored as 0/1 (the file uses -1/+1). Without the partition file the official split
by image number is used (train 1-162770, valid 162771-182637, test 182638-202599).
"""

from __future__ import annotations

from pathlib import Path

import torch

from genzoo.data.catalog import RemoteFile, Request, dataset
from genzoo.data.images import decode_many
from genzoo.data.imageset import ImageSet
from genzoo.errors import DataError, SplitUnavailable

OFFICIAL_SPLIT = {"train": (1, 162770), "valid": (162771, 182637), "test": (182638, 202599)}
PARTITION_CODE = {"train": 0, "valid": 1, "test": 2}
ATTR_VALUES = {"-1": -1, "1": 1, "+1": 1}
REFETCH = "download it again from the CelebA site and run `genzoo data fetch celeba`"


def read_attributes(path: Path) -> tuple[list[str], list[str], torch.Tensor]:
    """(file names, attribute names, N x A uint8 0/1 matrix) from list_attr_celeba.txt."""
    if not path.is_file():
        raise DataError(f"missing file {path}; {REFETCH}")
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    if len(lines) < 2:
        raise DataError(f"{path}: expected a count line and an attribute-name line; {REFETCH}")
    try:
        count = int(lines[0].split()[0])
    except ValueError:
        raise DataError(f"{path}: first line should be the image count, got {lines[0][:40]!r}; {REFETCH}") from None
    names = lines[1].split()
    rows = lines[2:]
    if len(rows) != count:
        raise DataError(f"{path}: header says {count} images but {len(rows)} rows follow (truncated file?); "
                        f"{REFETCH}")
    files, values = [], []
    for i, row in enumerate(rows, start=3):
        parts = row.split()
        if len(parts) != len(names) + 1:
            raise DataError(f"{path}, line {i}: expected a file name and {len(names)} values, "
                            f"got {len(parts)} fields; {REFETCH}")
        vals = [ATTR_VALUES.get(v) for v in parts[1:]]
        if None in vals:
            bad = parts[1 + vals.index(None)]
            raise DataError(f"{path}, line {i}: attribute values must be -1 or 1, got {bad!r}; {REFETCH}")
        files.append(parts[0])
        values.append(vals)
    attrs = (torch.tensor(values, dtype=torch.int8) > 0).to(torch.uint8)
    return files, names, attrs.reshape(len(files), len(names))


def _partition(root: Path, files: list[str]) -> list[str]:
    path = root / "list_eval_partition.txt"
    if path.is_file():
        table = {}
        for i, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            parts = line.split()
            if len(parts) == 2:
                if parts[1] not in ("0", "1", "2"):
                    raise DataError(f"{path}, line {i}: the partition must be 0, 1 or 2, got {parts[1]!r}; "
                                    f"{REFETCH}")
                table[parts[0]] = int(parts[1])
        inv = {v: k for k, v in PARTITION_CODE.items()}
        return [inv.get(table.get(f, 0), "train") for f in files]
    out = []
    for f in files:
        try:
            num = int(Path(f).stem)
        except ValueError:
            out.append("train")
            continue
        out.append(next((s for s, (a, b) in OFFICIAL_SPLIT.items() if a <= num <= b), "train"))
    return out


def _check_images_present(img_dir: Path, files: list[str]) -> None:
    """Every image the attribute file lists (in any split) is in the image folder."""
    if not img_dir.is_dir():
        raise DataError(f"missing folder {img_dir} (CelebA's aligned images); unpack img_align_celeba.zip there "
                        "with `genzoo data fetch celeba`")
    present = {p.name for p in img_dir.iterdir()}
    missing = [f for f in files if f not in present]
    if missing:
        raise DataError(f"{img_dir / missing[0]} is missing ({len(missing)} of the {len(files)} images listed in "
                        "list_attr_celeba.txt are absent); unpack img_align_celeba.zip again, or use an attribute "
                        "file that lists only the images you have")


def load_celeba(root: str | Path, split: str = "train", image_size: int = 64, crop: int | None = 140,
                limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Images (N x 3 x S x S uint8), attributes (N x 40 0/1) and attribute names of one split."""
    root = Path(root)
    files, names, attrs = read_attributes(root / "list_attr_celeba.txt")
    img_dir = root / "img_align_celeba"
    _check_images_present(img_dir, files)
    if split != "all":
        parts = _partition(root, files)
        keep = [i for i, p in enumerate(parts) if p == split]
        if not keep:
            raise SplitUnavailable(f"{root}: no images in the CelebA '{split}' split "
                                   f"(this copy has {len(files)} images; try split='all' or 'train')")
        files = [files[i] for i in keep]
        attrs = attrs[keep]
    if limit:
        files, attrs = files[:limit], attrs[:limit]
    x = decode_many([img_dir / f for f in files], 3, image_size, crop)
    return x, attrs, names


@dataset("celeba", "CelebA aligned faces with 40 binary attributes, center-cropped and resized to 64x64 "
         "(Liu et al. 2015)",
         files=(RemoteFile("img_align_celeba.zip", None, "00d2c5bc6d35e252742224ab0c1e8fcb", unpack=True,
                           provides=("img_align_celeba",)),
                RemoteFile("list_attr_celeba.txt", None, "75e246fa4810816ffd6ee81facbd244c"),
                RemoteFile("list_eval_partition.txt", None, "d32c9cbf5e040fd4025c592c306e6668")),
         required=("img_align_celeba", "list_attr_celeba.txt"), shape=(3, 64, 64),
         splits=("train", "valid", "test", "all"), hflip_ok=True,
         license="non-commercial research and education only (CelebA agreement)",
         manual="CelebA is served from Google Drive behind a confirmation page: download img_align_celeba.zip, "
         "list_attr_celeba.txt and list_eval_partition.txt from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
         "into the folder, then run `genzoo data fetch celeba` again to check and unpack them.",
         aliases=("CelebA", "celeba-subset"), resizes=True)
def load_split(req: Request) -> ImageSet:
    """Center crop (default 140), resized to image_size (default 64); only the first `limit` are decoded."""
    x, attrs, names = load_celeba(req.folder(), req.split, req.image_size or 64,
                                  req.crop if req.crop is not None else 140, req.limit)
    return ImageSet(x, attrs=attrs, attr_names=tuple(names), name=req.name, hflip_ok=True)
