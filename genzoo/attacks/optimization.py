"""Attacks that solve an optimisation problem per image: the box-constrained L-BFGS attack of Szegedy et al.
2013 ("Intriguing properties of neural networks") and the fooling images of Nguyen et al. 2015 ("Deep neural
networks are easily fooled"), found here by gradient ascent from noise rather than by evolution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genzoo.attacks._checks import (
    AttackConfigError,
    check_generator,
    check_images,
    check_labels,
    check_logits,
    check_norm,
    check_positive_int,
)
from genzoo.attacks.gradient import Model, l2_norms, per_sample


def lbfgs(model: Model, x: torch.Tensor, target: torch.Tensor, *, c: float | torch.Tensor | None = None,
          search_steps: int = 6, max_iter: int = 50, norm: str = "l2") -> torch.Tensor:
    """Box-constrained L-BFGS (Szegedy et al. 2013): the smallest L2 perturbation that makes the model say
    `target`, found as

        minimise  c * ||delta||_2^2 + CE(model(clamp(x + delta, 0, 1)), target)   over unconstrained delta

    with torch.optim.LBFGS (strong Wolfe line search, `max_iter` iterations), for a per-image search over c.

    The box x + delta in [0, 1] is enforced by clamping inside the objective while the penalty sees the
    unclamped delta. That is exact, not a relaxation: clamping never lengthens delta nor changes the model's
    input, so every minimiser lies inside the box. (A tanh/sigmoid change of variables would freeze the many
    pixels that sit exactly at 0 or 1, e.g. MNIST's background, where its derivative vanishes.)

    The search over c: start at `c` (a number or one per image; default 1.0). Where the result reaches the
    target, c grows (x10 until some c has failed, then the geometric mean of the bracket); where it does not,
    c shrinks likewise. Each of the `search_steps` rounds restarts from delta = 0, and the shortest successful
    x_adv of all rounds is kept per image.

    The batch is one L-BFGS problem whose objective is the sum of the per-image ones: their minimisers are
    those of the separate problems, but the iterates are coupled (L-BFGS's curvature estimate and stopping
    tests are over the whole batch), so an image's result can move slightly with its batch mates.

    Returns x_adv (detached, in [0, 1]); x itself for images where no c reached the target. Success per image:
    `model(x_adv).argmax(1) == target` (true with x_adv = x where x is already classified as the target).
    """
    check_norm(norm, ("l2",))
    x = check_images(x)
    n = x.shape[0]
    target = check_labels(target, n, "target")
    search_steps = check_positive_int(search_steps, "search_steps")
    max_iter = check_positive_int(max_iter, "max_iter")
    c = _initial_c(c, x)

    with torch.no_grad():
        logits = model(x)
    check_logits(logits, target, "target")
    best = x.clone()
    best_norm = torch.full((n,), math.inf, device=x.device)
    best_norm[logits.argmax(1) == target] = 0.0
    c_ok = torch.zeros_like(c)  # the largest c known to reach the target
    c_fail = torch.full_like(c, math.inf)  # the smallest c known to fail

    for _ in range(search_steps):
        delta = torch.zeros_like(x, requires_grad=True)
        opt = torch.optim.LBFGS([delta], lr=1, max_iter=max_iter, line_search_fn="strong_wolfe")
        weight = per_sample(c, x)

        def objective(delta=delta, weight=weight):
            logits = model((x + delta).clamp(0, 1))
            loss = (weight * delta.square()).sum() + F.cross_entropy(logits, target, reduction="sum")
            (delta.grad,) = torch.autograd.grad(loss, delta)  # not loss.backward(): leave the model's .grad alone
            return loss

        opt.step(objective)
        with torch.no_grad():
            adv = (x + delta).clamp(0, 1)
            ok = model(adv).argmax(1) == target
            dist = l2_norms(adv - x)
            better = ok & (dist < best_norm)
            best[better] = adv[better]
            best_norm[better] = dist[better]
            c_ok = torch.where(ok, torch.maximum(c_ok, c), c_ok)
            c_fail = torch.where(ok, c_fail, torch.minimum(c_fail, c))
            bracketed = (c_ok > 0) & torch.isfinite(c_fail)
            c = torch.where(bracketed, (c_ok * c_fail).sqrt(), torch.where(ok, c * 10, c / 10))
    return best


def _initial_c(c: float | torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    if c is None:
        c = 1.0
    c = torch.as_tensor(c, dtype=torch.float32, device=x.device).detach().clone()
    if c.dim() == 0:
        c = c.expand(n).clone()
    if c.shape != (n,):
        raise AttackConfigError(f"c must be one number or one per image (shape ({n},)), got shape {tuple(c.shape)}")
    if not bool((c > 0).all() & torch.isfinite(c).all()):
        raise AttackConfigError("c (the weight of ||delta||^2) must be finite and > 0")
    return c


def fooling(model: Model, target: torch.Tensor, shape: tuple[int, ...], *, steps: int = 200, lr: float = 0.05,
            confidence: float = 0.99, generator: torch.Generator | None = None, init: str = "noise") -> torch.Tensor:
    """Fooling images (Nguyen et al. 2015): images the model assigns to class `target` with confidence above
    `confidence` although they look like nothing.

    Starts from uniform noise of `shape` (N x C x H x W, N = len(target); `init="gray"` starts from a flat 0.5
    image instead) and maximises log softmax(model(image))[target] with Adam (`lr`) on an unconstrained
    parameter w, image = sigmoid(w), so the image stays in [0, 1] without clipping. Stops as soon as every
    image's confidence exceeds `confidence`, else after `steps` steps. Adam's update is per coordinate, so each
    image's path is independent of its batch mates.

    Images are made on target's device; `generator` (on that device) seeds the noise. Returns the images
    (detached, in [0, 1]); check `model(images).softmax(1)[range(N), target] > confidence` for the ones that
    got there.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2 or min(shape) < 1:
        raise AttackConfigError(f"shape must be the batch shape N x C x H x W, got {shape}")
    target = check_labels(target, shape[0], "target")
    steps = check_positive_int(steps, "steps")
    lr, confidence = _number(lr, "lr"), _number(confidence, "confidence")
    if not (lr > 0 and math.isfinite(lr)):
        raise AttackConfigError(f"lr must be a number > 0, got {lr!r}")
    if not 0 < confidence < 1:
        raise AttackConfigError(f"confidence must be a probability in (0, 1), got {confidence!r}")
    if init not in ("noise", "gray"):
        raise AttackConfigError(f"unknown init {init!r}: use 'noise' (uniform noise) or 'gray' (a flat 0.5 image)")
    device = target.device
    check_generator(generator, device)

    if init == "noise":
        start = torch.rand(shape, generator=generator, device=device)
    else:
        start = torch.full(shape, 0.5, device=device)
    # keep the start off 0 and 1, where sigmoid's inverse is infinite and its gradient vanishes
    w = torch.logit(start, eps=1e-3).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)
    threshold = math.log(confidence)
    with torch.enable_grad():
        for i in range(steps):
            logits = model(torch.sigmoid(w))
            if i == 0:
                check_logits(logits, target, "target")
            logp = F.log_softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1)
            if bool((logp > threshold).all()):
                break
            (w.grad,) = torch.autograd.grad(-logp.sum(), w)
            opt.step()
    return torch.sigmoid(w).detach()


def _number(value, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AttackConfigError(f"{name} must be a number, got {value!r}") from None
