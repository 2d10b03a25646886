"""RBM benchmark: genzoo's rbm beside scikit-learn's BernoulliRBM, and the AIS log-likelihood.

    python bench/rbm.py [--data-dir ../shared/data] [--epochs 10] [--hidden 500] [--batch 100] [--lr 0.05]
                        [--runs sklearn,sklearn32,pcd,cd,defaults,bf16] [--cd-k 1] [--ais-betas 15000]

Both learn from the same training set, binarized once (each pixel a Bernoulli draw of its intensity, seed 0)
and are scored on the test set binarized the same way. Rows:
  sklearn  sklearn.neural_network.BernoulliRBM: PCD-1, no momentum or weight decay, the given lr and batch, on
           float64 data (numpy's default float; partial_fit computes in float64 whatever it is given); each epoch
           is fit's own loop over the batches, run one epoch at a time
  sklearn32 the same on float32 data (fit keeps float32: about half the time of float64 here)
  pcd      genzoo rbm with the same algorithm and settings (PCD-1 at a constant lr, momentum 0, weight decay 0)
  cd       genzoo rbm with CD-k at a constant lr, momentum 0.5 and weight decay 2e-4 (its defaults until 2026-12-04)
  defaults genzoo rbm's defaults (PCD-1 with the lr falling linearly to 0 over the run, momentum 0.5, weight
           decay 2e-4) at the same lr and batch
  bf16     the defaults with the products in bf16 (as `--precision bf16`: a bf16 autocast region around each step)
Per epoch: seconds of training and the test pseudo-likelihood (scikit-learn's stochastic estimator, the same
flipped bits for every model). At the end, every model (sklearn's weights too) gets the AIS test log-likelihood
(Salakhutdinov & Murray 2008; their figures for 500 hidden units on MNIST: CD-1 about -125.5, CD-25 about
-86.3 nats, trained far longer than this). Prints a table and writes bench/results/rbm.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import genzoo
from genzoo.data.imageset import Batch
from genzoo.errors import DataError
from genzoo.models.rbm import ais_log_partition, ais_schedule, free_energy, pseudo_log_likelihood
from genzoo.models.vae import binarize_fixed

RUNS = ("sklearn", "sklearn32", "pcd", "cd", "defaults", "bf16")


def scores(w, b, c, base_bias, test: torch.Tensor, ais_betas: int | None) -> dict:
    w, b, c = (torch.as_tensor(t, dtype=torch.float32) for t in (w, b, c))
    pl = float(pseudo_log_likelihood(test, w, b, c, torch.Generator().manual_seed(0)).mean())
    out = {"pseudo_log_likelihood": pl}
    if ais_betas:
        log_z, log_w = ais_log_partition(w, b, c, base_bias, ais_schedule(ais_betas), 100,
                                         torch.Generator().manual_seed(0))
        out.update(log_z=log_z, log_w_std=float(log_w.std()),
                   log_likelihood=float(-free_energy(test, w, b, c).double().mean()) - log_z)
    return out


def run_sklearn(train: np.ndarray, test: torch.Tensor, base_bias, args) -> dict:
    from sklearn.neural_network import BernoulliRBM
    from sklearn.utils import check_random_state

    rbm = BernoulliRBM(n_components=args.hidden, learning_rate=args.lr, batch_size=args.batch, random_state=0,
                       n_iter=0)
    rbm.fit(train)  # n_iter=0: the initial weights, in the data's dtype (fit keeps float32; partial_fit would not)
    rng = check_random_state(0)
    epochs = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        # fit's own loop over consecutive batches (no shuffling), one epoch at a time; partial_fit on each batch
        # would add input validation per batch (~10% of an epoch) and cast to float64
        for i in range(0, len(train), args.batch):
            rbm._fit(train[i:i + args.batch], rng)
        secs = time.perf_counter() - t0
        s = scores(rbm.components_.T, rbm.intercept_visible_, rbm.intercept_hidden_, base_bias, test, None)
        epochs.append({"epoch": epoch + 1, "seconds": round(secs, 2), **s})
        print(f"sklearn {train.dtype} epoch {epoch + 1}: {secs:.1f} s, pseudo-LL {s['pseudo_log_likelihood']:.2f}",
              flush=True)
    final = scores(rbm.components_.T, rbm.intercept_visible_, rbm.intercept_hidden_, base_bias, test, args.ais_betas)
    return {"epochs": epochs, "final": final, "dtype": str(train.dtype)}


def run_genzoo(data, test: torch.Tensor, args, precision: str = "fp32", **over) -> dict:
    model = genzoo.build("rbm", data.spec, seed=0, hidden=args.hidden, lr=args.lr, **over)
    model.attach_data(data)
    model.configure_optimizers(args.epochs * -(-len(data) // args.batch))  # the run's length: schedule spans it
    torch.manual_seed(0)
    x = model.prepare(data.images).flatten(1).reshape(len(data), *data.spec.shape)
    epochs, step = [], 0
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(x))
        for i in range(0, len(x), args.batch):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):  # as --precision bf16
                model.train_step(Batch(x[order[i:i + args.batch]]), step)
            step += 1
        secs = time.perf_counter() - t0
        s = scores(model.W.detach(), model.b.detach(), model.c.detach(), model.base_bias, test, None)
        epochs.append({"epoch": epoch + 1, "seconds": round(secs, 2), **s})
        print(f"genzoo {precision} {over} epoch {epoch + 1}: {secs:.1f} s, "
              f"pseudo-LL {s['pseudo_log_likelihood']:.2f}", flush=True)
    final = scores(model.W.detach(), model.b.detach(), model.c.detach(), model.base_bias, test, args.ais_betas)
    return {"epochs": epochs, "final": final, "config": over, "precision": precision}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=500)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--cd-k", type=int, default=1)
    ap.add_argument("--runs", default=",".join(RUNS))
    ap.add_argument("--ais-betas", type=int, default=15000)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "rbm.json"))
    args = ap.parse_args()
    unknown = set(args.runs.split(",")) - set(RUNS)
    if unknown:
        ap.error(f"unknown runs {sorted(unknown)}: choose from {', '.join(RUNS)}")
    torch.set_flush_denormal(True)  # as the genzoo command does (README "Denormal floats")
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    try:
        raw = genzoo.load_data("mnist", data_dir=args.data_dir)
        raw_test = genzoo.load_data("mnist", split="test", data_dir=args.data_dir)
    except DataError as e:
        print(f"skip: {e}", file=sys.stderr)
        return 0
    # one stochastic binarization of each split, shared by every model (0/255 images: dynamic binarization
    # of them is the identity)
    raw.images = binarize_fixed(raw.images, seed=0)
    test = (binarize_fixed(raw_test.images, seed=1).flatten(1) > 0).float()
    p = (raw.images.flatten(1).double().mean(0) / 255).clamp(1e-3, 1 - 1e-3)
    base_bias = torch.log(p / (1 - p)).float()
    results = {"args": vars(args)}
    for name in args.runs.split(","):
        if name in ("sklearn", "sklearn32"):
            bits = (raw.images.flatten(1) > 0).numpy()
            results[name] = run_sklearn(bits.astype(np.float32 if name == "sklearn32" else np.float64), test,
                                        base_bias, args)
        elif name == "pcd":
            results[name] = run_genzoo(raw, test, args, persistent=True, k=1, momentum=0.0, weight_decay=0.0,
                                       schedule="constant")
        elif name == "cd":
            results[name] = run_genzoo(raw, test, args, k=args.cd_k, persistent=False, schedule="constant")
        elif name == "defaults":
            results[name] = run_genzoo(raw, test, args)
        elif name == "bf16":
            results[name] = run_genzoo(raw, test, args, precision="bf16")
    print("\n| model | s/epoch | pseudo-LL after each epoch | AIS test log-likelihood (log Z) |\n|---|---|---|---|")
    for name in args.runs.split(","):
        r = results[name]
        per = sum(e["seconds"] for e in r["epochs"]) / len(r["epochs"])
        pls = ", ".join(f"{e['pseudo_log_likelihood']:.1f}" for e in r["epochs"])
        f = r["final"]
        print(f"| {name} | {per:.2f} | {pls} | {f['log_likelihood']:.2f} ({f['log_z']:.1f}) |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
