"""GAN time-to-quality against the PyTorch-GAN reference scripts, side by side on this machine.

    python bench/gan_peers.py setup  [--peer-dir DIR]                        # once: scripts, data, checks
    python bench/gan_peers.py run    [--systems genzoo,gan,dcgan,wgan_gp,genzoo-began,began,...] [--seeds 0,1,2]
                                     [--marks 60,120,300,600]
                                     [--tag NAME] [--set KEY=VALUE ...]      # trains; keeps samples per mark
    python bench/gan_peers.py score  [--tag NAME ...]                        # scores every kept sample set; table
    python bench/gan_peers.py grid   'LABEL:TAG/RUN/SECONDS' ...             # docs/gan-time-to-quality-mnist.png
    python bench/gan_peers.py convergence TAG/genzoo-began-sN                # BEGAN's M against FID over a run

Systems: `genzoo` is `genzoo train dcgan --data mnist` with its defaults (plus `--set` overrides: the
levers), trained in a fresh process of this environment; `genzoo-<model>` the same with another model
(genzoo-began, genzoo-ebgan: compared with the peer script of that name). `gan`, `dcgan`, `wgan_gp`,
`began`, `ebgan` are PyTorch-GAN's implementations/<name>/<name>.py at commit PEER_COMMIT, unmodified
(except began.py's one expression that current PyTorch rejects, PEER_PATCHES), with their default arguments,
run by bench/gan_peer_runner.py in their own virtual environment (torch + torchvision; genzoo itself
has no torchvision), never copied into this repository. Each run trains until the last mark of
training wall-clock time and keeps its generator at every mark; 10,000 samples per mark are then
scored with genzoo's evaluation against the 10,000 MNIST test images:

- in genzoo's shipped MNIST classifier features: FID, KID, precision/recall (k=3), class-histogram KL,
  classes covered (of 10);
- in an independent feature space, a LeNet-5-style network (two 5x5 convs, 120-84 dense; different
  architecture, data order and training from genzoo's classifier) trained here by this script on the
  60,000 training images, its 84-d layer: FID, KID, precision/recall. A lever counts only if it shows in both.
- nearest-neighbour copies (genzoo's `nn` metric against the training set) for genzoo's runs: the median
  distance of a sample to its nearest training image over the same for held-out real images (about 1 when
  nothing is copied), and the fraction of samples nearer than 99% of held-out images are (about 0.01).

Peers' 32x32 outputs (dcgan.py) are resized to 28x28 (antialiased bilinear) for scoring; their train-mode
and eval-mode samples are both scored and the better FID is kept (noted in the table). Peers seed
nothing, so one run each; genzoo is run with every seed given.

Scratch (scripts, data layout for torchvision, samples) lives outside the repository in --peer-dir
(default ../peers beside the checkout); figures go to bench/results/gan_peers.json.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DATA_DIR = ROOT.parent / "shared" / "data"
PEER_REPO = "https://github.com/eriklindernoren/PyTorch-GAN"
PEER_COMMIT = "36d3c77e5ff20ebe0aeefd322326a134a279b93e"
PEERS = ("gan", "dcgan", "wgan_gp", "began", "ebgan")
DCGAN_ERA_PEERS = PEERS[:3]  # what genzoo's default dcgan is compared with
# began.py stops at its first step on current PyTorch (`.data[0]` of a 0-dim tensor, its convergence-measure
# line): setup changes that one expression to `.item()` and nothing else
PEER_PATCHES = {"began": ("(d_loss_real + torch.abs(diff)).data[0]", "(d_loss_real + torch.abs(diff)).item()")}
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# ---- setup -------------------------------------------------------------------------------------------
def peer_scripts(peer: Path, mirror: Path) -> Path:
    """PyTorch-GAN's implementations/ at PEER_COMMIT, unpacked into `peer`/PyTorch-GAN (once), with PEER_PATCHES
    applied; returns that PyTorch-GAN folder."""
    impl = peer / "PyTorch-GAN"
    if not impl.is_dir():
        if not mirror.is_dir():
            sys.exit(f"no PyTorch-GAN git directory at {mirror}: clone {PEER_REPO} (bare is enough) and pass --mirror")
        impl.mkdir(parents=True)
        archive = subprocess.run(["git", "--git-dir", str(mirror), "archive", PEER_COMMIT, "implementations"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(impl)], input=archive, check=True)
    for name, (old, new) in PEER_PATCHES.items():
        script = impl / "implementations" / name / f"{name}.py"
        text = script.read_text()
        if old in text:
            assert text.count(old) == 1, f"{script}: expected one {old!r}"
            script.write_text(text.replace(old, new))
            print(f"patched {script}: {old} -> {new}")
    return impl


def check_peer_python(py: Path) -> str:
    """The peer environment's torch and torchvision versions (exits with the command that makes it when absent)."""
    if not py.is_file():
        sys.exit(f"no peer Python at {py}: python3 -m venv {py.parent.parent} && "
                 f"{py.parent}/pip install torch==2.14.1 torchvision==0.29.1")
    probe = "import torch, torchvision; print(torch.__version__, torchvision.__version__)"
    return subprocess.run([str(py), "-c", probe], check=True, capture_output=True, text=True).stdout.strip()


def setup(args) -> None:
    impl = peer_scripts(Path(args.peer_dir), Path(args.mirror))
    # torchvision's MNIST reads <root>/MNIST/raw/<file> (uncompressed) and downloads nothing when they exist;
    # the scripts' root is ../../data/mnist from implementations/<name>/
    raw = impl / "data" / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        if not (raw / name).is_file():
            with gzip.open(Path(args.data_dir) / "mnist" / f"{name}.gz") as src, open(raw / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
    out = check_peer_python(Path(args.peer_python))
    print(f"peer scripts in {impl / 'implementations'} at {PEER_COMMIT[:10]}; MNIST in {raw}; peer torch/vision {out}")


def genzoo_model(system: str) -> str:
    """The genzoo model a system runs: genzoo-<model> -> <model>; "" for plain genzoo (the default dcgan)."""
    return system.split("-", 1)[1] if system.startswith("genzoo-") else ""


# ---- run ---------------------------------------------------------------------------------------------
def run(args) -> None:
    peer = Path(args.peer_dir)
    for system in args.systems.split(","):
        seeds = [int(s) for s in args.seeds.split(",")] if system.startswith("genzoo") else [0]
        for seed in seeds:
            out = peer / "runs" / args.tag / f"{system}-s{seed}"
            if (out / "log.json").is_file() and not args.force:
                print(f"{out} exists; skipped (--force to redo)")
                continue
            shutil.rmtree(out, ignore_errors=True)  # --force: a fresh run, not a resume of the old one
            out.mkdir(parents=True)
            t = time.time()
            if system == "genzoo" or system.startswith("genzoo-"):  # genzoo-<model>: another genzoo model
                cmd = [sys.executable, __file__, "genzoo-train", str(out), "--seed", str(seed), "--marks", args.marks,
                       "--model", genzoo_model(system) or "dcgan"]
                cmd += [a for kv in args.set for a in ("--set", kv)] + ["--extra-ema", args.extra_ema]
                cwd = ROOT
            else:
                if system not in PEERS:
                    sys.exit(f"unknown system {system!r}: genzoo, {', '.join(PEERS)}")
                cwd = peer / "PyTorch-GAN" / "implementations" / system
                cmd = [args.peer_python, str(ROOT / "bench" / "gan_peer_runner.py"), f"{system}.py", str(out),
                       "--marks", args.marks]
            with open(out / "stdout.txt", "w") as log:
                subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, check=True)
            print(f"{system} seed {seed}: {time.time() - t:.0f} s -> {out}", flush=True)


def genzoo_train(args) -> None:
    """One genzoo run (in its own process) with its generator kept at each training-time mark."""
    import genzoo
    from genzoo.config import parse_assignments, replace
    from genzoo.data.imageset import to_uint8
    from genzoo.nn import EMA
    from genzoo.training import TrainConfig, Trainer

    marks = sorted(float(m) for m in args.marks.split(","))
    out = Path(args.out)
    train = genzoo.load_data("mnist", data_dir=args.data_dir)
    overrides = parse_assignments(args.set)
    train_keys = {k[len("train."):]: v for k, v in overrides.items() if k.startswith("train.")}
    model_keys = {k: v for k, v in overrides.items() if not k.startswith("train.")}
    model = genzoo.registry.build(args.model, train.spec, model_keys, seed=args.seed)
    defaults = genzoo.registry.get(args.model).train_defaults
    cfg = TrainConfig(**{**defaults, "steps": 10**8, "max_minutes": marks[-1] / 60, "progress": False,
                         "log_every": 500, "eval_every": 0, "seed": args.seed})
    cfg = replace(cfg, train_keys, "train config")
    trainer = Trainer(model, train, cfg, run_dir=out / "run", eval_data=None)
    # extra generator averages with other decays, kept beside the model's own (bench-only: screens the
    # EMA decay from one run); written as systems genzoo_ema<decay>
    extras = {d: EMA(model.G, float(d)) for d in filter(None, args.extra_ema.split(","))}
    snaps, step_fn = [], model.train_step

    def keep(mark: float, steps: int) -> dict:
        return {"mark": mark, "elapsed": trainer.elapsed, "steps": steps, "state": copy.deepcopy(model.state_dict()),
                "extras": {d: copy.deepcopy(e.module.state_dict()) for d, e in extras.items()}}

    def train_step(batch, step):  # the trainer's clock counts training steps only, as max_minutes does
        while len(snaps) < len(marks) and trainer.elapsed >= marks[len(snaps)]:
            snaps.append(keep(marks[len(snaps)], step))
        out = step_fn(batch, step)
        for e in extras.values():
            e.update(model.G)
        return out

    model.train_step = train_step
    t = time.time()
    summary = trainer.fit()
    if len(snaps) < len(marks):
        snaps.append(keep(marks[-1], trainer.step))
    log = {"model": args.model, "overrides": args.set, "seed": args.seed, "summary": summary,
           "wall_s": time.time() - t, "threads": torch.get_num_threads(), "torch": torch.__version__,
           "cpu_capability": torch.backends.cpu.get_cpu_capability(), "marks": []}
    system, seed = out.name.rsplit("-s", 1)
    extra_dirs = {d: out.parent / f"{system}_ema{d.split('.')[1]}-s{seed}" for d in extras}

    def save_samples(folder: Path, mark: float) -> None:
        x = model.sample(args.n, generator=torch.Generator().manual_seed(1000 + args.seed))
        folder.mkdir(exist_ok=True)
        np.save(folder / f"mark-{int(mark)}-eval.npy", to_uint8(x).numpy())

    for snap in snaps:
        model.load_state_dict(snap.pop("state"))
        save_samples(out, snap["mark"])
        for d, state in snap.pop("extras").items():
            model.G_ema.module.load_state_dict(state)
            save_samples(extra_dirs[d], snap["mark"])
        snap["d_steps"] = snap.pop("steps")
        log["marks"].append(snap)
    (out / "log.json").write_text(json.dumps(log, indent=2))
    for d, folder in extra_dirs.items():
        (folder / "log.json").write_text(json.dumps({**log, "ema": float(d)}, indent=2))


# ---- the independent feature space ----------------------------------------------------------------
class LeNet(nn.Module):
    """LeNet-5-style: conv5(6) - pool - conv5(16) - pool - 120 - 84 - 10, ReLU; features = the 84-d layer
    before its ReLU (after it, images far from digits all map to zero and look 'precise')."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
        self.f1, self.f2, self.out = nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def features(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.f2(F.relu(self.f1(x.flatten(1))))

    def forward(self, x):
        return self.out(F.relu(self.features(x)))


def independent_net(train, test):
    """The LeNet feature net, trained once (SGD momentum, 4 epochs, its own seed) and cached."""
    from genzoo.metrics.features import FeatureNet, Features, cache_root

    path = cache_root() / "bench" / "lenet-mnist-seed123.pt"
    net = LeNet()
    if path.is_file():
        net.load_state_dict(torch.load(path))
    else:
        torch.manual_seed(123)
        x = train.images.float().div(255)
        y = train.labels
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        for _epoch in range(4):
            for idx in torch.randperm(len(x)).split(128):
                loss = F.cross_entropy(net(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), path)
    net.eval()
    with torch.no_grad():
        acc = (net(test.images.float().div(255)).argmax(1) == test.labels).float().mean().item()

    class LeNetFeatures(FeatureNet):
        key, description, num_classes = "bench-lenet-mnist-seed123-pre", f"independent LeNet-5 (test acc {acc:.4f})", 10
        input_shape = (1, 28, 28)

        def run(self, x):
            f = net.features(x)
            return Features(f, net.out(F.relu(f)))

    return LeNetFeatures()


# ---- score -------------------------------------------------------------------------------------------
def load_samples(path: Path) -> torch.Tensor:
    """Kept uint8 samples, at 28x28 (dcgan.py's 32x32 resized, antialiased bilinear)."""
    x = torch.from_numpy(np.load(path))
    if x.shape[-1] != 28:
        x = F.interpolate(x.float(), size=(28, 28), mode="bilinear", antialias=True,
                          align_corners=False).round().clamp(0, 255).to(torch.uint8)
    return x


def score(args) -> None:
    import genzoo
    from genzoo.metrics import features as feat_mod
    from genzoo.metrics.suite import reference
    from genzoo.metrics.suite import score as score_images

    path = RESULTS / "gan_peers.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    train = genzoo.load_data("mnist", data_dir=args.data_dir)
    test = genzoo.load_data("mnist", split="test", data_dir=args.data_dir)
    spaces = {"genzoo": feat_mod.resolve("mnist"), "lenet": independent_net(train, test)}
    refs = {k: reference(net, test) for k, net in spaces.items()}
    floor = {}
    for k in spaces:
        floor[k] = score_images(train.images[:10000], refs[k], ("fid", "kid", "pr"))
    results["floor"] = {**floor, "note": "10,000 real training images vs the 10,000 test images"}
    print("floor (real train vs test):", json.dumps(floor), flush=True)
    peer = Path(args.peer_dir)
    for tag in args.tag:
        for run_dir in sorted((peer / "runs" / tag).glob("*-s*")):
            log_path = run_dir / "log.json"
            if not log_path.is_file():
                continue
            log = json.loads(log_path.read_text())
            system, seed = run_dir.name.rsplit("-s", 1)
            for mark in log["marks"]:
                key = f"{tag}/{run_dir.name}/{int(mark['mark'])}"
                if key in results and not args.force:
                    continue
                row = {"tag": tag, "system": system, "seed": int(seed), "mark": mark["mark"],
                       "d_steps": mark["d_steps"], "cpu_capability": log.get("cpu_capability", ""),
                       "overrides": log.get("overrides", [])}
                best = None
                for mode in ("eval", "train"):
                    f = run_dir / f"mark-{int(mark['mark'])}-{mode}.npy"
                    if not f.is_file():
                        continue
                    x = load_samples(f)
                    copies = ("nn",) if system.startswith("genzoo") else ()  # memorization: genzoo's own runs
                    g = score_images(x, refs["genzoo"], ("fid", "kid", "pr", "cls", "modes") + copies,
                                     train=train if copies else None)
                    if best is None or g["fid"] < best[1]["fid"]:
                        best = (mode, g, x)
                mode, g, x = best
                lenet = score_images(x, refs["lenet"], ("fid", "kid", "pr"))
                row.update({"mode": mode, "genzoo": g, "lenet": lenet})
                results[key] = row
                print(key, f"steps {row['d_steps']} FID {g['fid']:.3f} / lenet {lenet['fid']:.3f} ({mode})", flush=True)
                RESULTS.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(results, indent=2) + "\n")
    table(results, args.tag)
    ratios(results, args.tag, args.peers_tag)


def ratios(results: dict, tags: list[str], peers_tag: str) -> None:
    """FID of each genzoo configuration (mean over seeds) over its peer's at the same mark, both spaces: for
    genzoo-<model> the peer script of the same name (began, ebgan), otherwise the best of the DCGAN-era peers."""
    rows = [r for r in results.values() if "system" in r]  # not the floor or a convergence table

    def best_peer(space: str, mark: float, peers: tuple[str, ...]) -> dict | None:
        cands = [r for r in rows if r["tag"] == peers_tag and r["system"] in peers and r["mark"] == mark]
        b = min(cands, key=lambda r: r[space]["fid"], default=None)
        return None if b is None else {"fid": b[space]["fid"], "system": b["system"]}

    print("\n| tag | system | minutes | FID / peer's (genzoo features) | FID / peer's (LeNet) |")
    print("|---|---|---|---|---|")
    groups: dict[tuple, list] = {}
    for r in rows:
        if r["tag"] in tags and r["system"].startswith("genzoo"):
            groups.setdefault((r["tag"], r["system"], r["mark"]), []).append(r)
    for (tag, system, mark), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        model = genzoo_model(system)
        peers = (model,) if model in PEERS else DCGAN_ERA_PEERS
        cells = []
        for space in ("genzoo", "lenet"):
            b = best_peer(space, mark, peers)
            mean = float(np.mean([r[space]["fid"] for r in rs]))
            cells.append(f"{mean / b['fid']:.3f} (vs {b['system']} {b['fid']:.3f})" if b else "-")
        print(f"| {tag} | {system} | {mark / 60:g} | {cells[0]} | {cells[1]} |")


def table(results: dict, tags: list[str]) -> None:
    rows = [r for r in results.values() if "system" in r and r["tag"] in tags]
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["tag"], r["system"], r["mark"]), []).append(r)
    fl = results["floor"]
    print(f"\nfloor: genzoo-features FID {fl['genzoo']['fid']:.3f}, LeNet FID {fl['lenet']['fid']:.3f}")
    print("| tag | system | minutes | seeds | steps | FID | KID x1e3 | precision | recall | classes | "
          "LeNet FID | LeNet KID x1e3 | LeNet P / R | NN ratio / copies |")
    print("|" + "---|" * 14)

    def ms(vals, fmt):
        a = np.array(vals, dtype=float)
        return f"{a.mean():{fmt}}" + (f" ± {a.std(ddof=1):{fmt}}" if len(a) > 1 else "")

    for (tag, system, mark), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        g = [r["genzoo"] for r in rs]
        le = [r["lenet"] for r in rs]
        copies = (ms([x["nn_train_ratio"] for x in g], ".2f") + " / " + ms([x["nn_copy_fraction"] for x in g], ".3f")
                  if "nn_copy_fraction" in g[0] else "-")
        print(f"| {tag} | {system}{'' if rs[0]['mode'] == 'eval' else ' (train-mode BN)'} | {mark / 60:g} | "
              f"{len(rs)} | {ms([r['d_steps'] for r in rs], '.0f')} | {ms([x['fid'] for x in g], '.3f')} | "
              f"{ms([x['kid'] * 1e3 for x in g], '.2f')} | {ms([x['precision'] for x in g], '.3f')} | "
              f"{ms([x['recall'] for x in g], '.3f')} | {ms([x['modes'] for x in g], '.1f')} | "
              f"{ms([x['fid'] for x in le], '.2f')} | {ms([x['kid'] * 1e3 for x in le], '.2f')} | "
              f"{ms([x['precision'] for x in le], '.2f')} / {ms([x['recall'] for x in le], '.2f')} | {copies} |")


def convergence(args) -> None:
    """BEGAN's claim (Berthelot et al. 2017, Sec. 3.4.1): its convergence measure M tracks sample quality. M as the
    run logged it (the mean of `convergence` over the log rows up to each mark's step, since the previous mark) against
    the FID scored at each mark; Spearman's rank correlation; a figure of both over the steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import spearmanr

    results = json.loads((RESULTS / "gan_peers.json").read_text())
    run_dir = Path(args.peer_dir) / "runs" / args.run
    rows = [json.loads(line) for line in (run_dir / "run" / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "convergence" in r]
    marks = sorted((r for k, r in results.items() if k.startswith(args.run + "/")), key=lambda r: r["mark"])
    if not marks or not rows:
        sys.exit(f"no scored marks or no logged `convergence` for {args.run}: run and score it first")
    table, prev = [], 0
    for m in marks:
        window = [r["convergence"] for r in rows if prev < r["step"] <= m["d_steps"]] or \
                 [min(rows, key=lambda r: abs(r["step"] - m["d_steps"]))["convergence"]]
        table.append({"mark": m["mark"], "steps": m["d_steps"], "M": float(np.mean(window)),
                      "fid": m["genzoo"]["fid"], "lenet_fid": m["lenet"]["fid"]})
        prev = m["d_steps"]
    rho = spearmanr([t["M"] for t in table], [t["fid"] for t in table]).statistic
    rho_lenet = spearmanr([t["M"] for t in table], [t["lenet_fid"] for t in table]).statistic
    print("| seconds | steps | M | FID | LeNet FID |\n|---|---|---|---|---|")
    for t in table:
        print(f"| {t['mark']:g} | {t['steps']} | {t['M']:.4f} | {t['fid']:.3f} | {t['lenet_fid']:.2f} |")
    print(f"Spearman rank correlation of M with FID: {rho:.3f} (genzoo features), {rho_lenet:.3f} (LeNet)")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in rows], [r["convergence"] for r in rows], color="tab:blue", lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("convergence measure M", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot([t["steps"] for t in table], [t["fid"] for t in table], "o-", color="tab:red")
    ax2.set_yscale("log")
    ax2.set_ylabel("FID (genzoo MNIST features)", color="tab:red")
    ax.set_title(f"BEGAN on MNIST: M and FID (Spearman {rho:.2f})")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    path = RESULTS / "gan_peers.json"
    results[f"convergence/{args.run}"] = {"table": table, "spearman": rho, "spearman_lenet": rho_lenet}
    path.write_text(json.dumps(results, indent=2) + "\n")


def grid(args) -> None:
    """One row of `--per-row` samples per ROW=LABEL:TAG/RUN/SECONDS[/MODE] (the same sample indices in every row)."""
    from genzoo.data.grid import save_grid

    rows, labels = [], []
    for item in args.rows:
        label, ref = item.split(":", 1)
        parts = ref.split("/")
        mode = parts[3] if len(parts) > 3 else "eval"
        x = load_samples(Path(args.peer_dir) / "runs" / parts[0] / parts[1] / f"mark-{parts[2]}-{mode}.npy")
        rows.append(x[:args.per_row])
        labels.append(label)
    path = save_grid(torch.cat(rows), args.out, nrow=args.per_row, value_range=None, row_labels=labels)
    print(f"wrote {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    peer_dir = str(ROOT.parent / "peers")

    s = sub.add_parser("setup")
    s.add_argument("--mirror", default=str(ROOT.parent / ".mirror" / "eriklindernoren+PyTorch-GAN" / "repo"),
                   help="a (bare) git clone of PyTorch-GAN")
    for q in [s] + [sub.add_parser(n) for n in ("run", "score")]:
        q.add_argument("--peer-dir", default=peer_dir)
        q.add_argument("--data-dir", default=str(DATA_DIR))
        q.add_argument("--peer-python", default=str(Path(peer_dir) / "venv" / "bin" / "python"))
        if q.prog.endswith("run"):
            q.add_argument("--systems", default=",".join(("genzoo", *DCGAN_ERA_PEERS)))
            q.add_argument("--seeds", default="0,1,2")
            q.add_argument("--marks", default="60,120,300,600", help="seconds of training wall-clock time")
            q.add_argument("--tag", default="default")
            q.add_argument("--set", action="append", default=[], help="genzoo config override (repeatable)")
            q.add_argument("--extra-ema", default="", help="genzoo: also score generator averages with these decays")
            q.add_argument("--force", action="store_true")
        if q.prog.endswith("score"):
            q.add_argument("--tag", action="append", default=None)
            q.add_argument("--peers-tag", default="default", help="the peers' runs to compare genzoo's with")
            q.add_argument("--force", action="store_true")
    t = sub.add_parser("genzoo-train", help="internal: one genzoo run")
    t.add_argument("out")
    t.add_argument("--model", default="dcgan")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--marks", default="60,120,300,600")
    t.add_argument("--n", type=int, default=10000)
    t.add_argument("--set", action="append", default=[])
    t.add_argument("--extra-ema", default="", help="also keep generator averages with these decays")
    t.add_argument("--data-dir", default=str(DATA_DIR))
    g = sub.add_parser("grid", help="a sample grid, one labelled row per run and mark")
    g.add_argument("rows", nargs="+", help="LABEL:TAG/RUN/SECONDS[/MODE], e.g. 'wgan_gp 10 min:default/wgan_gp-s0/600'")
    g.add_argument("--out", default=str(ROOT / "docs" / "gan-time-to-quality-mnist.png"))
    g.add_argument("--per-row", type=int, default=12)
    g.add_argument("--peer-dir", default=peer_dir)
    c = sub.add_parser("convergence", help="BEGAN: its convergence measure M against FID over a run")
    c.add_argument("run", help="TAG/RUN, e.g. began/genzoo-began-s0")
    c.add_argument("--out", default=str(ROOT / "docs" / "began-convergence-vs-fid.png"))
    c.add_argument("--peer-dir", default=peer_dir)
    args = p.parse_args()
    if args.cmd == "score" and args.tag is None:
        args.tag = ["default"]
    {"setup": setup, "run": run, "score": score, "genzoo-train": genzoo_train, "grid": grid,
     "convergence": convergence}[args.cmd](args)


if __name__ == "__main__":
    main()
