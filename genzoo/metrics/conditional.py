"""Metrics of conditional generation: per-class accuracy and FID, attribute accuracy.

- `per_class_accuracy`: conditional accuracy split by the requested class (suite metric `cacc`,
  key `cond_accuracy_per_class`).
- `per_class_fid`: FID between the samples asked for class c and the real images of class c, for
  every class (suite metric `cfid`: keys `fid_per_class`, `fid_class_mean`). It catches a model that
  draws good digits of the wrong class, which the overall FID does not.
- `attribute_accuracy`: for attribute-conditional models, the fraction of requested binary
  attributes a judge finds in the samples, per attribute and on average, and the fraction of samples
  with every attribute right (`suite.attribute_quality` runs it on a model).

Judges: a trained attribute classifier run (`genzoo train classifier --set target=attrs`, given as
`features=RUN_DIR`; its features then also serve FID), or on `mnist-attrs` / `mnist-mini-attrs`
the attributes derived from the shipped MNIST digit classifier's prediction (genzoo.data.digit_attrs),
so a sample counts as "even" if the classifier reads an even digit.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from genzoo.data.digit_attrs import digit_attributes
from genzoo.data.imageset import to_float
from genzoo.errors import ConfigError
from genzoo.metrics.features import FeaturesUnavailable, domain_net
from genzoo.metrics.fid import frechet_distance, gaussian_stats
from genzoo.runs import load_model

DIGIT_ATTR_DATASETS = ("mnist-attrs", "mnist-mini-attrs")


def per_class_accuracy(pred: torch.Tensor, requested: torch.Tensor, num_classes: int) -> list[float]:
    """Accuracy among the samples requested as each class (nan for classes never requested)."""
    pred, requested = pred.reshape(-1).cpu(), requested.reshape(-1).cpu()
    out = []
    for c in range(num_classes):
        mask = requested == c
        out.append(float((pred[mask] == c).double().mean()) if mask.any() else math.nan)
    return out


def per_class_fid(real_features: torch.Tensor, real_labels: torch.Tensor, fake_features: torch.Tensor,
                  fake_labels: torch.Tensor, num_classes: int) -> list[float]:
    """FID of each class: real features of class c vs. features of samples requested as c (nan where
    either side has fewer than 2 images)."""
    out = []
    for c in range(num_classes):
        r, f = real_features[real_labels.cpu() == c], fake_features[fake_labels.cpu() == c]
        if len(r) < 2 or len(f) < 2:
            out.append(math.nan)
            continue
        out.append(frechet_distance(*gaussian_stats(r), *gaussian_stats(f)))
    return out


def attribute_accuracy(pred: torch.Tensor, requested: torch.Tensor) -> tuple[list[float], float, float]:
    """(per-attribute accuracy, mean of those, fraction of rows with every attribute right) for N x A 0/1."""
    hit = pred.cpu().float() == requested.cpu().float()  # N x A
    per = hit.double().mean(0)
    return per.tolist(), float(per.mean()), float(hit.all(1).double().mean())


def digit_attribute_judge(attr_names: tuple[str, ...]):
    """uint8 MNIST-like images -> N x A attributes of the digit the shipped MNIST classifier reads."""
    net = domain_net("mnist")

    def judge(images: torch.Tensor) -> torch.Tensor:
        return digit_attributes(net(images).logits.argmax(1), attr_names)

    return judge


def run_attribute_judge(run_dir: str | Path, attr_names: tuple[str, ...]):
    """uint8 images -> N x A attributes predicted by an attribute classifier run (target=attrs)."""
    clf = load_model(run_dir, which="best")
    if getattr(clf.cfg, "target", None) != "attrs":
        raise ConfigError(f"{run_dir} is not an attribute classifier; train one with "
                          "`genzoo train classifier --data celeba --set target=attrs`")
    missing = [a for a in attr_names if a not in clf.spec.attr_names]
    if missing:
        raise ConfigError(f"the attribute classifier {run_dir} does not predict {', '.join(missing)}")
    cols = [clf.spec.attr_names.index(a) for a in attr_names]

    @torch.no_grad()
    def judge(images: torch.Tensor) -> torch.Tensor:
        clf.eval()
        x = to_float(images, clf.input_range)
        if tuple(x.shape[1:]) != clf.spec.shape:
            x = F.interpolate(x, size=clf.spec.shape[1:], mode="bilinear", antialias=True, align_corners=False)
        return torch.cat([clf.predict(x[i:i + 500])[:, cols] for i in range(0, len(x), 500)])

    return judge


def attribute_judge(dataset: str, attr_names: tuple[str, ...], features: str = "auto"):
    """The judge for samples of `dataset`: the classifier run `features` names, or the digit judge."""
    if features != "auto" and Path(features).expanduser().is_dir():
        return run_attribute_judge(Path(features).expanduser(), attr_names)
    if dataset in DIGIT_ATTR_DATASETS:
        return digit_attribute_judge(attr_names)
    raise FeaturesUnavailable(f"no attribute classifier to judge samples of {dataset!r}: train one with "
                              f"`genzoo train classifier --data {dataset} --set target=attrs` and pass its run folder "
                              f"as --features (the digit-derived attributes of {', '.join(DIGIT_ATTR_DATASETS)} "
                              "need none)")
