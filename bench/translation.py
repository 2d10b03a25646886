"""Image-to-image translation at a training-time budget: pix2pix on the paired tasks, CycleGAN on the unpaired ones.

    python bench/translation.py [--tasks pix2pix:fashion-edges,cyclegan:mnist-to-mnistm,...] [--minutes 5]
                                [--seeds 0] [--n 10000] [--data-dir ../shared/data] [--set MODEL:KEY=VALUE ...]
                                [--figure]

Each task (MODEL:DATASET) trains with the model's registered defaults for `--minutes` of training-step time, then
`Model.evaluate` scores the translations of the first `--n` test inputs: paired tasks L1 / PSNR / SSIM against the
targets, every task FID / KID / precision / recall of the outputs against the real target images in the target
domain's classifier features and the semantic score (that classifier recovers the source's label from the
translation, beside its accuracy on the real targets); CycleGAN also the reverse direction (`*_ba`) and the cycle
errors. A baseline row per task scores the input itself as the output (grey inputs repeated to three channels):
what "doing nothing" gets. Each run keeps a grid of 8 test inputs / outputs / targets
(bench/results/translation/MODEL-DATA-Mmin-sS.png); `--figure` puts them in docs/translation-Mmin.png. Writes
bench/results/translation.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F
from gan import parse_sets, train_at_budget  # bench/ is the script's folder, first on sys.path

import genzoo
from genzoo.data.grid import save_grid
from genzoo.metrics import EvalOptions
from genzoo.models.translation.base import paired_figures

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = "pix2pix:fashion-edges,pix2pix:cifar10-edges,pix2pix:cifar10-grey,cyclegan:mnist-to-mnistm," \
        "cyclegan:mnist-to-fashion"
SHOWN = 8  # test inputs in each grid


def baseline(model, test) -> dict:
    """The figures of the identity map: each input taken as its own translation (channels repeated)."""
    out = test.sources.expand(-1, test.shape[0], -1, -1).contiguous()
    figures = model.output_figures(out, test, model.eval_options)
    if test.paired:
        figures.update(paired_figures(out, test.images))
    return figures


def run(args) -> None:
    path = RESULTS / "translation.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    overrides = parse_sets(args.set)
    for task in args.tasks.split(","):
        name, data = task.split(":")
        train = genzoo.load_data(data, data_dir=args.data_dir)
        test = genzoo.load_data(data, split="test", data_dir=args.data_dir).take(args.n)
        for seed in map(int, args.seeds.split(",")):
            key = f"{name}:{data}@{args.minutes:g}min/s{seed}"
            if key in results and not args.force:
                continue
            sets = overrides.get(name, {})
            folder = RESULTS / "translation" / f"{name}-{data}-{args.minutes:g}min-s{seed}"
            if folder.exists():  # not a run to resume: the results say it is missing or --force redoes it
                shutil.rmtree(folder)
            model, summary = train_at_budget(name, train, sets, args.minutes, seed, folder, log_every=200)
            model.eval_options = EvalOptions(n=args.n, metrics=("fid", "kid", "pr"), batch_size=500)
            res = model.evaluate(test)
            if f"{name}:{data}/identity" not in results:
                results[f"{name}:{data}/identity"] = {"task": task, "model": "identity",
                                                      **baseline(model, test)}
            x, nrow, rows = model.translation_grid(test, SHOWN)
            torch.save((x, rows), folder / "shown.pt")
            grid = save_grid(x, folder.parent / f"{folder.name}.png", nrow=nrow, row_labels=rows,
                             value_range=model.input_range)
            results[key] = {"task": task, "model": name, "seed": seed, "minutes": args.minutes, "sets": sets,
                            "steps": summary["step"], "images_per_s": summary["images_per_s"], **res,
                            "run": str(folder), "grid": str(grid)}
            print(key, json.dumps(results[key]), flush=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=1))
    if args.figure:
        figure(results, args)
    print_table(results, args.minutes)


def figure(results: dict, args) -> None:
    """docs/translation-Mmin.png: each task's seed-0 grid (inputs, outputs, targets), stacked, labelled."""
    blocks, labels = [], []
    for task in args.tasks.split(","):
        r = results.get(f"{task}@{args.minutes:g}min/s0")
        if r is None:
            continue
        x, rows = torch.load(Path(r["run"]) / "shown.pt")
        x = F.interpolate(x.expand(-1, 3, -1, -1), size=(32, 32), mode="nearest")  # 28x28 tasks beside 32x32 ones
        blocks.append(x)
        labels += [f"{task} {row}" for row in rows]
    out = RESULTS.parents[1] / "docs" / f"translation-{args.minutes:g}min.png"
    print(f"wrote {save_grid(torch.cat(blocks), out, nrow=SHOWN, row_labels=labels)}")


def print_table(results: dict, minutes: float) -> None:
    def f(r, k, fmt="{:.3f}"):
        return fmt.format(r[k]) if k in r else ""

    print("\n| task | model | steps | L1 | PSNR | SSIM | FID | precision | recall | semantic acc. | real acc. |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results.values():
        if r.get("minutes", minutes) != minutes:
            continue
        print(f"| {r['task']} | {r['model']} | {r.get('steps', '')} | {f(r, 'l1')} | {f(r, 'psnr', '{:.1f}')} | "
              f"{f(r, 'ssim')} | {f(r, 'fid', '{:.2f}')} | {f(r, 'precision')} | {f(r, 'recall')} | "
              f"{f(r, 'semantic_accuracy')} | {f(r, 'real_accuracy')} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default=TASKS)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--seeds", default="0")
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--set", action="append", default=[], metavar="MODEL:KEY=VALUE")
    p.add_argument("--force", action="store_true")
    p.add_argument("--figure", action="store_true")
    run(p.parse_args())


if __name__ == "__main__":
    main()
