"""IRGAN benchmark: does the minimax game improve on the pretrained ranker it starts from?

    python bench/irgan.py [--data-dir ../shared/data] [--data mnist] [--codes pixels,pca:64,binary-ae]
                          [--seeds 0,1,2] [--steps N] [--set KEY=VALUE ...]

For each codes setting and seed, one `irgan` run on the training set (database: 5000 images, 1000 labelled
queries with 5 known relevant images each: the model's defaults) is evaluated on 1000 held-out test queries
ranked against the whole database. Rankers: the IRGAN generator and discriminator, the pretrained pointwise
model both start from, code distance and pixel distance; figures: precision@1/5/10 and NDCG@10 (relevance:
same class). `binary-ae` first trains a 64-bit binary autoencoder (genzoo's binary-ae preset) on the
training set and uses its codes (code distance: Hamming). The database and queries are the same for every
seed (data_seed 0), so gen - pre differences are paired; the table gives each figure's mean and standard
deviation over seeds and the paired gain over the pretrained ranker.
Prints a table and writes bench/results/irgan.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

import genzoo
from genzoo.errors import DataError

FIGURES = ("p1", "p5", "p10", "ndcg10")
RANKERS = ("gen", "dis", "pre", "code", "pixel")


def parse_set(items: list[str]) -> dict:
    return {k: json.loads(v) if v[:1] in "0123456789-[{tf" else v for k, v in (i.split("=", 1) for i in items)}


def train_codes_run(data, test, out: Path, bits: int, epochs: int) -> Path:
    model = genzoo.build("binary-ae", data.spec, seed=0, code_dim=bits)
    genzoo.train(model, data, out=str(out), eval_data=test, seed=0, epochs=epochs, progress=False)
    return out


def run_irgan(data, test, codes: str, seed: int, steps: int | None, over: dict, out: Path) -> dict:
    model = genzoo.build("irgan", data.spec, seed=seed, codes=codes, **over)
    t0 = time.perf_counter()
    length = {"steps": steps} if steps else {}
    trainer = genzoo.train(model, data, out=str(out), eval_data=test, seed=seed, progress=False, **length)
    wall = time.perf_counter() - t0
    final = model.evaluate(test)
    return {"seed": seed, "codes": codes, "steps": trainer.step, "train_s": round(trainer.elapsed, 1),
            "wall_s": round(wall, 1), **{k: v for k, v in final.items()}}


def summarise(rows: list[dict]) -> dict:
    out = {}
    for r in RANKERS:
        for f in FIGURES:
            vals = [row[f"{r}_{f}"] for row in rows]
            out[f"{r}_{f}"] = (statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0)
    for r in ("gen", "dis"):
        for f in FIGURES:
            gains = [row[f"{r}_{f}"] - row[f"pre_{f}"] for row in rows]
            out[f"{r}_gain_{f}"] = (statistics.mean(gains), statistics.stdev(gains) if len(gains) > 1 else 0.0)
    return out


def table(codes: str, summary: dict, rows: list[dict]) -> str:
    lines = [f"\ncodes={codes}: {len(rows)} seeds, {rows[0]['steps']} steps, "
             f"{statistics.mean(r['train_s'] for r in rows):.0f} s training each, chance precision "
             f"{rows[0]['chance_precision']:.3f}",
             f"| ranker | {' | '.join(FIGURES)} |", "|---|" + "---|" * len(FIGURES)]
    for r in RANKERS:
        cells = [f"{summary[f'{r}_{f}'][0]:.4f} ± {summary[f'{r}_{f}'][1]:.4f}" for f in FIGURES]
        lines.append(f"| {r} | {' | '.join(cells)} |")
    for r in ("gen", "dis"):
        cells = [f"{summary[f'{r}_gain_{f}'][0]:+.4f} ± {summary[f'{r}_gain_{f}'][1]:.4f}" for f in FIGURES]
        lines.append(f"| {r} - pre (paired) | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--data", default="mnist")
    ap.add_argument("--codes", default="pixels,pca:64,binary-ae")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, help="default: the model's own (genzoo list irgan)")
    ap.add_argument("--bits", type=int, default=64, help="binary-ae code bits")
    ap.add_argument("--ae-epochs", type=int, default=5, help="binary-ae training epochs")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="irgan config overrides")
    ap.add_argument("--keep", help="keep the run folders under this folder")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "irgan.json"))
    args = ap.parse_args()
    torch.set_flush_denormal(True)  # as the genzoo command does (README "Denormal floats")
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    try:
        data = genzoo.load_data(args.data, data_dir=args.data_dir)
        test = genzoo.load_data(args.data, split="test", data_dir=args.data_dir)
    except DataError as e:
        print(f"skip: {e}", file=sys.stderr)
        return 0
    over = parse_set(args.set)
    results: dict = {"data": args.data, "machine": platform.processor() or platform.machine(),
                     "cpu_capability": torch.backends.cpu.get_cpu_capability(), "overrides": over, "settings": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        for codes in args.codes.split(","):
            setting = codes
            if codes == "binary-ae":
                t0 = time.perf_counter()
                codes = str(train_codes_run(data, test, root / "binary-ae", args.bits, args.ae_epochs))
                print(f"binary-ae ({args.bits} bits, {args.ae_epochs} epochs): {time.perf_counter() - t0:.0f} s")
            rows = []
            for seed in map(int, args.seeds.split(",")):
                out = root / f"irgan-{setting.replace(':', '')}-{seed}"
                row = run_irgan(data, test, codes, seed, args.steps, over, out)
                print(f"{setting} seed {seed}: gen ndcg@10 {row['gen_ndcg10']:.4f}, pre {row['pre_ndcg10']:.4f} "
                      f"({row['train_s']:.0f} s)", flush=True)
                rows.append(row)
            summary = summarise(rows)
            results["settings"][setting] = {"runs": rows, "summary": summary}
            print(table(setting, summary, rows), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
