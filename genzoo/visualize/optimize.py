"""Activation maximisation: optimise images from noise so that a target unit fires strongly.

Erhan et al. 2009 ("Visualizing Higher-Layer Features of a Deep Network") introduced gradient ascent on
the input; Simonyan et al. 2014 applied it to class scores; Yosinski et al. 2015 and Olah et al. 2017
("Feature Visualization", Distill) added the priors that make the result look like something (see
`transforms`), and Mordvintsev et al. 2018 the decorrelated Fourier parameterisation (see `params`).

The optimiser is Adam on the image parameters only: the gradient is taken with `torch.autograd.grad`
with respect to those, so the net's `.grad` fields are never written. Every image in the batch has its
own target and its own objective (the loss is a sum over images), and with the net in eval mode the
images do not interact: one batched run gives a grid of visualisations for the price of one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from genzoo.errors import ConfigError
from genzoo.visualize.params import PARAMS, make_image
from genzoo.visualize.targets import Target, net_device, objective, parse_target
from genzoo.visualize.transforms import BLUR_SIGMA, RandomTransform, l2_from_grey, total_variation


def _check(shape, steps, lr, param, jitter, scales, blur_every, tv, l2, n) -> tuple[int, int, int]:
    def whole(v, least):
        return isinstance(v, int) and not isinstance(v, bool) and v >= least

    shape = tuple(shape) if isinstance(shape, (tuple, list, torch.Size)) else shape
    if not (isinstance(shape, tuple) and len(shape) == 3 and all(whole(s, 1) for s in shape)):
        raise ConfigError(f"shape must be (C, H, W) with whole numbers >= 1, got {shape!r}")
    if shape[1] < 2 or shape[2] < 2:
        raise ConfigError(f"images must be at least 2 x 2 pixels, got {shape!r}")
    for name, v, least in (("steps", steps, 0), ("jitter", jitter, 0), ("blur_every", blur_every, 0), ("n", n, 1)):
        if not whole(v, least):
            raise ConfigError(f"{name} must be a whole number >= {least}, got {v!r}")
    for name, v in (("lr", lr), ("tv", tv), ("l2", l2)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= 0 or v == float("inf"):
            raise ConfigError(f"{name} must be a finite number >= 0, got {v!r}")
    if lr == 0:
        raise ConfigError("lr must be > 0")
    if param not in PARAMS:
        raise ConfigError(f"param must be one of {', '.join(PARAMS)}, got {param!r}")
    if not scales or not all(isinstance(s, (int, float)) and 0.25 <= s <= 4 for s in scales):
        raise ConfigError(f"scales must be a non-empty list of zoom factors in 0.25..4, got {scales!r}")
    if jitter >= min(shape[1:]):
        raise ConfigError(f"jitter ({jitter} px) must be smaller than the image ({shape[1]} x {shape[2]})")
    return shape


# spread of the starting image: nearly flat grey first; a net whose units are all off around grey (no bias
# reaches them, e.g. a batchnorm-free net on inputs mapped to [-1, 1]) gives it no gradient, so start again
# from stronger noise, as far as an image of pure noise
START_SD = (0.01, 0.5, 2.0)


def _has_gradient(image, act, dtype) -> list[bool]:
    """Per image: does the objective have any gradient at the start?"""
    loss = -act(image().to(dtype)).float().sum()
    if not loss.requires_grad:
        return [True]  # reported as an error by the loop
    grads = [g for g in torch.autograd.grad(loss, image.params, allow_unused=True) if g is not None]
    if not grads:
        return [True]
    return (sum(g.flatten(1).abs().sum(1) for g in grads) > 0).tolist()


def _optimise(net: nn.Module, forward: Callable | None, targets: Target | list[Target], shape, n: int, *,
              steps: int, lr: float, param: str, jitter: int, scales: Sequence[float], blur_every: int,
              tv: float, l2: float, decorrelate: bool, generator: torch.Generator | None) -> torch.Tensor:
    shape = _check(shape, steps, lr, param, jitter, scales, blur_every, tv, l2, n)
    if generator is None:  # follow torch's global seed, without advancing anything but one draw
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2 ** 62, (1,))))
    device, dtype = net_device(net)
    with torch.inference_mode(False), torch.enable_grad(), objective(net, forward, targets, relu_rescue=True) as act:
        image = make_image(param, shape, n, generator, decorrelate=decorrelate, device=device)
        with torch.no_grad():
            act(image().to(dtype))  # checks the targets (channel, class, position ranges) before any work
        for sd in START_SD[1:]:
            if all(_has_gradient(image, act, dtype)):
                break
            image = make_image(param, shape, n, generator, decorrelate=decorrelate, device=device, sd=sd)
        transform = RandomTransform(jitter, tuple(scales), generator)
        opt = torch.optim.Adam(image.params, lr=lr)
        for step in range(steps):
            x = image()
            seen = transform(x).to(dtype)
            loss = -act(seen, warp=transform.last).float().sum()  # a sum: each image has its own target
            if tv:
                loss = loss + tv * total_variation(x).sum()
            if l2:
                loss = loss + l2 * l2_from_grey(x).sum()
            if not loss.requires_grad:
                raise ConfigError("the target does not depend on the input image (a constant output or a "
                                  "forward that detaches it); pick another target")
            # the image only: the net's .grad stays untouched
            grads = torch.autograd.grad(loss, image.params, allow_unused=True)
            for p, g in zip(image.params, grads):
                p.grad = torch.zeros_like(p) if g is None else g
            opt.step()
            if blur_every and (step + 1) % blur_every == 0:
                image.blur_(BLUR_SIGMA)
        with torch.no_grad():
            return image().detach().float().clamp_(0, 1)


def maximize(net: nn.Module, forward: Callable | None, target: Target | str, shape, *, steps: int = 256,
             lr: float = 0.05, param: str = "auto", jitter: int = 2, scales: Sequence[float] = (1.0, 0.95, 1.05),
             blur_every: int = 0, tv: float = 0.0, l2: float = 0.0, decorrelate: bool = True,
             generator: torch.Generator | None = None, n: int | None = None) -> torch.Tensor:
    """`n` (default 1) images of `shape` (C x H x W) in [0, 1], optimised from noise to maximise `target`.

    `forward` maps images in [0, 1] to the net's output (e.g. `lambda x: net(x * 2 - 1)`); `param`:
    pixel | fourier | auto (fourier for 3 channels); `jitter` px random shifts and a random zoom from
    `scales` each step; Gaussian blur every `blur_every` steps; `tv` and `l2` penalty weights (on per-pixel
    means, so weigh them against the target's scale: tv=10 visibly smooths a ~15 logit);
    `decorrelate`: optimise colour images in a decorrelated colour space. Seeded by `generator`.
    Returns an N x C x H x W tensor on the net's device, detached.
    """
    return _optimise(net, forward, parse_target(target), shape, 1 if n is None else n, steps=steps, lr=lr,
                     param=param, jitter=jitter, scales=scales, blur_every=blur_every, tv=tv, l2=l2,
                     decorrelate=decorrelate, generator=generator)


def maximize_many(net: nn.Module, forward: Callable | None, targets: Sequence[Target | str], shape,
                  **kw) -> torch.Tensor:
    """One image per target (len(targets) x C x H x W), optimised together in one batched run; the
    keywords are `maximize`'s (except `n`)."""
    if "n" in kw:
        raise ConfigError("maximize_many makes one image per target: leave out n")
    if isinstance(targets, (str, Target)):
        targets = [targets]
    tlist = [parse_target(t) for t in targets]
    if not tlist:
        raise ConfigError("maximize_many needs at least one target")
    defaults = dict(steps=256, lr=0.05, param="auto", jitter=2, scales=(1.0, 0.95, 1.05), blur_every=0, tv=0.0,
                    l2=0.0, decorrelate=True, generator=None)
    unknown = set(kw) - set(defaults)
    if unknown:
        raise TypeError(f"maximize_many() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
    return _optimise(net, forward, tlist, shape, len(tlist), **{**defaults, **kw})
