"""Losses of text-to-image GANs (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis", GAN-INT-CLS),
as pure functions of discriminator logits and of the batch's captions.

The matching-aware discriminator (GAN-CLS, Sec. 4.2, Algorithm 1) sees three kinds of (image, text) pairs: a real
image with its own caption {real, right text} -> s_r, a real image with another image's caption {real, wrong
text} -> s_w, and a generated image with the caption it was made for {fake, right text} -> s_f. It minimises

    L_D = -log D(s_r) - (log(1 - D(s_w)) + log(1 - D(s_f))) / 2,

so it must judge whether the text matches the image, not only whether the image looks real. The wrong captions come
from the same batch (`mismatched`), rolled so that, where the batch allows, each image gets a caption of another
class. GAN-INT (Sec. 4.3) adds to the generator's loss the non-saturating loss of images made for interpolated text
embeddings beta * t1 + (1 - beta) * t2 (`interpolate_embeddings`, beta = 1/2 in the paper).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["d_loss_cls", "mismatched", "interpolate_embeddings"]


def d_loss_cls(real_right: torch.Tensor, real_wrong: torch.Tensor, fake_right: torch.Tensor,
               real_target: float = 1.0) -> torch.Tensor:
    """GAN-CLS discriminator loss (Reed et al. 2016, Algorithm 1, line 10) from logits (N each):
    softplus(-s_r) + (softplus(s_w) + softplus(s_f)) / 2, each term a mean over its pairs.

    log D = -softplus(-l) and log(1 - D) = -softplus(l) for D = sigmoid(l). `real_target` < 1 is one-sided
    label smoothing of the {real, right text} term, as `d_loss_bce`. At logits 0 everywhere the loss is 2 log 2.
    """
    t = real_target
    real = F.softplus(-real_right) if t == 1.0 else t * F.softplus(-real_right) + (1 - t) * F.softplus(real_right)
    return real.mean() + 0.5 * (F.softplus(real_wrong).mean() + F.softplus(fake_right).mean())


def mismatched(keys: torch.Tensor) -> torch.Tensor:
    """For a batch whose rows have `keys` (N labels, or N x L caption ids), the index of a partner for every row:
    the nearest row after it (cyclically: i + 1, i + 2, ...) whose key differs, or i + 1 when every row has the
    same key. `text[mismatched(labels)]` are the batch's captions rolled so each image gets another class's
    caption wherever the batch holds one (GAN-CLS's {real image, wrong text} pairs); a deterministic function of
    the batch, so it needs no random numbers."""
    n = keys.shape[0]
    if n < 2:
        return torch.zeros(n, dtype=torch.long, device=keys.device)
    shifts = torch.arange(1, n, device=keys.device)  # S = N - 1 candidate shifts
    partner = (torch.arange(n, device=keys.device)[:, None] + shifts[None]) % n  # N x S
    flat = keys.reshape(n, -1)
    differs = (flat[partner] != flat[:, None]).any(-1)  # N x S: does the partner at that shift have another key
    first = torch.where(differs.any(1), differs.float().argmax(1), torch.zeros(n, dtype=torch.long,
                                                                                device=keys.device))
    return partner[torch.arange(n, device=keys.device), first]


def interpolate_embeddings(a: torch.Tensor, b: torch.Tensor, beta: float = 0.5) -> torch.Tensor:
    """GAN-INT's text embeddings beta * a + (1 - beta) * b (Reed et al. 2016, Eq. 5; beta = 0.5 in the paper)."""
    return beta * a + (1.0 - beta) * b
