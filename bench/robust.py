"""Robustness benchmark: clean / FGSM / PGD accuracy of standard and adversarially trained classifiers.

    python bench/robust.py [--data-dir ../shared/data] [--datasets mnist,fashion-mnist,cifar10-jpeg]
                           [--nets standard,fgsm,pgd] [--pgd-n 1000] [--restarts 10] [--steps 50]

Per dataset, three nets of the same architecture (Wong & Kolter's small net) are trained: `standard`
(adv=none), `fgsm` (classifier-fgsm-rs: FGSM with a random start, Wong et al. 2020) and `pgd`
(classifier-robust: PGD-10 with an eps ramp, Madry et al. 2018), and each is attacked with `genzoo attack`'s
code: FGSM on the whole test set, PGD-50 with 10 random restarts on the first --pgd-n test images (step 0.01
on MNIST as in Wong et al.'s evaluation, else 2.5 * eps / steps). eps: 0.1, 0.2, 0.3 (MNIST), 0.1
(Fashion-MNIST), 8/255 (CIFAR-10 JPEG copy); the robust nets train at the largest. Anchors: Madry et al.
2018, MNIST PGD accuracy about 89% at eps 0.3; Wong et al. 2020 fast FGSM 88.77% (PGD-50, 10 restarts) at
eps 0.3. Training wall time is the Trainer's own (excluding data loading).
Prints a table and writes bench/results/robust.json.

`--reference FILE` also attacks a published model with the same code: the MNIST weights Wong et al. released
with "Fast is better than free" (MNIST/models/fgsm.pth in github.com/locuslab/fast_adversarial, for which they
report 88.77% PGD-50x10 accuracy at eps 0.3): a check that genzoo's PGD is as strong as theirs.
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
from genzoo.probe.attack import AttackOptions, attack_run

SETTINGS = {
    # dataset: (eval eps, pgd step or None for 2.5 * eps / steps); training eps: the preset's default per dataset
    "mnist": ([0.1, 0.2, 0.3], 0.01),
    "fashion-mnist": ([0.1], None),
    "cifar10-jpeg": ([8 / 255], None),
}
NETS = {"standard": ("classifier-robust", {"adv": "none"}), "fgsm": ("classifier-fgsm-rs", {}),
        "pgd": ("classifier-robust", {})}


def quiet(*_args) -> None:
    pass


def train(name: str, data_dir: str, preset: str, overrides: dict, epochs: int, seed: int, out: Path) -> dict:
    data = genzoo.load_data(name, data_dir=data_dir)
    test = genzoo.load_data(name, split="test", data_dir=data_dir)
    model = genzoo.build(preset, data.spec, seed=seed, **overrides)
    t0 = time.perf_counter()
    length = {"epochs": epochs} if epochs else {}
    trainer = genzoo.train(model, data, out=str(out), eval_data=test, seed=seed, progress=False, precision="fp32",
                           **length)
    wall = time.perf_counter() - t0
    metrics = json.loads((out / "metrics.json").read_text())
    return {"epochs": round(trainer.step / trainer.steps_per_epoch, 2), "train_s": round(trainer.elapsed, 1),
            "train_wall_s": round(wall, 1),
            "collapse_flags": sum(1 for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
                                  if r.get("test_catastrophic_overfitting")),
            "test_accuracy_tta": metrics.get("test_accuracy")}


def attack(run: Path, data_dir: str, method: str, eps: list[float], n: int | None, steps: int, restarts: int,
           alpha: float | None) -> dict:
    opts = AttackOptions(method=method, eps=eps, n=n, steps=steps, restarts=restarts, alpha=alpha)
    t0 = time.perf_counter()
    res = attack_run(run, opts, data_dir=data_dir, log=quiet)
    return {"clean": res["clean_accuracy"], "robust": dict(zip(map(str, res["eps"]), res["robust_accuracy"])),
            "n": res["n"], "seconds": round(time.perf_counter() - t0, 1), "images_per_s": res["images_per_s"]}


def reference(path: str, data_dir: str, n: int, steps: int, restarts: int) -> dict:
    """Clean, FGSM and PGD accuracy at eps 0.3 of Wong et al.'s released MNIST model (their 4-layer net on
    [0, 1] pixels; the state dict's keys are its nn.Sequential indices)."""
    from torch import nn

    from genzoo import attacks

    net = nn.Sequential(nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(32 * 7 * 7, 100), nn.ReLU(), nn.Linear(100, 10))
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.eval()
    test = genzoo.load_data("mnist", split="test", data_dir=data_dir)
    hits = {"clean": 0, "fgsm": 0, "pgd": 0}
    g = torch.Generator().manual_seed(0)
    seen, t0 = 0, time.perf_counter()
    for images, labels, _ in test.iter_ordered(500):
        x, y = images[:n - seen].float() / 255, labels[:n - seen]
        advs = {"clean": x, "fgsm": attacks.fgsm(net, x, y, 0.3),
                "pgd": attacks.pgd(net, x, y, 0.3, alpha=0.01, steps=steps, restarts=restarts, generator=g)}
        with torch.no_grad():
            for k, a in advs.items():
                hits[k] += int((net(a).argmax(1) == y).sum())
        seen += len(y)
        if seen >= n:
            break
    return {"model": path, "n": seen, "seconds": round(time.perf_counter() - t0, 1),
            **{k: v / seen for k, v in hits.items()}, "published_pgd": 0.8877}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--datasets", default="mnist")
    ap.add_argument("--nets", default="standard,fgsm,pgd", help="which of the nets to train")
    ap.add_argument("--epochs", type=int, help="default: each preset's own (genzoo list MODEL)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="model config overrides (adversarially trained nets)")
    ap.add_argument("--pgd-n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--restarts", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", help="keep the run folders under this folder")
    ap.add_argument("--reference", metavar="FILE", help="also attack Wong et al.'s released MNIST model (fgsm.pth)")
    ap.add_argument("--reference-n", type=int, default=10000, help="test images for --reference")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "robust.json"))
    args = ap.parse_args()
    torch.set_flush_denormal(True)  # as the genzoo command does (README "Denormal floats")
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        for name in args.datasets.split(","):
            eps, pgd_alpha = SETTINGS[name]
            for kind in args.nets.split(","):
                preset, over = NETS[kind]
                if kind != "standard":
                    over = {**over, **{k: json.loads(v) if v[:1] in "0123456789-[{tf" else v
                                       for k, v in (item.split("=", 1) for item in args.set)}}
                run = root / f"{name}-{kind}"
                try:
                    tr = train(name, args.data_dir, preset, over, args.epochs, args.seed, run)
                except DataError as e:
                    print(f"skip {name}: {e}", file=sys.stderr)
                    break
                fgsm = attack(run, args.data_dir, "fgsm", eps, None, 1, 1, None)
                pgd = attack(run, args.data_dir, "pgd", eps, args.pgd_n, args.steps, args.restarts, pgd_alpha)
                row = {"dataset": name, "net": kind, "preset": preset, "overrides": over,
                       **tr, "clean": fgsm["clean"], "fgsm": fgsm["robust"],
                       "pgd": pgd["robust"], "pgd_n": pgd["n"], "pgd_clean": pgd["clean"],
                       "fgsm_images_per_s": fgsm["images_per_s"], "pgd_seconds": pgd["seconds"],
                       "pgd_images_per_s": pgd["images_per_s"]}
                results.append(row)
                print(json.dumps(row), flush=True)
    print(f"\n{'data':<14}{'net':<10}{'train s':>9}{'clean':>8}  eps: FGSM / PGD-{args.steps}x{args.restarts}")
    for r in results:
        cells = "  ".join(f"{float(e):.3g}: {100 * r['fgsm'][e]:.2f} / {100 * r['pgd'][e]:.2f}" for e in r["pgd"])
        print(f"{r['dataset']:<14}{r['net']:<10}{r['train_s']:>9.1f}{100 * r['clean']:>8.2f}  {cells}")
    ref = None
    if args.reference:
        ref = reference(args.reference, args.data_dir, args.reference_n, args.steps, args.restarts)
        print(f"reference {ref['model']}: clean {100 * ref['clean']:.2f}, FGSM {100 * ref['fgsm']:.2f}, "
              f"PGD-{args.steps}x{args.restarts} {100 * ref['pgd']:.2f} at eps 0.3 on {ref['n']} images "
              f"(published: 88.77 on 10000)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
                               "threads": torch.get_num_threads(), "pgd_steps": args.steps,
                               "pgd_restarts": args.restarts, "results": results, "reference": ref}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
