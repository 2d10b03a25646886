"""cifar10-jpeg: the CIFAR-10 JPEG copy read from its archive (or unpacked folder), decoded once and cached.

Tiny archives written here in the real layout (train|test/<class>/NNNN.jpg); each image is one solid
colour that encodes its class and its position in the class, so order and labels can be read back from
the pixels despite JPEG's loss. The real archive under ../shared/data is checked when present.
"""

import io
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data import cache, cifar_jpeg, load
from genzoo.data.cifar import CLASSES
from genzoo.errors import DataError, SplitUnavailable
from tests.conftest import shared_path


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test its own cache folder (and no md5 remembered from another test)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_MD5S", {})


def colour(c: int, i: int, shift: int = 0) -> tuple[int, int, int]:
    return (20 * c + 10, 60 * i + 20 + shift, 200)


def jpeg(rgb, size=(32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, rgb).save(buf, "JPEG", quality=75)
    return buf.getvalue()


def members(per_split=(("train", 3), ("test", 2)), shift: int = 0, top: str = "") -> dict[str, bytes]:
    """Path -> bytes in the real layout, `top` an optional leading folder (as `git archive --prefix` makes)."""
    return {f"{top}{split}/{cls}/{i:04d}.jpg": jpeg(colour(c, i, shift))
            for split, n in per_split for c, cls in enumerate(CLASSES) for i in range(n)}


def write_archive(folder, files: dict[str, bytes], name: str = cifar_jpeg.ARCHIVE):
    """A tar.gz with folder entries, its members in reverse order (class order must not come from it)."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / name, "w:gz") as t:
        dirs = sorted({p.rsplit("/", i)[0] for p in files for i in (1, 2)})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            t.addfile(info)
        for path, data in reversed(list(files.items())):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return folder / name


def mean_colour(data) -> torch.Tensor:
    return data.images.float().mean((2, 3)).round()


def test_labels_order_and_pixels(tmp_path):
    write_archive(tmp_path / "cifar10-jpeg", members(top="CIFAR-10-images-master/"))
    train, test = load("cifar10-jpeg", data_dir=tmp_path), load("cifar10-jpeg", "test", data_dir=tmp_path)
    assert (len(train), len(test)) == (30, 20) and train.shape == test.shape == (3, 32, 32)
    assert train.class_names == CLASSES and train.hflip_ok and train.name == "cifar10-jpeg"
    # round robin: the k-th image of every class in turn, classes in the official order
    assert train.labels.tolist() == list(range(10)) * 3 and test.labels.tolist() == list(range(10)) * 2
    expected = torch.tensor([colour(c, k) for k in range(3) for c in range(10)], dtype=torch.float32)
    assert (mean_colour(train) - expected).abs().max() <= 3  # solid colours survive JPEG within a few levels
    assert train.images.dtype == torch.uint8 and train.images.is_contiguous()
    assert load("cifar10-jpeg", data_dir=tmp_path, limit=10).labels.tolist() == list(range(10))  # balanced prefix
    assert len(load("cifar10-jpeg", "all", data_dir=tmp_path)) == 50


def test_unpacked_folder_reads_the_same(tmp_path):
    files = members()
    write_archive(tmp_path / "packed" / "cifar10-jpeg", files)
    for path, data in files.items():
        (tmp_path / "unpacked" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "unpacked" / path).write_bytes(data)
    a = load("cifar10-jpeg", data_dir=tmp_path / "packed")
    b = load("cifar10-jpeg", data_dir=tmp_path / "unpacked")
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)


def test_second_load_reads_the_cache(tmp_path, monkeypatch):
    write_archive(tmp_path / "cifar10-jpeg", members())
    first = load("cifar10-jpeg", data_dir=tmp_path)
    cached = sorted(p.name for p in cache.cache_dir("cifar10-jpeg").iterdir())
    md5 = cache.md5sum(tmp_path / "cifar10-jpeg" / cifar_jpeg.ARCHIVE)
    assert cached == [f"{md5}-f{cifar_jpeg.FORMAT}-test.bin", f"{md5}-f{cifar_jpeg.FORMAT}-train.bin"]

    def no_decoding(*args):
        raise AssertionError("decoded again")

    def no_hashing(*args):
        raise AssertionError("hashed again")

    monkeypatch.setattr(cifar_jpeg, "decode", no_decoding)
    monkeypatch.setattr(cache, "md5sum", no_hashing)
    monkeypatch.setattr(cache, "_MD5S", {})  # as in a new process: the md5 comes from md5s.json
    again = load("cifar10-jpeg", data_dir=tmp_path)
    assert torch.equal(again.images, first.images) and torch.equal(again.labels, first.labels)
    assert len(load("cifar10-jpeg", "test", data_dir=tmp_path)) == 20


def test_changed_archive_is_decoded_again(tmp_path):
    archive = write_archive(tmp_path / "cifar10-jpeg", members())
    old = cache.md5sum(archive)
    load("cifar10-jpeg", data_dir=tmp_path)
    write_archive(tmp_path / "cifar10-jpeg", members(shift=30))  # new pixels: a new md5
    new = load("cifar10-jpeg", data_dir=tmp_path)
    expected = torch.tensor([colour(c, k, 30) for k in range(3) for c in range(10)], dtype=torch.float32)
    assert (mean_colour(new) - expected).abs().max() <= 3
    names = [p.name for p in cache.cache_dir("cifar10-jpeg").iterdir()]
    assert len(names) == 2 and not any(n.startswith(old) for n in names)  # the old source's cache is gone


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_damaged_cache_is_rebuilt(tmp_path, monkeypatch, damage):
    write_archive(tmp_path / "cifar10-jpeg", members())
    first = load("cifar10-jpeg", data_dir=tmp_path)
    f = next(cache.cache_dir("cifar10-jpeg").glob("*-train.bin"))
    raw = bytearray(f.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip":
        raw[-100] ^= 0x04  # one pixel bit: only the CRC notices
    else:
        raw = bytearray(b"not a cache file")
    f.write_bytes(bytes(raw))
    calls = []
    real = cifar_jpeg.decode
    monkeypatch.setattr(cifar_jpeg, "decode", lambda *a: calls.append(1) or real(*a))
    again = load("cifar10-jpeg", data_dir=tmp_path)
    assert calls == [1] and torch.equal(again.images, first.images)
    assert cache.read(f) is not None  # rewritten whole
    load("cifar10-jpeg", data_dir=tmp_path)
    assert calls == [1]


def test_cache_that_cannot_be_written_still_loads(tmp_path, monkeypatch):
    write_archive(tmp_path / "cifar10-jpeg", members())
    (tmp_path / "cache").write_text("a file where the cache folder would go")
    with pytest.warns(UserWarning, match="could not cache decoded data"):
        assert len(load("cifar10-jpeg", data_dir=tmp_path)) == 30


@pytest.mark.parametrize("keep", [0.5, 0.9, -8])  # -8: all but gzip's length and CRC: tarfile alone misses it
def test_truncated_archive(tmp_path, keep):
    archive = write_archive(tmp_path / "cifar10-jpeg", members())
    raw = archive.read_bytes()
    archive.write_bytes(raw[:keep] if keep < 0 else raw[:int(len(raw) * keep)])
    with pytest.raises(DataError, match=r"cifar10-jpeg.tar.gz: cannot read the archive .*corrupt or truncated.*md5"):
        load("cifar10-jpeg", data_dir=tmp_path)
    assert not cache.cache_dir("cifar10-jpeg").exists()


def test_not_an_archive(tmp_path):
    (tmp_path / "cifar10-jpeg").mkdir()
    (tmp_path / "cifar10-jpeg" / cifar_jpeg.ARCHIVE).write_text("<html>404</html>")
    with pytest.raises(DataError, match="cifar10-jpeg.tar.gz: cannot read the archive"):
        load("cifar10-jpeg", "test", data_dir=tmp_path)


def test_non_jpeg_member(tmp_path):
    files = members()
    files["test/cat/0001.jpg"] = b"GIF89a not really a jpeg"
    write_archive(tmp_path / "cifar10-jpeg", files)
    with pytest.raises(DataError, match=r"tar.gz: member test/cat/0001.jpg: not a JPEG image.*remove that file"):
        load("cifar10-jpeg", data_dir=tmp_path)  # the test split's file fails the train load


def test_truncated_jpeg_member(tmp_path):
    files = members()
    files["train/dog/0002.jpg"] = jpeg((1, 2, 3))[:200]
    write_archive(tmp_path / "cifar10-jpeg", files)
    with pytest.raises(DataError, match=r"member train/dog/0002.jpg: cannot decode the JPEG.*truncated"):
        load("cifar10-jpeg", data_dir=tmp_path)


@pytest.mark.parametrize("path, data, match", [
    ("train/wolf/0000.jpg", jpeg((0, 0, 0)), "class folder 'wolf' is not a CIFAR-10 class"),
    ("train/cat/0009.jpg", jpeg((0, 0, 0), size=(64, 48)), "64x48 pixels, but CIFAR-10 images are 32x32"),
    ("train/0000.jpg", jpeg((0, 0, 0)), "not at train|test/<class>/<image>"),
])
def test_member_that_does_not_belong(tmp_path, path, data, match):
    write_archive(tmp_path / "cifar10-jpeg", {**members(), path: data})
    with pytest.raises(DataError, match=match.replace("|", r"\|")):
        load("cifar10-jpeg", data_dir=tmp_path)


def test_other_files_and_grey_jpegs(tmp_path):
    files = {**members(), "README.md": b"# CIFAR-10 images", "train/.DS_Store": b"\0\0", "train/cat/._0000.jpg": b"x"}
    buf = io.BytesIO()
    Image.new("L", (32, 32), 77).save(buf, "JPEG")
    files["train/cat/0000.jpg"] = buf.getvalue()  # a grey JPEG becomes three equal channels
    write_archive(tmp_path / "cifar10-jpeg", files)
    d = load("cifar10-jpeg", data_dir=tmp_path)
    assert len(d) == 30 and d.images[3].float().mean((1, 2)).round().tolist() == [77.0, 77.0, 77.0]


def test_copy_without_test_split(tmp_path, monkeypatch):
    write_archive(tmp_path / "cifar10-jpeg", members(per_split=(("train", 2),)))
    assert len(load("cifar10-jpeg", data_dir=tmp_path)) == 20
    monkeypatch.setattr(cifar_jpeg, "decode", None)  # the empty split is cached too
    with pytest.raises(SplitUnavailable, match="holds no test/ images"):
        load("cifar10-jpeg", "test", data_dir=tmp_path)


def test_missing_says_where_and_how(tmp_path):
    with pytest.raises(DataError, match=r"cifar10-jpeg.tar.gz.*not downloaded automatically.*YoongiKim"):
        load("cifar10-jpeg", data_dir=tmp_path)


def test_real_archive(monkeypatch):
    """The real copy: md5, counts, round-robin labels, channel means of CIFAR-10. It uses the real cache
    (~/.cache/genzoo): a first run decodes the 60,000 JPEGs (about 8-15 s on 2 shared cores), later runs read
    the cache (< 1 s)."""
    archive = shared_path("cifar10-jpeg", cifar_jpeg.ARCHIVE)
    monkeypatch.undo()  # the user's cache, not this test's own
    assert cache.file_md5(archive) == cifar_jpeg.MD5
    train = load("cifar10-jpeg", data_dir=archive.parent.parent)
    test = load("cifar10-jpeg", "test", data_dir=archive.parent.parent)
    assert (len(train), len(test)) == (50_000, 10_000) and train.shape == (3, 32, 32)
    assert train.labels.bincount().tolist() == [5000] * 10 and test.labels.bincount().tolist() == [1000] * 10
    assert train.labels[:20].tolist() == list(range(10)) * 2
    means = train.images.float().mean((0, 2, 3)).numpy()  # CIFAR-10 train: 125.3, 123.0, 113.9
    assert np.allclose(means, [125.3, 123.0, 113.9], atol=0.5), means
