import hashlib
import io
import tarfile

import pytest

from genzoo.data import catalog, load
from genzoo.data.catalog import DatasetInfo, RemoteFile
from genzoo.errors import DataError
from tests.data.test_idx import write_mnist_like


def test_unknown_dataset_suggests():
    with pytest.raises(DataError, match="Did you mean mnist"):
        load("minst")


def test_env_var_and_data_dir(tmp_path, monkeypatch):
    write_mnist_like(tmp_path / "root" / "mnist")
    monkeypatch.setenv("GENZOO_DATA_DIR", str(tmp_path / "root"))
    assert len(load("mnist")) == 20
    monkeypatch.delenv("GENZOO_DATA_DIR")
    assert len(load("mnist", data_dir=tmp_path / "root")) == 20  # a folder holding mnist/
    assert len(load("mnist", data_dir=tmp_path / "root" / "mnist")) == 20  # the folder itself


def test_fetch_offline_says_which_files(tmp_path, monkeypatch):
    monkeypatch.setitem(catalog.DATASETS, "mnist", DatasetInfo(
        "mnist", "test", (RemoteFile("train-images-idx3-ubyte.gz", "http://127.0.0.1:9/x.gz", "0" * 32),),
        ("train-images-idx3-ubyte.gz",), (1, 28, 28), 10))
    with pytest.raises(DataError, match=r"cannot download .*Put train-images-idx3-ubyte.gz in .*mnist"):
        catalog.fetch("mnist", tmp_path, timeout=2, log=lambda s: None)


def _tar_with(name: str, payload: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def test_fetch_checks_md5_and_unpacks(tmp_path, monkeypatch):
    archive = _tar_with("inner/data.bin", b"hello")
    src = tmp_path / "src.tar.gz"
    src.write_bytes(archive)
    md5 = hashlib.md5(archive).hexdigest()
    ds = DatasetInfo("toy", "toy", (RemoteFile("toy.tar.gz", src.as_uri(), md5, unpack=True,
                                               provides=("inner/data.bin",)),),
                     ("inner/data.bin",), (1, 2, 2), 0)
    monkeypatch.setitem(catalog.DATASETS, "toy", ds)
    folder = catalog.fetch("toy", tmp_path / "data", log=lambda s: None)
    assert (folder / "inner" / "data.bin").read_bytes() == b"hello"
    # a wrong checksum is refused and leaves nothing behind
    bad = DatasetInfo("bad", "bad", (RemoteFile("b.tar.gz", src.as_uri(), "0" * 32),), ("b.tar.gz",), (1, 2, 2), 0)
    monkeypatch.setitem(catalog.DATASETS, "bad", bad)
    with pytest.raises(DataError, match="md5 .* does not match"):
        catalog.fetch("bad", tmp_path / "data", log=lambda s: None)
    assert not (tmp_path / "data" / "bad" / "b.tar.gz").exists()


def test_fetch_celeba_needs_manual_download(tmp_path):
    with pytest.raises(DataError, match="cannot be downloaded automatically.*mmlab"):
        catalog.fetch("celeba", tmp_path, log=lambda s: None)
