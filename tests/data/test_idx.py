import gzip

import numpy as np
import pytest
import torch

from genzoo.data import load
from genzoo.data.catalog import DATASETS, md5sum
from genzoo.data.idx import load_idx_pair, read_idx, write_idx
from genzoo.errors import DataError
from tests.conftest import shared_path


def write_mnist_like(folder, n_train=20, n_test=10, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    data = {}
    for split, n, stem in (("train", n_train, "train"), ("test", n_test, "t10k")):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(folder / f"{stem}-images-idx3-ubyte{suffix}", x)
        write_idx(folder / f"{stem}-labels-idx1-ubyte{suffix}", y)
        data[split] = (x, y)
    return data


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    data = write_mnist_like(tmp_path / "mnist", gz=gz)
    x, y = load_idx_pair(tmp_path / "mnist", "train")
    assert x.shape == (20, 1, 28, 28) and x.dtype == torch.uint8
    assert torch.equal(x[:, 0], torch.from_numpy(data["train"][0]))
    assert torch.equal(y, torch.from_numpy(data["train"][1].astype(np.int64)))
    ds = load("fashion-mnist", split="test", data_dir=tmp_path / "mnist")
    assert len(ds) == 10 and ds.hflip_ok and ds.class_names[0] == "T-shirt/top"


def test_truncated_idx_names_file_and_problem(tmp_path):
    write_mnist_like(tmp_path, gz=False)
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*truncated"):
        load("mnist", data_dir=tmp_path)


def test_corrupt_gzip(tmp_path):
    write_mnist_like(tmp_path)
    f = tmp_path / "train-labels-idx1-ubyte.gz"
    raw = f.read_bytes()
    f.write_bytes(raw[:10] + b"\x00" * 5 + raw[15:])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz.*corrupt"):
        load("mnist", data_dir=tmp_path)


def test_bad_magic(tmp_path):
    p = tmp_path / "x.idx"
    p.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(p)


def test_mismatched_counts(tmp_path):
    write_mnist_like(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(7, np.uint8))
    with pytest.raises(DataError, match="20 images but .* 7 labels"):
        load("mnist", data_dir=tmp_path)


def test_missing_dataset_says_where(tmp_path):
    with pytest.raises(DataError, match="genzoo data fetch mnist"):
        load("mnist", data_dir=tmp_path / "nothing")


def test_embedded_default():
    train, test = load(), load(split="test")
    assert (len(train), len(test)) == (10_000, 2_000)
    assert train.shape == (1, 28, 28) and train.num_classes == 10
    assert train.labels.bincount().min() > 800  # every digit is well represented


def test_embedded_matches_official_files():
    folder = shared_path("mnist")
    x, y = load_idx_pair(folder, "train")
    mini = load("mnist-mini")
    assert torch.equal(mini.images, x[:10_000]) and torch.equal(mini.labels, y[:10_000])


def test_shared_mnist_official():
    folder = shared_path("mnist")
    for f in DATASETS["mnist"].files:
        assert md5sum(folder / f.name) == f.md5
    train = load("mnist", data_dir=folder.parent)
    test = load("mnist", split="test", data_dir=folder.parent)
    assert (len(train), len(test)) == (60_000, 10_000)
    assert train.labels.bincount().tolist()[:2] == [5923, 6742]  # known class counts of MNIST train
    assert 33.0 < train.images.float().mean() < 33.6  # MNIST mean pixel value is 33.3


def test_shared_fashion_official():
    folder = shared_path("fashion-mnist")
    for f in DATASETS["fashion-mnist"].files:  # the md5s `genzoo data fetch fashion-mnist` checks
        assert md5sum(folder / f.name) == f.md5, f.name
    train = load("fashion-mnist", data_dir=folder.parent)
    test = load("fashion-mnist", split="test", data_dir=folder.parent)
    assert train.labels.bincount().tolist() == [6000] * 10 and test.labels.bincount().tolist() == [1000] * 10
    assert 72.8 < train.images.float().mean() < 73.1  # Fashion-MNIST mean pixel value is 72.94 (0.2860)
    assert train.class_names[9] == "Ankle boot" and train.hflip_ok


def test_gzip_detected_by_content(tmp_path):
    # a raw file whose name ends in .gz is read by content, not by name
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "a", arr)
    assert np.array_equal(read_idx(tmp_path / "a"), arr)
    (tmp_path / "b").write_bytes(gzip.compress((tmp_path / "a").read_bytes()))
    assert np.array_equal(read_idx(tmp_path / "b"), arr)
