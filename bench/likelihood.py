"""Likelihood benchmark: autoregressive models at a wall-clock budget, and the VAE at a number of epochs.

    python bench/likelihood.py [--data-dir ../shared/data] [--models pixelcnn,gated-pixelcnn,pixelrnn,...]
                               [--minutes 10] [--vae-epochs 5,20] [--set KEY=VALUE ...] [--keep DIR]
                               [--data mnist|fashion-mnist|cifar10-jpeg]

Each row is one `genzoo train` run on full MNIST (a subprocess, the command a user types), its defaults
unless `--set` says otherwise. With `--data` other than mnist the pixels stay 8-bit and every row reports
bits/dim: the autoregressive models with `likelihood=logistic` (PixelCNN++'s discretized logistic mixture) and
`vae-logistic` (`vae-conv` on colour images) instead of the binarized `vae`:
  pixelcnn, gated-pixelcnn, pixelrnn, pixelrnn-diagonal
                                       `--set train.max_minutes=M` (training-step time; evaluation is extra)
  vae@E                                `--epochs E` of the default vae
Per row: steps, epochs, training seconds, wall seconds, the exact test NLL (autoregressive models) or the
importance-sampled log-likelihood (k=100) and ELBO (vae) in nats per image on the fixed binarization of the
test set, the FID of 2000 samples against the test set (genzoo's MNIST feature network), and the paper's
anchor. Autoregressive rows also time the samplers: samples/s of the cached and the naive sampler (16 images).

Anchors (binarized MNIST, static binarization; not the protocol here, see genzoo/models/pixelcnn.py): PixelCNN
81.30, Row LSTM 80.54, Diagonal BiLSTM 79.20 (PixelRNN paper, its MNIST table); VAE -86.76 (Burda et al. 2016,
k=5000, after 3280 epochs); pytorch/examples' vae/main.py: bench/vae_peer.py runs it unmodified (with a stand-in
for the three torchvision pieces it uses) and prints its test loss at the same epochs beside these rows (its loss
is a negative ELBO with grey pixels as Bernoulli targets, which has a floor of about 45.5 nats on MNIST's test
set). Prints a table and writes bench/results/likelihood.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import genzoo
from genzoo.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = {"pixelcnn": "81.30 (PixelCNN)", "gated-pixelcnn": "81.30 (PixelCNN)", "pixelrnn": "80.54 (Row LSTM)",
           "pixelrnn-diagonal": "79.20 (Diagonal BiLSTM)",
           "vae": "86.76 (Burda, 3280 ep.); pytorch/examples: bench/vae_peer.py"}


def train(model: str, out: Path, data: str, data_dir: str, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "genzoo", "train", model, "--data", data, "--data-dir", data_dir,
           "--out", str(out), "--quiet", *extra]
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run(cmd, check=True, env=env)
    m = json.loads((out / "metrics.json").read_text())
    m["command_seconds"] = round(time.perf_counter() - t0, 1)
    return m


def sampler_speed(run: Path, n: int = 16) -> dict:
    model = genzoo.load_run(str(run))
    out = {}
    for sampler in ("cached", "naive"):
        t0 = time.perf_counter()
        model.sample(n, generator=torch.Generator().manual_seed(0), sampler=sampler)
        out[f"{sampler}_samples_per_s"] = round(n / (time.perf_counter() - t0), 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--models", default="pixelcnn,gated-pixelcnn,pixelrnn")
    ap.add_argument("--minutes", type=float, default=10.0, help="training budget of each autoregressive row")
    ap.add_argument("--vae-epochs", default="5,20", help="comma-separated epochs of the vae rows ('' for none)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every row")
    ap.add_argument("--no-naive", action="store_true", help="skip timing the naive sampler")
    ap.add_argument("--keep", help="keep the run folders under this folder")
    ap.add_argument("--data", default="mnist", choices=["mnist", "fashion-mnist", "cifar10-jpeg"])
    ap.add_argument("--out", help="default: bench/results/likelihood.json (likelihood-DATA.json for other data)")
    args = ap.parse_args()
    suffix = "" if args.data == "mnist" else f"-{args.data}"
    args.out = args.out or str(ROOT / "bench" / "results" / f"likelihood{suffix}.json")
    eight_bit = args.data != "mnist"
    vae = ("vae-conv" if args.data == "cifar10-jpeg" else "vae-logistic") if eight_bit else "vae"
    ar_set = ["likelihood=logistic"] if eight_bit else []
    try:
        genzoo.load_data(args.data, data_dir=args.data_dir)
    except DataError as e:
        print(f"skip: {e}", file=sys.stderr)
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        jobs = [(m, ["--epochs", "1000", "--set", f"train.max_minutes={args.minutes}", *ar_set, *args.set])
                for m in args.models.split(",") if m]
        jobs += [(f"{vae}@{e}", ["--epochs", e, *(["--set", *args.set] if args.set else [])])
                 for e in args.vae_epochs.split(",") if e]
        for name, extra in jobs:
            model = name.split("@")[0]
            m = train(model, root / name.replace("@", "-"), args.data, args.data_dir, extra)
            row = {"row": name, "model": model, "steps": m["train_step"], "epochs": m["train_epoch"],
                   "train_seconds": m["train_seconds"], "wall_seconds": m["train_wall_seconds"],
                   "eval_seconds": m.get("train_eval_seconds"), "fid": m.get("test_fid"),
                   "anchor": ANCHORS.get(model, "") if args.data == "mnist" else ""}
            if model.startswith("vae"):
                row.update(nll=-m["test_log_likelihood"], neg_elbo=-m["test_elbo"],
                           bits_per_dim=m.get("test_bits_per_dim"))
            else:
                row.update(nll=m["test_nll"], bits_per_dim=m["test_bits_per_dim"])
                speed = sampler_speed(root / name)
                if args.no_naive:
                    speed.pop("naive_samples_per_s", None)
                row.update(speed)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{args.data}\n| row | steps | epochs | train s | wall s | test NLL (nats) | bits/dim | -ELBO | FID "
          "| anchor |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        elbo = f"{r['neg_elbo']:.1f}" if "neg_elbo" in r else ""
        fid = f"{r['fid']:.1f}" if r.get("fid") is not None else ""
        bits = f"{r['bits_per_dim']:.3f}" if r.get("bits_per_dim") is not None else ""
        print(f"| {r['row']} | {r['steps']} | {r['epochs']:.2f} | {r['train_seconds']:.0f} | {r['wall_seconds']:.0f} "
              f"| {r['nll']:.2f} | {bits} | {elbo} | {fid} | {r['anchor']} |")
    for r in rows:
        if "cached_samples_per_s" in r:
            print(f"{r['row']}: cached sampler {r['cached_samples_per_s']} samples/s, "
                  f"naive {r.get('naive_samples_per_s', '-')} samples/s (16 at a time)")
    result = {"data": args.data, "machine": platform.processor() or platform.machine(),
              "cpu_capability": torch.backends.cpu.get_cpu_capability(), "minutes": args.minutes,
              "overrides": args.set, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
