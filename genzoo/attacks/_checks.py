"""Argument checks shared by the attacks: each error names the problem and the fix."""

from __future__ import annotations

import math

import torch

from genzoo.errors import ConfigError

NORMS = ("linf", "l2")

# Slack for inputs that left [0, 1] only by float rounding (e.g. x * 0.5 + 0.5 of an image in [-1, 1]).
RANGE_SLACK = 1e-6


class AttackConfigError(ConfigError, ValueError):
    """A bad attack argument. A ValueError (what plain Python callers expect) and a genzoo ConfigError (which
    the CLI prints as a message rather than a traceback)."""


def check_norm(norm: str, allowed: tuple[str, ...] = NORMS) -> str:
    if norm not in allowed:
        choices = ", ".join(repr(n) for n in allowed)
        raise AttackConfigError(f"unknown norm {norm!r}: use one of {choices}")
    return norm


def check_images(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """x as a float batch in [0, 1] (values off by at most RANGE_SLACK are clamped back)."""
    if not isinstance(x, torch.Tensor):
        raise AttackConfigError(f"{name} must be a torch.Tensor of images (N x C x H x W), got {type(x).__name__}")
    if not x.is_floating_point():
        raise AttackConfigError(f"{name} must be a float tensor: attacks take images in [0, 1]; got {x.dtype} "
                                "(for uint8 pixels pass x.float() / 255)")
    if x.dim() < 2:
        raise AttackConfigError(f"{name} must be a batch (N x C x H x W), got shape {tuple(x.shape)}; add a batch "
                                "dimension with x.unsqueeze(0)")
    if x.numel():
        lo, hi = (float(v) for v in torch.aminmax(x.detach()))
        # NaN fails both comparisons, so it lands here too
        if not (lo >= -RANGE_SLACK and hi <= 1 + RANGE_SLACK):
            hint = " (uint8-scaled pixels: divide by 255)" if hi > 1.5 else ""
            raise AttackConfigError(f"attacks take images in [0, 1]; {name} has values in [{lo:.4g}, {hi:.4g}]"
                                    f"{hint}. Map the image range to [0, 1] and wrap the model so that it takes "
                                    "[0, 1] pixels")
        if lo < 0 or hi > 1:
            x = x.clamp(0, 1)
    return x.detach()


def check_labels(y: torch.Tensor, n: int, name: str = "y") -> torch.Tensor:
    if not isinstance(y, torch.Tensor):
        raise AttackConfigError(f"{name} must be a torch.Tensor of class indices, got {type(y).__name__}")
    if y.dtype.is_floating_point or y.dtype == torch.bool or y.is_complex():
        raise AttackConfigError(f"{name} must hold integer class indices (int64), got {y.dtype}; one-hot labels: "
                                f"pass {name}.argmax(1)")
    if y.shape != (n,):
        raise AttackConfigError(f"{name} must have shape ({n},): one class index per image, got shape "
                                f"{tuple(y.shape)}")
    return y.long()


def check_logits(logits: torch.Tensor, y: torch.Tensor, name: str = "y") -> None:
    """The model's output is N x K logits and every label indexes one of the K classes."""
    n = y.shape[0]
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[0] != n:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise AttackConfigError(f"the model must map N images to N x K logits; for N={n} it returned {shape}")
    if n:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= logits.shape[1]:
            bad = lo if lo < 0 else hi
            raise AttackConfigError(f"{name} holds class {bad} but the model has {logits.shape[1]} classes "
                                    f"(0..{logits.shape[1] - 1})")


def check_eps(eps: float, norm: str, x: torch.Tensor) -> float:
    if isinstance(eps, torch.Tensor):
        if eps.numel() != 1:
            raise AttackConfigError("eps must be one number for the whole batch, got a tensor of shape "
                                    f"{tuple(eps.shape)}")
        eps = eps.item()
    try:
        eps = float(eps)
    except (TypeError, ValueError):
        raise AttackConfigError(f"eps must be a number, got {eps!r}") from None
    if norm == "linf":
        if not 0 <= eps <= 1:
            raise AttackConfigError(f"eps must be in [0, 1] (pixels are scaled to [0, 1]); got {eps!r}")
    else:
        # the l2 ball is measured over all C*H*W pixels: its useful radius ends at the box's diagonal
        diag = math.sqrt(x[0].numel()) if x.shape[0] else 1.0
        if not 0 <= eps <= diag:
            raise AttackConfigError(f"eps must be in [0, {diag:.4g}] for norm='l2' (pixels are scaled to [0, 1], "
                                    f"so no l2 perturbation of a {tuple(x.shape[1:])} image is longer than "
                                    f"sqrt({x[0].numel()})); got {eps!r}")
    return eps


def check_positive_int(value: int, name: str, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AttackConfigError(f"{name} must be an integer >= 1, got {value!r}{hint}")
    return value


def check_step(alpha: float | None, name: str = "alpha") -> float | None:
    if alpha is None:
        return None
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise AttackConfigError(f"{name} (the step size) must be a number, got {alpha!r}") from None
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise AttackConfigError(f"{name} (the step size) must be a finite number >= 0, got {alpha:g}")
    return alpha


def check_generator(generator: torch.Generator | None, device: torch.device) -> None:
    if generator is not None and torch.device(generator.device).type != torch.device(device).type:
        raise AttackConfigError(f"the generator is on {generator.device} but the images are on {device}: create it "
                                f"with torch.Generator(device={str(device)!r})")
