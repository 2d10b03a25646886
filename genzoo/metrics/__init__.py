"""Sample-quality metrics for generative models, in features of genzoo's own per-dataset classifiers.

Evaluate a model (anything with `sample(n, labels=None, generator=None)` returning images in
`model.input_range`; `conditional = True` models get labels drawn from the real class frequencies):

    from genzoo.metrics import evaluate_model, evaluate_images
    res = evaluate_model(model, real_test, n=10000, metrics="fid,kid,pr", seeds=3)
    res["fid"], res["fid_std"], res["kid"], res["precision"], res["recall"]

Evaluate images from any tool (uint8 N x C x H x W, floats with `value_range`, or an ImageSet whose
labels are the requested classes):

    res = evaluate_images(fake_uint8, real_test, metrics=("fid", "kid"))

Metrics (`METRICS`; default: fid, kid, pr, dc, is, cls, plus cacc and cfid for conditional models, modes for
stacked MNIST and nn when `train=` is given):

    fid    Fréchet distance (Heusel et al. 2017)                      -> fid
    kid    kernel distance, 100 subsets of 1000 (Bińkowski et al. 2018) -> kid, kid_subset_std
    pr     precision / recall, k = 3 (Kynkäänniemi et al. 2019)       -> precision, recall
    dc     density / coverage, k = 5 (Naeem et al. 2020)              -> density, coverage
    is     Inception-style score with the domain classifier            -> is, is_split_std
    cls    KL(sample class histogram || real class histogram)         -> class_kl
    cacc   conditional accuracy                                        -> cond_accuracy, cond_accuracy_per_class
    cfid   FID per class (samples asked for c vs real images of c)     -> fid_per_class, fid_class_mean
    modes  modes covered, KL to uniform (stacked MNIST: 1000 modes)    -> modes, modes_total, modes_kl
    nn     nearest-training-neighbour distance (memorization)          -> nn_train_dist, nn_train_ratio,
                                                                          nn_copy_fraction

Attribute-conditional models (attr-gan) add attr_accuracy, attr_accuracy_per_attr and attr_exact
(`genzoo.metrics.suite.attribute_quality`; judge: the digit classifier on mnist-attrs, or an
attribute classifier run given as features).

With seeds > 1 every figure is the mean over sample seeds and `<key>_std` its standard deviation.

Features (`features=`): "auto" picks the domain network of the real dataset (mnist, mnist-mini and
stacked-mnist use the shipped MNIST net; fashion-mnist and cifar10 need weights built with
scripts/build_feature_nets.py), or name one ("mnist", "stacked-mnist", "inception" for standard
Inception-v3 FID via torch-fidelity, or a trained classifier run folder). Real-data features are
cached in memory and in ~/.cache/genzoo/features/.

Models get this for free: `Model.evaluate` of a model that can sample returns `sample_quality(model,
data)`, configured by `model.eval_options` (an `EvalOptions`; the Trainer sets n, metrics from
`train.eval_samples` / `train.eval_metrics`, `genzoo eval` from --n/--metrics/--seeds). A model with
its own evaluation (e.g. a VAE's likelihood) adds these with
`self.with_sample_metrics(own, data)` (the images its own figures cover stay as `n_images`; `n` counts samples).

Pure functions on feature tensors: `fid`, `frechet_distance`, `kid`, `prdc`, `inception_score`,
`class_kl`, `conditional_accuracy`, `mode_counts`, `memorization`; cluster/code-to-class accuracy
`matching_accuracy` (Hungarian, one-to-one) and `majority_accuracy` (many-to-one); 2-D mode counting on the ring and
grid of Gaussians: `ring_centers`, `grid_centers`, `sample_mixture`, `mode_coverage`. Stacked MNIST
data: dataset `stacked-mnist`, or `genzoo.data.stacked.stack_digits(mnist, n, seed)`.
"""

from genzoo.metrics.classes import class_kl, conditional_accuracy, inception_score, mode_counts
from genzoo.metrics.features import Features, FeaturesUnavailable, domain_net, extract, resolve
from genzoo.metrics.fid import fid, frechet_distance, gaussian_stats
from genzoo.metrics.kid import kid
from genzoo.metrics.manifold import memorization, prdc
from genzoo.metrics.matching import majority_accuracy, matching_accuracy
from genzoo.metrics.modes import grid_centers, mode_coverage, ring_centers, sample_mixture
from genzoo.metrics.suite import (
    DEFAULT_METRICS,
    METRICS,
    TRAINING_METRICS,
    EvalOptions,
    evaluate_images,
    evaluate_model,
    parse_metrics,
    sample_quality,
)

__all__ = [
    "evaluate_model", "evaluate_images", "sample_quality", "EvalOptions", "METRICS", "DEFAULT_METRICS",
    "TRAINING_METRICS", "parse_metrics", "fid", "frechet_distance", "gaussian_stats", "kid", "prdc",
    "memorization", "inception_score", "class_kl", "conditional_accuracy", "mode_counts", "ring_centers",
    "grid_centers", "sample_mixture", "mode_coverage", "Features", "FeaturesUnavailable", "domain_net",
    "extract", "resolve", "matching_accuracy", "majority_accuracy",
]
