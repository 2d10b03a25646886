"""Conditional GANs on full MNIST under a fixed training-time budget: FID and conditional accuracy.

    PYTHONPATH=. python bench/conditional.py [--models cgan,acgan] [--minutes 3] [--force]
        [--data-dir ../shared/data]

Each model trains for `--minutes` of training-step time (the Trainer's `max_minutes`; evaluation
and sample grids not counted) with its registered defaults (`genzoo list MODEL`), seed 0, then is
scored on the 10,000 MNIST test images with 10,000 samples in the shipped MNIST classifier's features
(domain features, genzoo.metrics):

- FID (labels drawn from the real class frequencies, or attribute rows from the real joint);
- class-conditional models: conditional accuracy (samples the classifier reads as the requested
  digit), and the mean per-class FID;
- attr-gan on mnist-attrs (even, at_least_5, closed_loop): attribute accuracy, the attributes
  derived from the classifier's reading of the digit (genzoo.data.digit_attrs).

Rows go to bench/results/conditional.json as they finish (the runs to bench/results/conditional/);
models already there are skipped unless --force, so the script can be run one model per call.
Another model is a new entry in MODELS (bench/conditional_latent.py writes rows of the same form).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from genzoo import registry
from genzoo.data import load
from genzoo.metrics import evaluate_model
from genzoo.metrics.suite import attribute_quality
from genzoo.training import TrainConfig, Trainer

RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "conditional.json"

# model -> dataset and how its conditioning is scored ("class": conditional accuracy; "attrs": attributes)
MODELS = [
    {"model": "cgan", "data": "mnist", "score": "class"},
    {"model": "cdcgan", "data": "mnist", "score": "class"},
    {"model": "acgan", "data": "mnist", "score": "class"},
    {"model": "projection", "data": "mnist", "score": "class"},
    {"model": "attr-gan", "data": "mnist-attrs", "score": "attrs"},
]
COLUMNS = ("model", "data", "minutes", "steps", "fid", "cond", "score", "fid_class_mean")


def run_one(entry: dict, minutes: float, data_dir: str, n: int) -> dict:
    name = entry["model"]
    train, test = load(entry["data"], "train", data_dir), load(entry["data"], "test", data_dir)
    defaults = registry.get(name).train_defaults
    cfg = TrainConfig(steps=10**7, batch_size=defaults.get("batch_size", 64),
                      precision=defaults.get("precision", "fp32"), max_minutes=minutes,
                      progress=False, tensorboard=False, log_every=500, sample_every=0,
                      checkpoint_minutes=60.0, n_samples=100)
    model = registry.build(name, train.spec, {}, seed=0)
    run_dir = RESULTS / "conditional" / name
    shutil.rmtree(run_dir, ignore_errors=True)  # a new run (--force, or one that did not finish)
    trainer = Trainer(model, train, cfg, run_dir=run_dir, data_args={"name": entry["data"], "data_dir": data_dir},
                      log=lambda m: None)
    trainer.fit()
    t0 = time.perf_counter()
    row = {"model": name, "data": entry["data"], "minutes": round(trainer.elapsed / 60, 2), "steps": trainer.step}
    if entry["score"] == "class":
        res = evaluate_model(model, test, n=n, metrics="fid,cacc,cfid")
        row.update(fid=res["fid"], cond="cond_accuracy", score=res["cond_accuracy"],
                   fid_class_mean=res["fid_class_mean"], cond_accuracy_per_class=res["cond_accuracy_per_class"],
                   fid_per_class=res["fid_per_class"])
    else:
        res = evaluate_model(model, test, n=n, metrics="fid")
        attrs = attribute_quality(model, test, n=n, seed=0)
        row.update(fid=res["fid"], cond="attr_accuracy", score=attrs["attr_accuracy"], fid_class_mean=None,
                   attr_exact=attrs["attr_exact"], attr_accuracy_per_attr=attrs["attr_accuracy_per_attr"])
    row["eval_seconds"] = round(time.perf_counter() - t0, 1)
    row["run"] = str(run_dir)
    return row


def table(rows: list[dict]) -> str:
    def fmt(v):
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(e["model"] for e in MODELS))
    p.add_argument("--minutes", type=float, default=3.0, help="training-time budget per model")
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--n", type=int, default=10000, help="samples for the scores")
    p.add_argument("--force", action="store_true", help="re-run models already in the results")
    args = p.parse_args()
    torch.set_flush_denormal(True)  # as the genzoo command does (README "Denormal floats")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    known = {e["model"]: e for e in MODELS}
    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in wanted if m not in known]
    if bad:
        raise SystemExit(f"unknown model(s) {bad}; choose from {', '.join(known)}")
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for m in wanted:
        if m in results and not args.force:
            print(f"{m}: already in {OUT} (--force to re-run)", flush=True)
            continue
        print(f"{m}: training {args.minutes:g} min on {known[m]['data']} ...", flush=True)
        results[m] = run_one(known[m], args.minutes, args.data_dir, args.n)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(table([results[e["model"]] for e in MODELS if e["model"] in results]))


if __name__ == "__main__":
    main()
