"""Train the domain feature networks that `genzoo.metrics` uses for FID/KID/precision-recall/IS.

One genzoo `classifier` per dataset, trained on its train split with the recipe below, then
temperature-calibrated (Guo et al. 2017: one scalar T minimising the test NLL, stored as the
classifier's `head_scale` = 1/T) so that its class probabilities, which the Inception-style score
and the class-histogram metrics read, are neither over- nor under-confident; label smoothing leaves
them under-confident. Its test accuracy (unchanged by T) is measured and written with the weights:

    <out>/<dataset>.pt     the classifier's state dict (fp32)
    <out>/<dataset>.json   the record: recipe, data, test accuracy, sha256 of the .pt, versions, command

Usage (from a genzoo checkout; `--out` defaults to the package's genzoo/metrics/weights/):

    PYTHONPATH=. python scripts/build_feature_nets.py mnist --data-dir ../shared/data
    PYTHONPATH=. python scripts/build_feature_nets.py fashion-mnist cifar10 --data-dir ~/data
    PYTHONPATH=. python scripts/build_feature_nets.py mnist-m --data-dir ../shared/data   # needs mnist and cifar10-jpeg

Weights built elsewhere can also go to ~/.cache/genzoo/feature-nets/ (`--out` there), where
genzoo.metrics looks after the package folder.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import io
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar

import genzoo
from genzoo.config import parse_assignments, replace, to_dict
from genzoo.data import load
from genzoo.runs import environment
from genzoo.training import TrainConfig, Trainer

WEIGHTS = Path(genzoo.__file__).resolve().parent / "metrics" / "weights"

# model config overrides and trainer settings per dataset. The fast net (conv-bn stages w, 2w, 4w,
# global max-pool) is the genzoo classifier; see genzoo/metrics/weights/README.md for the choice.
RECIPES: dict[str, dict] = {
    "mnist": {"model": {"width": 32}, "train": {"epochs": 8, "batch_size": 128}},
    "fashion-mnist": {"model": {"width": 32}, "train": {"epochs": 15, "batch_size": 128}},
    "cifar10": {"model": {"width": 64, "convs_per_stage": 2}, "train": {"epochs": 30, "batch_size": 256}},
    # the JPEG copy: a narrower net, built in about 10 minutes on 2 CPU cores (10 epochs: 85.3%, 25: see the json)
    "cifar10-jpeg": {"model": {"width": 32, "convs_per_stage": 2}, "train": {"epochs": 25, "batch_size": 256}},
    # MNIST-M (genzoo.data.translation): MNIST's net and recipe on the colour digits, 4 epochs (a few CPU minutes)
    "mnist-m": {"model": {"width": 32}, "train": {"epochs": 4, "batch_size": 128}},
}


def state_bytes(model: torch.nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.detach().float().cpu().contiguous() if v.is_floating_point() else v.cpu()
                for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


@torch.no_grad()
def calibrate(model, data) -> float:
    """The temperature T minimising the NLL of softmax(logits / T) on `data` (Guo et al. 2017, Sec. 4.2)."""
    model.eval()
    logits = torch.cat([model.net(model.prepare(x)) for x, _, _ in data.iter_ordered(1000)]).double()
    labels = data.labels

    def nll(log_t: float) -> float:
        return float(F.cross_entropy(logits / float(torch.tensor(log_t).exp()), labels))

    res = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded")
    return float(torch.tensor(res.x).exp())


def build(dataset: str, data_dir: str | None, out: Path, overrides: list[str], seed: int, name: str | None,
          limit: int | None = None) -> dict:
    recipe = RECIPES[dataset]
    settings = {"seed": seed, "precision": "bf16", "progress": False, "log_every": 100, **recipe["train"]}
    model_over = dict(recipe["model"])
    for k, v in parse_assignments(overrides).items():
        (settings if k.startswith("train.") else model_over)[k.removeprefix("train.")] = v
    train = load(dataset, "train", data_dir, limit=limit)
    test = load(dataset, "test", data_dir)
    model = genzoo.build("classifier", train.spec, seed=seed, **model_over)
    cfg = replace(TrainConfig(), settings, what="trainer")
    t0 = time.monotonic()
    Trainer(model, train, cfg, run_dir=None, log=lambda m: print(m, file=sys.stderr)).fit()
    seconds = time.monotonic() - t0
    model.eval()
    res = model.evaluate(test)
    model.cfg.tta = "none"  # the feature net is used without test-time augmentation
    before = model.evaluate(test)
    temperature = calibrate(model, test)
    model.cfg.head_scale = model.net.scale = 1.0 / temperature
    plain = model.evaluate(test)
    blob = state_bytes(model)
    name = name or dataset
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.pt").write_bytes(blob)
    record = {
        "dataset": dataset,
        "model": "classifier",
        "model_config": to_dict(model.cfg),
        "data_spec": train.spec.to_dict(),
        "train": to_dict(cfg),
        "train_images": len(train),
        "train_seconds": round(seconds, 1),
        "test_images": len(test),
        "test_accuracy": plain["accuracy"],
        "test_accuracy_tta": res["accuracy"],
        "test_nll_before_calibration": before["loss"],
        "temperature": temperature,
        "test_nll": plain["loss"],
        "feature_layer": "penultimate: global max-pool of the last conv stage (Classifier.features)",
        "feature_dim": model.feature_dim,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "size_bytes": len(blob),
        "command": " ".join(["python"] + sys.argv),
        "built": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "environment": {k: v for k, v in environment().items() if k not in ("started", "command", "host")},
    }
    (out / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("datasets", nargs="+", choices=sorted(RECIPES))
    p.add_argument("--data-dir", help="folder holding the datasets (as for `genzoo train --data-dir`)")
    p.add_argument("--out", type=Path, default=WEIGHTS, help=f"output folder (default {WEIGHTS})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override the recipe (model keys; train.KEY for trainer settings)")
    p.add_argument("--name", help="file stem of the output (default: the dataset name)")
    p.add_argument("--limit", type=int, help="train on the first N images only (for quick checks)")
    args = p.parse_args(argv)
    for ds in args.datasets:
        rec = build(ds, args.data_dir, args.out, args.set, args.seed, args.name, args.limit)
        print(f"{ds}: test accuracy {rec['test_accuracy']:.4f} (with TTA {rec['test_accuracy_tta']:.4f}), "
              f"temperature {rec['temperature']:.3f} (test NLL {rec['test_nll_before_calibration']:.4f} -> "
              f"{rec['test_nll']:.4f}), {rec['feature_dim']}-d features, {rec['size_bytes'] / 1e6:.2f} MB, "
              f"trained in {rec['train_seconds']:.0f} s -> {args.out / (args.name or ds)}.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
