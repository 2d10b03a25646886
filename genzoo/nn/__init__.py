"""Reusable network blocks: minibatch standard deviation, spectral norm, initialisation, weight EMA,
a replay buffer of generated images, the labelled pool of semi-supervised runs."""

from genzoo.nn.ema import EMA
from genzoo.nn.labelled import LabelledPool
from genzoo.nn.layers import MinibatchStd, apply_spectral_norm, batch_statistics, eval_mode, init_weights_
from genzoo.nn.replay import ReplayBuffer

__all__ = ["EMA", "LabelledPool", "MinibatchStd", "ReplayBuffer", "apply_spectral_norm", "batch_statistics",
           "eval_mode", "init_weights_"]
