"""Adversarial training for classifiers: FGSM with a random start (Wong et al. 2020, "Fast is better than
free") and PGD (Madry et al. 2018), an eps ramp, and the check for catastrophic overfitting.

Attacks see images in [0, 1] (budgets are quoted on that scale in every paper); `pixel_view` maps them into
the model's input range. Catastrophic overfitting (Wong et al. 2020, section 5) is FGSM training suddenly
learning to mask its own one-step attack: FGSM accuracy stays high while multi-step PGD accuracy falls
far below the best it had reached. Each evaluation scores both on `adv_eval_n` images and flags that; best.pt
follows PGD accuracy (on a validation split), so the kept weights are those from before the collapse. Early
in training PGD accuracy is low anyway, which is why the drop from the best so far is what counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from genzoo import attacks
from genzoo.data.imageset import from_unit, to_unit
from genzoo.nn import eval_mode

# PGD accuracy below this fraction of its best so far (which must have reached COLLAPSE_FROM), and below FGSM
# accuracy by at least this gap
COLLAPSE_RATIO, COLLAPSE_GAP, COLLAPSE_FROM = 0.5, 0.2, 0.3


def default_eps(spec) -> float:
    """The usual L-inf budget of the literature for this data: MNIST 0.3, Fashion-MNIST 0.1, colour 8/255."""
    if spec.channels == 3:
        return 8 / 255
    return 0.1 if "fashion" in spec.name else 0.3


def pixel_view(net: torch.nn.Module, input_range: tuple[float, float]) -> Callable[[torch.Tensor], torch.Tensor]:
    """`net` as a function of images in [0, 1]."""
    return lambda x01: net(from_unit(x01, input_range))


def collapsed(fgsm_accuracy: float, pgd_accuracy: float, best_pgd_accuracy: float) -> bool:
    """The signature of catastrophic overfitting: PGD accuracy has fallen to under half its best while FGSM
    accuracy stays well above it."""
    return best_pgd_accuracy >= COLLAPSE_FROM and pgd_accuracy < COLLAPSE_RATIO * best_pgd_accuracy and \
        fgsm_accuracy - pgd_accuracy > COLLAPSE_GAP


class AdversarialTraining:
    """Mixin for a Model with `net`, `cfg.adv*` options, `input_range` and `total_steps`."""

    @property
    def adv_eps(self) -> float:
        return self.cfg.adv_eps or default_eps(self.spec)

    def eps_at(self, step: int) -> float:
        ramp = self.cfg.adv_ramp * self.total_steps
        return self.adv_eps * min(1.0, (step + 1) / ramp) if ramp >= 1 else self.adv_eps

    def adversarial_batch(self, x: torch.Tensor, y: torch.Tensor, step: int) -> tuple[torch.Tensor, dict[str, Any]]:
        """Adversarial versions of the training batch `x` (model range) and figures to log."""
        cfg, eps = self.cfg, self.eps_at(step)
        self.ramp_done = eps >= self.adv_eps
        x01 = to_unit(x.float(), self.input_range).clamp(0, 1)
        f = pixel_view(self.net, self.input_range)
        if cfg.adv == "fgsm":
            alpha = (cfg.adv_alpha or 1.25) * eps
            adv = attacks.fgsm(f, x01, y, eps, random_start=True, alpha=alpha)
        else:
            alpha = (cfg.adv_alpha or 2.5 / cfg.adv_steps) * eps
            adv = attacks.pgd(f, x01, y, eps, alpha=alpha, steps=cfg.adv_steps)
        adv = from_unit(adv, self.input_range).to(x.dtype).contiguous(memory_format=torch.channels_last)
        return adv, {"adv_eps": eps}

    def robust_figures(self, data) -> dict[str, Any]:
        """FGSM and PGD-10 accuracy at the full budget on the first `adv_eval_n` images of `data`."""
        n = min(self.cfg.adv_eval_n, len(data))
        if n == 0:
            return {}
        eps = self.adv_eps
        f = pixel_view(self.net, self.input_range)
        hits = {"fgsm": 0, "pgd": 0}
        seen = 0
        g = torch.Generator(device=self.device).manual_seed(0)  # the same random starts at every evaluation
        with eval_mode(self):
            for images, labels, _ in data.iter_ordered(min(500, n)):
                images, labels = images[:n - seen], labels[:n - seen].to(self.device)
                x01 = images.to(self.device).float() / 255
                for name, adv in (("fgsm", attacks.fgsm(f, x01, labels, eps)),
                                  ("pgd", attacks.pgd(f, x01, labels, eps, alpha=eps / 4, steps=10, generator=g))):
                    with torch.no_grad():
                        hits[name] += int((f(adv).argmax(1) == labels).sum())
                seen += len(labels)
                if seen >= n:
                    break
        fgsm_acc, pgd_acc = hits["fgsm"] / seen, hits["pgd"] / seen
        best = max(getattr(self, "best_pgd_accuracy", 0.0), pgd_acc)
        self.best_pgd_accuracy = best
        res = {"fgsm_accuracy": fgsm_acc, "pgd_accuracy": pgd_acc, "robust_eps": eps,
               # during the eps ramp the net has not yet trained at the budget it is scored at
               "catastrophic_overfitting": float(getattr(self, "ramp_done", True) and collapsed(fgsm_acc, pgd_acc,
                                                                                               best))}
        if res["catastrophic_overfitting"]:
            self.notes.append(f"catastrophic overfitting: FGSM accuracy {fgsm_acc:.3f} but PGD-10 accuracy "
                              f"{pgd_acc:.3f} (best so far {best:.3f}) at eps {eps:.3g} (Wong et al. 2020); "
                              "best.pt keeps the weights of the best PGD accuracy on a validation split "
                              "(--set train.val_fraction=0.1); adv_ramp=0.3, a smaller adv_alpha or adv=pgd "
                              "avoid it")
        return res
