"""Generator channel ablation: what does a feature map of a generator draw?

Radford et al. 2016 (DCGAN, section 6.3.1, "Forgetting to draw certain objects") dropped the feature
maps of a generator layer that responded to windows and regenerated the images: the windows vanished
or were replaced. Bau et al. 2019 ("GAN Dissection") made the same intervention systematic: zero a set
of units of a layer and compare the outputs. Here a forward hook replaces the layer's output by a copy
with the chosen channels zeroed; `channel_effect` ranks every channel by how much zeroing it alone
changes the images, which finds the channels worth looking at.

Zeroing is meaningful after a nonlinearity (ReLU outputs, where 0 means "absent"): target the ReLU (or
the Sequential block that ends with it), not the conv before a batchnorm, where 0 is not "nothing".
The generator is called as `generator_net(z)` (or `generator_net(*z)` when z is a tuple, e.g.
latents and labels) in eval mode, so batchnorm uses running statistics and the images of a batch do
not affect each other.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from genzoo.errors import ConfigError
from genzoo.visualize.targets import eval_mode, find_layer, forward_hook

Latents = torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]


def _args(z: Latents) -> tuple[torch.Tensor, ...]:
    args = tuple(z) if isinstance(z, (tuple, list)) else (z,)
    if not args or not all(isinstance(a, torch.Tensor) for a in args):
        raise ConfigError("z must be a tensor of latents (or a tuple of tensors the generator takes)")
    if len({a.shape[0] for a in args}) != 1:
        raise ConfigError(f"the generator's inputs disagree on the batch size: {[tuple(a.shape) for a in args]}")
    return args


def _channel_list(channels: int | Sequence[int]) -> list[int]:
    out = [channels] if isinstance(channels, int) else list(channels)
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in out):
        raise ConfigError(f"channels must be whole numbers >= 0, got {channels!r}")
    return out


def _check_range(layer: str, out, channels: list[int]) -> int:
    if not isinstance(out, torch.Tensor) or out.dim() < 2:
        raise ConfigError(f"layer {layer!r} outputs {getattr(out, 'shape', type(out).__name__)}; ablation needs "
                          "an N x C (x H x W) tensor")
    count = out.shape[1]
    bad = [c for c in channels if c >= count]
    if bad:
        raise ConfigError(f"channel(s) {bad} out of range: layer {layer!r} has {count} channels (0..{count - 1})")
    return count


@torch.no_grad()
def ablate_channel(generator_net: nn.Module, layer: str, channels: int | Sequence[int], z: Latents
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, ablated images): the generator on `z` as is, and with `channels` of `layer`'s output zeroed.
    Both in the generator's own output range; the net is left as it was (hook removed, modes restored)."""
    module = find_layer(generator_net, layer)
    chans = _channel_list(channels)
    args = _args(z)

    def zero(_module, _inputs, out):
        _check_range(layer, out, chans)
        out = out.clone()  # a new tensor: never edit a buffer the net may still read
        out[:, chans] = 0
        return out

    def check(_module, _inputs, out):
        _check_range(layer, out, chans)  # before any work: a bad channel fails on the first pass

    with eval_mode(generator_net):
        with forward_hook(module, check):
            images = generator_net(*args)
        with forward_hook(module, zero):
            ablated = generator_net(*args)
    return images, ablated


@torch.no_grad()
def channel_effect(generator_net: nn.Module, layer: str, z: Latents, top: int | None = 8, *,
                   max_batch: int = 256) -> list[tuple[int, float]]:
    """Channels of `layer` ranked by the mean absolute change of the images when that channel alone is
    zeroed: [(channel, mean_abs_change)], largest first, the `top` of them (None: all).

    Several channels are ablated per forward pass: the latents are repeated, one copy per channel, and
    the hook zeroes channel k in copy k (up to `max_batch` images a pass)."""
    if top is not None and (not isinstance(top, int) or isinstance(top, bool) or top < 1):
        raise ConfigError(f"top must be a whole number >= 1 (or None for all channels), got {top!r}")
    if not isinstance(max_batch, int) or max_batch < 1:
        raise ConfigError(f"max_batch must be a whole number >= 1, got {max_batch!r}")
    module = find_layer(generator_net, layer)
    args = _args(z)
    n = args[0].shape[0]
    if n == 0:
        raise ConfigError("channel_effect needs at least one latent")
    count = 0
    block: list[int] = []  # the channel to zero in each copy of the batch during a pass

    def measure(_module, _inputs, out):
        nonlocal count
        count = _check_range(layer, out, [])

    def zero_block(_module, _inputs, out):
        out = out.clone()
        rows = torch.arange(len(block) * n, device=out.device)
        cols = torch.tensor(block, device=out.device).repeat_interleave(n)
        out[rows, cols] = 0  # copy k (rows k*n..k*n+n-1) loses channel block[k]
        return out

    effects: list[tuple[int, float]] = []
    with eval_mode(generator_net):
        with forward_hook(module, measure):
            base = generator_net(*args)
        per_pass = max(1, max_batch // n)
        with forward_hook(module, zero_block):
            for start in range(0, count, per_pass):
                block[:] = range(start, min(start + per_pass, count))
                k = len(block)
                ablated = generator_net(*(a.repeat(k, *([1] * (a.dim() - 1))) for a in args))
                change = (ablated.reshape(k, *base.shape) - base).abs().flatten(1).mean(1)
                effects += [(c, float(v)) for c, v in zip(block, change.tolist())]
    effects.sort(key=lambda cv: -cv[1])
    return effects if top is None else effects[:top]
