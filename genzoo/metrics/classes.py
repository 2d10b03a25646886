"""Metrics on the domain classifier's predictions for samples: Inception-style score, class
histogram KL, conditional accuracy, mode counting.

All take logits (N x K) or predicted classes (N) from a feature network (see `features.py`).
"""

from __future__ import annotations

import torch


def inception_score(logits: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))), mean and std over `splits` consecutive splits.

    Salimans et al. 2016, "Improved Techniques for Training GANs", Sec. 4 (and their code: 10 splits,
    numpy std, i.e. ddof 0); here p(y|x) comes from the dataset's own classifier. It ranges from 1
    (every sample equally ambiguous, or all of one class) to K (confident and class-balanced).
    """
    log_p = logits.detach().double().log_softmax(1)  # N x K
    scores = []
    for part in log_p.chunk(splits):
        log_py = part.exp().mean(0).log()  # marginal p(y) of the split
        kl = (part.exp() * (part - log_py)).sum(1).mean()
        scores.append(kl.exp())
    s = torch.stack(scores)
    return float(s.mean()), float(s.std(unbiased=False))


def histogram(classes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Normalised class histogram (float64, sums to 1)."""
    counts = torch.bincount(classes.reshape(-1).long(), minlength=num_classes).double()
    return counts / counts.sum().clamp(min=1)


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p || q) of two histograms; terms with p = 0 are 0, q = 0 where p > 0 gives inf."""
    mask = p > 0
    return float((p[mask] * (p[mask].log() - q[mask].log())).sum())


def class_kl(pred_fake: torch.Tensor, real_hist: torch.Tensor) -> float:
    """KL(sample class histogram || real class histogram): 0 when the class mix is right; dropping one of
    10 equally frequent classes (the rest equally) gives log(10/9) = 0.105."""
    return kl_divergence(histogram(pred_fake, len(real_hist)), real_hist)


def conditional_accuracy(pred: torch.Tensor, requested: torch.Tensor) -> float:
    """Fraction of conditional samples the classifier assigns to the label they were asked for."""
    return float((pred.reshape(-1) == requested.reshape(-1).to(pred.device)).double().mean())


def mode_counts(pred: torch.Tensor, num_modes: int) -> dict[str, float]:
    """Modes (classes) hit by at least one sample, and KL(sample histogram || uniform).

    Stacked MNIST (Metz et al. 2017, "Unrolled GANs", Sec. 3.3.1; Srivastava et al. 2017, VEEGAN,
    Table 2): 1000 modes, KL to the uniform distribution over them.
    """
    p = histogram(pred, num_modes)
    return {"modes": int((p > 0).sum()),
            "modes_kl": kl_divergence(p, torch.full_like(p, 1.0 / num_modes)),
            "modes_total": num_modes}

