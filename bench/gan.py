"""GAN benchmarks: DCGAN training speed against a plain PyTorch loop, and a crude sample-quality check.

    python bench/gan.py speed [--data mnist --data-dir ../shared/data] [--steps 300]
    python bench/gan.py quality --classifier RUN_DIR RUN_DIR... [--n 1000]

speed: images/s of one DCGAN training step at batch 64 on MNIST 28x28 and 32x32 (bilinear resize),
(a) driven by genzoo's Trainer (in-memory uint8 batches, no per-step host syncs, channels_last,
D's weight gradients skipped in the generator step, fp32 and bf16) and (b) the same networks,
losses and optimizers in a plain loop written the way popular GAN repositories write it (the
PyTorch DCGAN example): a per-sample Dataset returning normalised tensors (what torchvision's MNIST
+ ToTensor + Normalize do) behind a DataLoader, separate real/fake backward passes, per-step
`.item()` calls for the log. Writes bench/results/gan.json.

quality: for each trained run, classify 1000 samples with a trained genzoo classifier run: class
histogram, how many digits take at least 1% of the samples, entropy of the histogram (bits; 3.32 is
uniform over 10), and the mean max-softmax confidence. Real test images give the reference row.
Crude: a high confidence does not prove realistic images, but collapse and noise show clearly.
Writes bench/results/gan_quality.json.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

import genzoo
from genzoo.data import resize
from genzoo.data.imageset import to_float, to_uint8
from genzoo.models.gan.networks import build_discriminator, build_generator
from genzoo.nn import init_weights_
from genzoo.train import TrainConfig, Trainer, load_model

RESULTS = Path(__file__).resolve().parent / "results"


# ---- (b) the plain loop ---------------------------------------------------------------------------------
class PerSampleMNIST(Dataset):
    """Per-sample loading as torchvision.datasets.MNIST with Resize + ToTensor + Normalize((0.5,), (0.5,))."""

    def __init__(self, images: np.ndarray, size: int):
        self.images, self.size = images, size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        img = Image.fromarray(self.images[i], mode="L")
        if img.size != (self.size, self.size):
            img = img.resize((self.size, self.size), Image.BILINEAR)
        x = torch.from_numpy(np.array(img, np.uint8, copy=True)).unsqueeze(0).float().div(255)  # ToTensor
        return x.sub_(0.5).div_(0.5), 0  # Normalize


def plain_loop(images: np.ndarray, size: int, steps: int, warmup: int, workers: int) -> float:
    """The DCGAN example's loop on genzoo's DCGAN networks; returns images/s after `warmup` steps."""
    torch.manual_seed(0)
    shape = (1, size, size)
    cfg = genzoo.registry.get("dcgan").default_config()
    netG = init_weights_(build_generator("dcgan", cfg.z_dim, shape, cfg.g_width, cfg.g_norm), "normal")
    netD = init_weights_(build_discriminator("dcgan", shape, cfg.d_width, cfg.d_norm), "normal")
    criterion = torch.nn.BCEWithLogitsLoss()  # the example's Sigmoid + BCELoss, on logits
    optD = torch.optim.Adam(netD.parameters(), lr=cfg.lr_d, betas=cfg.betas)
    optG = torch.optim.Adam(netG.parameters(), lr=cfg.lr_g, betas=cfg.betas)
    loader = DataLoader(PerSampleMNIST(images, size), batch_size=64, shuffle=True, num_workers=workers,
                        drop_last=True)
    log, step, t0 = [], 0, 0.0
    while step < warmup + steps:
        for data, _ in loader:
            if step == warmup:
                t0 = time.perf_counter()
            netD.zero_grad()
            real = data
            b = real.size(0)
            label = torch.full((b,), 1.0)
            output = netD(real)[0].view(-1)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()
            noise = torch.randn(b, cfg.z_dim)
            fake = netG(noise)
            label.fill_(0.0)
            output = netD(fake.detach())[0].view(-1)
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optD.step()
            netG.zero_grad()
            label.fill_(1.0)
            output = netD(fake)[0].view(-1)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optG.step()
            log.append((errD.item(), errG.item(), D_x, D_G_z1, D_G_z2))
            step += 1
            if step == warmup + steps:
                break
    return steps * 64 / (time.perf_counter() - t0)


# ---- (a) genzoo's Trainer ---------------------------------------------------------------------------------
def genzoo_loop(data, steps: int, warmup: int, precision: str) -> float:
    model = genzoo.build("dcgan", data.spec)
    settings = {"batch_size": 64, "progress": False, "precision": precision, "log_every": 10_000}
    Trainer(model, data, TrainConfig(steps=warmup, **settings)).fit()  # warm-up: kernels, allocator
    t0 = time.perf_counter()
    Trainer(model, data, TrainConfig(steps=steps, **settings)).fit()
    return steps * 64 / (time.perf_counter() - t0)


def speed(args) -> None:
    base = genzoo.load_data(args.data, data_dir=args.data_dir)
    rows = []
    for size in (28, 32):
        data = base if size == 28 else resize(base, size)
        raw = base.images[:, 0].numpy()  # the plain loop resizes per sample, as torchvision's Resize does
        row = {"size": size, "batch_size": 64, "steps": args.steps}
        row["plain_workers0"] = plain_loop(raw, size, args.steps, args.warmup, 0)
        if args.workers:
            row[f"plain_workers{args.workers}"] = plain_loop(raw, size, args.steps, args.warmup, args.workers)
        row["genzoo_fp32"] = genzoo_loop(data, args.steps, args.warmup, "fp32")
        row["genzoo_bf16"] = genzoo_loop(data, args.steps, args.warmup, "bf16")
        row["ratio_fp32"] = row["genzoo_fp32"] / row["plain_workers0"]
        row["ratio_bf16"] = row["genzoo_bf16"] / row["plain_workers0"]
        rows.append(row)
        print(" ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    print("\nimages/s (DCGAN training, batch 64, " + f"{torch.get_num_threads()} threads, data {base.name})")
    keys = [k for k in rows[0] if k.startswith(("plain", "genzoo", "ratio"))]
    print(f"{'size':>5} " + " ".join(f"{k:>15}" for k in keys))
    for r in rows:
        print(f"{r['size']:>5} " + " ".join(f"{r[k]:>15.2f}" for k in keys))
    _write("gan.json", {"data": base.name, "threads": torch.get_num_threads(), "rows": rows})


# ---- quality --------------------------------------------------------------------------------------------------
@torch.no_grad()
def class_stats(images: torch.Tensor, value_range, clf) -> dict:
    """Histogram of classifier decisions on images (floats in value_range), entropy, mean confidence."""
    x = to_float(to_uint8(images, value_range), clf.input_range)  # quantised as a saved PNG would be
    probs = F.softmax(clf(x.contiguous(memory_format=torch.channels_last)).float(), 1)
    hist = torch.bincount(probs.argmax(1), minlength=probs.shape[1])
    p = hist.float() / hist.sum()
    entropy = -(p[p > 0] * p[p > 0].log2()).sum().item()
    return {"histogram": hist.tolist(), "digits_1pct": int((p >= 0.01).sum()), "entropy_bits": round(entropy, 3),
            "confidence": round(probs.max(1).values.mean().item(), 4)}


def quality(args) -> None:
    clf = load_model(args.classifier, which="last")
    real = genzoo.load_data("mnist-mini", split="test").images[:args.n]
    rows = {"real test images": class_stats(to_float(real), (-1.0, 1.0), clf)}
    for run in args.runs:
        model = load_model(run, which="last")
        x = model.sample(args.n, generator=torch.Generator().manual_seed(args.seed))
        if x.shape[-2:] != (28, 28):
            x = F.interpolate(x, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
        rows[run] = {"model": model.name, "step": model.checkpoint_step, **class_stats(x, model.input_range, clf)}
    print(f"{'run':<48} {'digits>=1%':>10} {'entropy':>8} {'conf':>6}  histogram")
    for name, r in rows.items():
        print(f"{name[-48:]:<48} {r['digits_1pct']:>10} {r['entropy_bits']:>8.3f} {r['confidence']:>6.3f}  "
              f"{r['histogram']}")
    print(f"(uniform over 10 digits: entropy {math.log2(10):.3f} bits)")
    _write("gan_quality.json", rows)


def _write(name: str, obj) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text(json.dumps(obj, indent=2) + "\n")
    print(f"wrote {RESULTS / name}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--data", default="mnist-mini")
    s.add_argument("--data-dir")
    s.add_argument("--steps", type=int, default=300)
    s.add_argument("--warmup", type=int, default=20)
    s.add_argument("--workers", type=int, default=0, help="also time the plain loop with this many DataLoader workers")
    q = sub.add_parser("quality")
    q.add_argument("runs", nargs="+")
    q.add_argument("--classifier", required=True, help="a genzoo classifier run trained on MNIST")
    q.add_argument("--n", type=int, default=1000)
    q.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    speed(args) if args.cmd == "speed" else quality(args)


if __name__ == "__main__":
    main()
