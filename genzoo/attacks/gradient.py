"""Gradient-sign and projected-gradient attacks: FGSM (Goodfellow et al. 2015), FGSM with a random start (Wong et
al. 2020) and PGD with random restarts (Madry et al. 2018), in the L-inf and L2 norms.

All work on whole batches: the loss is summed over the batch, so each image's input gradient is its own (the
mean would scale it by 1/N and make the L2 step depend on the batch size).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from genzoo.attacks._checks import (
    AttackConfigError,
    check_eps,
    check_generator,
    check_images,
    check_labels,
    check_logits,
    check_norm,
    check_positive_int,
    check_step,
)

Model = Callable[[torch.Tensor], torch.Tensor]


def per_sample(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A length-N vector shaped to broadcast over the N x ... batch `x`."""
    return v.view(-1, *([1] * (x.dim() - 1)))


def l2_norms(t: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norms of an N x ... batch."""
    return torch.linalg.vector_norm(t.flatten(1), dim=1)


def unit_l2(t: torch.Tensor) -> torch.Tensor:
    """Each sample scaled to L2 norm 1 (a zero sample stays zero)."""
    # divide by the largest entry first: squaring tiny gradients (1e-25) would underflow the norm to zero
    scale = per_sample(t.flatten(1).abs().amax(dim=1), t) if t.shape[0] else t.new_ones(())
    t = t / scale.clamp_min(torch.finfo(t.dtype).tiny)
    return t / per_sample(l2_norms(t), t).clamp_min(1.0)  # the norm is now 0 or >= 1


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Map x_adv into the `norm` ball of radius eps around x, then into the [0, 1] box.

    L-inf: the ball and the box are both boxes, so this is the exact projection onto their intersection. L2:
    shrink delta radially, then clamp (clamping moves no pixel away from x, so the L2 bound still holds).
    """
    if norm == "linf":
        # min/max against x -/+ eps rather than clamping x_adv - x: a step of exactly eps from x then passes
        # through bit for bit (textbook FGSM is x + eps * sign(g), clamped)
        return torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp_(0, 1)
    delta = x_adv - x
    n = l2_norms(delta)
    over = per_sample(n > eps, x)
    shrunk = x + delta * per_sample(eps / n.clamp_min(torch.finfo(n.dtype).tiny), x)
    return torch.where(over, shrunk, x_adv).clamp_(0, 1)


def random_in_ball(x: torch.Tensor, eps: float, norm: str, generator: torch.Generator | None) -> torch.Tensor:
    """A random point of the eps ball around x, clamped to [0, 1].

    L-inf: delta uniform in [-eps, eps] per pixel. L2: a uniformly random direction (normalised Gaussian) with
    a radius uniform in [0, eps]. This is not uniform in the ball's volume: in a 784-pixel ball that would put
    almost every start on the surface (radius eps * U^(1/784)); the uniform radius also tries starts near x.
    """
    if norm == "linf":
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        delta = (u * 2 - 1) * eps
    else:
        direction = unit_l2(torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device))
        radius = torch.rand(x.shape[0], generator=generator, dtype=x.dtype, device=x.device) * eps
        delta = direction * per_sample(radius, x)
    return (x + delta).clamp_(0, 1)


def loss_gradient(model: Model, x: torch.Tensor, y: torch.Tensor, targeted: bool,
                  check: bool = False) -> torch.Tensor:
    """The gradient of the attacker's objective w.r.t. the input: +CE(y) untargeted, -CE(target) targeted.

    torch.autograd.grad w.r.t. the input only, so nothing accumulates in the model's parameters' .grad.
    """
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        logits = model(xg)
        if check:
            check_logits(logits, y, "target" if targeted else "y")
        if not logits.requires_grad:
            raise AttackConfigError("the model's logits carry no gradient w.r.t. its input: attacks need a "
                                    "differentiable model (does its forward run under torch.no_grad() or detach "
                                    "the output?)")
        loss = F.cross_entropy(logits, y, reduction="sum")
        (g,) = torch.autograd.grad(loss, xg, allow_unused=True)
    if g is None:  # logits that do not depend on the input at all
        return torch.zeros_like(x)
    return g.neg_() if targeted else g


def step_direction(g: torch.Tensor, norm: str) -> torch.Tensor:
    """The steepest-ascent direction of unit `norm` for gradient g."""
    return g.sign() if norm == "linf" else unit_l2(g)


def fgsm(model: Model, x: torch.Tensor, y: torch.Tensor, eps: float, *, norm: str = "linf", targeted: bool = False,
         random_start: bool = False, alpha: float | None = None,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al. 2015): one gradient step of size eps.

    linf: x + eps * sign(g), clamped to [0, 1] (bit for bit the textbook attack). l2, the "fast gradient
    method": x + eps * g / ||g||_2, projected onto the eps ball (a no-op but for rounding) and clamped. g is the
    input gradient of CE(model(x), y), ascended; with `targeted=True`, `y` holds target classes and the step
    descends CE(target).

    `random_start=True` is "FGSM-RS" of Wong et al. 2020 ("Fast is better than free"): start from a random
    point of the eps ball (see `random_in_ball`), step by `alpha` (default 1.25 * eps), project onto the eps
    ball around x and clamp. `alpha` also sets the step without a random start (default eps).

    Returns x_adv (detached, same shape as x) with |x_adv - x| <= eps (linf, per pixel; up to one float32
    rounding of x +- eps) or ||x_adv - x||_2 <= eps (l2, per image) and x_adv in [0, 1].
    """
    norm = check_norm(norm)
    x = check_images(x)
    y = check_labels(y, x.shape[0], "target" if targeted else "y")
    eps = check_eps(eps, norm, x)
    alpha = check_step(alpha)
    check_generator(generator, x.device)
    if alpha is None:
        alpha = 1.25 * eps if random_start else eps
    x0 = random_in_ball(x, eps, norm, generator) if random_start else x
    g = loss_gradient(model, x0, y, targeted, check=True)
    return project(x0 + alpha * step_direction(g, norm), x, eps, norm)


def _pgd_run(model: Model, x: torch.Tensor, y: torch.Tensor, x0: torch.Tensor, eps: float, alpha: float,
             steps: int, norm: str, targeted: bool, check: bool) -> torch.Tensor:
    x_adv = x0
    for i in range(steps):
        g = loss_gradient(model, x_adv, y, targeted, check=check and i == 0)
        x_adv = project(x_adv + alpha * step_direction(g, norm), x, eps, norm)
    return x_adv


def pgd(model: Model, x: torch.Tensor, y: torch.Tensor, eps: float, *, norm: str = "linf",
        alpha: float | None = None, steps: int = 40, restarts: int = 1, random_start: bool = True,
        targeted: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected gradient descent (Madry et al. 2018): `steps` steps of size `alpha` (default 2.5 * eps /
    steps, so that the walk can cross the ball from a random start), each followed by projection onto the eps
    ball around x and clamping to [0, 1].

    linf steps by alpha * sign(g); l2 by alpha * g / ||g||_2. The start is a random point of the ball (linf:
    uniform per pixel; l2: uniform direction, radius uniform in [0, eps]) unless `random_start=False`.

    `restarts` > 1 runs the attack again from fresh random starts and keeps, per image, the first restart whose
    result succeeds (misclassified; with `targeted=True`, classified as the target in `y`), else the one with
    the highest loss (targeted: the lowest), earliest on ties. Later restarts run only on the images not yet
    fooled; the random starts are drawn for the whole batch every restart, so the result is the same as running
    every restart on every image (up to the float rounding of kernels that differ with the batch size), and a
    generator is advanced by the same amount whatever the outcome.

    Returns x_adv, detached, within the eps ball around x and in [0, 1].
    """
    norm = check_norm(norm)
    x = check_images(x)
    y = check_labels(y, x.shape[0], "target" if targeted else "y")
    eps = check_eps(eps, norm, x)
    steps = check_positive_int(steps, "steps")
    restarts = check_positive_int(restarts, "restarts")
    alpha = check_step(alpha)
    check_generator(generator, x.device)
    if restarts > 1 and not random_start:
        raise AttackConfigError(f"restarts={restarts} needs random_start=True: without a random start every restart "
                                "is the same attack")
    if alpha is None:
        alpha = 2.5 * eps / steps

    best = best_score = done = None
    for r in range(restarts):
        x0 = random_in_ball(x, eps, norm, generator) if random_start else x
        if r == 0:
            adv = _pgd_run(model, x, y, x0, eps, alpha, steps, norm, targeted, check=True)
            if restarts == 1:
                return adv
            best, best_score, done = adv, *_outcome(model, adv, y, targeted)
            continue
        active = (~done).nonzero().squeeze(1)
        if active.numel() == 0:
            continue  # keep drawing the starts: the generator's state should not depend on the outcome
        adv = _pgd_run(model, x[active], y[active], x0[active], eps, alpha, steps, norm, targeted, check=False)
        score, hit = _outcome(model, adv, y[active], targeted)
        better = hit | (score > best_score[active])
        keep = active[better]
        best[keep] = adv[better]
        best_score[keep] = score[better]
        done[active[hit]] = True
    return best


@torch.no_grad()
def _outcome(model: Model, x_adv: torch.Tensor, y: torch.Tensor, targeted: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(score, success) per image: the attacker's objective (higher is better) and whether it fooled the model."""
    logits = model(x_adv)
    loss = F.cross_entropy(logits.float(), y, reduction="none")
    pred = logits.argmax(1)
    if targeted:
        return -loss, pred == y
    return loss, pred != y
