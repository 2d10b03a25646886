"""Reusable network blocks: minibatch standard deviation, pixel norm and equalized-learning-rate layers (ProGAN),
spectral norm, initialisation, weight EMA,
a replay buffer of generated images, the labelled pool of semi-supervised runs."""

from genzoo.nn.ema import EMA
from genzoo.nn.labelled import LabelledPool
from genzoo.nn.layers import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStd,
    PixelNorm,
    apply_spectral_norm,
    batch_statistics,
    bernoulli,
    compute_dtype,
    eval_mode,
    full_precision,
    init_weights_,
    pixel_norm,
    single_thread,
)
from genzoo.nn.replay import ReplayBuffer

__all__ = ["EMA", "EqualizedConv2d", "EqualizedLinear", "LabelledPool", "MinibatchStd", "PixelNorm", "ReplayBuffer",
           "apply_spectral_norm", "batch_statistics", "bernoulli", "compute_dtype", "eval_mode", "full_precision",
           "init_weights_", "pixel_norm", "single_thread"]
