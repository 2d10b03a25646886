"""CIFAR-10 pickles, Frey faces .mat, image folders and CelebA, on small files written here in the
real formats, and on ../shared/data where present."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data import load
from genzoo.data.images import decode_many
from genzoo.errors import DataError
from tests.conftest import shared_path


# ---- CIFAR-10 ----------------------------------------------------------------------------------
def write_cifar(folder, n=8, seed=0):
    rng = np.random.default_rng(seed)
    d = folder / "cifar-10-batches-py"
    d.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        with open(d / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [b"x.png"] * n}, f)
        batches[name] = (data, labels)
    with open(d / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog",
                                      b"horse", b"ship", b"truck"], b"num_vis": 3072}, f)
    return batches


def test_cifar10_reads_real_format(tmp_path):
    batches = write_cifar(tmp_path / "cifar10")
    train = load("cifar10", data_dir=tmp_path)
    test = load("cifar10", split="test", data_dir=tmp_path)
    assert len(train) == 40 and len(test) == 8 and train.shape == (3, 32, 32)
    data, labels = batches["data_batch_1"]
    # the row layout is 1024 red, 1024 green, 1024 blue values, each row-major 32x32
    assert torch.equal(train.images[0, 1], torch.from_numpy(data[0, 1024:2048].reshape(32, 32)))
    assert train.labels[:8].tolist() == labels
    assert train.class_names[3] == "cat" and train.hflip_ok


def test_cifar10_corrupt_pickle(tmp_path):
    write_cifar(tmp_path / "cifar10")
    f = tmp_path / "cifar10" / "cifar-10-batches-py" / "data_batch_3"
    f.write_bytes(f.read_bytes()[:200])
    with pytest.raises(DataError, match="data_batch_3.*corrupt"):
        load("cifar10", data_dir=tmp_path)


# ---- Frey faces --------------------------------------------------------------------------------
def test_frey_written_mat(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (10, 28, 20), dtype=np.uint8)
    (tmp_path / "frey").mkdir()
    savemat(tmp_path / "frey" / "frey_rawface.mat", {"ff": faces.reshape(10, 560).T})
    d = load("frey", split="all", data_dir=tmp_path)
    assert d.shape == (1, 28, 20) and torch.equal(d.images[:, 0], torch.from_numpy(faces))


def test_frey_corrupt(tmp_path):
    (tmp_path / "frey").mkdir()
    (tmp_path / "frey" / "frey_rawface.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 50)
    with pytest.raises(DataError, match="frey_rawface.mat"):
        load("frey", data_dir=tmp_path)


def test_frey_shared():
    root = shared_path("frey-faces")
    train, test = load("frey", data_dir=root.parent), load("frey", split="test", data_dir=root.parent)
    assert (len(train), len(test)) == (1765, 200) and train.shape == (1, 28, 20)
    full = load("frey", split="all", data_dir=root.parent)
    assert len(full) == 1965


# ---- image folders -----------------------------------------------------------------------------
def write_folder(root, sizes=((12, 12),) * 3, classes=("a", "b")):
    for ci, c in enumerate(classes):
        (root / c).mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            arr = np.full((h, w, 3), 40 * ci + i, dtype=np.uint8)
            Image.fromarray(arr).save(root / c / f"{i}.png")


def test_image_folder_classes(tmp_path):
    write_folder(tmp_path / "imgs")
    d = load(f"folder:{tmp_path / 'imgs'}", split="all")
    assert len(d) == 6 and d.shape == (3, 12, 12) and d.class_names == ("a", "b")
    assert d.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert int(d.images[4, 0, 0, 0]) == 41


def test_image_folder_mixed_sizes_need_image_size(tmp_path):
    write_folder(tmp_path / "imgs", sizes=((12, 12), (10, 14)))
    with pytest.raises(DataError, match="image_size"):
        load(f"folder:{tmp_path / 'imgs'}", split="all")
    d = load(f"folder:{tmp_path / 'imgs'}", split="all", image_size=8)
    assert d.shape == (3, 8, 8)


def test_image_folder_corrupt_image(tmp_path):
    write_folder(tmp_path / "imgs")
    (tmp_path / "imgs" / "a" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError, match="bad.png.*cannot decode"):
        load(f"folder:{tmp_path / 'imgs'}", split="all")


def test_image_folder_scales_16_bit_grey_and_refuses_unscaled_32_bit(tmp_path):
    """A 16-bit PNG spans 0..65535: 25700 is 100 in 8 bits (Pillow's convert('L') clipped it to 255). 32-bit
    pixels have no known scale: kept within 0..255, refused outside it."""
    for c in "ab":
        (tmp_path / "deep" / c).mkdir(parents=True)
        Image.fromarray(np.array([[0, 25700, 65535, 1000]], dtype=np.uint16)).save(tmp_path / "deep" / c / "x.png")
    d = load(f"folder:{tmp_path / 'deep'}", split="all")
    assert d.images[0, 0, 0].tolist() == [0, 100, 255, 4]
    (tmp_path / "deep" / "a" / "x.png").unlink()
    Image.fromarray(np.array([[0.0, 12.4, 255.0, 3.0]], dtype=np.float32)).save(tmp_path / "deep" / "a" / "x.tif")
    assert load(f"folder:{tmp_path / 'deep'}", split="all").images[0, 0, 0].tolist() == [0, 12, 255, 3]
    Image.fromarray(np.array([[0.0, 0.5, 300.0, 1.0]], dtype=np.float32)).save(tmp_path / "deep" / "b" / "y.tif")
    with pytest.raises(DataError, match=r"y.tif: 32-bit float pixels from 0 to 300, outside 0..255"):
        load(f"folder:{tmp_path / 'deep'}", split="all")


def test_image_folder_scales_float_images_by_their_set(tmp_path):
    """Float images that all lie in 0..1 (as numpy saves them) are scaled to 0..255; they loaded nearly black.
    One float image beyond 1 puts the set on the 0..255 scale, since one dark image cannot tell."""
    for c in "ab":
        (tmp_path / "f" / c).mkdir(parents=True)
        Image.fromarray(np.array([[0.0, 0.5, 1.0, 0.2]], dtype=np.float32)).save(tmp_path / "f" / c / "x.tif")
    d = load(f"folder:{tmp_path / 'f'}", split="all")
    assert d.shape == (1, 1, 4) and d.images[:, 0, 0].tolist() == [[0, 128, 255, 51]] * 2
    x = decode_many(sorted((tmp_path / "f").rglob("*.tif")), 3, size=(2, 8))  # colour, resized as floats
    assert x.shape == (2, 3, 2, 8) and (x[:, 0] == x[:, 2]).all() and x.max() > 240 and x.float().mean() > 60
    Image.fromarray(np.array([[0.0, 2.0, 9.0, 1.0]], dtype=np.float32)).save(tmp_path / "f" / "b" / "y.tif")
    d = load(f"folder:{tmp_path / 'f'}", split="all")
    assert d.images[:, 0, 0].tolist() == [[0, 0, 1, 0], [0, 0, 1, 0], [0, 2, 9, 1]]


def test_image_folder_palette_images_of_greys_are_grey(tmp_path):
    """GIFs and palette PNGs whose palettes hold only greys load as 1 channel beside grey PNGs (they were
    counted as colour, and the folder refused as mixing grey and colour); a palette with a colour stays colour."""
    for c, value in (("a", 77), ("b", 200)):
        (tmp_path / "g" / c).mkdir(parents=True)
        Image.new("L", (8, 8), value).save(tmp_path / "g" / c / "x.gif")
        Image.new("L", (8, 8), value).convert("P").save(tmp_path / "g" / c / "y.png")
        Image.new("L", (8, 8), value).save(tmp_path / "g" / c / "z.png")
    d = load(f"folder:{tmp_path / 'g'}", split="all")
    assert d.shape == (1, 8, 8) and d.images[:, 0, 0, 0].tolist() == [77, 77, 77, 200, 200, 200]
    Image.new("RGB", (8, 8), (200, 10, 10)).save(tmp_path / "g" / "b" / "red.gif")
    with pytest.raises(DataError, match="images mix grey and colour"):
        load(f"folder:{tmp_path / 'g'}", split="all")


def test_image_folder_turns_photos_upright_by_their_exif_orientation(tmp_path):
    """A phone stores a portrait photo as landscape pixels plus EXIF orientation 6 (turn 90 degrees clockwise);
    it loads upright, as viewers show it, beside a 2x3 portrait stored upright."""
    pixels = np.zeros((2, 3), dtype=np.uint8)
    pixels[0, 0] = 255  # top left as stored: top right once turned clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    for c in "ab":
        (tmp_path / "phone" / c).mkdir(parents=True)
        Image.fromarray(pixels).save(tmp_path / "phone" / c / "turned.png", exif=exif)
        Image.fromarray(np.zeros((3, 2), dtype=np.uint8)).save(tmp_path / "phone" / c / "upright.png")
    d = load(f"folder:{tmp_path / 'phone'}", split="all")
    assert d.shape == (1, 3, 2)
    assert d.images[0, 0].tolist() == [[0, 255], [0, 0], [0, 0]]


@pytest.mark.parametrize("exif", [b"garbage", b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff"],
                         ids=["not-tiff", "cut-short"])
def test_image_folder_reads_an_image_whose_exif_is_damaged(tmp_path, exif):
    """A damaged EXIF block (Pillow raised SyntaxError for one, warned for another) leaves the pixels loadable
    as stored, silently."""
    import warnings

    for c in "ab":
        (tmp_path / "odd" / c).mkdir(parents=True)
        Image.fromarray(np.full((2, 3), 9, dtype=np.uint8)).save(tmp_path / "odd" / c / "x.png", exif=exif)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        d = load(f"folder:{tmp_path / 'odd'}", split="all")
    assert d.shape == (1, 2, 3) and int(d.images.min()) == 9 and not seen, [str(w.message) for w in seen]


def test_image_folder_missing(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load(f"folder:{tmp_path / 'nope'}", split="all")


# ---- CelebA ------------------------------------------------------------------------------------
def write_celeba(root, n=6, names=("Smiling", "Male", "Young")):
    (root / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(1, n + 1):
        arr = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(arr).save(root / "img_align_celeba" / f"{i:06d}.jpg", quality=90)
        rows.append(f"{i:06d}.jpg " + " ".join(rng.choice(["-1", " 1"], len(names))))
    (root / "list_attr_celeba.txt").write_text(f"{n}\n{' '.join(names)}\n" + "\r\n".join(rows) + "\r\n")
    return rows


def test_celeba_written(tmp_path):
    rows = write_celeba(tmp_path / "celeba")
    d = load("celeba", split="all", data_dir=tmp_path, image_size=16)
    assert d.shape == (3, 16, 16) and d.attr_names == ("Smiling", "Male", "Young")
    expected = [[1 if v == "1" else 0 for v in r.split()[1:]] for r in rows]
    assert d.attrs.tolist() == expected


def test_celeba_partition_file(tmp_path):
    write_celeba(tmp_path / "celeba")
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text(
        "\n".join(f"{i:06d}.jpg {0 if i <= 4 else 2}" for i in range(1, 7)))
    assert len(load("celeba", split="train", data_dir=tmp_path, image_size=8)) == 4
    assert len(load("celeba", split="test", data_dir=tmp_path, image_size=8)) == 2


def test_celeba_truncated_attributes(tmp_path):
    write_celeba(tmp_path / "celeba")
    f = tmp_path / "celeba" / "list_attr_celeba.txt"
    f.write_text("\n".join(f.read_text().splitlines()[:-2]))
    with pytest.raises(DataError, match="list_attr_celeba.txt.*6 images but 4 rows"):
        load("celeba", split="all", data_dir=tmp_path)


def test_celeba_shared_subset():
    root = shared_path("celeba-subset")
    d = load("celeba", split="all", data_dir=root.parent)
    assert len(d) == 32 and d.shape == (3, 64, 64) and len(d.attr_names) == 40
    assert d.attr_names[31] == "Smiling"
    # row 1 of the official file: 000001.jpg has Smiling = 1, Male = -1
    assert int(d.attrs[0, d.attr_names.index("Smiling")]) == 1
    assert int(d.attrs[0, d.attr_names.index("Male")]) == 0
