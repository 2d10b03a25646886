"""Structured / unsupervised GANs and adversarial autoencoders on full MNIST, at a fixed training-time budget.

    PYTHONPATH=. python bench/conditional_latent.py [--models infogan,catgan,...] [--minutes 3]
        [--data mnist --data-dir /work/shared/data] [--n 10000] [--force]

For each model: train it with the registry's defaults (the paper's setting; `genzoo list MODEL`) for
`--minutes` of training-step time (`train.max_minutes`; evaluation not counted), then evaluate on the
test split: FID of `--n` samples in the features of genzoo's MNIST classifier, and the model's own
figure:

  infogan       code_accuracy: the categorical code as a digit label for the samples, best
                code-to-class matching (Hungarian), classes named by the MNIST classifier
  catgan        cluster_accuracy: D's argmax on the test set, Hungarian-matched to the labels
  catgan-semi   accuracy: D's class on the test set, 100 labelled training examples
  bigan         feature_1nn_accuracy: 1-NN (cosine) on E(x), half the test set as database
  aae           mse: test reconstruction error per pixel in [0, 1] (lower is better)
  aae-semi      accuracy: q(y|x) on the test set, 100 labelled training examples
  aae-cluster   cluster_majority_accuracy: 16 clusters, each named by its majority class

Resumable per model: finished models are skipped unless --force. Runs are kept in
runs/bench-conditional-latent/MODEL (so `genzoo sample RUN --codes` / `--reconstruct` work on them).
Prints a markdown table and writes bench/results/conditional_latent.json with rows
{"model", "minutes", "steps", "fid", "metric", "value", ...every other figure}. Run it under the shared
lock, one model per command: `flock /tmp/genzoo-heavy.lock python bench/conditional_latent.py --models aae`.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

import torch

from genzoo import registry
from genzoo.config import replace
from genzoo.data import load
from genzoo.metrics import EvalOptions
from genzoo.training import RunDir, TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "conditional_latent.json"
# model -> (its figure, what it is)
MODELS = {
    "infogan": ("code_accuracy", "code-to-class accuracy (samples)"),
    "catgan": ("cluster_accuracy", "clustering accuracy (test)"),
    "catgan-semi": ("accuracy", "semi-sup accuracy, 100 labels (test)"),
    "bigan": ("feature_1nn_accuracy", "1-NN accuracy on E(x) (test)"),
    "aae": ("mse", "reconstruction MSE (test)"),
    "aae-semi": ("accuracy", "semi-sup accuracy, 100 labels (test)"),
    "aae-cluster": ("cluster_majority_accuracy", "clustering accuracy, 16 clusters (test)"),
}


def run_one(name: str, args) -> dict:
    entry = registry.get(name)
    train = load(args.data, split="train", data_dir=args.data_dir)
    test = load(args.data, split="test", data_dir=args.data_dir)
    settings = {k: v for k, v in entry.train_defaults.items() if k not in ("epochs", "steps", "sample_every")}
    tcfg = replace(TrainConfig(), {**settings, "steps": 10 ** 7, "max_minutes": args.minutes, "progress": False,
                                   "tensorboard": False, "log_every": 200, "eval_every": 0, "seed": args.seed},
                   what="trainer")
    run_dir = ROOT / "runs" / "bench-conditional-latent" / name
    if run_dir.exists():
        shutil.rmtree(run_dir)  # a fresh run: the budget is for one uninterrupted training
    model = registry.build(name, train.spec, {}, seed=args.seed)
    trainer = Trainer(model, train, tcfg, run_dir=run_dir, data_args={"name": args.data, "data_dir": args.data_dir},
                      log=lambda m: None)
    trainer.fit()
    t0 = time.perf_counter()
    model.eval_options = EvalOptions(n=args.n, metrics=("fid",), features="auto", strict=True)
    model.eval()
    with torch.no_grad():
        res = model.evaluate(test, batch_size=1000)
    eval_s = time.perf_counter() - t0
    RunDir(run_dir).update_metrics({f"test_{k}": v for k, v in res.items()})
    key, label = MODELS[name]
    return {"model": name, "minutes": round(trainer.elapsed / 60, 2), "steps": trainer.step, "fid": res.get("fid"),
            "metric": label, "value": res.get(key), "metric_key": key, "batch_size": tcfg.batch_size,
            "precision": tcfg.precision, "eval_seconds": round(eval_s, 1), "run": str(run_dir.relative_to(ROOT)),
            **{k: v for k, v in res.items() if k not in ("fid", key)}}


def table(rows: list[dict]) -> str:
    lines = ["| model | minutes | steps | FID (MNIST-classifier features) | figure | value |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        fid = f"{r['fid']:.1f}" if r.get("fid") is not None else "-"
        value = f"{r['value']:.4f}" if r.get("value") is not None else "-"
        lines.append(f"| {r['model']} | {r['minutes']:.1f} | {r['steps']} | {fid} | {r['metric']} | {value} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated, from: " + ", ".join(MODELS))
    p.add_argument("--minutes", type=float, default=3.0, help="training-time budget per model")
    p.add_argument("--data", default="mnist")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--n", type=int, default=10000, help="samples for FID")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="retrain models already in the results")
    args = p.parse_args()
    torch.set_flush_denormal(True)  # as the genzoo command does (README "Denormal floats")
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    results = json.loads(OUT.read_text()) if OUT.is_file() else {"rows": []}
    done = {r["model"]: r for r in results["rows"]}
    for name in names:
        if name in done and not args.force and done[name].get("data") == args.data:
            print(f"{name}: done (--force to retrain)", flush=True)
            continue
        print(f"{name}: training for {args.minutes:g} min ...", flush=True)
        row = {**run_one(name, args), "data": args.data, "budget_minutes": args.minutes}
        done[name] = row
        results = {"machine": f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads",
                   "rows": [done[m] for m in MODELS if m in done]}
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(f"{name}: {row['steps']} steps, fid {row['fid']}, {row['metric_key']} {row['value']}", flush=True)
    print(table(results["rows"]))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
