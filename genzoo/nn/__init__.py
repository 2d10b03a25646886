"""Reusable network blocks: minibatch standard deviation, spectral norm, initialisation, weight EMA,
a replay buffer of generated images."""

from genzoo.nn.ema import EMA
from genzoo.nn.layers import MinibatchStd, apply_spectral_norm, init_weights_
from genzoo.nn.replay import ReplayBuffer

__all__ = ["EMA", "MinibatchStd", "ReplayBuffer", "apply_spectral_norm", "init_weights_"]
