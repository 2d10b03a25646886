"""GAN benchmarks: DCGAN speed against a plain PyTorch loop, sample quality per preset, the zoo per dataset.

    python bench/gan.py speed [--data mnist --data-dir ../shared/data] [--steps 300]
    python bench/gan.py presets [--minutes 3] [--models gan,dcgan,...]   (full MNIST from ../shared/data)
    python bench/gan.py budget [--minutes 5]
    python bench/gan.py table  --data mnist,fashion-mnist,cifar10-jpeg --models dcgan,lapgan,progan,ebgan,began
                               --minutes 10 [--seeds 0] [--set MODEL:KEY=VALUE ...] [--image-size N] [--figure [NAME]]

speed: images/s of one DCGAN training step at batch 64 on MNIST 28x28 and 32x32 (bilinear resize),
(a) driven by genzoo's Trainer (in-memory uint8 batches, no per-step host syncs, channels_last,
D's weight gradients skipped in the generator step, fp32 and bf16) and (b) the same networks,
losses and optimizers in a plain loop written the way popular GAN repositories write it (the
PyTorch DCGAN example): a per-sample Dataset returning normalised tensors (what torchvision's MNIST
+ ToTensor + Normalize do) behind a DataLoader, separate real/fake backward passes, per-step
`.item()` calls for the log. Writes bench/results/gan.json.

presets: each GAN preset trained for a fixed training-time budget on full MNIST, then FID, KID,
precision/recall and the class-histogram KL of 10,000 samples in the shipped MNIST classifier's
features (genzoo.metrics). Writes bench/results/gan_presets.json.

table: the GAN zoo per dataset at a training-time budget (issue "multiscale and energy-based GANs"): each
model with its registered defaults on each dataset for `--minutes`, then FID, KID, precision/recall,
class-histogram KL (and conditional accuracy for class-conditional models) of 10,000 samples against the test
split in that dataset's domain features, beside the floor (10,000 real training images scored the same way) and
`dcgan` at the same budget (FID ratio). Each run keeps a grid of 64 samples
(bench/results/gan-table/DATA/MODEL-Mmin-sS.png); `--figure` writes one labelled row of samples per model to
docs/gan-table-DATA-Mmin.png (`--figure NAME`: docs/NAME-DATA-Mmin.png). `--set MODEL:KEY=VALUE` trains MODEL
with an override, as a row of its own (`sngan+betas=0,0.99`). `--image-size N` trains on the training split resized
to NxN (e.g. `progan` at 64x64 on MNIST, a row `progan@64px`); the samples are scored as every row is, resized by the
feature network to its input size against the test split at its own size. Writes bench/results/gan_table.json.

budget: the headline comparison. genzoo's DCGAN and the plain loop above train the same networks for
the same wall-clock budget; the samples of each are scored the same way. Writes bench/results/gan_budget.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

import genzoo
from genzoo.data import resize
from genzoo.models.gan.networks import build_discriminator, build_generator
from genzoo.nn import init_weights_
from genzoo.training import TrainConfig, Trainer

RESULTS = Path(__file__).resolve().parent / "results"
# speed and budget compare loops on the same networks: the paper's DCGAN, which the plain loop below builds
# (the default `dcgan` adds dense layers; bench/gan_peers.py compares it with reference implementations)
PAPER = "dcgan-paper"


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


def plain_loop(images: np.ndarray, size: int, steps: int, warmup: int, workers: int, seconds: float = 0.0):
    """The DCGAN example's loop on genzoo's DCGAN networks; returns images/s after `warmup` steps, or,
    with `seconds`, trains for that long and returns (netG, steps done)."""
    torch.manual_seed(0)
    shape = (1, size, size)
    cfg = genzoo.registry.get(PAPER).default_config()
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
            if step == warmup + steps or (seconds and time.perf_counter() - t0 >= seconds):
                break
        if seconds and time.perf_counter() - t0 >= seconds:
            return netG, step
    return steps * 64 / (time.perf_counter() - t0)


# ---- (a) genzoo's Trainer ---------------------------------------------------------------------------------
def genzoo_loop(data, steps: int, warmup: int, precision: str) -> float:
    model = genzoo.build(PAPER, data.spec)
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


# ---- presets: every GAN preset on a fixed training-time budget, scored by the evaluation suite -------
PRESETS = ("gan", "dcgan", "dcgan-paper", "lsgan", "wgan", "wgan-gp", "dragan", "sngan")


def presets(args) -> None:
    """Train each preset for `--minutes` of training-step time (its paper settings, steps unbounded) on
    the data, then FID/KID/precision/recall/class-histogram KL of 10k samples in domain features."""
    from genzoo.metrics import evaluate_model

    path = RESULTS / "gan_presets.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    train = genzoo.load_data(args.data, data_dir=args.data_dir)
    test = genzoo.load_data(args.data, split="test", data_dir=args.data_dir)
    for name in args.models.split(","):
        key = f"{name}@{args.minutes:g}min"
        if key in results and not args.force:
            continue
        model = genzoo.build(name, train.spec, seed=args.seed)
        defaults = genzoo.registry.get(name).train_defaults
        cfg = TrainConfig(**{**defaults, "steps": 10**7, "max_minutes": args.minutes, "progress": False,
                             "log_every": 500, "sample_every": 0, "eval_every": 0, "seed": args.seed})
        run = RESULTS / "gan-runs" / name
        summary = Trainer(model, train, cfg, run_dir=run, eval_data=None).fit()
        res = evaluate_model(model, test, n=args.n, metrics="fid,kid,pr,cls")
        results[key] = {"model": name, "minutes": args.minutes, "steps": summary["step"],
                        "images_per_s": summary["images_per_s"], **res, "grid": str(run / "samples")}
        print(key, json.dumps(results[key]), flush=True)
        _write("gan_presets.json", results)
    print("\n| model | minutes | steps | FID | KID x1000 | precision | recall | class KL |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results.values():
        print(f"| {r['model']} | {r['minutes']:g} | {r['steps']} | {r['fid']:.2f} | {r['kid'] * 1000:.2f} | "
              f"{r['precision']:.3f} | {r['recall']:.3f} | {r.get('class_kl', float('nan')):.3f} |")


# ---- table: models x datasets at one budget, against the floor and dcgan --------------------------------
def parse_sets(items: list[str]) -> dict[str, dict[str, str]]:
    """`--set MODEL:KEY=VALUE` items -> {model: {key: value}} (strings: the config coerces them as `--set` does)."""
    overrides: dict[str, dict[str, str]] = {}
    for item in items:
        model, assignment = item.split(":", 1)
        key, value = assignment.split("=", 1)
        overrides.setdefault(model, {})[key] = value
    return overrides


def run_label(name: str, sets: dict[str, str], image_size: int | None = None) -> str:
    """The model, its overrides and the training size if not the data's own, e.g. `sngan+betas=0,0.99` or
    `progan@64px`: an overridden or resized run is a row (and a key) of its own."""
    return name + "".join(f"+{k}={v}" for k, v in sets.items()) + (f"@{image_size}px" if image_size else "")


def budget_config(name: str, minutes: float, seed: int, log_every: int) -> TrainConfig:
    """Model `name`'s registered trainer defaults, run for `minutes` of training-step time (no evaluation or grids
    on the way: the bench scores the end)."""
    return TrainConfig(**{**genzoo.registry.get(name).train_defaults, "steps": 10**7, "seed": seed,
                          "max_minutes": minutes, "progress": False, "log_every": log_every, "sample_every": 0,
                          "eval_every": 0})


def train_at_budget(name: str, train, sets: dict[str, str], minutes: float, seed: int, run: Path,
                    log_every: int):
    """Model `name` (config overrides `sets`) trained on `train` for `minutes` in run folder `run`; returns the
    model and the Trainer's summary."""
    model = genzoo.build(name, train.spec, seed=seed, **sets)
    summary = Trainer(model, train, budget_config(name, minutes, seed, log_every), run_dir=run, eval_data=None).fit()
    return model, summary


def table(args) -> None:
    from genzoo.data.grid import save_grid
    from genzoo.metrics import evaluate_images, evaluate_model

    results = _read("gan_table.json")
    overrides = parse_sets(args.set)
    metrics = "fid,kid,pr,cls"
    for data in args.data.split(","):
        train = genzoo.load_data(data, data_dir=args.data_dir)
        test = genzoo.load_data(data, split="test", data_dir=args.data_dir)  # scored at its own size
        if f"{data}/floor" not in results:
            pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:args.n]
            results[f"{data}/floor"] = {"data": data, "model": "floor", **evaluate_images(train.images[pick], test,
                                                                                        metrics=metrics)}
            _write("gan_table.json", results)
        if args.image_size:  # the floor above stays real images at their own size
            train = resize(train, args.image_size)
        for name in args.models.split(","):
            for seed in map(int, args.seeds.split(",")):
                sets = overrides.get(name, {})
                label = run_label(name, sets, args.image_size)
                key = f"{data}/{label}@{args.minutes:g}min/s{seed}"
                if key in results and not args.force:
                    continue
                folder = re.sub(r"[^\w.+=-]", "_", label)  # a file name: `betas=0,0.99` -> `betas=0_0.99`
                run = RESULTS / "gan-table" / data / f"{folder}-{args.minutes:g}min-s{seed}"
                if run.exists():  # a run that never reached the JSON (killed), or one --force trains again
                    shutil.rmtree(run)
                model, summary = train_at_budget(name, train, sets, args.minutes, seed, run, log_every=500)
                conditional = bool(getattr(model, "conditional", False))  # + how often a sample shows its class
                res = evaluate_model(model, test, n=args.n, metrics=metrics + (",cacc" if conditional else ""))
                shown = model.sample(64, generator=torch.Generator().manual_seed(0))
                torch.save(shown, run / "shown.pt")  # the grid's images, for the figure
                grid = save_grid(shown, run.parent / f"{run.name}.png", nrow=8)
                results[key] = {"data": data, "model": name, "seed": seed, "minutes": args.minutes, "sets": sets,
                                "image_size": args.image_size,
                                "steps": summary["step"], "images_per_s": summary["images_per_s"], **res,
                                "run": str(run), "grid": str(grid)}
                print(key, json.dumps(results[key]), flush=True)
                _write("gan_table.json", results)
        if args.figure:
            labels = [run_label(name, overrides.get(name, {}), args.image_size) for name in args.models.split(",")]
            table_figure(results, data, args.minutes, labels,
                         args.figure + (f"-{args.image_size}px" if args.image_size else ""))
    print_table(results, args.minutes)


def table_figure(results: dict, data: str, minutes: float, models: list[str], figure: str = "gan-table",
                 per_row: int = 12) -> None:
    """docs/FIGURE-DATA-Mmin.png: a row of seed 0's samples per model, labelled with the model and its FID."""
    from genzoo.data.grid import save_grid

    rows, labels = [], []
    for name in models:
        r = results.get(f"{data}/{name}@{minutes:g}min/s0")
        if r is not None:
            rows.append(torch.load(Path(r["run"]) / "shown.pt")[:per_row])
            labels.append(f"{name}  FID {r['fid']:.1f}")
    out = RESULTS.parents[1] / "docs" / f"{figure}-{data}-{minutes:g}min.png"
    print(f"wrote {save_grid(torch.cat(rows), out, nrow=per_row, row_labels=labels)}")


def print_table(results: dict, minutes: float) -> None:
    """Per dataset: the floor, then each model's runs at `minutes`, with FID over dcgan's mean FID."""
    print("\n| data | model | seed | steps | FID | KID x1000 | precision | recall | class KL | conditional accuracy "
          "| FID / dcgan's |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for data in dict.fromkeys(r["data"] for r in results.values()):
        rows = [r for r in results.values() if r["data"] == data and r.get("minutes", minutes) == minutes]
        ref = [r["fid"] for r in rows if r["model"] == "dcgan"]
        for r in rows:
            ratio = f"{r['fid'] / np.mean(ref):.2f}" if ref and "seed" in r else ""
            label = run_label(r["model"], r.get("sets", {}), r.get("image_size"))
            print(f"| {data} | {label} | {r.get('seed', '')} | {r.get('steps', '')} | {r['fid']:.2f} | "
                  f"{r['kid'] * 1000:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                  f"{r.get('class_kl', float('nan')):.3f} | {r.get('cond_accuracy', float('nan')):.3f} | {ratio} |")


# ---- budget: genzoo's DCGAN vs the plain loop, same networks, same training-time budget -------------------
def budget(args) -> None:
    """Both loops train the same DCGAN for `--minutes`; FID etc. of 10k samples from each."""
    from genzoo.metrics import evaluate_images, evaluate_model

    train = genzoo.load_data(args.data, data_dir=args.data_dir)
    test = genzoo.load_data(args.data, split="test", data_dir=args.data_dir)
    out = {"data": train.name, "minutes": args.minutes, "threads": torch.get_num_threads()}
    model = genzoo.build(PAPER, train.spec, seed=args.seed)
    cfg = TrainConfig(**{**genzoo.registry.get(PAPER).train_defaults, "steps": 10**7, "max_minutes": args.minutes,
                         "progress": False, "sample_every": 0, "seed": args.seed})
    summary = Trainer(model, train, cfg, run_dir=RESULTS / "gan-runs" / "budget-genzoo", eval_data=None).fit()
    out["genzoo"] = {"steps": summary["step"], **evaluate_model(model, test, n=args.n, metrics="fid,kid,pr,cls")}
    print("genzoo", out["genzoo"], flush=True)
    netG, steps = plain_loop(train.images[:, 0].numpy(), 28, 10**7, 0, 0, seconds=args.minutes * 60)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(args.n, genzoo.registry.get(PAPER).default_config().z_dim, generator=g)
    for mode in ("train", "eval"):  # the example draws its grids in train mode (batch statistics); try both
        netG.train(mode == "train")
        with torch.no_grad():
            fake = torch.cat([netG(z[i:i + 64]) for i in range(0, args.n, 64)])
        out[f"plain_{mode}_mode"] = {"steps": steps, **evaluate_images(fake, test, metrics="fid,kid,pr,cls",
                                                                        value_range=(-1.0, 1.0))}
        print(f"plain ({mode} mode)", out[f"plain_{mode}_mode"], flush=True)
    _write("gan_budget.json", out)
    print(f"\n| loop ({args.minutes:g} min, {train.name}) | steps | FID | KID x1000 | precision | recall | class KL |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for k in ("genzoo", "plain_train_mode", "plain_eval_mode"):
        r = out[k]
        print(f"| {k} | {r['steps']} | {r['fid']:.2f} | {r['kid'] * 1000:.2f} | {r['precision']:.3f} | "
              f"{r['recall']:.3f} | {r.get('class_kl', float('nan')):.3f} |")


def _read(name: str) -> dict:
    return json.loads((RESULTS / name).read_text()) if (RESULTS / name).is_file() else {}


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
    for name in ("presets", "budget"):
        q = sub.add_parser(name)
        q.add_argument("--data", default="mnist")
        q.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
        q.add_argument("--minutes", type=float, default=3.0 if name == "presets" else 5.0)
        q.add_argument("--n", type=int, default=10000, help="samples scored")
        q.add_argument("--seed", type=int, default=0)
        if name == "presets":
            q.add_argument("--models", default=",".join(PRESETS))
            q.add_argument("--force", action="store_true", help="retrain models already in the JSON")
    t = sub.add_parser("table")
    t.add_argument("--data", default="mnist,fashion-mnist,cifar10-jpeg")
    t.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    t.add_argument("--models", default="dcgan,lapgan,progan,ebgan,began")
    t.add_argument("--minutes", type=float, default=10.0)
    t.add_argument("--seeds", default="0")
    t.add_argument("--n", type=int, default=10000, help="samples scored")
    t.add_argument("--image-size", type=int, default=None, help="train on the data resized to NxN (a row MODEL@Npx)")
    t.add_argument("--set", action="append", default=[], help="MODEL:KEY=VALUE, a config override (repeatable)")
    t.add_argument("--figure", nargs="?", const="gan-table", default=None, metavar="NAME",
                   help="also write docs/NAME-DATA-Mmin.png (NAME: gan-table)")
    t.add_argument("--force", action="store_true", help="retrain runs already in the JSON")
    args = p.parse_args()
    torch.set_flush_denormal(True)  # as the genzoo command does (README "Denormal floats")
    {"speed": speed, "presets": presets, "budget": budget, "table": table}[args.cmd](args)


if __name__ == "__main__":
    main()
