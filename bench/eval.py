"""Evaluation benchmark: speed of the suite and the floors (real vs real) per dataset.

1. Time for 10,000 generated MNIST samples + features + FID/KID/precision-recall, split into sample
   generation (a randomly initialised DCGAN generator, Radford et al. 2016, 32x32, ngf 64: the
   model's own cost), features, and each metric. Goal: <= 10 s on 2 cores.
2. Floors: FID/KID/PR/DC/IS of real training images vs the real test split, for every dataset whose
   files and feature network are present (mnist, stacked-mnist here; fashion-mnist and cifar10 once
   their data and weights exist), at n = 10,000 and n = 2,000 (the training-time default), over
   3 random training subsets (mean +/- std); plus uniform noise and a one-class "collapse" for scale.

    PYTHONPATH=. python bench/eval.py --data-dir ../shared/data     (run under the shared CPU lock)

Prints tables and writes bench/results/eval.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

from genzoo.data import load
from genzoo.errors import GenzooError
from genzoo.metrics import evaluate_images, evaluate_model, features, suite
from genzoo.metrics.fid import frechet_distance, gaussian_stats
from genzoo.metrics.kid import kid
from genzoo.metrics.manifold import prdc

DATASETS = ("mnist-mini", "mnist", "stacked-mnist", "fashion-mnist", "cifar10")
FLOOR_METRICS = "fid,kid,pr,dc,is,cls"


class DCGANGenerator(nn.Module):
    """Radford et al. 2016 generator for 32x32 (z 100 -> 4x4x4ngf -> 8x8x2ngf -> 16x16xngf -> 32x32xC)."""

    input_range = (-1.0, 1.0)
    name = "dcgan-generator (random weights)"

    def __init__(self, channels: int = 1, ngf: int = 64, nz: int = 100):
        super().__init__()
        self.nz = nz

        def up(cin, cout):
            return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

        self.net = nn.Sequential(
            nn.ConvTranspose2d(nz, 4 * ngf, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * ngf), nn.ReLU(True),
            *up(4 * ngf, 2 * ngf), *up(2 * ngf, ngf),
            nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False), nn.Tanh())

    def sample(self, n, labels=None, generator=None):
        z = torch.randn(n, self.nz, 1, 1, generator=generator)
        return self.net(z)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t  # (result, seconds)


def bench_speed(test, n: int, repeats: int) -> dict:
    """Seconds per phase for n samples scored against MNIST test (real features cached, as after first use)."""
    torch.manual_seed(0)
    gen = DCGANGenerator().eval()
    net = features.resolve("auto", test.name)
    _, t_real = timed(lambda: features.extract(net, test.images))  # first use, before the cache holds them
    ref = suite.reference(net, test)
    _, t_radii = timed(lambda: ref.subset(min(n, len(test))))
    real_m, radii = ref.subset(min(n, len(test)))
    rows = []
    for r in range(repeats):
        t0 = time.perf_counter()
        fake = suite.generate(gen, n, None, torch.Generator().manual_seed(r))
        t1 = time.perf_counter()
        f = features.extract(net, fake).features
        t2 = time.perf_counter()
        frechet_distance(ref.mu, ref.sigma, *gaussian_stats(f))
        t3 = time.perf_counter()
        kid(ref.feats.features, f, generator=torch.Generator().manual_seed(0))
        t4 = time.perf_counter()
        prdc(real_m, f[:len(real_m)], real_radii=radii)
        t5 = time.perf_counter()
        # the public call end to end (warm caches): what `genzoo eval --metrics fid,kid,pr` costs
        evaluate_model(gen, test, n=n, metrics="fid,kid,pr", seed=r)
        t6 = time.perf_counter()
        rows.append({"generate": t1 - t0, "features": t2 - t1, "fid": t3 - t2, "kid": t4 - t3, "pr_dc": t5 - t4,
                     "evaluate_model_total": t6 - t5})
    best = {k: round(min(r[k] for r in rows), 3) for k in rows[0]}  # min over repeats: least disturbed
    best["metrics_without_generation"] = round(best["features"] + best["fid"] + best["kid"] + best["pr_dc"], 3)
    best["real_features_first_use"] = round(t_real, 3)
    best["real_radii_first_use"] = round(t_radii, 3)
    best["n"] = n
    best["generator"] = f"{gen.name}, {sum(p.numel() for p in gen.parameters()) / 1e6:.2f} M parameters"
    return best


class OneClass(nn.Module):
    """Replays real images of a single class: a fully mode-collapsed 'generator' for scale."""

    input_range = (-1.0, 1.0)
    name = "one-class"

    def __init__(self, data, cls=0):
        super().__init__()
        self.images = data.images[data.labels == cls]

    def sample(self, n, labels=None, generator=None):
        from genzoo.data.imageset import to_float

        return to_float(self.images[torch.randint(len(self.images), (n,), generator=generator)], self.input_range)


def floors(name: str, data_dir: str | None, sizes: tuple[int, ...], seeds: int) -> dict:
    train = load(name, "train", data_dir)
    test = load(name, "test", data_dir)
    metrics = FLOOR_METRICS + (",modes" if name == "stacked-mnist" else "")
    out = {"train_images": len(train), "test_images": len(test)}
    for n in sizes:
        n_fake = min(n, len(train))
        runs = []
        for s in range(seeds):
            idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(s))[:n_fake]
            runs.append(evaluate_images(train.subset(idx), test, metrics=metrics, seed=s))
        agg = suite.aggregate([{k: v for k, v in r.items() if isinstance(v, (int, float))} for r in runs])
        out[f"train_vs_test_n{n_fake}"] = {k: round(v, 5) if isinstance(v, float) else v for k, v in agg.items()}
    n = min(sizes[0], len(test))
    g = torch.Generator().manual_seed(0)
    noise = torch.randint(0, 256, (n, *test.shape), generator=g, dtype=torch.uint8)
    out[f"noise_n{n}"] = _round(evaluate_images(noise, test, metrics="fid,kid,pr"))
    if name != "stacked-mnist":
        out[f"one_class_n{n}"] = _round(evaluate_model(OneClass(train), test, n=n, metrics="fid,kid,pr"))
    out["features"] = runs[0]["features"]
    return out


def _round(d: dict) -> dict:
    return {k: round(v, 5) if isinstance(v, float) else v for k, v in d.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None, help="folder holding the datasets (e.g. ../shared/data)")
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--n", type=int, default=10000, help="samples for the timing")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seeds", type=int, default=3, help="random training subsets per floor")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "eval.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = {"threads": args.threads, "torch": torch.__version__, "cpu": platform.processor() or platform.machine()}

    if not args.skip_speed:
        test = load("mnist", "test", args.data_dir)
        speed = bench_speed(test, args.n, args.repeats)
        result["speed"] = speed
        print(f"\n{args.n} MNIST samples vs {len(test)} test images, {args.threads} threads "
              f"(best of {args.repeats}); generator: {speed['generator']}")
        for k in ("generate", "features", "fid", "kid", "pr_dc", "metrics_without_generation",
                  "evaluate_model_total", "real_features_first_use", "real_radii_first_use"):
            print(f"  {k:<28} {speed[k]:8.3f} s")

    result["floors"] = {}
    for name in args.datasets.split(","):
        try:
            result["floors"][name] = floors(name, args.data_dir, (10000, 2000), args.seeds)
        except GenzooError as e:
            result["floors"][name] = {"unavailable": str(e)}
            print(f"\n{name}: unavailable ({str(e)[:150]}...)")
            continue
        fl = result["floors"][name]
        print(f"\n{name}: floors ({fl['features']}), mean +/- std over {args.seeds} training subsets")
        keys = ("fid", "kid", "precision", "recall", "density", "coverage", "is", "class_kl", "modes", "modes_kl")
        print(f"  {'':<22}" + "".join(f"{k:>17}" for k in keys))
        for row, vals in fl.items():
            if not isinstance(vals, dict):
                continue
            cells = []
            for k in keys:
                v, sd = vals.get(k), vals.get(f"{k}_std")
                cells.append("" if v is None else f"{v:.4g}" + (f"±{sd:.2g}" if sd is not None else ""))
            print(f"  {row:<22}" + "".join(f"{c:>17}" for c in cells))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
