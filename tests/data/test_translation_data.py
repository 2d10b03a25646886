"""Translation data (genzoo.data.translation): the edge and luminance filters, the MNIST-M blend, the paired and
unpaired named sets, and the pairs:/unpaired: folder families.

The named sets are built here from tiny files in the real formats, written by the tests: a few IDX records for
mnist and fashion-mnist (each digit image marked by its index, so rows can be traced), and a small tar of JPEG
folders in the cifar10-jpeg archive's layout (tests/data/test_cifar_jpeg.py's helpers).
"""

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data import cache, catalog, load
from genzoo.data.idx import write_idx
from genzoo.data.imageset import ImageSet
from genzoo.data.translation import (
    BT601,
    blend,
    edges,
    equal_counts,
    grey,
    mnist_m,
    random_patches,
)
from genzoo.errors import DataError
from tests.conftest import shared_path
from tests.data.test_cifar_jpeg import members, write_archive

COUNTS = {"mnist": (20, 10), "fashion-mnist": (24, 10)}  # (train, test): fashion has more training images


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test its own decoded-CIFAR cache (and no md5 remembered from another test)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_MD5S", {})


def idx_set(folder, n_train, n_test, seed):
    """MNIST-style files whose image k has pixel [0, 0] = k + 1 (+ 100 in test) over random strokes; labels k % 10."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, n, mark in (("train", n_train, 1), ("t10k", n_test, 101)):
        x = np.where(rng.random((n, 28, 28)) < 0.2, 255, 0).astype(np.uint8)
        x[:, 0, 0] = np.arange(n) + mark
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", x)
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))


@pytest.fixture
def data_dir(tmp_path):
    """A data folder with tiny mnist, fashion-mnist and cifar10-jpeg (30 train / 20 test photos)."""
    root = tmp_path / "data"
    for i, (name, (n_train, n_test)) in enumerate(COUNTS.items()):
        idx_set(root / name, n_train, n_test, seed=i)
    write_archive(root / "cifar10-jpeg", members())
    return root


# ---- filters -----------------------------------------------------------------------------------------------
def test_edges_find_a_vertical_step_where_it_is():
    x = torch.zeros(2, 3, 8, 10, dtype=torch.uint8)
    x[0, :, :, 6:] = 200  # a step between columns 5 and 6 (colour: through the luminance)
    x[1] = 77  # flat
    e = edges(x)
    assert e.shape == (2, 1, 8, 10) and e.dtype == torch.uint8
    assert set(e.unique().tolist()) == {0, 255}
    expected = torch.zeros(8, 10, dtype=torch.uint8)
    expected[:, 6] = 255  # one pixel thin, on the first column past the step, the whole height (no border effects)
    assert torch.equal(e[0, 0], expected)
    assert not e[1].any()  # nothing in a flat image
    noisy = (torch.full((1, 1, 16, 16), 100) + torch.randint(-2, 3, (1, 1, 16, 16),
                                                              generator=torch.Generator().manual_seed(0)))
    assert not edges(noisy.to(torch.uint8)).any()  # noise of a few levels is below the floor
    assert torch.equal(edges(x[:, :1]), e)  # grey input: the same (the luminance of (0|200, 200, 200) is 0|200)
    assert torch.equal(edges(x[0].transpose(1, 2)[None])[0, 0], expected.t())  # and a horizontal step
    with pytest.raises(DataError, match="uint8"):
        edges(x.float())


def test_grey_uses_the_bt601_weights():
    assert BT601 == (0.299, 0.587, 0.114)
    x = torch.tensor([[200, 10], [100, 250], [50, 30]], dtype=torch.uint8).view(1, 3, 1, 2)
    # 0.299*200 + 0.587*100 + 0.114*50 = 124.2; 0.299*10 + 0.587*250 + 0.114*30 = 153.16
    assert grey(x).tolist() == [[[[124, 153]]]]
    assert grey(x).dtype == torch.uint8 and grey(torch.zeros(0, 3, 4, 4, dtype=torch.uint8)).shape == (0, 1, 4, 4)
    one = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4)
    assert torch.equal(grey(one), one)


def test_blend_is_the_absolute_difference():
    digits = torch.tensor([0, 255, 100], dtype=torch.uint8).view(3, 1, 1, 1)
    patches = torch.tensor([[10, 20, 30], [10, 20, 30], [150, 90, 100]], dtype=torch.uint8).view(3, 3, 1, 1)
    assert blend(digits, patches).flatten(1).tolist() == [[10, 20, 30], [245, 235, 225], [50, 10, 0]]


def test_patches_are_crops_of_the_photos():
    photos = torch.arange(5 * 3 * 32 * 32).remainder(251).to(torch.uint8).view(5, 3, 32, 32)
    p = random_patches(photos, 40, 28, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    idx, oy, ox = (torch.randint(5, (40,), generator=g), torch.randint(5, (40,), generator=g),
                   torch.randint(5, (40,), generator=g))
    for k in range(40):
        assert torch.equal(p[k], photos[idx[k], :, oy[k]:oy[k] + 28, ox[k]:ox[k] + 28])
    assert len(set(zip(oy.tolist(), ox.tolist()))) > 10  # the offsets vary


def test_mnist_m_pixels_are_patch_minus_digit():
    digits = ImageSet(torch.randint(0, 256, (30, 1, 28, 28), dtype=torch.uint8), torch.arange(30) % 10,
                      class_names=tuple("0123456789"))
    photos = ImageSet(torch.randint(0, 256, (7, 3, 32, 32), dtype=torch.uint8))
    m = mnist_m(digits, photos, seed=4)
    patches = random_patches(photos.images, 30, 28, torch.Generator().manual_seed(4))
    expected = (patches.int() - digits.images.int()).abs()
    assert torch.equal(m.images.int(), expected) and m.shape == (3, 28, 28)
    assert torch.equal(m.labels, digits.labels) and m.class_names == digits.class_names
    assert torch.equal(mnist_m(digits, photos, seed=4).images, m.images)  # seeded
    assert not torch.equal(mnist_m(digits, photos, seed=5).images, m.images)


# ---- named sets ----------------------------------------------------------------------------------------------
def marks(images: torch.Tensor) -> list[int]:
    """The index mark of each MNIST-style image (pixel [0, 0])."""
    return images[:, 0, 0, 0].tolist()


@pytest.mark.parametrize("name, base, source_channels", [("fashion-edges", "fashion-mnist", 1),
                                                         ("cifar10-edges", "cifar10-jpeg", 1),
                                                         ("cifar10-grey", "cifar10-jpeg", 1)])
def test_paired_sets(data_dir, name, base, source_channels):
    for split in ("train", "test"):
        d, b = load(name, split, data_dir), load(base, split, data_dir)
        assert d.name == name and d.paired and len(d) == len(b)
        assert torch.equal(d.images, b.images) and torch.equal(d.labels, b.labels)
        assert torch.equal(d.source_labels, b.labels) and d.class_names == b.class_names
        assert d.sources.shape == (len(b), source_channels, *b.shape[1:])
        make = grey if name.endswith("grey") else edges
        assert torch.equal(d.sources, make(b.images))
        assert d.spec.source_channels == source_channels and d.spec.paired
        assert torch.equal(load(name, split, data_dir).sources, d.sources)  # the same on every load
    assert catalog.locate(name, data_dir) == data_dir / base


def test_fashion_edges_outline_the_garment(data_dir):
    d = load("fashion-edges", "test", data_dir, limit=4)
    assert set(d.sources.unique().tolist()) <= {0, 255} and d.sources.any()


def test_mnist_m_dataset(data_dir):
    train, test = load("mnist-m", "train", data_dir), load("mnist-m", "test", data_dir)
    mnist = load("mnist", "train", data_dir)
    assert (len(train), len(test)) == (20, 10) and train.shape == (3, 28, 28) and train.sources is None
    assert torch.equal(train.labels, mnist.labels) and train.num_classes == 10 and train.name == "mnist-m"
    photos = load("cifar10-jpeg", "train", data_dir)
    assert torch.equal(train.images, mnist_m(mnist, photos, seed=0).images)  # train: seed 0 over CIFAR train
    assert torch.equal(test.images, mnist_m(load("mnist", "test", data_dir), load("cifar10-jpeg", "test", data_dir),
                                            seed=1).images)
    assert torch.equal(load("mnist-m", "train", data_dir).images, train.images)
    assert len(load("mnist-m", "all", data_dir)) == 30
    assert catalog.locate("mnist-m", data_dir) == data_dir / "mnist"


def test_mnist_to_mnistm_is_unpaired(data_dir):
    for split in ("train", "test"):
        d, mnist, mm = (load(n, split, data_dir) for n in ("mnist-to-mnistm", "mnist", "mnist-m"))
        assert not d.paired and d.sources.shape == (len(mnist), 1, 28, 28) and d.shape == (3, 28, 28)
        assert torch.equal(d.sources, mnist.images) and torch.equal(d.source_labels, mnist.labels)
        # each target is an mnist-m image; its digit is another MNIST digit than the source's at the same index
        rows = [next(j for j in range(len(mm)) if torch.equal(mm.images[j], x)) for x in d.images]
        assert sorted(rows) == list(range(len(mm)))  # a permutation of the mnist-m split
        assert sum(r != i for i, r in enumerate(rows)) >= 0.7 * len(rows)
        assert d.labels.tolist() == [int(mm.labels[r]) for r in rows]  # labels: the targets' own digits
        assert torch.equal(load("mnist-to-mnistm", split, data_dir).images, d.images)  # seeded


def test_mnist_to_fashion_is_unpaired_with_equal_counts(data_dir):
    train = load("mnist-to-fashion", "train", data_dir)
    mnist, fashion = load("mnist", "train", data_dir), load("fashion-mnist", "train", data_dir)
    assert not train.paired and len(train) == 20 and train.shape == (1, 28, 28)  # fashion's 24 cut to 20
    assert torch.equal(train.sources, mnist.images) and torch.equal(train.source_labels, mnist.labels)
    kept = [m - 1 for m in marks(train.images)]  # a seeded random subset of the clothes, in stored order
    assert kept == sorted(kept) and len(set(kept)) == 20 and kept != list(range(20))
    assert torch.equal(train.images, fashion.images[kept]) and torch.equal(train.labels, fashion.labels[kept])
    assert train.class_names == fashion.class_names
    assert torch.equal(load("mnist-to-fashion", "train", data_dir).images, train.images)
    test = load("mnist-to-fashion", "test", data_dir)
    assert len(test) == 10 and not torch.equal(test.images, train.images[:10])
    both = load("mnist-to-fashion", "all", data_dir)
    assert len(both) == 30 and both.sources.shape == (30, 1, 28, 28) and not both.paired
    assert both.source_labels.shape == (30,)


def test_resize_and_all_carry_the_sources(data_dir):
    d = load("fashion-edges", "all", data_dir, image_size=32)
    assert d.shape == (1, 32, 32) and d.sources.shape == (34, 1, 32, 32) and d.paired
    assert d.source_labels.shape == (34,)
    u = load("mnist-to-mnistm", "test", data_dir, image_size=16, limit=4)
    assert u.shape == (3, 16, 16) and u.sources.shape == (4, 1, 16, 16) and not u.paired


def test_equal_counts_cut_the_larger():
    a = ImageSet(torch.zeros(5, 1, 2, 2, dtype=torch.uint8), torch.arange(5))
    b = ImageSet(torch.zeros(8, 1, 2, 2, dtype=torch.uint8), torch.arange(8))
    a2, b2 = equal_counts(a, b, seed=0)
    assert a2 is a and len(b2) == 5 and b2.labels.tolist() == sorted(b2.labels.tolist())
    assert equal_counts(a, b, seed=0)[1].labels.tolist() == b2.labels.tolist()


def test_missing_cifar_names_the_file_and_where(tmp_path):
    idx_set(tmp_path / "mnist", 20, 10, seed=0)
    idx_set(tmp_path / "fashion-mnist", 20, 10, seed=1)
    for name in ("mnist-m", "mnist-to-mnistm"):
        with pytest.raises(DataError, match=rf"{name} needs cifar10-jpeg as well as mnist: dataset 'cifar10-jpeg' "
                                            rf"not found\. Put its files \(cifar10-jpeg\.tar\.gz\) in "
                                            rf"{tmp_path / 'cifar10-jpeg'}"):
            load(name, "test", tmp_path)
    assert catalog.locate("mnist-m", tmp_path) == tmp_path / "mnist"  # its own base is there
    assert len(load("mnist-to-fashion", "test", tmp_path)) == 10
    # --data-dir the mnist folder itself: its files also look like fashion-mnist's, which is not there
    with pytest.raises(DataError, match=r"mnist-to-fashion needs fashion-mnist as well as mnist: fashion-mnist and "
                                        r"mnist were both found in .*mnist \(the same file names\)"):
        load("mnist-to-fashion", "test", tmp_path / "mnist")


def test_data_list_and_info_show_translation_sets(data_dir, cli):
    r = cli("data", "list", "--data-dir", data_dir, check=True)
    for name in ("fashion-edges", "cifar10-edges", "cifar10-grey", "mnist-m", "mnist-to-mnistm", "mnist-to-fashion"):
        assert f"\n{name} " in r.stdout
    assert "pairs:DIR_A,DIR_B " in r.stdout and "unpaired:DIR_A,DIR_B " in r.stdout  # the families too
    r = cli("data", "info", "fashion-edges", "--data-dir", data_dir, check=True)
    assert "Isola et al. 2017" in r.stdout
    assert "train: 24 images (domain B) 1x28x28" in r.stdout
    assert "domain A (sources): 24 images 1x28x28" in r.stdout and "10 source classes" in r.stdout
    assert "paired (sources[i] is the input of images[i])" in r.stdout
    r = cli("data", "info", "mnist-to-mnistm", "--data-dir", data_dir, check=True)
    assert "test: 10 images (domain B) 3x28x28" in r.stdout and "domain A (sources): 10 images 1x28x28" in r.stdout
    assert "unpaired" in r.stdout


def test_real_sets_load_when_present():
    root = shared_path("cifar10-jpeg").parent
    shared_path("mnist")
    m = load("mnist-m", "test", root)
    assert len(m) == 10000 and m.shape == (3, 28, 28) and m.labels.bincount().min() > 800
    e = load("cifar10-edges", "test", root, limit=100)
    assert e.sources.shape == (100, 1, 32, 32) and 0.05 < (e.sources > 0).float().mean() < 0.3


# ---- pairs:DIR_A,DIR_B and unpaired:DIR_A,DIR_B ----------------------------------------------------------------
def png(path, value, size=(6, 6), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    Image.fromarray(np.full(shape, value, np.uint8)).save(path)


def test_pairs_match_by_stem(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for i, stem in enumerate(("x", "y", "z")):
        png(a / f"{stem}.png", 10 + i, mode="L")  # grey inputs
        png(b / f"{stem}.jpg" if stem == "y" else b / f"{stem}.png", 100 + 50 * i)  # the suffix may differ
    d = load(f"pairs:{a},{b}", "train")
    assert d.paired and d.sources.shape == (3, 1, 6, 6) and d.shape == (3, 6, 6) and d.labels is None
    assert d.sources[:, 0, 0, 0].tolist() == [10, 11, 12]
    assert (d.images[:, 0, 0, 0].int() - torch.tensor([100, 150, 200])).abs().max() <= 3  # JPEG
    assert len(load(f"pairs:{a},{b}", "all")) == 3
    with pytest.raises(DataError, match="has no split 'test'"):
        load(f"pairs:{a},{b}", "test")
    png(b / "w.png", 5)
    png(a / "v.png", 5)
    with pytest.raises(DataError, match=r"1 image\(s\) in .*a have no partner of the same name in .*b: v\.png"):
        load(f"pairs:{a},{b}")
    (a / "v.png").unlink()
    with pytest.raises(DataError, match=r"in .*b have no partner .* in .*a: w\.png"):
        load(f"pairs:{a},{b}")


def test_pairs_sizes_and_splits(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for split, n in (("train", 3), ("test", 2)):
        for i in range(n):
            png(a / split / f"{i}.png", i, size=(8, 8))
            png(b / split / f"{i}.png", i, size=(6, 6))
    name = f"pairs:{a},{b}"
    assert catalog.info(name).splits == ("train", "test")
    with pytest.raises(DataError, match=r"8x8 pixels but those of .* 6x6.*data\.image_size=N"):
        load(name, "test")
    d = load(name, "all", image_size=6)
    assert len(d) == 5 and d.sources.shape == (5, 3, 6, 6) and d.paired
    with pytest.raises(DataError, match="give two folders"):
        load(f"pairs:{a}")


def test_unpaired_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for i in range(3):
        png(a / "cat" / f"{i}.png", i)
    for i in range(5):
        png(b / "dog" / f"{i}.png", 100 + i)
        png(b / "fox" / f"{i}.png", 200 + i)
    d = load(f"unpaired:{a},{b}", "train")
    assert not d.paired and len(d) == 3 and d.sources.shape == (3, 3, 6, 6)  # b's 10 cut to a's 3
    assert d.source_labels.tolist() == [0, 0, 0] and d.class_names == ("dog", "fox")
    assert torch.equal(load(f"unpaired:{a},{b}", "all").images, d.images)  # seeded
    (a / "test").mkdir()
    with pytest.raises(DataError, match=r"has a test/ subfolder but .* has none"):
        load(f"unpaired:{a},{b}", "train")


# ---- their domain classifiers --------------------------------------------------------------------------------
def test_translation_sets_are_scored_by_their_target_domain_net():
    from genzoo.metrics import features

    for name, target in (("fashion-edges", "fashion-mnist"), ("cifar10-edges", "cifar10-jpeg"),
                         ("cifar10-grey", "cifar10-jpeg"), ("mnist-to-mnistm", "mnist-m"),
                         ("mnist-to-fashion", "fashion-mnist"), ("mnist-m", "mnist-m")):
        assert features.DOMAIN[name] == target
    assert features.SOURCE_DOMAIN["mnist-to-mnistm"] == features.SOURCE_DOMAIN["mnist-to-fashion"] == "mnist"
    net = features.resolve("auto", "fashion-edges")
    assert net.description == features.domain_net("fashion-mnist").description


def test_shipped_mnist_m_net_classifies_real_mnist_m():
    from genzoo.metrics.features import domain_net, resolve

    root = shared_path("cifar10-jpeg").parent
    shared_path("mnist")
    test = load("mnist-m", "test", root, limit=1000)
    net = domain_net("mnist-m")
    accuracy = float((net(test.images, batch_size=250).logits.argmax(1) == test.labels).float().mean())
    assert accuracy > 0.9 and resolve("auto", "mnist-to-mnistm").description == net.description
