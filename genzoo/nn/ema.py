"""Exponential moving average of a network's weights (e.g. of a GAN generator).

Averaging the generator's weights over training gives better samples than the last iterate
(Yazici et al. 2019, "The Unusual Effectiveness of Averaging in GAN Training"; Karras et al. 2018).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class EMA(nn.Module):
    """A frozen copy of `net` whose weights follow w_ema <- d * w_ema + (1 - d) * w after each update.

    The decay warms up as d_t = min(decay, (1 + t) / (10 + t)) (as TensorFlow's
    ExponentialMovingAverage with num_updates), so early averages are not dominated by the random
    initialisation; before `start` updates the copy simply tracks the network. Floating-point buffers
    (batchnorm running statistics) are averaged the same way, integer ones copied. Being a submodule,
    its weights and its update count are part of the owner's state_dict (exact resume).
    """

    def __init__(self, net: nn.Module, decay: float, start: int = 0):
        super().__init__()
        self.module = copy.deepcopy(net).requires_grad_(False)
        self.decay = decay
        self.start = start
        self.updates = 0

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        self.updates += 1
        t = self.updates - self.start
        d = 0.0 if t <= 0 else min(self.decay, (1 + t) / (10 + t))
        for e, p in zip(self.module.parameters(), net.parameters()):
            e.lerp_(p.detach(), 1.0 - d)
        for e, b in zip(self.module.buffers(), net.buffers()):
            if e.is_floating_point():
                e.lerp_(b, 1.0 - d)
            else:
                e.copy_(b)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def get_extra_state(self) -> dict[str, Any]:
        return {"updates": self.updates}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])
