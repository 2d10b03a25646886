"""Which feature layer makes FID on MNIST meaningful: the evidence behind genzoo's choice.

For a feature network (the shipped MNIST classifier, and optionally others built with
scripts/build_feature_nets.py --out DIR --name NAME), FID between 10,000 real training images and
versions of the 10,000 test images, in four candidate feature spaces:

    pen     penultimate: global max-pool of the last conv stage (128-d), genzoo's choice
    avg3    global average-pool of the last conv stage (128-d)
    cat     average-pool of the 2nd stage and the penultimate layer side by side (192-d)
    logits  the 10 class logits

Conditions: clean test (the floor), another 10,000 training images, Gaussian pixel noise, a 3x3
blur, salt-and-pepper, low diversity (100 or 1000 distinct images repeated), a dropped class, half
the images with a blanked square, a 2-pixel shift. A useful space puts every failure far above the
floor (the ratio column), not only some of them.

    PYTHONPATH=. python bench/feature_space.py --data-dir ../shared/data [--extra DIR/NAME ...]

Prints a table and writes bench/results/feature_space.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from genzoo.data import load
from genzoo.data.imageset import to_float
from genzoo.metrics import features
from genzoo.metrics.fid import fid

TAPS = ("pen", "avg3", "cat", "logits")


@torch.no_grad()
def taps(model, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The candidate features of a fast classifier (body: conv stages with max-pools, global max-pool)."""
    out = {k: [] for k in TAPS}
    for i in range(0, len(images), 1000):
        h = to_float(images[i:i + 1000], model.input_range)
        pooled = []
        for layer in model.net.body:
            if isinstance(layer, torch.nn.AdaptiveMaxPool2d):
                last_stage = h  # N x 4w x 7 x 7
            h = layer(h)
            if isinstance(layer, torch.nn.MaxPool2d):
                pooled.append(h)
        out["pen"].append(h)  # N x 4w
        out["avg3"].append(last_stage.mean((2, 3)))
        out["cat"].append(torch.cat([pooled[1].mean((2, 3)), h], 1))
        out["logits"].append(model.net.head(h))
    return {k: torch.cat(v) for k, v in out.items()}


def conditions(train, test, seed: int = 1) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    reference, other = train.images[perm[:10000]], train.images[perm[10000:20000]]
    x, y = test.images, test.labels
    xf = x.float() / 255

    def q(v):  # back to uint8, as a saved image would be
        return (v * 255).round().clamp(0, 255).to(torch.uint8)

    k = torch.tensor([1.0, 2.0, 1.0])
    blur = (k[:, None] * k[None]) / 16
    sp = torch.rand(xf.shape, generator=g)
    salt = xf.clone()
    salt[sp < 0.01], salt[sp > 0.99] = 0.0, 1.0
    erased = xf.clone()
    erased[:5000, :, 8:20, 8:20] = 0
    keep = (y < 9).nonzero().flatten()

    def distinct(per_class):
        idx = torch.cat([(y == c).nonzero().flatten()[:per_class] for c in range(10)])
        return x[idx.repeat(len(x) // len(idx))]

    return reference, {
        "test (floor)": x,
        "other train": other,
        "noise 0.05": q(xf + 0.05 * torch.randn(xf.shape, generator=g)),
        "noise 0.1": q(xf + 0.1 * torch.randn(xf.shape, generator=g)),
        "blur 3x3": q(F.conv2d(xf, blur[None, None], padding=1)),
        "salt+pepper 2%": q(salt),
        "100 distinct": distinct(10),
        "1000 distinct": distinct(100),
        "class 9 dropped": x[keep[torch.randint(len(keep), (len(x),), generator=g)]],
        "half blanked": q(erased),
        "shift 2px": torch.roll(x, shifts=(2, 2), dims=(2, 3)),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--extra", nargs="*", default=[], help="other nets as DIR/NAME (NAME.pt + NAME.json)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "feature_space.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    train, test = load("mnist", "train", args.data_dir), load("mnist", "test", args.data_dir)
    reference, conds = conditions(train, test)
    nets = {"shipped mnist": features.domain_net("mnist")}
    for stem in args.extra:
        stem = Path(stem)
        nets[stem.name] = features._load_weights(stem.with_suffix(".json"), stem.with_suffix(".pt"))
    results = {}
    for label, net in nets.items():
        ref = taps(net.model, reference)
        per_cond = {c: taps(net.model, imgs) for c, imgs in conds.items()}
        for tap in TAPS:
            row = {c: fid(ref[tap], f[tap]) for c, f in per_cond.items()}
            results[f"{label} / {tap}"] = {"dim": ref[tap].shape[1], "fid": row}
    names = list(conds)
    print(f"{'FID (ratio to the floor)':<30}" + "".join(f"{c:>17}" for c in names))
    for key, r in results.items():
        floor = r["fid"]["test (floor)"]
        cells = [f"{v:.3g} ({v / floor:.1f}x)" for v in r["fid"].values()]
        print(f"{key + ' ' + str(r['dim']) + '-d':<30}" + "".join(f"{c:>17}" for c in cells))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
