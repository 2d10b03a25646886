"""The dataset registry: one entry per dataset, registered next to its loader; where files live, where
they come from (URL + md5).

An entry (`DatasetInfo`) declares the dataset's files, splits and facts (shape, classes, licence), and how
it loads: `loader(Request) -> ImageSet` reads one split; `split_files(folder, split)` names the files of
each split (so that loading one split also checks the others, see `genzoo.data.load`); `resizes` says the
loader applies `image_size` itself; listing 'all' in `splits` says the loader reads 'all' itself (else it is
the declared splits concatenated). A derived dataset names its base set (`derived_from`) and a seeded
`transform(base split, Request) -> ImageSet` instead of a loader. Entries register with `@dataset(...)` /
`@derived_dataset(...)` on their loader, or `register_dataset(DatasetInfo(...))`; `folder:PATH` is a family
(`register_family`): one entry per path, made on lookup. Adding a dataset is one entry next to its loader
(imported by `genzoo/data/__init__.py`) and one test.

A dataset folder is found, in order, at: `--data-dir DIR` (the folder itself, or a folder holding
`DIR/<name>/`), `$GENZOO_DATA_DIR/<name>`, `~/.cache/genzoo/data/<name>`. `mnist-mini` is embedded
in the package and needs no files; `folder:PATH` reads any image folder.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from genzoo.errors import DataError

if TYPE_CHECKING:
    from genzoo.data.imageset import ImageSet

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
    """One dataset: its facts and files, and how one split of it is loaded."""

    name: str
    description: str
    files: tuple[RemoteFile, ...] = ()
    required: tuple[str, ...] = ()  # paths (relative to the folder) that must exist for loading
    shape: tuple[int, int, int] = (0, 0, 0)
    num_classes: int = 0
    # the splits a user can ask for; 'all' listed here: the loader reads it itself, else `load` forms 'all'
    # by concatenating these
    splits: tuple[str, ...] = ("train", "test")
    hflip_ok: bool = False
    license: str = ""
    manual: str = ""  # extra instructions when files cannot be fetched automatically
    class_names: tuple[str, ...] = field(default=())
    aliases: tuple[str, ...] = ()  # other common folder names for the dataset
    derived_from: str = ""  # built in memory from this dataset's splits (e.g. stacked-mnist from mnist)
    # how it loads (a derived set has a transform instead of a loader)
    loader: Callable[[Request], ImageSet] | None = None  # one split
    transform: Callable[[ImageSet, Request], ImageSet] | None = None  # base split -> this split (seeded)
    split_files: Callable[[Path, str], Sequence[Path]] | None = None  # (folder, split) -> its files
    present: Callable[[Path], bool] | None = None  # does a folder hold the files (default: `required` exist)
    resizes: bool = False  # the loader applies image_size (and crop) itself
    embedded: Path | None = None  # files shipped in the package: no folder to look for


@dataclass(frozen=True)
class Request:
    """What a loader is asked for: one split of one dataset, with the caller's options."""

    ds: DatasetInfo
    split: str
    data_dir: str | os.PathLike | None = None
    image_size: int | None = None
    crop: int | None = None
    limit: int | None = None  # a loader may read only the first `limit` images; `load` keeps that many
    # `genzoo.data.load`, for entries built from more than one dataset (mnist-m needs cifar10-jpeg too): handed
    # down by `load` so that the entries' modules need not import the package that imports them
    load: Callable[..., ImageSet] | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.ds.name

    def folder(self) -> Path:
        """The dataset's folder (a DataError says where to put the files when there is none)."""
        return locate(self.ds.name, self.data_dir)


@dataclass(frozen=True)
class Family:
    """Datasets named `prefix` + an argument (e.g. `folder:PATH`): `describe(name)` makes the entry."""

    prefix: str
    describe: Callable[[str], DatasetInfo]
    usage: str  # for messages: e.g. "folder:PATH for an image folder"


DATASETS: dict[str, DatasetInfo] = {}
FAMILIES: dict[str, Family] = {}


def register_dataset(entry: DatasetInfo) -> DatasetInfo:
    """Make dataset `entry.name` available to `genzoo.data.load`, `genzoo data ...` and `--data`."""
    name = entry.name
    if name in DATASETS:
        raise ValueError(f"dataset name {name!r} registered twice")
    if entry.derived_from:
        if entry.derived_from not in DATASETS:
            raise ValueError(f"dataset {name!r} is derived from {entry.derived_from!r}, which is not registered "
                             "(register the base set first)")
        if entry.transform is None or entry.loader is not None:
            raise ValueError(f"derived dataset {name!r} needs a transform and no loader")
    elif entry.loader is None:
        raise ValueError(f"dataset {name!r} has no loader")
    DATASETS[name] = entry
    return entry


def dataset(name: str, description: str, **fields) -> Callable:
    """Decorator: register the function below (`Request -> ImageSet`, one split) as dataset `name`'s loader;
    `fields` are the other `DatasetInfo` fields."""

    def deco(loader):
        register_dataset(DatasetInfo(name, description, loader=loader, **fields))
        return loader

    return deco


def derived_dataset(name: str, description: str, base: str, **fields) -> Callable:
    """Decorator: register dataset `name`, built from each split of dataset `base` by the function below
    (`(base split: ImageSet, Request) -> ImageSet`, seeded: the same images on every load)."""

    def deco(transform):
        register_dataset(DatasetInfo(name, description, derived_from=base, transform=transform, **fields))
        return transform

    return deco


def register_family(prefix: str, describe: Callable[[str], DatasetInfo], usage: str) -> None:
    """Make every name `prefix...` a dataset, its entry made by `describe(name)` on each lookup."""
    if prefix in FAMILIES:
        raise ValueError(f"dataset family {prefix!r} registered twice")
    FAMILIES[prefix] = Family(prefix, describe, usage)


def info(name: str) -> DatasetInfo:
    for prefix, fam in FAMILIES.items():
        if name.startswith(prefix):
            return fam.describe(name)
    if name not in DATASETS:
        close = difflib.get_close_matches(name, list(DATASETS), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        families = "".join(f", or {f.usage}" for f in FAMILIES.values())
        raise DataError(f"unknown dataset {name!r}.{hint} Known: {', '.join(DATASETS)}{families} "
                        "(see `genzoo data list`)")
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


def cache_root() -> Path:
    """genzoo's cache folder: `$XDG_CACHE_HOME/genzoo`, by default `~/.cache/genzoo`."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genzoo"


def default_root() -> Path:
    return cache_root() / "data"


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
    if ds.present is not None:
        return ds.present(d)
    return all((d / r).exists() for r in ds.required)


def is_embedded(name: str) -> bool:
    """Whether the dataset's files ship inside the package (its own, or those of the set it is derived from), so
    that no --data-dir is read; False for names the catalogue does not hold (folder:PATH, ...)."""
    ds = DATASETS.get(name)
    return ds is not None and (ds.embedded is not None or bool(ds.derived_from) and is_embedded(ds.derived_from))


def locate(name: str, data_dir: str | os.PathLike | None) -> Path:
    """The folder holding dataset `name`, or a DataError saying which files to put where."""
    ds = info(name)
    if ds.embedded is not None:
        return ds.embedded
    if ds.derived_from:
        return locate(ds.derived_from, data_dir)
    dirs = candidate_dirs(name, data_dir)
    for d in dirs:
        if has_files(d, ds):
            return d
    target = dirs[0] if data_dir else fetch_dir(name, None)
    files = ", ".join(ds.required)
    auto = f"or run `genzoo data fetch {name}` (needs internet), " if all(rf.url for rf in ds.files) else ""
    manual = f". {ds.manual}" if ds.manual and not auto else ""  # files a person downloads by hand
    raise DataError(
        f"dataset {name!r} not found. Put its files ({files}) in {target}, {auto}or pass --data-dir DIR / set "
        f"{ENV_VAR}. Looked in: {', '.join(str(d) for d in dirs)}{manual}")


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
    if ds.embedded is not None:
        log(f"{name} is embedded in the package ({ds.embedded}); nothing to fetch")
        return ds.embedded
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
