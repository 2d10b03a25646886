"""Robust accuracy: the accuracy that survives an untargeted attack."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import torch

from genzoo.attacks._checks import AttackConfigError
from genzoo.attacks.gradient import Model, fgsm, pgd

UNTARGETED = {"fgsm": fgsm, "pgd": pgd}


def robust_accuracy(model: Model, batches: Iterable[tuple[torch.Tensor, ...]], attack: Callable | str,
                    **kw: Any) -> dict[str, float]:
    """Run the untargeted `attack(model, x, y, **kw)` (a function or a name in ATTACKS: "fgsm", "pgd") on every
    (x, y, ...) batch (uint8 images are divided by 255; extra items such as attributes are ignored).

    Returns {"clean": accuracy on x, "robust": fraction classified correctly on x AND on x_adv (an image
    the model already gets wrong is not attacked, as in RobustBench), "n": images, "seconds": wall time of
    the loop, attack and both evaluations included, "images_per_s": n / seconds}.
    """
    if isinstance(attack, str):
        if attack not in UNTARGETED:
            raise AttackConfigError(f"robust_accuracy runs an untargeted attack: use 'fgsm' or 'pgd' (or pass a "
                                    f"function), got {attack!r}")
        attack = UNTARGETED[attack]
    clean = robust = n = 0
    start = time.perf_counter()
    for batch in batches:
        x, y = batch[0], batch[1]
        if x.dtype == torch.uint8:
            x = x.float() / 255
        with torch.no_grad():
            ok = model(x).argmax(1) == y
        x_adv = attack(model, x, y, **kw)
        with torch.no_grad():
            ok_adv = model(x_adv).argmax(1) == y
        clean += int(ok.sum())
        robust += int((ok & ok_adv).sum())
        n += len(y)
    seconds = time.perf_counter() - start
    if n == 0:
        raise AttackConfigError("robust_accuracy got no images: `batches` yielded nothing")
    return {"clean": clean / n, "robust": robust / n, "n": n, "seconds": seconds,
            "images_per_s": n / seconds if seconds > 0 else float("inf")}
