"""Bad input ends in one clear line, exit status 2, no traceback, and nothing changed.

One table of cases: damaged dataset files in every format, damaged run folders, and bad arguments.
Each case writes tiny files in the real format under tmp_path (next to copies of real run folders),
runs the `genzoo` command in-process, and checks that

- it returns 2 (an uncaught exception fails the test: that is the traceback a user would see);
- stderr is exactly one line `genzoo: error: ...` naming the file or argument and the fix, and no
  warning was issued (it would be one more line);
- every file under tmp_path (the run folders included) has the same bytes as before, and no new file
  or folder appeared (so the --out folder of a data case was not created, and no payload ran).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import pickle
import shlex
import shutil
import struct
import tarfile
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.cli import main
from genzoo.data.idx import write_idx

MARKER = "PAYLOAD_RAN"  # a pickled payload would create this file in tmp_path


class Payload:
    """Pickles as a call to exec that creates the marker file: proof when a loader runs pickled code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


# ---- runs: made once per session, copied into each case's tmp_path --------------------------------
def _run(argv: list[str]) -> None:
    assert main(argv) == 0, argv


@pytest.fixture(scope="session")
def real_runs(tmp_path_factory) -> Path:
    """runs/clf: a finished classifier; runs/cvae: a finished conditional VAE; runs/paused: a classifier
    paused at step 3 of 6 (resumable), with one metrics.jsonl row per step; runs/irgan: a finished retrieval
    model with a database of 60 images."""
    from genzoo.data import load
    from genzoo.registry import build
    from genzoo.training import TrainConfig, Trainer

    root = tmp_path_factory.mktemp("real-runs")
    _run(["train", "classifier", "--steps", "3", "--batch-size", "32", "--set", "width=8", "data.limit=256",
          "--out", str(root / "clf"), "--quiet"])
    _run(["train", "cvae", "--steps", "2", "--batch-size", "32", "--set", "hidden=8", "latent_dim=2", "eval_k=2",
          "data.limit=256", "--out", str(root / "cvae"), "--quiet"])
    _run(["train", "irgan", "--steps", "4", "--batch-size", "8", "--set", "db_size=60", "queries=20", "known=2",
          "hidden=8", "emb=4", "codes=pca:4", "pretrain_steps=2", "eval_queries=20", "data.limit=256",
          "--out", str(root / "irgan"), "--quiet"])
    data = load("mnist-mini", limit=64)
    cfg = TrainConfig(steps=6, batch_size=16, log_every=1, progress=False, precision="fp32", tensorboard=False)
    Trainer(build("classifier", data.spec, {"width": 4}, seed=0), data, cfg, run_dir=root / "paused",
            data_args={"name": "mnist-mini", "limit": 64}, log=lambda _: None).fit(until=3)
    return root


@pytest.fixture
def runs(real_runs, tmp_path) -> Path:
    shutil.copytree(real_runs, tmp_path / "runs")
    return tmp_path / "runs"


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path (folders too, so an empty new one shows)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


# ---- tiny files in the real formats ----------------------------------------------------------------
def mnist(tmp: Path, n_train: int = 8, n_test: int = 4, name: str = "mnist") -> Path:
    d = tmp / "data" / name
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        write_idx(d / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(d / f"{stem}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8))
    return d


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    return bytes([0, 0, code, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape) + \
        array.tobytes()


def write_gz(path: Path, raw: bytes) -> None:
    path.write_bytes(gzip.compress(raw, mtime=0))


def cifar(tmp: Path, n: int = 2) -> Path:
    d = tmp / "data" / "cifar10" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"batch_label": name.encode(), b"labels": rng.integers(0, 10, n).tolist(),
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"x.png"] * n}
        (d / name).write_bytes(pickle.dumps(batch, protocol=2))
    return d


def cifar_jpeg(tmp: Path, extra: dict[str, bytes] | None = None) -> Path:
    """cifar10-jpeg.tar.gz with one 32x32 JPEG per class and split (train|test/<class>/0000.jpg), plus `extra`."""
    from genzoo.data.cifar import CLASSES

    members = {}
    for split in ("train", "test"):
        for c, cls in enumerate(CLASSES):
            buf = io.BytesIO()
            Image.new("RGB", (32, 32), (20 * c, 0, 0)).save(buf, "JPEG", quality=75)
            members[f"{split}/{cls}/0000.jpg"] = buf.getvalue()
    members.update(extra or {})
    d = tmp / "data" / "cifar10-jpeg"
    d.mkdir(parents=True)
    with tarfile.open(d / "cifar10-jpeg.tar.gz", "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return d / "cifar10-jpeg.tar.gz"


def frey(tmp: Path, ff: np.ndarray | None = None, name: str = "ff") -> Path:
    from scipy.io import savemat

    d = tmp / "data" / "frey"
    d.mkdir(parents=True)
    if ff is None:
        ff = np.random.default_rng(0).integers(0, 256, (560, 300), dtype=np.uint8)
    savemat(d / "frey_rawface.mat", {name: ff})
    return d / "frey_rawface.mat"


def png(path: Path, size=(8, 8), mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, 128).save(path)
    return path


def one_fake(tmp: Path) -> None:  # and of another size than the real images (the note on sizes comes later)
    png(tmp / "fakes" / "0.png", size=(40, 40), mode="L")


def folder(tmp: Path, classes=("a", "b"), per_class: int = 2) -> Path:
    root = tmp / "imgs"
    for c in classes:
        for i in range(per_class):
            png(root / c / f"{i}.png")
    return root


def png_claiming(path: Path, width: int, height: int) -> None:
    """A valid PNG signature and IHDR chunk that claim width x height pixels, and almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))


def celeba(tmp: Path, n: int = 4, names=("Smiling", "Male")) -> Path:
    d = tmp / "data" / "celeba"
    (d / "img_align_celeba").mkdir(parents=True)
    rows = []
    for i in range(1, n + 1):
        Image.new("RGB", (16, 20), (i * 40, 0, 0)).save(d / "img_align_celeba" / f"{i:06d}.jpg")
        rows.append(f"{i:06d}.jpg " + " ".join("1" if (i + j) % 2 else "-1" for j in range(len(names))))
    (d / "list_attr_celeba.txt").write_text(f"{n}\n{' '.join(names)}\n" + "\r\n".join(rows) + "\r\n")
    return d


def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def nothing(tmp: Path) -> None:
    pass


def out_is_a_file(tmp: Path) -> None:
    (tmp / "new-run").write_text("notes\n")


# ---- setups: each damages one thing ----------------------------------------------------------------
def idx_gz_truncated(tmp):
    f = mnist(tmp) / "train-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-40])


def idx_data_short(tmp):
    write_gz(mnist(tmp) / "train-images-idx3-ubyte.gz", idx_bytes(np.zeros((8, 28, 28), np.uint8))[:-100])


def idx_bad_magic(tmp):
    write_gz(mnist(tmp) / "train-labels-idx1-ubyte.gz", b"\x12\x34\x08\x01" + b"\x00" * 12)


def idx_count_mismatch(tmp):
    write_idx(mnist(tmp) / "train-labels-idx1-ubyte.gz", np.zeros(7, np.uint8))


def idx_wrong_dims(tmp):
    write_idx(mnist(tmp) / "train-images-idx3-ubyte.gz", np.zeros((8, 784), np.uint8))


def idx_float_images(tmp):
    write_gz(mnist(tmp) / "train-images-idx3-ubyte.gz", idx_bytes(np.zeros((8, 28, 28), ">f4"), code=0x0D))


def idx_not_gzip(tmp):
    (mnist(tmp) / "train-images-idx3-ubyte.gz").write_text("<html>404 Not Found</html>")


def idx_empty(tmp):
    (mnist(tmp) / "train-images-idx3-ubyte.gz").write_bytes(b"")


def idx_empty_test_split(tmp):
    (mnist(tmp) / "t10k-images-idx3-ubyte.gz").write_bytes(b"")


def fashion_empty_test_split(tmp):
    (mnist(tmp, name="fashion-mnist") / "t10k-images-idx3-ubyte.gz").write_bytes(b"")


def idx_missing_test_labels(tmp):
    (mnist(tmp) / "t10k-labels-idx1-ubyte.gz").unlink()


def idx_labels_out_of_range(tmp):
    write_idx(mnist(tmp) / "train-labels-idx1-ubyte.gz", np.full(8, 12, np.uint8))


def cifar_truncated(tmp):
    f = cifar(tmp) / "data_batch_2"
    f.write_bytes(f.read_bytes()[:300])


def cifar_missing_keys(tmp):
    (cifar(tmp) / "data_batch_1").write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}))


def cifar_wrong_shape(tmp):
    (cifar(tmp) / "data_batch_1").write_bytes(pickle.dumps({b"data": np.zeros((2, 1024), np.uint8),
                                                            b"labels": [0, 1]}))


def cifar_not_a_dict(tmp):
    (cifar(tmp) / "data_batch_1").write_bytes(pickle.dumps([1, 2, 3]))


def cifar_payload(tmp):
    (cifar(tmp) / "data_batch_1").write_bytes(pickle.dumps({b"data": Payload(tmp / MARKER), b"labels": [0]}))


def cifar_broken_test_batch(tmp):
    f = cifar(tmp) / "test_batch"
    f.write_bytes(f.read_bytes()[:100])


def cifar_missing_batch(tmp):
    (cifar(tmp) / "data_batch_4").unlink()


def cifar_jpeg_truncated(tmp):
    f = cifar_jpeg(tmp)
    f.write_bytes(f.read_bytes()[:-8])  # all but gzip's length and CRC-32


def cifar_jpeg_not_gzip(tmp):
    cifar_jpeg(tmp).write_text("<html>404 Not Found</html>")


def cifar_jpeg_not_a_jpeg(tmp):
    cifar_jpeg(tmp, {"test/cat/0001.jpg": b"GIF89a" + b"\x00" * 40})


def cifar_jpeg_cut_jpeg(tmp):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "JPEG")
    cifar_jpeg(tmp, {"train/dog/0001.jpg": buf.getvalue()[:300]})


def cifar_jpeg_unknown_class(tmp):
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, "JPEG")
    cifar_jpeg(tmp, {"train/wolf/0000.jpg": buf.getvalue()})


def cifar_jpeg_wrong_size(tmp):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "JPEG")
    cifar_jpeg(tmp, {"train/ship/0001.jpg": buf.getvalue()})


def frey_missing_variable(tmp):
    frey(tmp, name="faces")


def frey_float(tmp):
    frey(tmp, ff=np.random.default_rng(0).random((560, 300)))


def frey_out_of_range(tmp):
    frey(tmp, ff=np.full((560, 300), 300, np.int16))


def frey_wrong_shape(tmp):
    frey(tmp, ff=np.zeros((100, 30), np.uint8))


def frey_not_mat(tmp):
    (tmp / "data" / "frey").mkdir(parents=True)
    (tmp / "data" / "frey" / "frey_rawface.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 50)


def png_truncated(tmp):
    f = png(folder(tmp) / "a" / "big.png", size=(8, 8))
    f.write_bytes(f.read_bytes()[:40])


def png_zero_bytes(tmp):
    (folder(tmp) / "b" / "empty.png").write_bytes(b"")


def png_not_an_image(tmp):
    (folder(tmp) / "a" / "notes.png").write_text("these are my notes, not a picture")


def png_bomb(tmp):
    png_claiming(folder(tmp) / "b" / "bomb.png", 100_000, 100_000)


def png_over_limit(tmp):
    png_claiming(folder(tmp) / "b" / "huge.png", 5000, 5000)


def png_over_pillow_warning(tmp):  # over Pillow's warning limit (89M pixels), under its error limit
    png_claiming(folder(tmp) / "a" / "vast.png", 10_000, 10_000)


def jpeg_truncated(tmp):
    root = folder(tmp)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        root / "a" / "photo.jpg", quality=90)
    f = root / "a" / "photo.jpg"
    f.write_bytes(f.read_bytes()[:300])


def folder_empty(tmp):
    (tmp / "imgs").mkdir()
    (tmp / "imgs" / "notes.txt").write_text("no images here")


def folder_empty_class(tmp):
    (folder(tmp) / "c").mkdir()


def folder_one_class(tmp):
    folder(tmp, classes=("cats",))


def folder_unlabelled(tmp):
    for i in range(3):
        png(tmp / "imgs" / f"{i}.png")


def folder_mixed_sizes(tmp):
    png(folder(tmp) / "b" / "wide.png", size=(12, 8))


def folder_mixed_grey_rgb(tmp):
    png(folder(tmp) / "b" / "grey.png", mode="L")


def folder_broken_test_split(tmp):
    for split in ("train", "test"):
        for c in ("a", "b"):
            png(tmp / "imgs" / split / c / "0.png")
    (tmp / "imgs" / "test" / "b" / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n")


def celeba_short_row(tmp):
    f = celeba(tmp) / "list_attr_celeba.txt"
    f.write_text(f.read_text().replace("000003.jpg 1 -1", "000003.jpg 1"))


def celeba_bad_value(tmp):
    f = celeba(tmp) / "list_attr_celeba.txt"
    f.write_text(f.read_text().replace("000002.jpg -1 1", "000002.jpg 0 1"))


def celeba_count_disagrees(tmp):
    f = celeba(tmp) / "list_attr_celeba.txt"
    f.write_text("6" + f.read_text()[1:])


def celeba_missing_image(tmp):
    (celeba(tmp) / "img_align_celeba" / "000004.jpg").unlink()


def celeba_bad_partition(tmp):
    (celeba(tmp) / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg test\n")


def config_missing(tmp):
    (tmp / "runs" / "clf" / "config.json").unlink()


def config_not_json(tmp):
    f = tmp / "runs" / "clf" / "config.json"
    f.write_text(f.read_text()[:50])


def config_not_an_object(tmp):
    (tmp / "runs" / "clf" / "config.json").write_text("[1, 2, 3]")


def config_unknown_model(tmp):
    edit_json(tmp / "runs" / "clf" / "config.json", lambda c: c.update(model="stylegan9"))


def config_other_version(tmp):
    edit_json(tmp / "runs" / "clf" / "config.json", lambda c: c["model_config"].update(attention_heads=4))


def config_missing_model(tmp):
    edit_json(tmp / "runs" / "clf" / "config.json", lambda c: c.pop("model"))


def config_missing_data_spec_field(tmp):
    edit_json(tmp / "runs" / "clf" / "config.json", lambda c: c["data_spec"].pop("height"))


def config_bad_value(tmp):
    edit_json(tmp / "runs" / "clf" / "config.json", lambda c: c["model_config"].update(width=-8))


def metrics_json_corrupt(tmp):
    f = tmp / "runs" / "clf" / "metrics.json"
    f.write_text(f.read_text()[:30])


def ckpt_truncated(tmp):
    f = tmp / "runs" / "clf" / "checkpoints" / "last.pt"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def ckpt_bit_flipped(tmp):
    f = tmp / "runs" / "clf" / "checkpoints" / "last.pt"
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    f.write_bytes(bytes(raw))


def ckpt_zero_bytes(tmp):
    (tmp / "runs" / "clf" / "checkpoints" / "last.pt").write_bytes(b"")


def ckpt_missing(tmp):
    (tmp / "runs" / "clf" / "checkpoints" / "last.pt").unlink()


def ckpt_other_model(tmp):
    shutil.copy(tmp / "runs" / "cvae" / "checkpoints" / "last.pt", tmp / "runs" / "clf" / "checkpoints" / "last.pt")


def ckpt_other_config(tmp):
    edit_json(tmp / "runs" / "clf" / "config.json", lambda c: c["model_config"].update(width=16))


def ckpt_payload(tmp):
    torch.save({"model_name": "classifier", "step": 3, "training_state": Payload(tmp / MARKER)},
               tmp / "runs" / "clf" / "checkpoints" / "last.pt")


def paused_ckpt_payload(tmp):
    torch.save({"model_name": "classifier", "step": 3, "training_state": Payload(tmp / MARKER)},
               tmp / "runs" / "paused" / "checkpoints" / "last.pt")


def query_14px(tmp):
    Image.new("L", (14, 14), 128).save(tmp / "q14.png")


def query_28px(tmp):
    Image.new("L", (28, 28), 0).save(tmp / "q28.png")


def paused_config_missing_train(tmp):
    edit_json(tmp / "runs" / "paused" / "config.json", lambda c: c.pop("train"))


# ---- the table -------------------------------------------------------------------------------------
TRAIN = "train classifier --steps 1 --batch-size 4 --quiet --out {out}"
ON_MNIST = TRAIN + " --data mnist --data-dir {data}"
ON_CIFAR = TRAIN + " --data cifar10 --data-dir {data}"
ON_CIFAR_JPEG = TRAIN + " --data cifar10-jpeg --data-dir {data}"
ON_FOLDER = TRAIN + " --data folder:{tmp}/imgs"
ON_CELEBA = "train classifier --set target=attrs --steps 1 --quiet --out {out} --data celeba --data-dir {data}"
ON_FREY = "train vae-frey --steps 1 --quiet --out {out} --data frey --data-dir {data}"
IRGAN = "train irgan --steps 1 --quiet --out {out} --set db_size=60 queries=20"
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
NO_MPS = pytest.mark.skipif(torch.backends.mps.is_available(), reason="MPS is available here")


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[Path], None]  # writes or damages files under tmp_path (the run copies are in tmp/runs)
    argv: str  # {tmp}, {data} = tmp/data, {out} = tmp/new-run, {run} / {cvae} / {paused} / {irgan} = the run copies
    expect: tuple[str, ...]  # substrings of the message: the file or argument, and the fix


def case(id, setup, argv, *expect, marks=()):
    return pytest.param(Case(id, setup, argv, expect), id=id, marks=marks)


CASES = [
    # IDX (mnist, fashion-mnist, stacked-mnist)
    case("idx-gz-truncated", idx_gz_truncated, ON_MNIST, "train-images-idx3-ubyte.gz", "truncated", "download"),
    case("idx-data-short", idx_data_short, ON_MNIST, "train-images-idx3-ubyte.gz", "header says", "download"),
    case("idx-bad-magic", idx_bad_magic, ON_MNIST, "train-labels-idx1-ubyte.gz", "not an IDX file", "download"),
    case("idx-count-mismatch", idx_count_mismatch, ON_MNIST, "8 images", "7 labels", "download both again"),
    case("idx-wrong-dims", idx_wrong_dims, ON_MNIST, "train-images-idx3-ubyte.gz", "(8, 784)", "download"),
    case("idx-float-images", idx_float_images, ON_MNIST, "train-images-idx3-ubyte.gz", "float32", "download"),
    case("idx-not-gzip", idx_not_gzip, ON_MNIST, "train-images-idx3-ubyte.gz", "not gzip", "download"),
    case("idx-empty", idx_empty, ON_MNIST, "train-images-idx3-ubyte.gz", "empty", "download"),
    case("idx-empty-test-split", idx_empty_test_split, ON_MNIST, "t10k-images-idx3-ubyte.gz", "empty", "download"),
    case("idx-missing-test-labels", idx_missing_test_labels, ON_MNIST, "t10k-labels-idx1-ubyte", "missing",
         "download"),
    case("idx-labels-out-of-range", idx_labels_out_of_range, ON_MNIST, "train-labels-idx1-ubyte.gz",
         "labels outside 0..9", "download"),
    case("fashion-empty-test-split", fashion_empty_test_split, ON_MNIST.replace("mnist ", "fashion-mnist "),
         "fashion-mnist/t10k-images-idx3-ubyte.gz", "empty"),
    case("stacked-empty-test-split", idx_empty_test_split,
         "train dcgan --steps 1 --quiet --out {out} --data stacked-mnist --data-dir {data}",
         "t10k-images-idx3-ubyte.gz", "empty"),
    case("data-info-empty-test-split", idx_empty_test_split, "data info mnist --data-dir {data}",
         "t10k-images-idx3-ubyte.gz", "empty"),
    # CIFAR-10 pickles
    case("cifar-truncated", cifar_truncated, ON_CIFAR, "data_batch_2", "truncated", "download"),
    case("cifar-missing-keys", cifar_missing_keys, ON_CIFAR, "data_batch_1", "'labels'", "download"),
    case("cifar-wrong-shape", cifar_wrong_shape, ON_CIFAR, "data_batch_1", "N x 3072", "(2, 1024)", "download"),
    case("cifar-not-a-dict", cifar_not_a_dict, ON_CIFAR, "data_batch_1", "list", "download"),
    case("cifar-pickled-code", cifar_payload, ON_CIFAR, "data_batch_1", "builtins.exec", "refused without running"),
    case("cifar-broken-test-batch", cifar_broken_test_batch, ON_CIFAR, "test_batch", "truncated"),
    case("cifar-missing-batch", cifar_missing_batch, ON_CIFAR, "data_batch_4", "missing", "genzoo data fetch"),
    # CIFAR-10 (JPEG copy): a tar.gz of JPEG class folders
    case("cifar-jpeg-truncated", cifar_jpeg_truncated, ON_CIFAR_JPEG, "cifar10-jpeg.tar.gz", "corrupt or truncated",
         "replace cifar10-jpeg.tar.gz with the original", "3e8c32a0599b51498fa7a39d5d93cbc9"),
    case("cifar-jpeg-not-gzip", cifar_jpeg_not_gzip, ON_CIFAR_JPEG, "cifar10-jpeg.tar.gz", "cannot read the archive",
         "genzoo data fetch cifar10-jpeg"),
    case("cifar-jpeg-not-a-jpeg", cifar_jpeg_not_a_jpeg, ON_CIFAR_JPEG, "member test/cat/0001.jpg", "not a JPEG",
         "remove that file"),
    case("cifar-jpeg-cut-jpeg", cifar_jpeg_cut_jpeg, ON_CIFAR_JPEG, "member train/dog/0001.jpg", "truncated",
         "remove it"),
    case("cifar-jpeg-unknown-class", cifar_jpeg_unknown_class, ON_CIFAR_JPEG, "train/wolf/0000.jpg", "'wolf'",
         "not a CIFAR-10 class"),
    case("cifar-jpeg-wrong-size", cifar_jpeg_wrong_size, ON_CIFAR_JPEG, "train/ship/0001.jpg", "64x64", "32x32"),
    case("cifar-jpeg-missing", nothing, ON_CIFAR_JPEG, "'cifar10-jpeg' not found", "cifar10-jpeg.tar.gz",
         "YoongiKim"),
    case("data-info-cifar-jpeg-cut", cifar_jpeg_cut_jpeg, "data info cifar10-jpeg --data-dir {data}",
         "train/dog/0001.jpg", "truncated"),
    # Frey faces .mat
    case("frey-missing-variable", frey_missing_variable, ON_FREY, "frey_rawface.mat", "no variable 'ff'",
         "download"),
    case("frey-float-dtype", frey_float, ON_FREY, "frey_rawface.mat", "integer pixels", "float64", "download"),
    case("frey-out-of-range", frey_out_of_range, ON_FREY, "frey_rawface.mat", "0..255", "300..300"),
    case("frey-wrong-shape", frey_wrong_shape, ON_FREY, "frey_rawface.mat", "(560, N)", "(100, 30)"),
    case("frey-not-mat", frey_not_mat, ON_FREY, "frey_rawface.mat", "not a readable .mat", "download"),
    # PNG / JPEG and image folders
    case("png-truncated", png_truncated, ON_FOLDER, "big.png", "cannot decode", "remove or replace"),
    case("png-zero-bytes", png_zero_bytes, ON_FOLDER, "empty.png", "cannot decode", "remove or replace"),
    case("png-not-an-image", png_not_an_image, ON_FOLDER, "notes.png", "not an image", "remove or replace"),
    case("png-decompression-bomb", png_bomb, ON_FOLDER, "bomb.png", "remove or replace"),
    case("png-over-pixel-limit", png_over_limit, ON_FOLDER, "huge.png", "5000x5000", "limit", "resize"),
    case("png-over-pillow-warning", png_over_pillow_warning, ON_FOLDER, "vast.png", "10000x10000", "limit"),
    case("jpeg-truncated", jpeg_truncated, ON_FOLDER, "photo.jpg", "truncated", "remove or replace"),
    case("folder-empty", folder_empty, ON_FOLDER, "no images", "imgs", "put the images there"),
    case("folder-no-path", nothing, "train dcgan --steps 1 --quiet --out {out} --data folder:", "'folder:' names no "
         "folder", "folder:PATH"),
    case("folder-empty-class", folder_empty_class, ON_FOLDER, "imgs/c", "holds no images", "remove it"),
    case("folder-one-class", folder_one_class, ON_FOLDER, "at least 2 classes", "has 1", "one subfolder per class"),
    case("folder-one-class-cgan", folder_one_class, "train cgan --steps 1 --quiet --out {out} --data folder:{tmp}/imgs",
         "at least 2 classes", "one subfolder per class"),
    case("folder-unlabelled", folder_unlabelled, ON_FOLDER, "at least 2 classes", "has 0", "one subfolder per class"),
    case("folder-missing", nothing, ON_FOLDER, "imgs", "does not exist"),
    case("folder-mixed-sizes", folder_mixed_sizes, ON_FOLDER, "wide.png", "12x8", "data.image_size"),
    case("folder-mixed-grey-rgb", folder_mixed_grey_rgb, ON_FOLDER, "grey.png is grey", "convert"),
    case("folder-broken-test-split", folder_broken_test_split, ON_FOLDER, "test/b/cut.png", "remove or replace"),
    # CelebA attribute files
    case("celeba-short-row", celeba_short_row, ON_CELEBA, "list_attr_celeba.txt, line 5", "2 values", "download"),
    case("celeba-bad-value", celeba_bad_value, ON_CELEBA, "list_attr_celeba.txt, line 4", "'0'", "download"),
    case("celeba-count-disagrees", celeba_count_disagrees, ON_CELEBA, "says 6 images but 4 rows", "download"),
    case("celeba-missing-image", celeba_missing_image, ON_CELEBA, "000004.jpg is missing", "unpack"),
    case("celeba-bad-partition", celeba_bad_partition, ON_CELEBA, "list_eval_partition.txt, line 2", "'test'"),
    # run folders
    case("config-missing", config_missing, "eval {run}", "config.json does not exist", "genzoo train"),
    case("config-not-json", config_not_json, "eval {run}", "config.json is not valid JSON", "restore"),
    case("config-not-an-object", config_not_an_object, "eval {run}", "config.json holds a JSON list", "restore"),
    case("config-unknown-model", config_unknown_model, "eval {run}", "config.json", "unknown model 'stylegan9'",
         "another genzoo version"),
    case("config-other-version", config_other_version, "eval {run}", "config.json", "'attention_heads'",
         "another genzoo version"),
    case("config-missing-model", config_missing_model, "sample {run}", "config.json lacks 'model'", "restore"),
    case("config-missing-model-resume", config_missing_model, "train --resume {run}", "config.json lacks 'model'"),
    case("config-data-spec-field", config_missing_data_spec_field, "eval {run}", "config.json", "data_spec",
         "restore"),
    case("config-bad-value", config_bad_value, "eval {run}", "config.json", "width must be at least 1, got -8"),
    case("config-missing-train-resume", paused_config_missing_train, "train --resume {paused}",
         "config.json lacks 'train'"),
    case("metrics-json-corrupt", metrics_json_corrupt, "eval {run}", "metrics.json is not valid JSON",
         "delete metrics.json"),
    case("ckpt-truncated", ckpt_truncated, "eval {run}", "last.pt", "corrupt"),
    case("ckpt-bit-flipped", ckpt_bit_flipped, "eval {run}", "last.pt"),
    case("ckpt-zero-bytes", ckpt_zero_bytes, "eval {run}", "last.pt", "cannot be read"),
    case("ckpt-missing", ckpt_missing, "eval {run}", "no checkpoint yet"),
    case("ckpt-other-model", ckpt_other_model, "eval {run}", "last.pt belongs to model 'cvae'", "'classifier'",
         "put back"),
    case("ckpt-other-config", ckpt_other_config, "eval {run}", "last.pt does not fit", "size mismatch", "put back"),
    case("ckpt-pickled-code", ckpt_payload, "eval {run}", "last.pt", "exec", "not loaded"),
    case("ckpt-pickled-code-resume", paused_ckpt_payload, "train --resume {paused} --quiet", "last.pt", "exec",
         "not loaded"),
    case("resume-finished-run", nothing, "train --resume {run} --quiet", "{run}", "finished"),
    case("resume-and-model", nothing, "train classifier --resume {paused}", "either a model name or --resume"),
    # arguments
    case("lr-negative", nothing, TRAIN + " --lr -1", "--lr", "greater than 0"),
    case("lr-nan", nothing, TRAIN + " --lr nan", "--lr", "finite"),
    case("lr-zero", nothing, TRAIN + " --lr 0", "--lr", "greater than 0"),
    case("set-lr-negative", nothing, "train dcgan --steps 1 --quiet --out {out} --set lr_d=-2e-4", "lr_d",
         "greater than 0"),
    case("batch-larger-than-data", nothing, "train classifier --steps 1 --batch-size 20000 --out {out}",
         "10000 images are too few for batch size 20000", "lower --batch-size"),  # and no run folder is left
    case("out-is-a-file", out_is_a_file, "train classifier --steps 1 --out {out}", "--out {out}: {out} is a file, "
         "not a folder; choose another --out"),
    case("out-under-a-file", out_is_a_file, "train classifier --steps 1 --out {out}/run", "--out {out}/run",
         "{out} is a file", "choose another --out"),
    case("resume-with-out", nothing, "train --resume {paused} --out {out}", "--out: a resumed run goes on exactly "
         "as saved in {paused}/config.json, in its own folder"),
    case("resume-with-steps-and-set", nothing, "train --resume {paused} --steps 50 --set train.log_every=1 --seed 0",
         "--steps, --seed, --set: a resumed run", "only --device, --data-dir and --quiet apply"),
    case("batch-size-zero", nothing, "train classifier --steps 1 --batch-size 0 --out {out}", "--batch-size",
         "at least 1"),
    # a model too large to allocate: 3e6 x 6e6 3x3 weights are 589 TiB, more than x86-64's 128 TiB of address
    # space, so the allocation fails at once whatever the kernel's overcommit setting
    case("model-too-large", nothing, "train classifier --steps 1 --out {out} --set width=3000000", "out of memory",
         "589.4 TiB", "make the model smaller", "--batch-size"),
    case("sample-grid-too-large-in-training", nothing, "train dcgan --steps 1 --out {out} --set train.n_samples=10001",
         "n_samples must be at most 10000"),
    case("steps-zero", nothing, "train classifier --steps 0 --out {out}", "--steps", "at least 1"),
    case("steps-nan", nothing, "train classifier --steps nan --out {out}", "argument --steps: invalid int value: "
         "'nan' (see genzoo train --help)"),
    case("epochs-negative", nothing, "train classifier --epochs -2 --out {out}", "--epochs", "at least 1"),
    case("width-negative", nothing, TRAIN + " --set width=-3", "width must be at least 1"),
    case("g-width-zero", nothing, "train dcgan --steps 1 --quiet --out {out} --set g_width=0", "g_width",
         "at least 1"),
    case("hidden-item-zero", nothing, "train vae --steps 1 --quiet --out {out} --set hidden=200,0", "hidden",
         "at least 1"),
    case("image-size-negative", nothing, TRAIN + " --set data.image_size=-1", "data.image_size", "at least 1"),
    case("image-size-too-small-for-the-net", nothing, "train classifier --steps 1 --out {out} --set data.image_size=2",
         "the fast net max-pools twice", "at least 4x4, got 2x2", "data.image_size"),
    case("limit-zero", nothing, TRAIN + " --set data.limit=0", "data.limit", "at least 1"),
    case("per-class-zero", nothing, TRAIN + " --set data.per_class=0", "data.per_class"),
    case("dropout-nan", nothing, TRAIN + " --set dropout=nan", "dropout", "finite"),
    case("momentum-inf", nothing, TRAIN + " --set momentum=inf", "momentum", "finite"),
    case("log-every-zero", nothing, TRAIN + " --set train.log_every=0", "log_every", "at least 1"),
    case("eval-batch-size-zero", nothing, TRAIN + " --set train.eval_batch_size=0", "eval_batch_size", "at least 1"),
    case("n-samples-zero", nothing, TRAIN + " --set train.n_samples=0", "n_samples", "at least 1"),
    case("val-fraction-one", nothing, TRAIN + " --set train.val_fraction=1", "val_fraction", "less than 1"),
    case("checkpoint-minutes-negative", nothing, TRAIN + " --set train.checkpoint_minutes=-1", "checkpoint_minutes",
         "greater than 0"),
    case("unknown-key", nothing, TRAIN + " --set widht=8", "widht", "Did you mean width"),
    case("unknown-train-key", nothing, TRAIN + " --set train.log_evry=5", "log_evry", "Did you mean log_every"),
    case("unknown-data-key", nothing, TRAIN + " --set data.size=32", "unknown data key 'size'"),
    case("wrong-type", nothing, TRAIN + " --set width=abc", "width", "'abc'"),
    case("wrong-tuple-arity", nothing, "train dcgan --steps 1 --quiet --out {out} --set betas=0.5",
         "betas", "expected 2 comma-separated values"),
    case("not-key-value", nothing, TRAIN + " --set width", "key=value"),
    case("bad-choice", nothing, TRAIN + " --set hflip=maybe", "hflip", "not one of auto, on, off"),
    case("bad-precision", nothing, TRAIN + " --precision fp16", "--precision", "invalid choice"),
    case("unknown-model", nothing, "train clasifier --out {out}", "unknown model 'clasifier'", "genzoo list"),
    case("unknown-command", nothing, "trian classifier", "invalid choice: 'trian'", "genzoo --help"),
    case("unknown-dataset", nothing, TRAIN + " --data imagenet", "unknown dataset 'imagenet'", "genzoo data list"),
    case("data-dir-missing", nothing, TRAIN + " --data mnist --data-dir {tmp}/nowhere", "nowhere",
         "genzoo data fetch mnist"),
    case("device-unknown", nothing, TRAIN + " --device tpu", "--device", "unknown device 'tpu'"),
    case("train-device-unknown", nothing, TRAIN + " --set train.device=tpu", "device", "unknown device 'tpu'"),
    case("device-cuda-without-cuda", nothing, TRAIN + " --device cuda", "CUDA is not available", "--device cpu",
         marks=NO_CUDA),
    case("device-mps-without-mps", nothing, "sample {cvae} --device mps", "'mps'", "not available", "--device cpu",
         marks=NO_MPS),
    case("device-torch-knows-genzoo-not", nothing, "sample {cvae} --device xla", "unknown device 'xla'", "cuda:N"),
    case("device-meta", nothing, TRAIN + " --set train.device=meta", "device", "unknown device 'meta'"),
    case("eval-n-zero", nothing, "eval {cvae} --n 0", "--n", "at least 1"),
    case("eval-seeds-zero", nothing, "eval {cvae} --seeds 0", "--seeds", "at least 1"),
    case("eval-k-zero", nothing, "eval {cvae} --k 0", "--k", "at least 1"),
    case("eval-k-not-likelihood", nothing, "eval {run} --k 5", "--k", "takes no k"),
    case("eval-unknown-metric", nothing, "eval {cvae} --metrics fid,fdi", "unknown metric(s) fdi"),
    case("eval-unknown-split", nothing, "eval {cvae} --split valid", "no split 'valid'", "train, test"),
    case("eval-run-missing", nothing, "eval {tmp}/no-such-run", "no-such-run", "does not exist"),
    case("sample-n-zero", nothing, "sample {cvae} --n 0", "--n", "at least 1"),
    case("sample-labels-out-of-range", nothing, "sample {cvae} --labels 3,10", "--labels", "0..9"),
    case("sample-labels-negative", nothing, "sample {cvae} --labels=-1", "--labels", "0..9"),
    case("sample-labels-not-numbers", nothing, "sample {cvae} --labels one", "--labels", "integers"),
    case("sample-labels-to-out-dir", nothing, "sample {cvae} --labels 11 --out-dir {tmp}/pngs", "--labels", "0..9"),
    case("sample-classifier-run", nothing, "sample {run}", "not a generative model"),
    case("eval-fake-one-image", one_fake, "eval --real mnist-mini --fake {tmp}/fakes", "--fake $TMP/fakes holds 1 "
         "image", "at least 2"),
    case("eval-fake-folder-missing", nothing, "eval --real mnist-mini --fake {tmp}/fakes", "fakes", "does not exist"),
    case("sample-interpolate-steps", nothing, "sample {cvae} --interpolate --steps 1", "--steps", "at least 2"),
    case("sample-steps-without-its-view", nothing, "sample {cvae} --steps 5", "--steps is for --interpolate or "
         "--codes or --manifold, and plain samples would ignore it"),  # they were silently ignored
    case("sample-scale-without-a-grid", nothing, "sample {cvae} --n 2 --out-dir {tmp}/pngs --scale 2",
         "--scale upscales the grid, and --out-dir alone writes no grid"),
    case("sample-slerp-with-reconstruct", nothing, "sample {cvae} --reconstruct --slerp", "--slerp is for "
         "--interpolate, and --reconstruct would ignore it"),
    case("fetch-timeout-zero", nothing, "data fetch mnist --timeout 0", "--timeout", "greater than 0"),
    case("sample-n-with-manifold", nothing, "sample {cvae} --manifold --n 16", "--n 16", "--manifold",
         "--steps", "drop it"),
    case("sample-n-with-scatter", nothing, "sample {cvae} --scatter --n 100", "--n 100", "--scatter", "test set"),
    case("sample-scale-zero", nothing, "sample {cvae} --scale 0", "--scale", "at least 1"),
    case("sample-out-not-an-image", nothing, "sample {cvae} --out {tmp}/grid.txt", "--out $TMP/grid.txt",
         "'.txt' is not an image file type", ".png"),
    case("sample-out-no-extension", nothing, "sample {cvae} --out {tmp}/grid", "without an extension", ".png"),
    case("sample-out-dir-is-a-file", out_is_a_file, "sample {cvae} --n 2 --out-dir {out}", "--out-dir {out}",
         "{out} is a file, not a folder"),
    case("sample-out-under-a-file", out_is_a_file, "sample {cvae} --n 2 --out {out}/grid.png", "--out {out}/grid.png",
         "{out} is a file"),
    case("report-out-under-a-file", out_is_a_file, "report {run} --out {out}/r.html", "{out} is a file"),
    case("project-image-over-pillow-warning", png_over_pillow_warning, "project {cvae} {tmp}/imgs/a/vast.png",
         "vast.png", "10000x10000", "limit"),
    case("project-out-under-a-file", out_is_a_file, "project {cvae} --out {out}/p --against test 1", "--out {out}/p",
         "{out} is a file"),
    case("sample-grid-too-large", nothing, "sample {cvae} --n 10001", "--n 10001", "at most 10000", "--out-dir"),
    # 1e15 samples of 4 bytes or more: over x86-64's 128 TiB of address space, refused whatever the overcommit
    case("sample-too-many-for-memory", nothing, "sample {cvae} --n 1000000000000000 --out-dir {tmp}/each",
         "out of memory", "could not allocate", "fewer samples (--n)"),
    case("eval-out-with-a-run", nothing, "eval {cvae} --out {tmp}/m.json", "--out $TMP/m.json: for --real/--fake",
         "RUN/metrics.json"),  # was silently ignored
    case("eval-too-many-samples", nothing, "eval {cvae} --n 1000001", "--n 1000001", "at most 1,000,000"),
    case("viz-out-not-an-image", nothing, "viz {run} --out {tmp}/viz.html", "'.html' is not an image file type"),
    case("sample-scale-word", nothing, "sample {cvae} --scale big", "--scale", "auto or a whole number"),
    case("sample-filters-not-rbm", nothing, "sample {cvae} --filters", "--filters is for RBMs"),
    # retrieval (irgan): queries, its database, codes runs
    case("irgan-query-other-size", query_14px, "sample {irgan} --query {tmp}/q14.png", "q14.png", "is 14x14",
         "resize it to 28x28"),
    case("irgan-query-missing", nothing, "sample {irgan} --query {tmp}/nope.png", "nope.png", "missing"),
    case("irgan-top-too-large", query_28px, "sample {irgan} --query {tmp}/q28.png --top 61", "top 61",
         "database holds 60 items"),
    case("irgan-query-with-n", query_28px, "sample {irgan} --query {tmp}/q28.png --n 5", "--n 5", "--query images"),
    case("irgan-sample-no-view", nothing, "sample {irgan}", "not a generative model", "--query IMAGE"),
    case("irgan-database-too-large", nothing, IRGAN + " db_size=100000", "db_size=100000", "has 10000 images",
         "lower them"),
    case("irgan-codes-other-shape", nothing, IRGAN + " codes={run} data.image_size=14", "was trained on",
         "(1, 28, 28)", "(1, 14, 14)", "same dataset"),
    case("irgan-codes-conditional", nothing, IRGAN + " codes={cvae}", "conditional cvae", "unconditional"),
    case("irgan-codes-not-a-run", nothing, IRGAN + " codes={tmp}/no-run", "codes=$TMP/no-run", "does not exist"),
    # report and compare
    case("report-run-missing", nothing, "report {tmp}/no-such-run", "no-such-run", "does not exist"),
    case("report-not-a-run", nothing, "report {tmp}/runs", "config.json does not exist", "genzoo train"),
    case("report-config-not-json", config_not_json, "report {run}", "config.json is not valid JSON", "restore"),
    case("report-metrics-json-corrupt", metrics_json_corrupt, "report {run}", "metrics.json is not valid JSON",
         "delete metrics.json"),
    case("report-watch-zero", nothing, "report {run} --watch 0", "--watch", "greater than 0"),
    case("report-watch-missing-run", nothing, "report {tmp}/no-such-run --watch 1", "no-such-run", "does not exist"),
    case("report-out-not-html", nothing, "report {run} --out {tmp}/report.png", "--out $TMP/report.png",
         "name it .html"),
    case("compare-out-not-html", nothing, "compare {run} {cvae} --out {tmp}/cmp.png", "--out $TMP/cmp.png",
         "name it .html"),
    case("compare-one-run", nothing, "compare {run} --out {tmp}/cmp.html", "at least two run folders"),
    case("compare-run-missing", nothing, "compare {run} {tmp}/nope --out {tmp}/cmp.html", "nope", "does not exist"),
    case("compare-config-missing", config_missing, "compare {cvae} {run} --out {tmp}/cmp.html",
         "config.json does not exist"),
]


def test_table_is_large_enough():
    assert len(CASES) >= 55


@pytest.mark.parametrize("c", CASES)
def test_bad_input(c: Case, runs, tmp_path, capsys):
    c.setup(tmp_path)
    where = {"tmp": tmp_path, "data": tmp_path / "data", "out": tmp_path / "new-run", "run": runs / "clf",
             "cvae": runs / "cvae", "paused": runs / "paused", "irgan": runs / "irgan"}
    argv = [arg.format(**where) for arg in shlex.split(c.argv)]
    before = snapshot(tmp_path)
    capsys.readouterr()

    with warnings.catch_warnings(record=True) as warned:  # a warning would be one more line on stderr
        rc = main(argv)

    assert not warned, [str(w.message) for w in warned]
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert rc == 2, f"exit status {rc}, stderr: {err}"
    assert len(lines) == 1 and lines[0].startswith("genzoo: error: ") and len(lines[0]) > 20, err
    # compared with tmp_path written as $TMP: its name holds the case id, which must not match by accident
    message = lines[0].replace(str(tmp_path), "$TMP")
    shown = {k: str(v).replace(str(tmp_path), "$TMP") for k, v in where.items()}
    for text in c.expect:
        assert text.format(**shown) in message, f"{text.format(**shown)!r} is not in: {message}"
    assert not (tmp_path / MARKER).exists(), "a pickled payload ran"
    assert snapshot(tmp_path) == before, "files changed or appeared"


# ---- a crash mid-write of metrics.jsonl breaks nothing -----------------------------------------------
def cut_last_row(run: Path) -> None:
    """Append the first half of a log row, as a process killed while writing it would leave it."""
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 4, "epoch": 1.0, "lo')


def test_truncated_metrics_row_does_not_break_eval(runs, capsys):
    cut_last_row(runs / "clf")
    assert main(["eval", str(runs / "clf")]) == 0
    assert "test_accuracy" in capsys.readouterr().out


def test_truncated_metrics_row_does_not_break_resume(runs):
    cut_last_row(runs / "paused")
    assert main(["train", "--resume", str(runs / "paused"), "--quiet"]) == 0
    rows = [json.loads(line) for line in (runs / "paused" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4, 5, 6]


# ---- datasets without a test split still train (frey is split by seed; folders and CelebA copies may
# have no test images) --------------------------------------------------------------------------------
@pytest.mark.parametrize("setup, argv", [
    (folder, ON_FOLDER),
    (celeba, ON_CELEBA + " --batch-size 2"),
    (frey, ON_FREY + " --batch-size 8"),
], ids=["folder-without-test", "celeba-without-test", "frey"])
@pytest.mark.filterwarnings("ignore:sample-quality metrics skipped")  # frey has no feature network
def test_data_without_a_test_split_trains(setup, argv, tmp_path):
    setup(tmp_path)
    where = {"tmp": tmp_path, "data": tmp_path / "data", "out": tmp_path / "new-run"}
    assert main([arg.format(**where) for arg in shlex.split(argv)]) == 0
    assert (tmp_path / "new-run" / "checkpoints" / "last.pt").is_file()
