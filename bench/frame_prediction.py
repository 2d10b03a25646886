"""Next-frame prediction at a training-time budget: frame-predictor on Moving MNIST against copying the last frame.

    python bench/frame_prediction.py [--minutes 5] [--data moving-mnist] [--data-dir ../shared/data] [--seed 0]
                                     [--n 1000] [--batch-size B] [--threads 1] [--set KEY=VALUE ...]

frame-predictor (the registered defaults, `--set` overrides) trains for `--minutes` of training-step time on the
sequences drawn from the training digits, then `FramePredictor.evaluate` scores its prediction of the 10 future
frames of the first `--n` fixed test sequences (genzoo.data.moving_mnist.eval_sequences): MSE and SSIM on [0, 1]
per future step, beside the same figures for copying the last context frame (the baseline a predictor must beat)
and for empty frames (which SSIM, on these mostly black frames, rates above copying).
Prints a table, writes bench/results/frame_prediction.json (one entry per data/minutes/seed/batch size) and keeps
the run folder with a strip and an animated GIF of 8 test sequences
(bench/results/frame-prediction/DATA-Mmin-sS-bB[-KEY=VALUE...]/frames.png, .gif).

`--threads` sets torch's CPU threads (1 by default: on a small shared CPU, two threads that wait for each other on
every small ConvLSTM operation were several times slower than one).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

import genzoo
from genzoo.metrics import EvalOptions
from genzoo.training import TrainConfig, Trainer

RESULTS = Path(__file__).resolve().parent / "results"


def parse_sets(items: list[str]) -> dict[str, str]:
    """`--set KEY=VALUE` items -> {key: value} (strings: the config coerces them as `genzoo train --set` does)."""
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def run_key(args, batch: int) -> str:
    """The run's name in the results file and its folder: data, budget, seed, batch size and any --set."""
    sets = "".join(f"/{item}" for item in sorted(args.set))
    return f"{args.data}@{args.minutes:g}min/s{args.seed}/b{batch}{sets}"


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    train = genzoo.load_data(args.data, data_dir=args.data_dir)
    test = genzoo.load_data(args.data, split="test", data_dir=args.data_dir)
    sets = parse_sets(args.set)
    model = genzoo.build("frame-predictor", train.spec, seed=args.seed, **sets)
    defaults = genzoo.registry.get("frame-predictor").train_defaults
    batch = args.batch_size or defaults["batch_size"]
    cfg = TrainConfig(**{**defaults, "steps": 10**7, "batch_size": batch, "seed": args.seed,
                         "max_minutes": args.minutes, "progress": False, "log_every": 25, "sample_every": 0,
                         "eval_every": 0})
    folder = RESULTS / "frame-prediction" / f"{run_key(args, batch).replace('@', '-').replace('/', '-')}"
    shutil.rmtree(folder, ignore_errors=True)  # a rerun replaces the last one
    summary = Trainer(model, train, cfg, run_dir=folder, eval_data=None).fit()
    model.eval_options = EvalOptions(n=args.n)
    t0 = time.monotonic()
    figures = model.evaluate(test)
    eval_s = time.monotonic() - t0
    strip = model.write_figures(test, folder / "frames")
    return {"data": args.data, "minutes": args.minutes, "seed": args.seed, "batch_size": batch, "sets": sets,
            "threads": args.threads, "steps": summary["step"], "train_seconds": summary["train_seconds"],
            "eval_seconds": round(eval_s, 1), **figures, "strip": str(strip), "gif": str(strip.with_suffix(".gif"))}


def show(res: dict) -> None:
    print(f"frame-predictor on {res['data']}: {res['steps']} steps of {res['batch_size']} in "
          f"{res['train_seconds']:.0f} s of training; {res['n']} test sequences")
    print(f"{'future frame':>12} {'MSE':>8} {'copy-last':>10} {'empty':>8} {'SSIM':>8} {'copy-last':>10} "
          f"{'empty':>8}")
    for k, row in enumerate(zip(*(res[f"{m}{b}_per_step"] for m in ("mse", "ssim")
                                  for b in ("", "_copy_last", "_blank"))), 1):
        print(f"{'+' + str(k):>12} {row[0]:8.4f} {row[1]:10.4f} {row[2]:8.4f} {row[3]:8.3f} {row[4]:10.3f} "
              f"{row[5]:8.3f}")
    print(f"{'mean':>12} {res['mse']:8.4f} {res['mse_copy_last']:10.4f} {res['mse_blank']:8.4f} {res['ssim']:8.3f} "
          f"{res['ssim_copy_last']:10.3f} {res['ssim_blank']:8.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=5.0, help="training-step time")
    p.add_argument("--data", default="moving-mnist", help="moving-mnist or moving-mnist-mini")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, default=1000, help="test sequences scored")
    p.add_argument("--batch-size", type=int, default=0, help="sequences per step (default: the registered one)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="frame-predictor config overrides")
    args = p.parse_args()
    torch.set_flush_denormal(True)  # as the genzoo command does (README "Denormal floats")
    res = run(args)
    show(res)
    path = RESULTS / "frame_prediction.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[run_key(args, res["batch_size"])] = res
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
