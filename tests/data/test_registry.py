"""The dataset registry: an entry declares splits, loader (or base set + transform) and split files, and
`load` does the rest the same way for every dataset: 'all', limit, resize, checking the other splits."""

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data import DATASETS, ImageSet, catalog, dataset, derived_dataset, info, load
from genzoo.data.catalog import DatasetInfo, register_dataset
from genzoo.errors import DataError


@pytest.fixture
def registry(monkeypatch):
    """Entries registered by a test are gone after it."""
    monkeypatch.setattr(catalog, "DATASETS", dict(DATASETS))
    return catalog.DATASETS


def toy_loader(calls):
    def loader(req):
        calls.append((req.split, req.limit))
        n = {"train": 6, "test": 4}[req.split]
        x = torch.full((n, 1, 4, 4), 10 if req.split == "train" else 20, dtype=torch.uint8)
        return ImageSet(x, torch.arange(n) % 2, class_names=("a", "b"), name=req.name)
    return loader


def test_one_entry_is_a_dataset(registry, tmp_path):
    calls = []
    dataset("toy", "a toy", shape=(1, 4, 4), num_classes=2, embedded=tmp_path)(toy_loader(calls))
    assert info("toy").description == "a toy" and "toy" in registry
    assert len(load("toy")) == 6 and len(load("toy", "test")) == 4
    both = load("toy", "all", limit=8)  # 'all' = the declared splits concatenated, then the limit
    assert both.images[:, 0, 0, 0].tolist() == [10] * 6 + [20] * 2 and both.class_names == ("a", "b")
    assert load("toy", image_size=8).shape == (1, 8, 8)  # `load` resizes: the entry does not declare `resizes`
    with pytest.raises(DataError, match="no split 'valid'"):
        load("toy", "valid")


def test_split_files_are_checked_once(registry, tmp_path):
    for split in ("train", "test"):
        (tmp_path / f"{split}.bin").write_bytes(b"x")
    calls = []
    dataset("toy-files", "toy", split_files=lambda folder, split: [folder / f"{split}.bin"],
            embedded=tmp_path)(toy_loader(calls))
    load("toy-files", limit=3)
    assert calls == [("test", None), ("train", 3)]  # the other split whole, first
    load("toy-files", "test")
    assert calls[2:] == [("test", None)]  # both file versions are known good in this process
    (tmp_path / "train.bin").write_bytes(b"changed")
    load("toy-files", "test")
    assert calls[3:] == [("train", None), ("test", None)]


def test_derived_entry(registry, tmp_path):
    dataset("toy-base", "toy", embedded=tmp_path)(toy_loader([]))

    @derived_dataset("toy-flipped", "toy, flipped", base="toy-base")
    def flipped(base, req):
        return ImageSet(255 - base.images, base.labels, class_names=base.class_names, name=req.name)

    d = load("toy-flipped", "all")
    assert d.name == "toy-flipped" and d.images[:, 0, 0, 0].tolist() == [245] * 6 + [235] * 4
    assert catalog.locate("toy-flipped", None) == tmp_path  # files are the base set's


def test_bad_entries_are_refused(registry):
    with pytest.raises(ValueError, match="registered twice"):
        register_dataset(DatasetInfo("mnist", "again", loader=lambda req: None))
    with pytest.raises(ValueError, match="no loader"):
        register_dataset(DatasetInfo("nothing", "no loader"))
    with pytest.raises(ValueError, match="not registered"):
        derived_dataset("x", "x", base="no-such-base")(lambda d, r: d)


def test_unknown_name_lists_the_families():
    with pytest.raises(DataError, match=r"unknown dataset 'cifar-jpeg'.*Did you mean.*cifar10-jpeg.*folder:PATH"):
        info("cifar-jpeg")


def test_every_entry_loads_through_the_registry():
    for name, ds in DATASETS.items():
        assert (ds.loader is None) != (ds.transform is None), name
        assert ds.description and ds.splits, name
    assert {"cifar10-jpeg", "fashion-mnist", "stacked-mnist", "mnist-mini-attrs"} <= set(DATASETS)


# ---- folder:PATH, a family ---------------------------------------------------------------------------
def png(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((6, 6, 3), value, np.uint8)).save(path)


def test_folder_splits_share_the_training_classes(tmp_path):
    for c in ("ant", "bee", "cat"):
        png(tmp_path / "imgs" / "train" / c / "0.png", 10)
    png(tmp_path / "imgs" / "test" / "cat" / "0.png", 50)  # test has only the last class: still label 2
    name = f"folder:{tmp_path / 'imgs'}"
    assert info(name).splits == ("train", "test")
    test = load(name, "test")
    assert test.labels.tolist() == [2] and test.class_names == ("ant", "bee", "cat")
    both = load(name, "all")
    assert both.labels.tolist() == [0, 1, 2, 2] and len(both) == 4
    png(tmp_path / "imgs" / "test" / "dog" / "0.png", 50)
    with pytest.raises(DataError, match="test/dog is not one of the training classes"):
        load(name, "test")


def test_folder_without_test_split(tmp_path):
    png(tmp_path / "imgs" / "a" / "0.png", 10)
    png(tmp_path / "imgs" / "b" / "0.png", 10)
    name = f"folder:{tmp_path / 'imgs'}"
    assert info(name).splits == ("train", "all") and len(load(name, "all")) == 2
