"""Classifier benchmark: time to 99.0 / 99.4 / 99.5 % test accuracy on full MNIST, images/s, and
final accuracy on MNIST, Fashion-MNIST and CIFAR-10 (where their files are present).

    python bench/classifier.py [--data-dir ../shared/data] [--seeds 0,1,2] [--epochs 6]

Time is training wall time (data order, augmentation, forward/backward/update), excluding the
periodic test evaluations that measure it; the total wall time including data loading and those
evaluations is reported too. Prints a table and writes bench/results/classifier.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

import genzoo
from genzoo.errors import DataError
from genzoo.training import TrainConfig, Trainer

THRESHOLDS = (0.990, 0.994, 0.995)


def run_one(name: str, data_dir: str, seed: int, epochs: int, overrides: dict, evals_per_epoch: int) -> dict:
    t_start = time.perf_counter()
    train = genzoo.load_data(name, data_dir=data_dir)
    test = genzoo.load_data(name, split="test", data_dir=data_dir)
    t_loaded = time.perf_counter()
    model = genzoo.build("classifier", train.spec, seed=seed, **overrides)
    spe = train.steps_per_epoch(128)
    cfg = TrainConfig(epochs=epochs, batch_size=128, seed=seed, precision="bf16", progress=False,
                      eval_every=max(1, spe // evals_per_epoch), log_every=spe)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(model, train, cfg, run_dir=Path(tmp) / "run", eval_data=test)
        summary = trainer.fit()
        rows = [json.loads(x) for x in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [(r["time_s"], r["test_accuracy"], r["epoch"]) for r in rows if "test_accuracy" in r]
    reached = {}
    for th in THRESHOLDS:
        hit = next(((t, e) for t, a, e in evals if a >= th), None)
        reached[f"time_to_{th * 100:.1f}"] = None if hit is None else round(hit[0], 1)
        reached[f"epoch_to_{th * 100:.1f}"] = None if hit is None else hit[1]
    return {"dataset": name, "seed": seed, "epochs": epochs, "final_accuracy": evals[-1][1],
            "best_accuracy": max(a for _, a, _ in evals), **reached,
            "train_seconds": summary["train_seconds"], "images_per_s": summary["images_per_s"],
            "load_seconds": round(t_loaded - t_start, 1),
            "total_wall_seconds": round(time.perf_counter() - t_start, 1),
            "curve": [(t, a) for t, a, _ in evals]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--datasets", default="mnist,fashion-mnist,cifar10")
    ap.add_argument("--evals-per-epoch", type=int, default=2)
    ap.add_argument("--set", nargs="*", default=[], help="classifier config overrides key=value")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "classifier.json"))
    args = ap.parse_args()
    overrides = dict(kv.split("=", 1) for kv in args.set)
    results, skipped = [], {}
    for name in args.datasets.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            try:
                r = run_one(name, args.data_dir, seed, args.epochs, overrides, args.evals_per_epoch)
            except DataError as e:
                skipped[name] = str(e).split(".")[0]
                print(f"skip {name}: {skipped[name]}", file=sys.stderr)
                break
            results.append(r)
            print(f"{name} seed {seed}: final {r['final_accuracy']:.4f} in {r['train_seconds']:.1f} s train "
                  f"({r['total_wall_seconds']:.1f} s wall), {r['images_per_s']:.0f} img/s", flush=True)
    print("\n| dataset | seed | epochs | final acc | t->99.0% | t->99.4% | t->99.5% | train s | wall s | img/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['dataset']} | {r['seed']} | {r['epochs']} | {r['final_accuracy'] * 100:.2f}% | "
              f"{r['time_to_99.0']} | {r['time_to_99.4']} | {r['time_to_99.5']} | {r['train_seconds']} | "
              f"{r['total_wall_seconds']} | {r['images_per_s']:.0f} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"results": results, "skipped": skipped, "overrides": overrides,
                               "torch": torch.__version__, "threads": torch.get_num_threads(),
                               "cpu": platform.processor() or platform.machine()}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
