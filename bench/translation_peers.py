"""Image-to-image translation against PyTorch-GAN's pix2pix.py and cyclegan.py, side by side at equal wall time.

    python bench/translation_peers.py setup [--tasks cyclegan:mnist-to-mnistm,pix2pix:fashion-edges]  # once
    python bench/translation_peers.py run   [--tasks ...] [--minutes 5] [--n 10000]
    python bench/translation_peers.py score [--tasks ...] [--minutes 5]

The peers are PyTorch-GAN's implementations/<model>/<model>.py at gan_peers.PEER_COMMIT, unmodified, run by
bench/gan_peer_runner.py in their own environment (torch + torchvision, see gan_peers.py setup), with their default
arguments except the data set and the image size:

- cyclegan.py reads unpaired image folders DATA/train/A, train/B (and test/A, test/B for its sample grids): setup
  writes genzoo's translation set there as PNG files (domain A: the sources, B: the targets). It runs at 32x32
  (`--img_height 32 --img_width 32`): its PatchGAN's output size is computed as size / 16, which 28 breaks.
- pix2pix.py reads DATA/train/*.png, each the target and the input side by side (target | input), and also trains
  on DATA/test/ (left empty here, so that no test pair is trained on); DATA/val/ feeds its sample grids. Its U-Net
  has 8 stride-2 levels, so 256x256 is the smallest size it runs at: it trains at its default 256 on the 28x28
  pairs resized by its own transforms, which is what a user of it gets.

At the end of the budget the runner translates the first `--n` test inputs of the task (as the script's transforms
would feed them) and resizes the outputs back to the task's size; `score` then evaluates them exactly as genzoo's
own translators are evaluated (genzoo.models.translation.base: FID / KID / precision / recall in the target
domain's classifier features, the semantic score, and on paired tasks L1 / PSNR / SSIM), in train and eval mode
(pix2pix.py's U-Net has dropout), the better FID kept. genzoo's rows come from bench/translation.py at the same
budget (bench/results/translation.json). Scratch lives in ../peers (outside the repository); figures go to
bench/results/translation_peers.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from gan_peers import DATA_DIR, ROOT, check_peer_python, peer_scripts  # bench/ is first on sys.path
from PIL import Image

import genzoo
from genzoo.data.translation import grey
from genzoo.metrics import EvalOptions
from genzoo.models.translation.base import paired_figures, translation_figures

RESULTS = ROOT / "bench" / "results"
TASKS = "cyclegan:mnist-to-mnistm,pix2pix:fashion-edges"
SCRIPT_SIZE = {"cyclegan": 32, "pix2pix": 256}  # the smallest size each script runs at (see the docstring)
GRID_PAIRS = 50  # test pairs written for the scripts' own sample grids


def rgb(images: torch.Tensor) -> np.ndarray:
    """uint8 N x C x H x W (1 or 3 channels) -> N x H x W x 3 for PIL."""
    return images.expand(-1, 3, -1, -1).permute(0, 2, 3, 1).contiguous().numpy()


def write_pngs(images: torch.Tensor, folder: Path, side: torch.Tensor | None = None) -> None:
    """Each image as folder/000000.png (grey stays grey); with `side`, each image beside its `side` image (RGB)."""
    folder.mkdir(parents=True, exist_ok=True)
    if side is None:
        arrays = images[:, 0].numpy() if images.shape[1] == 1 else rgb(images)
    else:
        arrays = np.concatenate([rgb(images), rgb(side)], axis=2)
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(folder / f"{i:06d}.png")


def setup(args) -> None:
    peer = Path(args.peer_dir)
    impl = peer_scripts(peer, Path(args.mirror))
    print(f"peer environment: torch/vision {check_peer_python(Path(args.peer_python))}")
    for task in args.tasks.split(","):
        model, data = task.split(":")
        root = impl / "data" / data
        inputs = peer / "inputs" / f"{data}.npy"
        if root.is_dir() and inputs.is_file():
            print(f"{root} exists")
            continue
        t = time.time()
        train = genzoo.load_data(data, data_dir=args.data_dir)
        test = genzoo.load_data(data, split="test", data_dir=args.data_dir)
        if model == "cyclegan":
            for split, d in (("train", train), ("test", test.take(GRID_PAIRS))):
                write_pngs(d.sources, root / split / "A")
                write_pngs(d.images, root / split / "B")
        else:  # pix2pix.py: target | input in one file; test/ stays empty (pix2pix.py trains on it too)
            write_pngs(train.images, root / "train", side=train.sources)
            write_pngs(test.images[:GRID_PAIRS], root / "val", side=test.sources[:GRID_PAIRS])
            (root / "test").mkdir(exist_ok=True)
        inputs.parent.mkdir(parents=True, exist_ok=True)
        np.save(inputs, test.sources.numpy())
        print(f"{task}: {len(train)} training images in {root} ({time.time() - t:.0f} s); test inputs {inputs}")


def run(args) -> None:
    peer = Path(args.peer_dir)
    for task in args.tasks.split(","):
        model, data = task.split(":")
        out = peer / "runs" / f"{model}-{data}-{args.minutes:g}min"
        if (out / "log.json").is_file() and not args.force:
            print(f"{out} exists; skipped (--force to redo)")
            continue
        out.mkdir(parents=True, exist_ok=True)
        size = SCRIPT_SIZE[model]
        names = ["--generator", "G_AB", "--d-optimizer", "optimizer_D_B"] if model == "cyclegan" else []
        cmd = [args.peer_python, str(ROOT / "bench" / "gan_peer_runner.py"), f"{model}.py", str(out),
               "--marks", str(int(args.minutes * 60)), "--n", str(args.n), "--inputs",
               str(peer / "inputs" / f"{data}.npy"), "--size", str(size), *names,
               "--", "--dataset_name", data, "--img_height", str(size), "--img_width", str(size)]
        t = time.time()
        with open(out / "stdout.txt", "w") as log:
            subprocess.run(cmd, cwd=peer / "PyTorch-GAN" / "implementations" / model, stdout=log,
                           stderr=subprocess.STDOUT, check=True)
        print(f"{task}: {time.time() - t:.0f} s -> {out}", flush=True)


def score(args) -> None:
    path = RESULTS / "translation_peers.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    ours = json.loads((RESULTS / "translation.json").read_text()) if (RESULTS / "translation.json").is_file() else {}
    opts = EvalOptions(n=args.n, metrics=("fid", "kid", "pr"), batch_size=500)
    for task in args.tasks.split(","):
        model, data = task.split(":")
        out = Path(args.peer_dir) / "runs" / f"{model}-{data}-{args.minutes:g}min"
        log = json.loads((out / "log.json").read_text())
        test = genzoo.load_data(data, split="test", data_dir=args.data_dir).take(args.n)
        best = None
        for mode in ("eval", "train"):
            x = torch.from_numpy(np.load(out / f"mark-{int(args.minutes * 60)}-{mode}.npy"))
            x = grey(x) if test.shape[0] == 1 else x  # the script works in RGB; grey targets are scored grey
            figures = translation_figures(x, test, opts)
            if test.paired:
                figures.update(paired_figures(x, test.images))
            if best is None or figures["fid"] < best["fid"]:
                best = {"mode": mode, **figures}
        mark = log["marks"][0]
        results[f"{task}@{args.minutes:g}min"] = {"task": task, "system": f"PyTorch-GAN {model}.py",
                                                  "steps": mark["d_steps"], "seconds": mark["elapsed"], **best}
        path.write_text(json.dumps(results, indent=1))
    print(f"\n| task | system | steps | L1 | PSNR | SSIM | FID | precision | recall | semantic acc. |\n|{'---|' * 10}")
    for task in args.tasks.split(","):
        key = f"{task}@{args.minutes:g}min"
        mine, theirs = ours.get(f"{key}/s0"), results.get(key)
        for who, r in (("genzoo " + task.split(":")[0], mine), (theirs and theirs["system"], theirs)):
            if r is not None:
                print(f"| {task} | {who} | {r['steps']} | " + " | ".join(
                    f"{r[k]:{fmt}}" if k in r else "" for k, fmt in (("l1", ".3f"), ("psnr", ".1f"), ("ssim", ".3f"),
                    ("fid", ".2f"), ("precision", ".3f"), ("recall", ".3f"), ("semantic_accuracy", ".3f"))) + " |")
        if mine and theirs:
            print(f"| {task} | FID ratio genzoo / peer | | | | | {mine['fid'] / theirs['fid']:.3f} | | | |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    peer_dir = str(ROOT.parent / "peers")
    for name, fn in (("setup", setup), ("run", run), ("score", score)):
        q = sub.add_parser(name)
        q.set_defaults(fn=fn)
        q.add_argument("--tasks", default=TASKS)
        q.add_argument("--peer-dir", default=peer_dir)
        q.add_argument("--data-dir", default=str(DATA_DIR))
        q.add_argument("--peer-python", default=str(Path(peer_dir) / "venv" / "bin" / "python"))
        q.add_argument("--mirror", default=str(ROOT.parent / ".mirror" / "eriklindernoren+PyTorch-GAN" / "repo"))
        q.add_argument("--minutes", type=float, default=5.0)
        q.add_argument("--n", type=int, default=10000)
        q.add_argument("--force", action="store_true")
    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
