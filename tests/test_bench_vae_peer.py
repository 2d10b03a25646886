"""bench/vae_peer.py: the stand-in torchvision it runs pytorch/examples' VAE with, the script's provenance check and
the entropy floor of grey targets."""

import gzip
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def vae_peer():
    spec = importlib.util.spec_from_file_location("vae_peer", ROOT / "bench" / "vae_peer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_stand_in_torchvision_gives_what_the_script_expects(vae_peer, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-images-idx3-ubyte.gz", images)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.array([3, 1, 4, 1, 5]))
    shim = vae_peer.write_shim(tmp_path / "shim")
    probe = f"""
import torch, torchvision
from torchvision import datasets, transforms
from torchvision.utils import save_image
ds = datasets.MNIST({str(tmp_path / 'data')!r}, train=False, transform=transforms.ToTensor())
x, y = ds[2]
print(len(ds), tuple(x.shape), x.dtype, y, repr(x.flatten()[:4].tolist()))
batch, labels = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
save_image(batch, {str(tmp_path / 'grid.png')!r}, nrow=2)
try:
    datasets.MNIST({str(tmp_path / 'data')!r}, train=True, download=True)
except RuntimeError as e:
    print("missing:", e)
"""
    r = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(shim.parent), "PATH": ""},
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    first, missing = r.stdout.splitlines()
    assert first.startswith("5 (1, 28, 28) torch.float32 4 ")
    assert eval(first.split(" 4 ", 1)[1]) == pytest.approx((images[2].flatten()[:4] / 255).tolist())
    assert missing.startswith("missing: Dataset not found") and "train-images-idx3-ubyte" in missing
    from PIL import Image
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    # torchvision's layout: 2 x 2 images of 28 px with 2 px of padding around and between them
    assert grid.shape == (2 + 2 * 30, 2 + 2 * 30)
    assert (grid[2:30, 2:30] == images[0]).mean() > 0.99  # x / 255 * 255 rounds back to x
    assert (grid[32:60, 32:60] == images[3]).mean() > 0.99
    assert grid[0].max() == 0 and grid[30:32].max() == 0


def test_entropy_floor(vae_peer):
    assert vae_peer.entropy_floor(np.array([[0, 255], [255, 0]], dtype=np.uint8).reshape(2, 1, 2)) == 0
    t = 128 / 255
    coin = -(t * np.log(t) + (1 - t) * np.log(1 - t))
    half = np.full((3, 28, 28), 128, dtype=np.uint8)
    assert vae_peer.entropy_floor(half) == pytest.approx(784 * coin)
    # the floor is the least binary cross-entropy: BCE(p, t) >= H(t) with equality at p = t
    p = np.linspace(0.01, 0.99, 99)
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert bce.min() >= coin - 1e-12 and bce.min() == pytest.approx(coin, abs=1e-3)


def test_script_is_read_from_git_and_checked(vae_peer, tmp_path):
    repo = tmp_path / "examples"
    (repo / "vae").mkdir(parents=True)
    (repo / "vae" / "main.py").write_bytes(b"print('hello')\n")
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    (repo / "vae" / "main.py").write_bytes(b"print('changed in the work tree')\n")
    data, blob, commit = vae_peer.read_script(repo)
    assert data == b"print('hello')\n"  # the committed script, not an edited work tree
    expected = subprocess.run(["git", "hash-object", "--stdin"], input=data, capture_output=True,
                              check=True).stdout.decode().strip()
    assert blob == expected == vae_peer.git_blob_id(data)
    assert len(commit) == 40
