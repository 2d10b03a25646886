"""Losses of image-to-image translation, as pure functions of images (any shape; means over every element).

pix2pix (Isola et al. 2017, Eq. 3): L_L1(G) = E ||y - G(x, z)||_1, added with weight lambda (100) to the
conditional GAN loss. CycleGAN (Zhu et al. 2017, Eq. 2): L_cyc(G, F) = E ||F(G(x)) - x||_1 + E ||G(F(y)) - y||_1;
its identity loss (Sec. 5.2, after Taigman et al. 2017) is E ||G(y) - y||_1 + E ||F(x) - x||_1. The adversarial
terms are the GAN objectives of `genzoo.losses.gan`, applied to every patch score of a PatchGAN.
"""

from __future__ import annotations

import torch

__all__ = ["l1_loss", "cycle_consistency_loss"]


def l1_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference: pix2pix's L1 term, and one side of CycleGAN's identity loss."""
    return (output - target).abs().mean()


def cycle_consistency_loss(a: torch.Tensor, a_cycled: torch.Tensor, b: torch.Tensor,
                           b_cycled: torch.Tensor) -> torch.Tensor:
    """CycleGAN's Eq. 2: ||F(G(a)) - a||_1 + ||G(F(b)) - b||_1, each a mean over its images' pixels."""
    return l1_loss(a_cycled, a) + l1_loss(b_cycled, b)
