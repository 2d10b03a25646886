"""pytorch/examples' VAE (`vae/main.py`) run unmodified for N epochs: the test loss it prints after every epoch,
for the side-by-side table against genzoo's `vae` (bench/likelihood.py --vae-epochs 5,20,100).

    python bench/vae_peer.py --mirror DIR [--epochs 100] [--report 5,20,100] [--work DIR] [--data-dir ../shared/data]
                             [--ours bench/results/likelihood.json]

DIR is a clone of github.com/pytorch/examples (e.g. the `fetch` tool's mirror, a bare git directory, or a work
tree). The script is copied out of it byte for byte (its git blob id is checked and recorded) into --work and
run there with the command `python main.py --epochs N`, its defaults otherwise (batch 128, Adam 1e-3, seed 1,
20 latents, 400 hidden units, continuous pixels in [0, 1] as Bernoulli targets).

It imports torchvision for three things only: `datasets.MNIST`, `transforms.ToTensor` and `utils.save_image`.
torchvision does not import beside this torch build, so a stand-in package with just those three goes first on
the script's PYTHONPATH: MNIST reads the official IDX files (`<root>/MNIST/raw/`, linked to --data-dir) and
returns each image as torchvision does, a 28x28 uint8 picture that ToTensor turns into a 1x28x28 float tensor
divided by 255; save_image writes a padded grid as PNG. Nothing else of the script's environment differs.

Its "test set loss" is the negative ELBO with the test images' grey values as Bernoulli targets. That is not a
likelihood of binarized digits (genzoo's figure): binary cross-entropy against a grey target t is at least the
entropy H(t) of a coin of bias t, so the loss has a floor above zero even for a perfect decoder. The floor over
the test set is computed here and printed beside it. Writes bench/results/vae_peer.json.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "vae/main.py"
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")

# the stand-in torchvision: only what vae/main.py uses, with torchvision's semantics
SHIM = {
    "__init__.py": "from . import datasets, transforms, utils  # noqa: F401\n__version__ = 'genzoo-bench-shim'\n",
    "datasets.py": '''
import gzip
from pathlib import Path

import numpy as np
import torch


def _idx(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


class MNIST(torch.utils.data.Dataset):
    """torchvision.datasets.MNIST over <root>/MNIST/raw/<file>[.gz]; downloads nothing."""

    def __init__(self, root, train=True, download=False, transform=None, target_transform=None):
        raw = Path(root) / "MNIST" / "raw"
        prefix = "train" if train else "t10k"

        def find(name):
            for p in (raw / name, raw / (name + ".gz")):
                if p.is_file():
                    return p
            raise RuntimeError(f"Dataset not found: {raw / name}")

        self.data = torch.from_numpy(_idx(find(f"{prefix}-images-idx3-ubyte")).copy())
        self.targets = torch.from_numpy(_idx(find(f"{prefix}-labels-idx1-ubyte")).astype(np.int64))
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target
''',
    "transforms.py": '''
import torch


class ToTensor:
    """uint8 H x W (a grey picture) -> float 1 x H x W in [0, 1], as torchvision's ToTensor."""

    def __call__(self, pic):
        return pic.unsqueeze(0).to(torch.float32).div(255)
''',
    "utils.py": '''
import math

import torch
from PIL import Image


def save_image(tensor, fp, nrow=8, padding=2, pad_value=0.0):
    """N x C x H x W in [0, 1] -> a grid PNG with `padding` pixels between images, as torchvision's."""
    t = tensor.detach().cpu().float()
    n, c, h, w = t.shape
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    grid = torch.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding), float(pad_value))
    for i in range(n):
        y, x = divmod(i, cols)
        grid[:, padding + y * (h + padding):padding + y * (h + padding) + h,
             padding + x * (w + padding):padding + x * (w + padding) + w] = t[i]
    arr = grid.mul(255).add(0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    Image.fromarray(arr[:, :, 0] if c == 1 else arr).save(fp)
''',
}


def write_shim(parent: Path) -> Path:
    """The stand-in torchvision package under `parent` (put `parent` on PYTHONPATH)."""
    pkg = parent / "torchvision"
    pkg.mkdir(parents=True, exist_ok=True)
    for name, text in SHIM.items():
        (pkg / name).write_text(text.lstrip())
    return pkg


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def read_script(mirror: Path) -> tuple[bytes, str, str]:
    """The script's bytes, its blob id and the commit it comes from (git's own record when DIR is a repository)."""
    commit = subprocess.run(["git", "-C", str(mirror), "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    if commit:
        data = subprocess.run(["git", "-C", str(mirror), "show", f"HEAD:{SCRIPT}"], capture_output=True,
                              check=True).stdout
        listed = subprocess.run(["git", "-C", str(mirror), "rev-parse", f"HEAD:{SCRIPT}"], capture_output=True,
                                text=True, check=True).stdout.strip()
        if listed != git_blob_id(data):
            sys.exit(f"{SCRIPT} read from {mirror} does not match git's blob id {listed}")
        return data, listed, commit
    data = (mirror / SCRIPT).read_bytes()
    return data, git_blob_id(data), "unknown (not a git repository)"


def entropy_floor(images: np.ndarray) -> float:
    """Sum over pixels of the entropy (nats) of a coin of bias t = grey value / 255, averaged over the images: the
    least binary cross-entropy any decoder can reach against those targets, so the least loss the script can
    print."""
    t = images.astype(np.float64) / 255
    inner = t[(t > 0) & (t < 1)]
    return float(-(inner * np.log(inner) + (1 - inner) * np.log1p(-inner)).sum() / len(images))


def test_images(data_dir: Path) -> np.ndarray:
    with gzip.open(data_dir / "mnist" / "t10k-images-idx3-ubyte.gz", "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", required=True, help="a clone of github.com/pytorch/examples")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--report", default="5,20,100", help="epochs whose figures go into the table")
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--work", default=str(ROOT / "bench" / "results" / "vae_peer"),
                    help="scratch: the copied script, the stand-in package, the data links, its result images")
    ap.add_argument("--ours", default=str(ROOT / "bench" / "results" / "likelihood.json"),
                    help="bench/likelihood.py's output, for the side-by-side table (skipped when absent)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "vae_peer.json"))
    args = ap.parse_args()
    data_dir = Path(args.data_dir)
    if not all((data_dir / "mnist" / f"{n}.gz").is_file() for n in MNIST_FILES):
        print(f"skip: the official MNIST files are not in {data_dir / 'mnist'}", file=sys.stderr)
        return 0
    script, blob, commit = read_script(Path(args.mirror))
    work = Path(args.work)
    run_dir, raw = work / "run", work / "data" / "MNIST" / "raw"
    for d in (run_dir / "results", raw):
        d.mkdir(parents=True, exist_ok=True)
    (run_dir / "main.py").write_bytes(script)
    shim = write_shim(work / "shim")
    for name in MNIST_FILES:  # the script's root is ../data, relative to where it runs
        link = raw / f"{name}.gz"
        if not link.exists():
            link.symlink_to((data_dir / "mnist" / f"{name}.gz").resolve())

    env = {**os.environ, "PYTHONPATH": str(shim.parent)}
    cmd = [sys.executable, "main.py", "--epochs", str(args.epochs)]
    print(f"{SCRIPT} at {commit[:10]} (blob {blob[:10]}): {' '.join(cmd[1:])} in {run_dir}", flush=True)
    epochs, t0, train_loss = [], time.perf_counter(), None
    with subprocess.Popen(cmd, cwd=run_dir, env=env, stdout=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            if m := re.match(r"====> Epoch: (\d+) Average loss: ([\d.]+)", line):
                train_loss = float(m.group(2))
            elif m := re.match(r"====> Test set loss: ([\d.]+)", line):
                epochs.append({"epoch": len(epochs) + 1, "test_loss": float(m.group(1)), "train_loss": train_loss,
                               "wall_seconds": round(time.perf_counter() - t0, 1)})
                print(json.dumps(epochs[-1]), flush=True)
    if proc.returncode:
        sys.exit(f"{SCRIPT} failed with exit status {proc.returncode}")

    floor = entropy_floor(test_images(data_dir))
    report = [int(e) for e in args.report.split(",") if e and int(e) <= len(epochs)]
    ours = {}
    if Path(args.ours).is_file():
        for r in json.loads(Path(args.ours).read_text())["rows"]:
            if r["model"] == "vae":
                ours[round(r["epochs"])] = r
    print("\n| epochs | pytorch/examples: test loss (-ELBO, grey targets) | its floor | wall s "
          "| genzoo vae: -ELBO (binarized) | test NLL (k=100) | train s |")
    print("|---|---|---|---|---|---|---|")
    for e in report:
        p, g = epochs[e - 1], ours.get(e)
        mine = f"{g['neg_elbo']:.1f} | {g['nll']:.1f} | {g['train_seconds']:.0f}" if g else " | | "
        print(f"| {e} | {p['test_loss']:.1f} | {floor:.1f} | {p['wall_seconds']:.0f} | {mine} |")
    result = {"script": SCRIPT, "commit": commit, "blob": blob, "command": " ".join(cmd[1:]),
              "torchvision": "stand-in (bench/vae_peer.py)", "machine": platform.processor() or platform.machine(),
              "continuous_target_floor": round(floor, 2), "epochs": epochs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
