"""`genzoo attack RUN`: attack a trained classifier on its test split and write what happened.

Writes into the run folder: `metrics.json` gets one entry per attack setting (e.g. `attack_pgd_linf`: the
eps ladder, clean and robust accuracy at each eps, images/s), `attacks/<setting>.svg` plots robust
accuracy against eps, and `attacks/<setting>-eps<eps>.png` shows, as on the lecture's panda slide, each
original image, its perturbation (amplified) and the adversarial image, with the predicted class and its
confidence under each.

Attacks target the model's plain forward pass (no test-time augmentation), and clean accuracy is quoted
for the same forward pass, so both figures describe one function.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genzoo import attacks
from genzoo.data.grid import save_grid
from genzoo.errors import ConfigError
from genzoo.models.adversarial import default_eps
from genzoo.probe.views import NetView, classifier_view
from genzoo.runs import RunDir, load_model, load_split

METHODS = ("fgsm", "pgd", "lbfgs", "fooling")
NORMS = ("linf", "l2")
BUDGETED = ("fgsm", "pgd")  # the attacks with an eps budget
DEFAULT_STEPS = {"fgsm": 1, "pgd": 50, "lbfgs": 50, "fooling": 1000}  # fooling stops once all are fooled


@dataclass
class AttackOptions:
    method: str = "pgd"
    eps: list[float] | None = None  # None: the data's usual ladder (see `eps_ladder`)
    norm: str = "linf"
    targeted: int | None = None  # a target class (all images), or None: untargeted
    steps: int | None = None  # pgd iterations; lbfgs: L-BFGS iterations per search step; fooling: optimiser
    # steps (None: DEFAULT_STEPS)
    restarts: int = 1  # pgd random restarts
    alpha: float | None = None  # pgd step (pixels); None: 2.5 * eps / steps (Madry et al.)
    n: int | None = None  # images of the split to attack (None: all; lbfgs: 100; fooling: 4 per class)
    batch_size: int = 500
    seed: int = 0
    show: int = 8  # examples in each grid


def eps_ladder(spec, norm: str) -> list[float]:
    """The budgets the literature quotes for this data: MNIST 0.1-0.3, Fashion-MNIST 0.05-0.2, colour 2-8/255
    (L-inf); L2: 0.5-2 for grey, 0.25-1 for colour images."""
    if norm == "l2":
        return [0.25, 0.5, 1.0] if spec.channels == 3 else [0.5, 1.0, 2.0]
    budget = default_eps(spec)
    if spec.channels == 3:
        return [2 / 255, 4 / 255, 8 / 255]
    return [0.05, 0.1, 0.2] if budget < 0.3 else [0.1, 0.2, 0.3]


def check_options(opts: AttackOptions, spec, classes: int) -> None:
    """One clear error per bad option (the command exits with status 2)."""
    if opts.method not in METHODS:
        raise ConfigError(f"unknown attack {opts.method!r}; choose one of {', '.join(METHODS)}")
    if opts.norm not in NORMS:
        raise ConfigError(f"unknown norm {opts.norm!r}; choose linf or l2")
    if opts.eps is not None and opts.method not in BUDGETED:
        raise ConfigError(f"--eps is for fgsm and pgd; {opts.method} finds its own perturbation "
                          f"({'the smallest that reaches the target' if opts.method == 'lbfgs' else 'from noise'})")
    limit = 1.0 if opts.norm == "linf" else math.sqrt(spec.channels * spec.height * spec.width)
    for e in opts.eps or []:
        if not (math.isfinite(e) and 0 <= e <= limit):
            raise ConfigError(f"eps {e:g} is outside [0, {limit:g}]: budgets are in pixels scaled to [0, 1]"
                              + (" (L-inf)" if opts.norm == "linf" else f" (L2, at most the {limit:.3g} diameter "
                                                                        "of the image box)"))
    if opts.targeted is not None and not 0 <= opts.targeted < classes:
        raise ConfigError(f"target class {opts.targeted} is out of range: this model has classes 0..{classes - 1}")
    if opts.alpha is not None and not opts.alpha > 0:
        raise ConfigError(f"--alpha must be greater than 0, got {opts.alpha:g}")
    unused = [flag for flag, given in (("--steps", opts.method == "fgsm" and opts.steps is not None),
                                       ("--restarts", opts.restarts != 1), ("--alpha", opts.alpha is not None))
              if given and opts.method != "pgd"]
    if unused:  # they were silently ignored
        raise ConfigError(f"{', '.join(unused)}: for pgd; {opts.method} "
                          f"{'takes a single step of size eps' if opts.method == 'fgsm' else 'does not use them'}")


def setting_name(opts: AttackOptions) -> str:
    name = f"attack_{opts.method}" + (f"_{opts.norm}" if opts.method in BUDGETED else "")
    return name + (f"_target{opts.targeted}" if opts.targeted is not None else "")


def caption_scale(width: int) -> int:
    """Upscaling that leaves a cell at least 96 px wide: room for a caption like "automobile 99.5%"."""
    return max(1, math.ceil(96 / width))


def _caption(view: NetView, probs: torch.Tensor) -> list[str]:
    conf, pred = probs.max(1)
    return [f"{view.classes[int(k)]} {100 * float(c):.1f}%" for k, c in zip(pred, conf)]


def _examples_grid(path: Path, view: NetView, x: torch.Tensor, adv: torch.Tensor, eps_note: str) -> Path:
    """Three rows, one column per example: original | change (amplified to the full grey range) |
    adversarial, each image captioned with the predicted class and its confidence."""
    with torch.no_grad():
        p_clean, p_adv = view.forward(x).softmax(1), view.forward(adv).softmax(1)
    delta = adv - x
    scale = delta.flatten(1).abs().amax(1).clamp(min=1e-12)[:, None, None, None]
    shown = delta / (2 * scale) + 0.5  # zero change is mid grey; each column uses its own full range
    cells = torch.cat([x, shown, adv]).cpu()
    amp = [0.5 / float(s) for s in scale.flatten()]
    caps = _caption(view, p_clean) + [f"x{a:.0f}" for a in amp] + _caption(view, p_adv)
    return save_grid(cells, path, nrow=len(x), value_range=(0.0, 1.0), captions=caps, scale=caption_scale(x.shape[-1]),
                     row_labels=["original", "change", f"adversarial\n{eps_note}"])


def _plot(path: Path, rows: list[dict[str, Any]], title: str, key: str, ylabel: str) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 3.0))
    ax = fig.add_subplot()
    ax.plot([r["eps"] for r in rows], [100 * r[key] for r in rows], "o-")
    ax.set_xlabel("eps")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg", metadata={"Date": None})
    return path


def _batches(data, n: int, batch_size: int, device):
    """(images in [0, 1], labels) of the first n images of `data`, on `device`."""
    seen = 0
    for images, labels, _ in data.iter_ordered(batch_size):
        take = min(len(images), n - seen)
        yield images[:take].to(device).float() / 255, labels[:take].to(device)
        seen += take
        if seen >= n:
            return


def _progress(total: int, what: str):
    """A progress bar on stderr when it is a terminal (a PGD attack on a whole test split takes minutes); silent in
    logs and pipes."""
    import sys

    from tqdm.auto import tqdm

    return tqdm(total=total, desc=what, unit="batch", file=sys.stderr, disable=None, leave=False, dynamic_ncols=True)


def budget_attack(view: NetView, data, opts: AttackOptions, device) -> tuple[dict[str, Any], dict[float, tuple]]:
    """FGSM or PGD at each eps over the first n images: clean and robust accuracy, targeted success, speed;
    and per eps the first `show` correctly classified images with their adversarial versions."""
    n = min(opts.n or len(data), len(data))
    gen = torch.Generator(device=device)
    rows, shown = [], {}
    clean = None
    bar = _progress(len(opts.eps) * math.ceil(n / opts.batch_size), f"{opts.method} {opts.norm} on {n} images")
    for eps in opts.eps:
        gen.manual_seed(opts.seed)
        hits = target_hits = target_n = correct_n = 0
        seconds = 0.0
        keep_x, keep_adv = [], []
        for x, y in _batches(data, n, opts.batch_size, device):
            with torch.no_grad():
                pred = view.forward(x).argmax(1)
            goal = torch.full_like(y, opts.targeted) if opts.targeted is not None else y
            t0 = time.perf_counter()
            if opts.method == "fgsm":
                adv = attacks.fgsm(view.forward, x, goal, eps, norm=opts.norm, targeted=opts.targeted is not None)
            else:
                adv = attacks.pgd(view.forward, x, goal, eps, norm=opts.norm, alpha=opts.alpha, steps=opts.steps,
                                  restarts=opts.restarts, targeted=opts.targeted is not None, generator=gen)
            seconds += time.perf_counter() - t0
            with torch.no_grad():
                adv_pred = view.forward(adv).argmax(1)
            hits += int((adv_pred == y).sum())
            correct_n += int((pred == y).sum())
            if opts.targeted is not None:
                others = y != opts.targeted
                target_hits += int((adv_pred[others] == opts.targeted).sum())
                target_n += int(others.sum())
            ok = (pred == y).nonzero().flatten()[:max(0, opts.show - sum(map(len, keep_x)))]
            keep_x.append(x[ok])
            keep_adv.append(adv[ok])
            bar.set_postfix_str(f"eps {eps:g}", refresh=False)
            bar.update()
        clean = correct_n / n
        row = {"eps": eps, "robust_accuracy": hits / n, "seconds": round(seconds, 3),
               "images_per_s": round(n / max(seconds, 1e-9), 1)}
        if opts.targeted is not None:
            row["target_success"] = target_hits / max(target_n, 1)
        rows.append(row)
        shown[eps] = (torch.cat(keep_x), torch.cat(keep_adv))
    bar.close()
    result = {"method": opts.method, "norm": opts.norm, "n": n, "clean_accuracy": clean,
              "eps": [r["eps"] for r in rows], "robust_accuracy": [r["robust_accuracy"] for r in rows],
              "rows": rows, "images_per_s": round(sum(n for _ in rows) / max(sum(r["seconds"] for r in rows), 1e-9), 1)}
    if opts.method == "pgd":
        result.update(steps=opts.steps, restarts=opts.restarts, alpha=opts.alpha or "2.5*eps/steps")
    if opts.targeted is not None:
        result["targeted"] = opts.targeted
        result["target_success"] = [r["target_success"] for r in rows]
    return result, shown


def lbfgs_attack(view: NetView, data, opts: AttackOptions, device) -> tuple[dict[str, Any], tuple]:
    """Szegedy et al.'s smallest perturbation reaching a target class (--targeted K, else the next class)."""
    n = min(opts.n or 100, len(data))
    k = len(view.classes)
    succ, norms = [], []
    seconds = 0.0
    keep_x, keep_adv = [], []
    for x, y in _batches(data, n, opts.batch_size, device):
        target = torch.full_like(y, opts.targeted) if opts.targeted is not None else (y + 1) % k
        t0 = time.perf_counter()
        adv = attacks.lbfgs(view.forward, x, target, max_iter=opts.steps)
        seconds += time.perf_counter() - t0
        with torch.no_grad():
            ok = view.forward(adv).argmax(1) == target
        ok &= target != y
        succ.append(ok.cpu())
        norms.append((adv - x).flatten(1).norm(dim=1)[ok].cpu())
        pick = ok.nonzero().flatten()[:max(0, opts.show - sum(map(len, keep_x)))]
        keep_x.append(x[pick])
        keep_adv.append(adv[pick])
    s, d = torch.cat(succ), torch.cat(norms)
    result = {"method": "lbfgs", "n": n, "target": opts.targeted if opts.targeted is not None else "next class",
              "success_rate": float(s.float().mean()), "median_l2": float(d.median()) if len(d) else None,
              "mean_l2": float(d.mean()) if len(d) else None, "seconds": round(seconds, 3),
              "images_per_s": round(n / max(seconds, 1e-9), 2)}
    return result, (torch.cat(keep_x), torch.cat(keep_adv))


def fooling_images(view: NetView, spec, opts: AttackOptions, device) -> tuple[dict[str, Any], torch.Tensor]:
    """Nguyen et al. 2015: images from noise that the net calls class K with > 99% confidence."""
    classes = [opts.targeted] if opts.targeted is not None else list(range(len(view.classes)))
    per = opts.n or 4
    target = torch.tensor(classes, device=device).repeat_interleave(per)
    gen = torch.Generator(device=device).manual_seed(opts.seed)
    t0 = time.perf_counter()
    images = attacks.fooling(view.forward, target, (len(target), spec.channels, spec.height, spec.width),
                             steps=opts.steps, generator=gen)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        probs = view.forward(images).softmax(1)
    conf = probs[torch.arange(len(target)), target]
    result = {"method": "fooling", "classes": classes, "per_class": per, "seconds": round(seconds, 3),
              "mean_confidence": float(conf.mean()), "min_confidence": float(conf.min()),
              "fooled": float((probs.argmax(1) == target).float().mean())}
    return result, images


def attack_run(run_dir, opts: AttackOptions, split: str = "test", which: str = "best", device="cpu",
               data_dir: str | None = None, log=print) -> dict[str, Any]:
    """Attack the run's classifier on its `split`; merge the figures into metrics.json; write grids and a plot."""
    run = RunDir(run_dir)
    model = load_model(run.path, which=which, device=device)
    view = classifier_view(model, str(run.path))
    check_options(opts, model.spec, len(view.classes))
    if opts.method in BUDGETED and opts.eps is None:
        opts.eps = eps_ladder(model.spec, opts.norm)
    if opts.steps is None:
        opts.steps = DEFAULT_STEPS[opts.method]
    name = setting_name(opts)
    out = run.path / "attacks"
    files: list[Path] = []
    if opts.method == "fooling":
        result, images = fooling_images(view, model.spec, opts, device)
        with torch.no_grad():
            caps = _caption(view, view.forward(images).softmax(1))
        files.append(save_grid(images.cpu(), out / f"{name}.png", nrow=result["per_class"], value_range=(0.0, 1.0),
                               captions=caps, scale=caption_scale(images.shape[-1])))
        log(f"fooling images: {len(images)} for {len(result['classes'])} classes, mean confidence "
            f"{100 * result['mean_confidence']:.2f}% (min {100 * result['min_confidence']:.2f}%) in "
            f"{result['seconds']:.1f} s")
    else:
        data = load_split(run.read_config()["data"], split, data_dir)
        if data.labels is None:
            raise ConfigError(f"the {split} split of {data.name} has no labels to attack")
        if opts.method == "lbfgs":
            result, (x, adv) = lbfgs_attack(view, data, opts, device)
            if len(x):
                files.append(_examples_grid(out / f"{name}.png", view, x, adv, "L-BFGS"))
            median = "n/a" if result["median_l2"] is None else f"{result['median_l2']:.3f}"
            log(f"L-BFGS to {result['target']}: success {100 * result['success_rate']:.1f}% of {result['n']} "
                f"images, median L2 {median}, {result['images_per_s']:g} images/s")
        else:
            result, shown = budget_attack(view, data, opts, device)
            for eps, (x, adv) in shown.items():
                if len(x):
                    files.append(_examples_grid(out / f"{name}-eps{eps:.4g}.png", view, x, adv,
                                                f"eps {eps:.3g}"))
            what = "target success" if opts.targeted is not None else "robust accuracy"
            files.append(_plot(out / f"{name}.svg", result["rows"], f"{opts.method.upper()} ({opts.norm}) on "
                               f"{data.name} {split}, n={result['n']}", "target_success" if opts.targeted
                               is not None else "robust_accuracy", f"{what} (%)"))
            log(f"{opts.method} ({opts.norm}) on {result['n']} {data.name} {split} images; clean accuracy "
                f"{100 * result['clean_accuracy']:.2f}%")
            for r in result["rows"]:
                extra = f", target success {100 * r['target_success']:.2f}%" if "target_success" in r else ""
                log(f"  eps {r['eps']:<8.4g} robust accuracy {100 * r['robust_accuracy']:6.2f}%{extra}  "
                    f"({r['images_per_s']:g} images/s)")
    result["split"] = split
    result["checkpoint_step"] = getattr(model, "checkpoint_step", None)
    result["files"] = [str(p.relative_to(run.path)) for p in files]
    run.update_metrics({name: result})
    for p in files:
        log(f"wrote {p}")
    return result
