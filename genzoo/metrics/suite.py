"""The evaluation suite: sample a model (or take a set of images), compute features, score them.

Every metric compares generated images with a set of real images in a feature space (see
features.py). Generated floats are first rounded to uint8, exactly as if saved to PNG, so a model
and a folder of its samples get the same figures.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch

from genzoo.data.imageset import ImageSet, to_uint8
from genzoo.errors import ConfigError
from genzoo.metrics import classes, features, manifold
from genzoo.metrics import conditional as cond
from genzoo.metrics.fid import frechet_distance, gaussian_stats
from genzoo.metrics.kid import kid
from genzoo.nn import eval_mode

# name -> (what it measures, the keys it writes)
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fid": ("Fréchet distance between Gaussians fitted to real and sample features", ("fid",)),
    "kid": ("kernel distance (unbiased MMD², cubic kernel), mean and std over 100 subsets of 1000",
            ("kid", "kid_subset_std")),
    "pr": ("precision (fidelity) and recall (diversity), k-NN manifolds with k = 3", ("precision", "recall")),
    "dc": ("density and coverage, k-NN balls around real points with k = 5", ("density", "coverage")),
    "is": ("Inception-style score exp(E KL(p(y|x) || p(y))) with the feature network's classes, 10 splits",
           ("is", "is_split_std")),
    "cls": ("KL(class histogram of samples || real class histogram)", ("class_kl",)),
    "cacc": ("conditional accuracy: samples classified as the label they were asked for (overall, per class)",
             ("cond_accuracy", "cond_accuracy_per_class")),
    "cfid": ("FID per class: samples asked for class c vs real images of class c (list, and mean)",
             ("fid_per_class", "fid_class_mean")),
    "modes": ("classes (modes) hit by a sample, and KL to uniform; stacked MNIST: 1000 modes",
              ("modes", "modes_total", "modes_kl")),
    "nn": ("memorization: distance from samples to their nearest training image vs. held-out images",
           ("nn_train_dist", "nn_train_ratio", "nn_copy_fraction")),
}
DEFAULT_METRICS = ("fid", "kid", "pr", "dc", "is", "cls")  # + cacc, modes, nn where they apply
TRAINING_METRICS = ("fid", "kid", "pr")


def parse_metrics(text: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...] | None:
    """'fid,kid' -> ('fid', 'kid'), checking names; None/'' -> None (the defaults)."""
    if not text:
        return None
    names = tuple(m.strip() for m in (text.split(",") if isinstance(text, str) else text) if m.strip())
    bad = [m for m in names if m not in METRICS]
    if bad:
        raise ConfigError(f"unknown metric(s) {', '.join(bad)}; choose from {', '.join(METRICS)}")
    return names


@dataclass
class EvalOptions:
    """How `Model.evaluate` scores samples (the Trainer and `genzoo eval` set these on the model)."""

    n: int = 2000  # samples per seed
    metrics: tuple[str, ...] | None = TRAINING_METRICS  # None = every metric that applies
    seeds: int = 1  # sample seeds (mean and std over them)
    seed: int = 0
    features: str = "auto"
    batch_size: int = 500
    strict: bool = True  # False: skip (with a warning) when no feature network exists for the data
    train: ImageSet | None = field(default=None, repr=False)  # training images, for `nn`


class Reference:
    """Real-side quantities, computed once per evaluation: features, Gaussian, class histogram, radii."""

    def __init__(self, net: features.FeatureNet, real: ImageSet, batch_size: int = 500):
        if len(real) < 2:
            raise ConfigError(f"need at least 2 real images to compare with, {real.name!r} has {len(real)}")
        self.net, self.data = net, real
        self.feats = features.extract(net, real.images, batch_size, cache=True)
        self.mu, self.sigma = gaussian_stats(self.feats.features)
        labels = real.labels if real.labels is not None and real.num_classes == net.num_classes else None
        if labels is None and self.feats.logits is not None:
            labels = self.feats.logits.argmax(1)  # the classifier's view of the real classes
        self.hist = classes.histogram(labels, net.num_classes) if labels is not None else None
        self._radii: dict[int, tuple[torch.Tensor, dict[int, torch.Tensor]]] = {}

    def subset(self, m: int) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """A fixed (seeded) subset of m real feature vectors and their 3-NN and 5-NN radii."""
        if m not in self._radii:
            f = self.feats.features
            idx = torch.randperm(len(f), generator=torch.Generator().manual_seed(0))[:m]
            self._radii[m] = (f[idx], manifold.knn_radii(f[idx], (3, 5)))
        return self._radii[m]

    def train_features(self, train: ImageSet | None, batch_size: int) -> torch.Tensor:
        if train is None:
            raise ConfigError("metric 'nn' (memorization) needs the training images: pass train=... "
                              "(genzoo eval loads them from the run's dataset)")
        return features.extract(self.net, train.images, batch_size, cache=True).features


_REFERENCES: OrderedDict[str, Reference] = OrderedDict()


def reference(net: features.FeatureNet, real: ImageSet, batch_size: int = 500) -> Reference:
    """The `Reference` of (network, real images, labels), reused across calls (periodic evaluation)."""
    labels = b"" if real.labels is None else real.labels.numpy().tobytes()
    key = f"{net.key}-{features.fingerprint(real.images)}-{hash(labels)}-{real.num_classes}"
    if key not in _REFERENCES:
        _REFERENCES[key] = Reference(net, real, batch_size)
        while len(_REFERENCES) > 4:
            _REFERENCES.popitem(last=False)
    _REFERENCES.move_to_end(key)
    return _REFERENCES[key]


def choose_metrics(requested: tuple[str, ...] | None, conditional: bool, net: features.FeatureNet,
                   has_train: bool) -> tuple[str, ...]:
    """The requested metrics, or the defaults plus those that apply (cacc, stacked-MNIST modes, nn)."""
    if requested is not None:
        return requested
    extra = (("cacc", "cfid") if conditional else ()) + (("modes",) if isinstance(net, features.ChannelStack) else ()) \
        + (("nn",) if has_train else ())
    return DEFAULT_METRICS + extra


def score(fake: torch.Tensor, ref: Reference, metrics: tuple[str, ...], fake_labels: torch.Tensor | None = None,
          seed: int = 0, train: ImageSet | None = None, batch_size: int = 500) -> dict[str, Any]:
    """Every requested metric for uint8 `fake` images against `ref`."""
    if fake.dtype != torch.uint8 or fake.dim() != 4:
        raise ConfigError(f"generated images must be uint8 N x C x H x W here, got {fake.dtype} {tuple(fake.shape)}")
    if fake.shape[1] != ref.data.shape[0]:
        raise ConfigError(f"generated images have {fake.shape[1]} channels but the real data {ref.data.name!r} "
                          f"has {ref.data.shape[0]}; compare with data of the same kind")
    if len(fake) < 2:
        raise ConfigError(f"need at least 2 generated images to compare with the real ones, got {len(fake)}")
    if {"pr", "dc"} & set(metrics) and min(len(fake), len(ref.data)) <= 5:
        raise ConfigError("precision/recall and density/coverage need more than 5 real and generated images "
                          "(k-nearest-neighbour balls with k up to 5)")
    ff = features.extract(ref.net, fake, batch_size)
    f, logits = ff.features, ff.logits
    pred = logits.argmax(1) if logits is not None else None
    g = torch.Generator().manual_seed(seed)
    out: dict[str, Any] = {}
    pr_dc = None
    for name in metrics:
        if name in ("is", "cls", "cacc", "modes") and logits is None:
            raise ConfigError(f"metric {name!r} needs class scores; {ref.net.description} gives none")
        if name == "fid":
            out["fid"] = frechet_distance(ref.mu, ref.sigma, *gaussian_stats(f))
        elif name == "kid":
            out["kid"], out["kid_subset_std"] = kid(ref.feats.features, f, generator=g)
        elif name in ("pr", "dc"):
            if pr_dc is None:  # one pass gives both pairs, on equally many real and fake points
                m = min(len(f), len(ref.feats.features))
                real_m, radii = ref.subset(m)
                pr_dc = manifold.prdc(real_m, f[:m], real_radii=radii)
            keys = ("precision", "recall") if name == "pr" else ("density", "coverage")
            out.update({k: pr_dc[k] for k in keys})
        elif name == "is":
            out["is"], out["is_split_std"] = classes.inception_score(logits)
        elif name == "cls":
            if ref.hist is None:
                raise ConfigError("metric 'cls' needs class scores for the real data")
            out["class_kl"] = classes.class_kl(pred, ref.hist)
        elif name == "cacc":
            if fake_labels is None:
                raise ConfigError("metric 'cacc' (conditional accuracy) needs labelled samples: a conditional "
                                  "model, or a fake folder with one subfolder per class")
            out["cond_accuracy"] = classes.conditional_accuracy(pred, fake_labels)
            out["cond_accuracy_per_class"] = cond.per_class_accuracy(pred, fake_labels, ref.net.num_classes)
        elif name == "cfid":
            if fake_labels is None or ref.data.labels is None:
                raise ConfigError("metric 'cfid' (per-class FID) needs labelled samples and labelled real images")
            per = cond.per_class_fid(ref.feats.features, ref.data.labels, f, fake_labels, ref.data.num_classes)
            out["fid_per_class"] = per
            out["fid_class_mean"] = float(torch.tensor(per, dtype=torch.float64).nanmean())
        elif name == "modes":
            out.update(classes.mode_counts(pred, ref.net.num_classes))
        elif name == "nn":
            out.update(manifold.memorization(f, ref.train_features(train, batch_size), ref.feats.features))
    return out


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds; with several seeds also `<key>_std` (sample standard deviation)."""
    out: dict[str, Any] = {}
    for k in runs[0]:
        vals = [r[k] for r in runs]
        if len(runs) == 1 or k.endswith("total"):
            out[k] = vals[0]
            continue
        if isinstance(vals[0], list):  # per-class figures: the mean of each entry
            out[k] = torch.tensor(vals, dtype=torch.float64).mean(0).tolist()
            continue
        t = torch.tensor([float(v) for v in vals], dtype=torch.float64)
        out[k] = float(t.mean())
        if len(runs) > 1:
            out[f"{k}_std"] = float(t.std()) if torch.isfinite(t).all() else math.nan
    return out


# ---- public entry points ------------------------------------------------------------------------
def evaluate_images(fake: torch.Tensor | ImageSet, real: ImageSet, metrics: str | tuple[str, ...] | None = None,
                    features: str = "auto", fake_labels: torch.Tensor | None = None,
                    value_range: tuple[float, float] | None = None, train: ImageSet | None = None,
                    seed: int = 0, batch_size: int = 500, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Score a set of images (uint8 N x C x H x W, floats in `value_range`, or an ImageSet) against `real`;
    the feature network runs on `device`."""
    if isinstance(fake, ImageSet):
        fake_labels = fake.labels if fake_labels is None else fake_labels
        fake = fake.images
    if fake.dtype != torch.uint8:
        if value_range is None:
            raise ConfigError("float images need their value_range, e.g. (-1, 1) or (0, 1)")
        fake = to_uint8(fake, value_range)
    net = _net(features, real).to(device)
    ref = reference(net, real, batch_size)
    chosen = choose_metrics(parse_metrics(metrics), fake_labels is not None, net, train is not None)
    res = score(fake, ref, chosen, fake_labels, seed, train, batch_size)
    return {**res, "n": len(fake), "n_real": len(real), "features": net.description}


def evaluate_model(model, real: ImageSet, n: int = 10000, metrics: str | tuple[str, ...] | None = None,
                   seeds: int = 1, seed: int = 0, features: str = "auto", train: ImageSet | None = None,
                   batch_size: int = 500) -> dict[str, Any]:
    """Draw n samples per seed from `model.sample` and score them against `real`; mean (and std) over seeds.

    The feature network runs on the model's device.
    """
    if not callable(getattr(model, "sample", None)):
        raise ConfigError(f"{getattr(model, 'name', type(model).__name__)} cannot sample, so it has no "
                          "sample-quality metrics")
    if n < 2 or seeds < 1:
        raise ConfigError(f"need n >= 2 samples and seeds >= 1, got n={n}, seeds={seeds}")
    net = _net(features, real).to(getattr(model, "device", "cpu"))
    conditional = bool(getattr(model, "conditional", False))
    ref = reference(net, real, batch_size)
    chosen = choose_metrics(parse_metrics(metrics), conditional, net, train is not None)
    runs = []
    for s in range(seeds):
        g = torch.Generator().manual_seed(seed + s)
        labels = sample_labels(model, real, n, g) if conditional else None
        fake = generate(model, n, labels, g, batch_size)
        runs.append(score(fake, ref, chosen, labels, seed + s, train, batch_size))
    return {**aggregate(runs), "n": n, "seeds": seeds, "n_real": len(real), "features": net.description}


def sample_quality(model, real: ImageSet, options: EvalOptions | None = None) -> dict[str, Any]:
    """What `Model.evaluate` returns for a generative model: `evaluate_model` with `model.eval_options`.

    With `strict=False` (periodic evaluation during training) a dataset without a feature network
    gives {} and a warning instead of an error, so training goes on.
    """
    opts = options or getattr(model, "eval_options", None) or EvalOptions()
    try:
        return evaluate_model(model, real, n=opts.n, metrics=opts.metrics, seeds=opts.seeds, seed=opts.seed,
                              features=opts.features, train=opts.train, batch_size=opts.batch_size)
    except features.FeaturesUnavailable as e:
        if opts.strict:
            raise
        warnings.warn(f"sample-quality metrics skipped: {e}", stacklevel=2)
        return {}


# ---- helpers --------------------------------------------------------------------------------------
def _net(name: str, real: ImageSet) -> features.FeatureNet:
    return features.resolve(name, real.name)


def sample_labels(model, real: ImageSet, n: int, generator: torch.Generator) -> torch.Tensor:
    """Labels for a conditional model, drawn from the real class frequencies."""
    k = model.spec.num_classes
    if real.labels is not None and real.num_classes == k:
        p = torch.bincount(real.labels, minlength=k).double()
    else:
        p = torch.ones(k, dtype=torch.float64)
    return torch.multinomial(p, n, replacement=True, generator=generator)


@torch.no_grad()
def generate(model, n: int, labels: torch.Tensor | None, generator: torch.Generator,
             batch_size: int = 500) -> torch.Tensor:
    """n samples as uint8 (what saving them as PNG keeps), drawn in batches in eval mode."""
    out = []
    with eval_mode(model):
        for i in range(0, n, batch_size):
            b = min(batch_size, n - i)
            x = model.sample(b, generator=generator) if labels is None else \
                model.sample(b, labels=labels[i:i + b], generator=generator)
            if x.dim() != 4 or x.shape[0] != b:
                raise ConfigError(f"{model.name}.sample({b}) returned shape {tuple(x.shape)}; expected "
                                  f"{b} x C x H x W images")
            if not torch.isfinite(x).all():
                raise ConfigError(f"{model.name} produced NaN/inf samples; the model has diverged")
            out.append(to_uint8(x, model.input_range).cpu())
    return torch.cat(out)


def attribute_quality(model, real, n: int | None = None, seed: int | None = None,
                      batch_size: int = 500) -> dict[str, Any]:
    """Attribute accuracy of `model.sample` for attribute rows drawn from the real data (its joint).

    n and seed default to `model.eval_options`. Keys: attr_accuracy (mean over attributes),
    attr_accuracy_per_attr ({name: accuracy}), attr_exact (every attribute right). Without a judge
    for the dataset: an error, or {} and a warning when the options are not strict (training).
    """
    opts = getattr(model, "eval_options", None) or EvalOptions()
    n = n or opts.n
    seed = opts.seed if seed is None else seed
    try:
        judge = cond.attribute_judge(real.name, model.attr_names, opts.features)
    except features.FeaturesUnavailable as e:
        if opts.strict:
            raise
        warnings.warn(f"attribute accuracy skipped: {e}", stacklevel=2)
        return {}
    g = torch.Generator().manual_seed(seed)
    rows = real.attrs[torch.randint(len(real), (n,), generator=g)][:, model.attr_index].float()
    fake = generate(model, n, rows, g, batch_size)
    per, mean, exact = cond.attribute_accuracy(judge(fake), rows)
    return {"attr_accuracy": mean, "attr_exact": exact,
            "attr_accuracy_per_attr": dict(zip(model.attr_names, per))}
