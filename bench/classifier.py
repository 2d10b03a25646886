"""Classifier benchmark: time to given test accuracies (99.0 / 99.4 / 99.5 % by default), images/s, and
final accuracy on MNIST, Fashion-MNIST and CIFAR-10 (JPEG copy) (where their files are present).

    python bench/classifier.py [--data-dir ../shared/data] [--seeds 0,1,2] [--epochs 6]
    python bench/classifier.py --model classifier-airbench --datasets cifar10-jpeg --epochs 10 \
        --thresholds 0.90,0.93,0.94 --evals-per-epoch 0
    python bench/classifier.py --model classifier-airbench95 --datasets cifar10-jpeg --epochs 15 \
        --seeds 0,1,2 --thresholds 0.90,0.92,0.93 --evals-per-epoch 0 --keep runs/airbench95

`--model` is the classifier or one of its presets; the batch size is that model's default unless given.
`--precision bf16` (the default: autocast, faster on the AMD EPYC) or `fp32` (faster on an AVX-512 Xeon, no AMX).
`--evals-per-epoch 0` evaluates at the end only (the airbench net's 6-view TTA costs ~45 s per CIFAR evaluation).
`--keep DIR` keeps each run's folder (DIR/<dataset>-seed<N>: checkpoints, metrics) for a later look
(`genzoo eval DIR/cifar10-jpeg-seed0`, `genzoo.load_run(...)`); without it each run trains in a temporary folder.
`--profile N` instead profiles N training steps (after 3 warm-up steps) and prints where the time goes.

Time is training wall time (data order, augmentation, forward/backward/update), excluding the
periodic test evaluations that measure it; the total wall time including data loading and those
evaluations is reported too. Prints a table and writes bench/results/<model>.json.
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
from genzoo.registry import get as registry_entry
from genzoo.training import TrainConfig, Trainer

THRESHOLDS = (0.990, 0.994, 0.995)


def run_one(name: str, data_dir: str, seed: int, epochs: int, overrides: dict, evals_per_epoch: int,
            model_name: str = "classifier", batch_size: int | None = None,
            thresholds: tuple[float, ...] = THRESHOLDS, precision: str = "bf16", keep: str | None = None) -> dict:
    t_start = time.perf_counter()
    train = genzoo.load_data(name, data_dir=data_dir)
    test = genzoo.load_data(name, split="test", data_dir=data_dir)
    t_loaded = time.perf_counter()
    model = genzoo.build(model_name, train.spec, seed=seed, **overrides)
    batch_size = batch_size or registry_entry(model_name).train_defaults.get("batch_size", 128)
    spe = train.steps_per_epoch(batch_size)
    every = max(1, spe // evals_per_epoch) if evals_per_epoch else spe * epochs
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, seed=seed, precision=precision, progress=False,
                      eval_every=every, log_every=spe)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(keep) / f"{name}-seed{seed}" if keep else Path(tmp) / "run"
        trainer = Trainer(model, train, cfg, run_dir=run_dir, eval_data=test)
        summary = trainer.fit()
        rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [(r["time_s"], r["test_accuracy"], r["epoch"]) for r in rows if "test_accuracy" in r]
    reached = {}
    for th in thresholds:
        hit = next(((t, e) for t, a, e in evals if a >= th), None)
        reached[f"time_to_{th * 100:.1f}"] = None if hit is None else round(hit[0], 1)
        reached[f"epoch_to_{th * 100:.1f}"] = None if hit is None else hit[1]
    return {"dataset": name, "model": model_name, "batch_size": batch_size, "seed": seed, "epochs": epochs,
            "precision": precision, "final_accuracy": evals[-1][1],
            "best_accuracy": max(a for _, a, _ in evals), **reached,
            "train_seconds": summary["train_seconds"], "images_per_s": summary["images_per_s"],
            "load_seconds": round(t_loaded - t_start, 1),
            "total_wall_seconds": round(time.perf_counter() - t_start, 1),
            "curve": [(t, a) for t, a, _ in evals]}


# op-name fragments -> category, first match wins (self CPU time of each op, forward and backward)
CATEGORIES = (("convolution_backward", "conv backward"), ("convolution", "conv forward"),
              ("batch_norm", "batchnorm"), ("gelu", "activation"), ("relu", "activation"), ("pool", "pooling"))


def profile_steps(name: str, data_dir: str, model_name: str, overrides: dict, batch_size: int | None,
                  steps: int, precision: str = "bf16") -> dict:
    """Where a training step's time goes: augmentation, the optimizer's step, Lookahead, and the network's ops by
    kind (self CPU time under torch.profiler; autocast as in training when `precision` is bf16)."""
    from torch.profiler import ProfilerActivity, profile, record_function

    from genzoo.data.imageset import Batch, to_float

    train = genzoo.load_data(name, data_dir=data_dir)
    model = genzoo.build(model_name, train.spec, seed=0, **overrides)
    batch_size = batch_size or registry_entry(model_name).train_defaults.get("batch_size", 128)
    model.attach_data(train)
    model.configure_optimizers(1000)
    model.train()
    images, labels = train.images[:batch_size], train.labels[:batch_size]

    def step(i: int) -> None:
        with record_function("augment"):
            x = to_float(model.augment(images), model.input_range).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            model.train_step(Batch(x, labels, None, None, None), i)

    for i in range(3):
        step(i)
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(steps):
            step(3 + i)
    wall = time.perf_counter() - t0
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / 1e6
    shares: dict[str, float] = {}
    for e in events:
        cat = next((c for frag, c in CATEGORIES if frag in e.key), None)
        if cat:
            shares[cat] = shares.get(cat, 0.0) + e.self_cpu_time_total / 1e6
    for key, cat in (("augment", "augmentation"), ("Optimizer.step", "optimizer step")):
        shares[cat] = sum(e.cpu_time_total for e in events if e.key.startswith(key)) / 1e6
    shares["other"] = total - sum(shares.values())
    return {"dataset": name, "model": model_name, "batch_size": batch_size, "steps": steps, "precision": precision,
            "images_per_s": round(steps * batch_size / wall, 1), "profiled_cpu_s": round(total, 2),
            "shares": {k: round(v / total, 4) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--datasets", default="mnist,fashion-mnist,cifar10")
    ap.add_argument("--model", default="classifier", help="classifier or a preset (classifier-airbench)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the model's")
    ap.add_argument("--thresholds", default=",".join(map(str, THRESHOLDS)), help="accuracies to time")
    ap.add_argument("--precision", choices=("bf16", "fp32"), default="bf16",
                    help="bf16 autocast (faster on AMD EPYC here) or fp32 (faster on the AVX-512 Xeon without AMX)")
    ap.add_argument("--evals-per-epoch", type=int, default=2, help="0: evaluate at the end only")
    ap.add_argument("--profile", type=int, default=0, help="profile this many training steps instead of training")
    ap.add_argument("--set", nargs="*", default=[], help="classifier config overrides key=value")
    ap.add_argument("--out", default=None, help="default: bench/results/<model>.json")
    ap.add_argument("--keep", default=None, help="keep each run's folder (checkpoints, metrics) under this folder")
    args = ap.parse_args()
    torch.set_flush_denormal(True)  # as the genzoo command does (README "Denormal floats")
    overrides = dict(kv.split("=", 1) for kv in args.set)
    thresholds = tuple(float(t) for t in args.thresholds.split(","))
    if args.profile:
        for name in args.datasets.split(","):
            r = profile_steps(name, args.data_dir, args.model, overrides, args.batch_size, args.profile,
                              args.precision)
            print(json.dumps(r))
            print(" | ".join(f"{k} {v * 100:.1f}%" for k, v in r["shares"].items()))
        return
    results, skipped = [], {}
    for name in args.datasets.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            try:
                r = run_one(name, args.data_dir, seed, args.epochs, overrides, args.evals_per_epoch, args.model,
                            args.batch_size, thresholds, args.precision, args.keep)
            except DataError as e:
                skipped[name] = str(e).split(".")[0]
                print(f"skip {name}: {skipped[name]}", file=sys.stderr)
                break
            results.append(r)
            print(f"{name} seed {seed}: final {r['final_accuracy']:.4f} in {r['train_seconds']:.1f} s train "
                  f"({r['total_wall_seconds']:.1f} s wall), {r['images_per_s']:.0f} img/s", flush=True)
    keys = [f"{t * 100:.1f}" for t in thresholds]
    print(f"\n| dataset | model | seed | epochs | final acc | {' | '.join('t->' + k + '%' for k in keys)} | train s | "
          "wall s | img/s |")
    print("|" + " --- |" * (9 + len(keys) - 1))
    for r in results:
        times = " | ".join(str(r[f"time_to_{k}"]) for k in keys)
        print(f"| {r['dataset']} | {r['model']} | {r['seed']} | {r['epochs']} | {r['final_accuracy'] * 100:.2f}% | "
              f"{times} | {r['train_seconds']} | {r['total_wall_seconds']} | {r['images_per_s']:.0f} |")
    out = Path(args.out or Path(__file__).resolve().parent / "results" / f"{args.model}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"results": results, "skipped": skipped, "overrides": overrides,
                               "torch": torch.__version__, "threads": torch.get_num_threads(),
                               "cpu": platform.processor() or platform.machine()}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
