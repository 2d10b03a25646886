"""Autoencoder / VAE benchmark: the tables of issue 6, each beside its baseline or published value.

    PYTHONPATH=. python bench/unsupervised.py PART [PART ...] [--data NAME] [--quick] [--minutes 9] [--data-dir DIR]

PARTS
  recon      test reconstruction error of linear-ae / ae / conv-ae vs PCA at the same code size (30),
             and the principal angles between the linear autoencoder's decoder and the top-30 PCs
  retrieval  precision@10/@100 of same-class neighbours (queries: test set, database: training set), overall
             and by class, and query time: binary-ae codes (28/64/256 bits, Hamming) vs raw pixels, PCA codes
             and random-projection hashing (LSH, Charikar 2002)
  bits       8-bit pixels in bits/dim (Fashion-MNIST: vae-logistic; CIFAR-10 (JPEG copy): vae-conv), beside
             two baselines fitted to the training set: independent per-pixel histograms, and one full-covariance
             Gaussian over the dequantized pixels
  semisup    test accuracy vs number of labels (100 / 1000 / all): from scratch, on the frozen
             pretrained ae encoder, and fine-tuned from it
  vae, iwae  test ELBO and importance-sampled log-likelihood (k=5000) on dynamically binarized MNIST,
             next to Burda et al. (2016)
  figures    2-D latent VAEs on MNIST and Frey faces (manifold grids, latent scatter), CVAE
             class-conditional samples, reconstructions; PNGs in bench/results/unsupervised/
  table      print the tables from the results collected so far

--data: mnist (default), fashion-mnist or cifar10-jpeg (recon, retrieval and bits; the VAE/IWAE/semisup/figure
parts are MNIST's). Each dataset has its own JSON and run folder.

The work is resumable and chunked: each invocation stops starting new work after --minutes, and
training runs resume from their checkpoints in runs/bench-unsupervised/ (the headline log-likelihood
is computed 1000 test images at a time, its partial sums kept in the JSON). Run a part again until it
says `done`. Results accumulate in bench/results/unsupervised.json (--quick: unsupervised-quick.json,
on the embedded mnist-mini with tiny budgets, a smoke run of every part in about two minutes).
Times are this machine's, measured inside the run (training time is the Trainer's, summed over
resumes); run under the shared lock: `flock /tmp/genzoo-heavy.lock python bench/unsupervised.py ...`.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch

import genzoo
from genzoo import checkpoint as ckpt
from genzoo import registry
from genzoo.data.imageset import ImageSet, to_float
from genzoo.metrics.density import gaussian_bits_per_dim, histogram_bits_per_dim
from genzoo.models.pca import PCA, principal_angles
from genzoo.training import RunDir, TrainConfig, Trainer, load_model

ROOT = Path(__file__).resolve().parents[1]
PAPER = {"vae": -86.76, "iwae": -84.78}  # Burda et al. 2016, table 1: one stochastic layer, k=5000 estimate

FULL = {
    "data": "mnist", "code": 30, "eval_k": 5000, "eval_chunk": 1000,
    "recon": {"linear-ae": 20, "ae": 20, "conv-ae": 20},  # epochs
    "retrieval": {"bits": (28, 64, 256), "epochs": 20},
    "semisup": {100: 1000, 1000: 2000, "all": 6000},  # labels -> steps at batch 100
    # VAE/IWAE: the paper's networks with a cosine schedule; epochs and batch fill ~18-20 CPU minutes each
    # (IWAE k=50 costs the same per epoch at batch 20 as at 100, so it keeps the paper's 20)
    "vae": {"model": "vae-burda", "epochs": 500, "batch_size": 100, "set": {}},
    "iwae": {"model": "iwae-burda", "epochs": 40, "batch_size": 20, "set": {"k": 50}},
    "figures": {"mnist_epochs": 100, "frey_epochs": 3000, "cvae_epochs": 100},
    # 8-bit pixels: bits/dim with the discretized logistic decoder; eval_k importance samples (the conv decoder's
    # k=50 on the 10k CIFAR test images took 417 s here, 2026-12-03)
    "bits": {"fashion-mnist": {"model": "vae-logistic", "epochs": 20, "batch_size": 100, "set": {}, "eval_k": 100},
             "cifar10-jpeg": {"model": "vae-conv", "epochs": 10, "batch_size": 100, "set": {}, "eval_k": 50}},
}
# per dataset: the training budget of the parts that run on it (the rest of FULL applies as is)
DATASETS = {
    "mnist": {},
    "fashion-mnist": {},
    "cifar10-jpeg": {"recon": {"linear-ae": 10, "ae": 10, "conv-ae": 10},
                     "retrieval": {"bits": (64, 256), "epochs": 10}},
}
QUICK = {
    "data": "mnist-mini", "code": 30, "eval_k": 200, "eval_chunk": 500,
    "recon": {"linear-ae": 2, "ae": 1, "conv-ae": 1},
    "retrieval": {"bits": (28, 64), "epochs": 1},
    "semisup": {100: 100, 1000: 100, "all": 100},
    "vae": {"model": "vae", "epochs": 2, "batch_size": 100, "set": {}},
    "iwae": {"model": "iwae", "epochs": 1, "batch_size": 100, "set": {"k": 5}},
    "figures": {"mnist_epochs": 2, "frey_epochs": 30, "cvae_epochs": 2},
    "bits": {"mnist-mini": {"model": "vae-logistic", "epochs": 1, "batch_size": 100, "set": {}, "eval_k": 10}},
}


class Bench:
    def __init__(self, args):
        self.quick = args.quick
        self.cfg = dict(QUICK if args.quick else FULL)
        data = args.data or self.cfg["data"]
        if data != self.cfg["data"]:
            self.cfg.update(data=data, **DATASETS[data])
        self.data_dir = args.data_dir
        self.deadline = time.monotonic() + args.minutes * 60
        tag = ("-quick" if args.quick else "") + ("" if data in ("mnist", "mnist-mini") else f"-{data}")
        self.runs = ROOT / "runs" / f"bench-unsupervised{tag}"
        self.out = ROOT / "bench" / "results" / f"unsupervised{tag}.json"
        self.figs = ROOT / "bench" / "results" / f"unsupervised{tag}"
        self.results = json.loads(self.out.read_text()) if self.out.is_file() else {}
        self._data: dict[tuple[str, str], ImageSet] = {}

    # ---- plumbing -------------------------------------------------------------------------------
    def data(self, split: str = "train", name: str | None = None) -> ImageSet:
        name = name or self.cfg["data"]
        if (name, split) not in self._data:
            self._data[name, split] = genzoo.load_data(name, split=split, data_dir=self.data_dir)
        return self._data[name, split]

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def save(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.results["machine"] = {"cpu_threads": torch.get_num_threads(), "torch": torch.__version__,
                                   "platform": platform.platform()}
        self.out.write_text(json.dumps(self.results, indent=1) + "\n")

    def train(self, run: str, model_name: str, data: ImageSet, epochs: int | None = None, steps: int | None = None,
              overrides: dict | None = None, batch_size: int = 100):
        """Train (resuming) within the deadline; returns the finished model, or None when out of time."""
        run_dir = self.runs / run
        rd = RunDir(run_dir)
        tcfg = TrainConfig(epochs=epochs, steps=steps, batch_size=batch_size, progress=False, tensorboard=False,
                           channels_last=False, log_every=200, checkpoint_minutes=3.0)
        total = steps or epochs * data.steps_per_epoch(batch_size)
        while True:
            step, elapsed = 0, 0.0
            if rd.last.is_file():
                t = ckpt.load(rd.last)["trainer"]
                step, elapsed = t["step"], t["elapsed"]
                if step >= total:
                    return load_model(run_dir, which="last")
            left = self.left() - 20
            per_step = elapsed / step if step else None
            if left < 30 or (per_step and left < 50 * per_step):
                print(f"  {run}: paused at step {step}/{total} (out of time; run the part again)", flush=True)
                return None
            chunk = total if per_step is None and total <= 300 else int(left / per_step) if per_step else 300
            model = registry.build(model_name, data.spec, overrides or {}, seed=0)
            data_args = {"name": data.name, "data_dir": self.data_dir}  # for `genzoo sample RUN` views
            trainer = Trainer(model, data, tcfg, run_dir=run_dir, data_args=data_args, log=lambda m: None)
            trainer.fit(resume=rd.last.is_file(), until=min(total, step + max(chunk, 1)))
            print(f"  {run}: step {trainer.step}/{total}, {trainer.elapsed:.0f} s of training", flush=True)

    def train_seconds(self, run: str) -> float:
        return float(ckpt.load(RunDir(self.runs / run).last)["trainer"]["elapsed"])

    # ---- parts ----------------------------------------------------------------------------------
    def recon(self) -> bool:
        res = self.results.setdefault("recon", {})
        train, test = self.data("train"), self.data("test")
        code = self.cfg["code"]
        if "pca" not in res:
            t0 = time.perf_counter()
            pca = PCA.fit(to_float(train.images, (0.0, 1.0)), code)
            fit_s = time.perf_counter() - t0
            x = to_float(test.images, (0.0, 1.0))
            mse = float((pca.reconstruct(x) - x).pow(2).mean())
            res["pca"] = {"model": f"PCA-{code}", "code": code, "test_mse": mse, "train_seconds": round(fit_s, 2)}
            self.save()
        for name, epochs in self.cfg["recon"].items():
            if name in res:
                continue
            model = self.train(name, name, train, epochs=epochs, overrides={"code_dim": code})
            if model is None:
                return False
            r = model.evaluate(test)
            row = {"model": name, "code": code, "epochs": epochs, "test_mse": r["mse"], "test_bce": r.get("bce"),
                   "train_seconds": round(self.train_seconds(name), 1),
                   "params": sum(p.numel() for p in model.parameters())}
            if name == "linear-ae":
                pca = PCA.fit(to_float(train.images, (0.0, 1.0)), code)
                ang = principal_angles(model.decoder[0].weight, pca.components.T)
                row.update(max_angle_rad=float(ang.max()), mean_angle_rad=float(ang.mean()))
            res[name] = row
            self.save()
        res["dims"] = math.prod(train.spec.shape)
        self.save()
        return True

    def retrieval(self) -> bool:
        from genzoo.metrics.retrieval import (
            chance_precision,
            nearest_neighbours,
            precision_at_k,
            precision_at_k_by_class,
        )

        res = self.results.setdefault("retrieval", {})
        train, test = self.data("train"), self.data("test")
        code = self.cfg["code"]

        def measure(name: str, db: torch.Tensor, q: torch.Tensor, metric: str, nbytes: float, extra: dict):
            t0 = time.perf_counter()
            idx = nearest_neighbours(q, db, 100, metric, chunk=64)
            dt = time.perf_counter() - t0
            res[name] = {"method": name, "metric": metric, "bytes_per_image": nbytes,
                         "precision_at_10": precision_at_k(test.labels, train.labels, idx[:, :10]),
                         "precision_at_100": precision_at_k(test.labels, train.labels, idx),
                         "precision_at_10_by_class": precision_at_k_by_class(test.labels, train.labels, idx[:, :10]),
                         "precision_at_100_by_class": precision_at_k_by_class(test.labels, train.labels, idx),
                         "query_ms": round(1000 * dt / len(q), 4), **extra}
            print(f"  {name}: p@10 {res[name]['precision_at_10']:.3f}, {res[name]['query_ms']:.3f} ms/query",
                  flush=True)
            self.save()

        res["chance"] = chance_precision(test.labels, train.labels)
        res["class_names"] = list(test.class_names)
        xtr, xte = to_float(train.images, (0.0, 1.0)).flatten(1), to_float(test.images, (0.0, 1.0)).flatten(1)
        if "pixels" not in res:
            measure("pixels", xtr, xte, "euclidean", xtr.shape[1], {})
        for k in (code, 8):  # 8 floats = 32 bytes = the memory of a 256-bit code
            if f"pca-{k}" not in res:
                pca = PCA.fit(xtr, k)
                measure(f"pca-{k}", pca.encode(xtr), pca.encode(xte), "euclidean", 4 * k, {})
        if "lsh-256" not in res:  # signs of random projections of centred pixels (Charikar 2002)
            proj = torch.randn(xtr.shape[1], 256, generator=torch.Generator().manual_seed(0))
            mean = xtr.mean(0)
            measure("lsh-256", ((xtr - mean) @ proj > 0).float(), ((xte - mean) @ proj > 0).float(), "hamming",
                    32, {})
        for bits in self.cfg["retrieval"]["bits"]:
            name = f"binary-ae-{bits}"
            if name in res:
                continue
            model = self.train(name, "binary-ae", train, epochs=self.cfg["retrieval"]["epochs"],
                               overrides={"code_dim": bits})
            if model is None:
                return False
            codes = [torch.cat([model.encode(model.prepare(b)) for b, _, _ in d.iter_ordered(1000)]).cpu()
                     for d in (train, test)]
            mse = model.evaluate(test)["mse"]
            measure(name, codes[0], codes[1], "hamming", math.ceil(bits / 8),
                    {"test_mse": mse, "train_seconds": round(self.train_seconds(name), 1),
                     "distinct_train_codes": len(torch.unique(codes[0], dim=0))})
        return True

    def semisup(self) -> bool:
        res = self.results.setdefault("semisup", {})
        train, test = self.data("train"), self.data("test")
        ae_run = "ae"  # the H&S autoencoder of the recon part, pretrained on all training images
        if self.train(ae_run, "ae", train, epochs=self.cfg["recon"]["ae"], overrides={"code_dim": self.cfg["code"]}) \
                is None:
            return False
        for labels, steps in self.cfg["semisup"].items():
            subset = train if labels == "all" else train.per_class(labels // train.num_classes, seed=0)
            for variant, over in (("scratch", {}),
                                  ("frozen", {"pretrained": str(self.runs / ae_run), "freeze": True, "lr": 1e-2}),
                                  ("fine-tuned", {"pretrained": str(self.runs / ae_run)})):
                key = f"{labels}-{variant}"
                if key in res:
                    continue
                run = f"semisup-{key}"
                model = self.train(run, "ae-classifier", subset, steps=steps,
                                   overrides={"code_dim": self.cfg["code"], **over})
                if model is None:
                    return False
                res[key] = {"labels": len(subset), "variant": variant, "steps": steps,
                            "test_accuracy": model.evaluate(test)["accuracy"],
                            "train_seconds": round(self.train_seconds(run), 1)}
                print(f"  {key}: {res[key]['test_accuracy']:.4f}", flush=True)
                self.save()
        return True

    def likelihood(self, part: str) -> bool:
        spec = self.cfg[part].get(self.cfg["data"]) if part == "bits" else self.cfg[part]
        if spec is None:
            print(f"  {part}: no 8-bit setting for {self.cfg['data']} (only {', '.join(self.cfg[part])})")
            return True
        res = self.results.setdefault(part, {"model": spec["model"], "epochs": spec["epochs"],
                                             "batch_size": spec["batch_size"], "set": spec["set"],
                                             "paper_log_likelihood": PAPER.get(part)})
        if part == "bits" and "gaussian" not in res:
            train, test = self.data("train").images, self.data("test").images
            res["pixel_histograms"] = {"bits_per_dim": histogram_bits_per_dim(train, test)}
            res["gaussian"] = {"bits_per_dim": gaussian_bits_per_dim(train, test)}
            self.save()
        overrides = {"schedule": "cosine", **spec["set"]}
        model = self.train(part, spec["model"], self.data("train"), epochs=spec["epochs"], overrides=overrides,
                           batch_size=spec["batch_size"])
        if model is None:
            return False
        res["train_seconds"] = round(self.train_seconds(part), 1)
        k, size = spec.get("eval_k", self.cfg["eval_k"]), self.cfg["eval_chunk"]
        # binarize the whole test set once, as `genzoo eval` does (binarizing binary images is a no-op,
        # so evaluate() leaves these alone; 8-bit models see the images as they are), then evaluate it in
        # resumable chunks
        test = self.data("test")
        test = ImageSet(model.eval_images(test), test.labels, class_names=test.class_names, name=test.name)
        part_sums = res.setdefault("partial", {})
        for start in range(0, len(test), size):
            if str(start) in part_sums:
                continue
            if self.left() < 60:
                print(f"  {part}: evaluation paused at image {start} (run the part again)", flush=True)
                return False
            t0 = time.perf_counter()
            r = model.evaluate(test.subset(slice(start, start + size)), batch_size=size, k=k)
            r = {key: v * r["n"] for key, v in r.items() if key not in ("n", "log_likelihood_k")} | {"n": r["n"]}
            part_sums[str(start)] = {**r, "seconds": time.perf_counter() - t0}
            print(f"  {part}: images {start}..{start + size}: log-likelihood {r['log_likelihood'] / r['n']:.2f}",
                  flush=True)
            self.save()
        n = sum(p["n"] for p in part_sums.values())
        keys = [key for key in next(iter(part_sums.values())) if key not in ("n", "seconds")]
        res["test"] = {key: sum(p[key] for p in part_sums.values()) / n for key in keys} | {"n": n, "k": k}
        res["eval_seconds"] = round(sum(p["seconds"] for p in part_sums.values()), 1)
        self.save()
        return True

    def figures(self) -> bool:
        from genzoo.cli import main as cli

        res = self.results.setdefault("figures", {})
        self.figs.mkdir(parents=True, exist_ok=True)
        f = self.cfg["figures"]
        jobs = [("vae-2d", "vae", self.cfg["data"], f["mnist_epochs"], {"latent_dim": 2, "schedule": "cosine"}),
                ("cvae", "cvae", self.cfg["data"], f["cvae_epochs"], {"schedule": "cosine"}),
                ("vae-frey", "vae-frey", "frey", f["frey_epochs"], {})]
        for run, name, dataset, epochs, over in jobs:
            if run in res:
                continue
            try:
                data = self.data("train", dataset)
            except genzoo.DataError as e:
                print(f"  {run}: skipped ({e})", flush=True)
                continue
            model = self.train(run, name, data, epochs=epochs, overrides=over)
            if model is None:
                return False
            test = self.data("test", dataset)
            r = model.evaluate(test, k=1000)
            res[run] = {"model": name, "data": dataset, "epochs": epochs, "latent_dim": model.latent_dim,
                        "test_elbo": r["elbo"], "test_log_likelihood_k1000": r["log_likelihood"],
                        "train_seconds": round(self.train_seconds(run), 1), "figures": []}
            views = [("manifold", ["--manifold", "--steps", "20"]), ("scatter", ["--scatter"]),
                     ("reconstruct", ["--reconstruct", "--n", "32"])] if model.latent_dim == 2 else \
                [("samples", ["--n", "100"]), ("reconstruct", ["--reconstruct", "--n", "32"])]
            if dataset == "frey":
                views = [v for v in views if v[0] != "scatter"]  # no classes to colour
            for view, argv in views:
                path = self.figs / f"{run}-{view}.png"
                cli(["sample", str(self.runs / run), *argv, "--out", str(path)])
                res[run]["figures"].append(str(path.relative_to(ROOT)))
            self.save()
        return True


# ---- tables ---------------------------------------------------------------------------------------
def fmt(v, spec=".4f") -> str:
    return "-" if v is None else format(v, spec) if isinstance(v, float) else str(v)


def md(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    return [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows), ""]


def tables(results: dict, data: str = "mnist") -> str:
    out: list[str] = []
    rec = results.get("recon", {})
    if rec:
        pca, rows = rec.get("pca", {}).get("test_mse"), []
        for key in ("pca", "linear-ae", "ae", "conv-ae"):
            r = rec.get(key)
            if not r:
                continue
            note = f"{r['epochs']} epochs" if "epochs" in r else "exact"
            if "max_angle_rad" in r:
                note += f"; principal angles to PCA: max {r['max_angle_rad']:.3f}, mean {r['mean_angle_rad']:.4f} rad"
            rows.append([r["model"], f"{r['test_mse']:.5f}", f"{r['test_mse'] * rec.get('dims', 784):.2f}",
                         fmt(r["test_mse"] / pca if pca else None, ".3f"), fmt(r["train_seconds"], ".1f"), note])
        out += md(f"Reconstruction error on the {data} test set (code size 30)",
                  ["model", "test MSE / pixel", "SSE / image", "vs PCA", "train s", "notes"], rows)
    ret = results.get("retrieval", {})
    if ret:
        rows = [[r["method"], r["metric"], str(r["bytes_per_image"]), f"{r['precision_at_10']:.3f}",
                 f"{r['precision_at_100']:.3f}", f"{r['query_ms']:.3f}", fmt(r.get("train_seconds"), ".1f")]
                for key, r in ret.items() if isinstance(r, dict)]
        out += md(f"Retrieval: same-class precision, test queries against the training set (chance "
                  f"{ret.get('chance', 0):.3f})",
                  ["method", "distance", "bytes / image", "p@10", "p@100", "ms / query", "train s"], rows)
        out[-1:] = ["", "Bytes: binary codes packed 8 bits a byte; PCA codes as float32; pixels as stored (uint8, "
                    "searched as float32). Query time: linear scan of the whole training set + top-100, per query.", ""]
        names = ret.get("class_names") or []
        by_class = [[r["method"], *(f"{v:.3f}" for v in r["precision_at_10_by_class"])]
                    for r in ret.values() if isinstance(r, dict) and "precision_at_10_by_class" in r]
        if by_class:
            out += md("Retrieval by class: p@10 of the test queries of each class",
                      ["method", *(names or map(str, range(len(by_class[0]) - 1)))], by_class)
    ss = results.get("semisup", {})
    if ss:
        rows = []
        for labels in ("100", "1000", "all"):
            row = [ss.get(f"{labels}-{v}") for v in ("scratch", "frozen", "fine-tuned")]
            if any(row):
                n = next(r["labels"] for r in row if r)
                rows.append([str(n), *(fmt(r and r["test_accuracy"]) for r in row),
                             f"{sum(r['train_seconds'] for r in row if r):.1f}"])
        out += md("Semi-supervised: MNIST test accuracy vs number of labels",
                  ["labels", "from scratch", "frozen pretrained encoder + head", "fine-tuned from pretrained",
                   "train s (3 runs)"], rows)
    rows = []
    for p in ("vae", "iwae"):
        r = results.get(p, {})
        if "test" not in r:
            continue
        t, paper = r["test"], r["paper_log_likelihood"]
        iw = next((f"{v:.2f} (k={key.split('_k')[-1]})" for key, v in t.items() if key.startswith("iwae_bound")), "-")
        name = p + (f" k={r['set']['k']}" if "k" in r["set"] else "")
        rows.append([name, f"{r['epochs']} x batch {r['batch_size']}", f"{t['elbo']:.2f}", iw,
                     f"{t['log_likelihood']:.2f} (k={t['k']})", f"{paper:.2f}", f"{t['log_likelihood'] - paper:.2f}",
                     f"{r['train_seconds']:.0f}", f"{r['eval_seconds']:.0f}"])
    if rows:
        out += md("Dynamically binarized MNIST: test bounds in nats (log-likelihood: importance-sampled)",
                  ["model", "epochs", "test ELBO", "IWAE bound (train k)", "log-likelihood", "paper", "gap",
                   "train s", "eval s"], rows)
    b = results.get("bits", {})
    if "test" in b:
        t = b["test"]
        out += md(f"8-bit pixels, {data} test set: bits/dim (log-likelihood: importance-sampled)",
                  ["model", "epochs", "ELBO bits/dim", f"log-likelihood bits/dim (k={t['k']})",
                   "per-pixel histograms bits/dim", "one full-covariance Gaussian bits/dim", "train s", "eval s"],
                  [[b["model"], f"{b['epochs']} x batch {b['batch_size']}", f"{t['elbo_bits_per_dim']:.3f}",
                    f"{t['bits_per_dim']:.3f}", f"{b['pixel_histograms']['bits_per_dim']:.3f}",
                    fmt(b.get("gaussian", {}).get("bits_per_dim"), ".3f"),
                    f"{b['train_seconds']:.0f}", f"{b['eval_seconds']:.0f}"]])
    figs = results.get("figures", {})
    if figs:
        rows = [[run, r["data"], str(r["latent_dim"]), str(r["epochs"]), f"{r['test_elbo']:.2f}",
                 f"{r['test_log_likelihood_k1000']:.2f}", f"{r['train_seconds']:.1f}",
                 ", ".join(Path(f).name for f in r["figures"])] for run, r in figs.items()]
        out += md("Figure models (2-D latents, CVAE): test figures in nats",
                  ["run", "data", "latent", "epochs", "test ELBO", "log-lik. (k=1000)", "train s", "figures"], rows)
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="+",
                    choices=["recon", "retrieval", "bits", "semisup", "vae", "iwae", "figures", "table"])
    ap.add_argument("--data", choices=sorted(DATASETS), help="the dataset of recon, retrieval and bits "
                                                             "(default: mnist; --quick: mnist-mini)")
    ap.add_argument("--quick", action="store_true", help="tiny budgets on mnist-mini: a smoke run")
    ap.add_argument("--minutes", type=float, default=9.0, help="stop starting new work after this long")
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    torch.set_flush_denormal(True)  # as the genzoo command does (README "Denormal floats")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    bench = Bench(args)
    for part in args.parts:
        if part == "table":
            continue
        t0 = time.perf_counter()
        print(f"[{part}]", flush=True)
        if bench.cfg["data"] not in ("mnist", "mnist-mini") and part in ("semisup", "vae", "iwae", "figures"):
            print(f"[{part}] runs on MNIST only: skipped for {bench.cfg['data']}", flush=True)
            continue
        likelihood = part in ("vae", "iwae", "bits")
        done = bench.likelihood(part) if likelihood else getattr(bench, part)()
        print(f"[{part}] {'done' if done else 'not finished: run it again'} ({time.perf_counter() - t0:.0f} s)",
              flush=True)
        bench.save()
        if not done:
            break
    print()
    print(tables(bench.results, bench.cfg["data"]))
    print(f"JSON: {bench.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
