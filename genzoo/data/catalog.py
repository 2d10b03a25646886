"""The named datasets: where their files live, where they come from (URL + md5), how to load them.

A dataset folder is found, in order, at: `--data-dir DIR` (the folder itself, or a folder holding
`DIR/<name>/`), `$GENZOO_DATA_DIR/<name>`, `~/.cache/genzoo/data/<name>`. `mnist-mini` is embedded
in the package and needs no files; `folder:PATH` reads any image folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from genzoo.data.idx import find_file
from genzoo.errors import DataError

ENV_VAR = "GENZOO_DATA_DIR"
EMBEDDED_DIR = Path(__file__).parent / "embedded"
DEFAULT_DATASET = "mnist-mini"


@dataclass(frozen=True)
class RemoteFile:
    name: str  # file name inside the dataset folder (or the archive to fetch and unpack)
    url: str | None
    md5: str
    unpack: bool = False  # archive to extract into the dataset folder
    # files the archive must produce (checked after unpacking); defaults to `name` itself
    provides: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    files: tuple[RemoteFile, ...]
    required: tuple[str, ...]  # paths (relative to the folder) that must exist for loading
    shape: tuple[int, int, int]
    num_classes: int
    splits: tuple[str, ...] = ("train", "test")
    hflip_ok: bool = False
    license: str = ""
    manual: str = ""  # extra instructions when files cannot be fetched automatically
    class_names: tuple[str, ...] = field(default=())
    aliases: tuple[str, ...] = ()  # other common folder names for the dataset
    derived_from: str = ""  # built in memory from this dataset's files (e.g. stacked-mnist from mnist)


_MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_IDX = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

DATASETS: dict[str, DatasetInfo] = {}


def _add(info: DatasetInfo) -> None:
    DATASETS[info.name] = info


_add(DatasetInfo(
    "mnist-mini", "Embedded subset of official MNIST (10,000 train / 2,000 test); the default, no download",
    (), (), (1, 28, 28), 10, license="CC BY-SA 3.0 (MNIST), see genzoo/data/embedded/PROVENANCE.md",
    class_names=tuple(str(i) for i in range(10))))
_add(DatasetInfo(
    "mnist", "MNIST handwritten digits, 60,000 train / 10,000 test, 28x28 grey (LeCun et al. 1998)",
    tuple(RemoteFile(n, _MNIST + n, m) for n, m in zip(_IDX, (
        "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
        "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
    _IDX, (1, 28, 28), 10, license="CC BY-SA 3.0", class_names=tuple(str(i) for i in range(10)),
    aliases=("MNIST",)))
_add(DatasetInfo(
    "fashion-mnist", "Fashion-MNIST clothes, 60,000 train / 10,000 test, 28x28 grey (Xiao et al. 2017)",
    tuple(RemoteFile(n, _FASHION + n, m) for n, m in zip(_IDX, (
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
        "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
    _IDX, (1, 28, 28), 10, hflip_ok=True, license="MIT",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                 "Bag", "Ankle boot"), aliases=("fashion_mnist", "FashionMNIST")))
_add(DatasetInfo(
    "cifar10", "CIFAR-10, 50,000 train / 10,000 test, 32x32 colour, 10 classes (Krizhevsky 2009)",
    (RemoteFile("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                "c58f30108f718f92721af3b95e74349a", unpack=True,
                provides=("cifar-10-batches-py/data_batch_1", "cifar-10-batches-py/test_batch")),),
    ("cifar-10-batches-py/data_batch_1", "cifar-10-batches-py/test_batch"), (3, 32, 32), 10,
    hflip_ok=True, license="no license stated; cite Krizhevsky 2009",
    class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    aliases=("cifar-10", "CIFAR10")))
_add(DatasetInfo(
    "stacked-mnist", "Stacked MNIST: 3 MNIST digits in the 3 channels, 1000 classes (Metz et al. 2017); built "
    "(seeded) from the MNIST files, 60,000 train / 10,000 test", DATASETS["mnist"].files, _IDX, (3, 28, 28), 1000,
    license="CC BY-SA 3.0 (MNIST)", derived_from="mnist"))
for _base in ("mnist", "mnist-mini"):
    _add(DatasetInfo(
        f"{_base}-attrs", f"{_base} with 3 binary attributes derived from the digit: even, at_least_5, "
        "closed_loop (0/6/8/9); multi-label data for attr-gan (genzoo.data.digit_attrs)",
        DATASETS[_base].files, DATASETS[_base].required, (1, 28, 28), 10, license=DATASETS[_base].license,
        class_names=DATASETS[_base].class_names, derived_from=_base))
_add(DatasetInfo(
    "frey", "Frey faces, 1,965 grey 28x20 frames of one face (Roweis); continuous data for Gaussian VAEs",
    (RemoteFile("frey_rawface.mat", "https://cs.nyu.edu/~roweis/data/frey_rawface.mat",
                "5aeb024d42b8a6091f30e5eb18c8a48d"),),
    ("frey_rawface.mat",), (1, 28, 20), 0, splits=("train", "test", "all"),
    license="freely distributed for research (S. Roweis)", aliases=("frey-faces", "frey_faces")))
_add(DatasetInfo(
    "celeba", "CelebA aligned faces with 40 binary attributes, center-cropped and resized to 64x64 "
    "(Liu et al. 2015)",
    (RemoteFile("img_align_celeba.zip", None, "00d2c5bc6d35e252742224ab0c1e8fcb", unpack=True,
                provides=("img_align_celeba",)),
     RemoteFile("list_attr_celeba.txt", None, "75e246fa4810816ffd6ee81facbd244c"),
     RemoteFile("list_eval_partition.txt", None, "d32c9cbf5e040fd4025c592c306e6668")),
    ("img_align_celeba", "list_attr_celeba.txt"), (3, 64, 64), 0, splits=("train", "valid", "test", "all"),
    hflip_ok=True, license="non-commercial research and education only (CelebA agreement)",
    manual="CelebA is served from Google Drive behind a confirmation page: download img_align_celeba.zip, "
    "list_attr_celeba.txt and list_eval_partition.txt from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
    "into the folder, then run `genzoo data fetch celeba` again to check and unpack them.",
    aliases=("CelebA", "celeba-subset")))


def info(name: str) -> DatasetInfo:
    if name.startswith("folder:"):  # train/ and test/ subfolders where present, else the whole folder is train
        has_test = (Path(name[7:]).expanduser() / "test").is_dir()
        return DatasetInfo(name, f"image folder {name[7:]} (one subfolder per class)", (), (), (0, 0, 0), 0,
                           splits=("train", "test", "all") if has_test else ("train", "all"))
    if name not in DATASETS:
        import difflib

        close = difflib.get_close_matches(name, list(DATASETS), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise DataError(f"unknown dataset {name!r}.{hint} Known: {', '.join(DATASETS)}, or folder:PATH "
                        "for an image folder (see `genzoo data list`)")
    return DATASETS[name]


def candidate_dirs(name: str, data_dir: str | os.PathLike | None) -> list[Path]:
    """Folders where dataset `name` may live, in the order they are tried."""
    names = (name,) + (DATASETS[name].aliases if name in DATASETS else ())
    dirs = []
    if data_dir:
        d = Path(data_dir).expanduser()
        dirs += [d / n for n in names] + [d]
    if os.environ.get(ENV_VAR):
        dirs += [Path(os.environ[ENV_VAR]).expanduser() / n for n in names]
    dirs.append(default_root() / name)
    return dirs


def default_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genzoo" / "data"


def fetch_dir(name: str, data_dir: str | os.PathLike | None) -> Path:
    """Where `genzoo data fetch` puts dataset `name`."""
    if data_dir:
        return Path(data_dir).expanduser() / name
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser() / name
    return default_root() / name


def has_files(d: Path, ds: DatasetInfo) -> bool:
    if not d.is_dir():
        return False
    if ds.name in ("mnist", "fashion-mnist"):
        try:
            for stem in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
                find_file(d, stem)
            return True
        except DataError:
            return False
    return all((d / r).exists() for r in ds.required)


def locate(name: str, data_dir: str | os.PathLike | None) -> Path:
    """The folder holding dataset `name`, or a DataError saying which files to put where."""
    ds = info(name)
    if name == DEFAULT_DATASET:
        return EMBEDDED_DIR
    if ds.derived_from:
        return locate(ds.derived_from, data_dir)
    dirs = candidate_dirs(name, data_dir)
    for d in dirs:
        if has_files(d, ds):
            return d
    target = dirs[0] if data_dir else fetch_dir(name, None)
    files = ", ".join(ds.required)
    raise DataError(
        f"dataset {name!r} not found. Put its files ({files}) in {target}, or run "
        f"`genzoo data fetch {name}` (needs internet), or pass --data-dir DIR / set {ENV_VAR}. "
        f"Looked in: {', '.join(str(d) for d in dirs)}")


def md5sum(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, dest: Path, md5: str, timeout: float) -> None:
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise DataError(f"cannot download {url} ({e}). Offline? Put {dest.name} in {dest.parent} by hand "
                        f"(md5 {md5}) and run the command again") from None
    got = md5sum(tmp)
    if got != md5:
        tmp.unlink(missing_ok=True)
        raise DataError(f"{url}: md5 {got} does not match the expected {md5}; the download is corrupt, "
                        "try again")
    os.replace(tmp, dest)


def _unpack(archive: Path, into: Path) -> None:
    try:
        if archive.name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(archive) as t:
                t.extractall(into, filter="data")
        elif archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as z:
                z.extractall(into)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as e:
        raise DataError(f"{archive}: cannot unpack ({e}); the archive is corrupt, delete it and fetch "
                        "again") from None


def fetch(name: str, data_dir: str | os.PathLike | None = None, timeout: float = 60.0,
          log: Callable[[str], None] = print) -> Path:
    """Download (or check files put in place by hand) and unpack dataset `name`; returns its folder."""
    ds = info(name)
    if name == DEFAULT_DATASET:
        log(f"{name} is embedded in the package ({EMBEDDED_DIR}); nothing to fetch")
        return EMBEDDED_DIR
    if ds.derived_from:
        return fetch(ds.derived_from, data_dir, timeout, log)
    if not ds.files:
        raise DataError(f"{name} has no downloadable files")
    folder = fetch_dir(name, data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for rf in ds.files:
        dest = folder / rf.name
        done = all((folder / p).exists() for p in rf.provides) if rf.provides else False
        if done:
            log(f"ok       {rf.name} (already unpacked)")
            continue
        if dest.is_file():
            if md5sum(dest) != rf.md5:
                raise DataError(f"{dest}: md5 does not match the official {rf.md5}; delete the file and "
                                "fetch again")
            log(f"checked  {dest}")
        elif rf.url is None:
            raise DataError(f"{rf.name} cannot be downloaded automatically. {ds.manual}")
        else:
            log(f"fetching {rf.url}")
            _download(rf.url, dest, rf.md5, timeout)
        if rf.unpack:
            log(f"unpacking {dest.name}")
            with tempfile.TemporaryDirectory(dir=folder) as tmp:
                _unpack(dest, Path(tmp))
                for item in Path(tmp).iterdir():
                    target = folder / item.name
                    if target.exists():
                        shutil.rmtree(target) if target.is_dir() else target.unlink()
                    os.replace(item, target)
    log(f"{name} is ready in {folder}")
    return folder
