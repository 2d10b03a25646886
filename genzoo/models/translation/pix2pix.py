"""pix2pix: Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks".

A U-Net generator G(x) and a PatchGAN discriminator D(x, y) that sees the input beside a real or generated
output (a conditional GAN), trained on paired data with the conditional GAN loss plus lambda L1(y, G(x))
(Eq. 4, lambda = 100). The paper's setting: Adam 2e-4, betas (0.5, 0.999), batch size 1-10, D's objective
halved ("we divide the objective by 2 while optimizing D"), dropout as G's only noise, a 70x70 PatchGAN on
256x256 images.

Deliberate differences, for 28x28 and 32x32 images on a CPU: the U-Net halves while the side stays even and at
least 4 (2 or 3 times instead of 8) and starts at 32 channels (paper 64); the PatchGAN has one stride-2 layer
(16x16 patches, `d_layers=3` is the paper's 70x70) and 32 channels; batch size 32 with batchnorm (the paper's
batch size 1 makes batchnorm instance normalisation; `norm=instance` gives that). Evaluation and `genzoo sample`
run G in eval mode (dropout off, batchnorm's running statistics); the paper keeps dropout on at test time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from genzoo.config import field
from genzoo.data.imageset import Batch, DataSpec
from genzoo.losses import d_loss_bce, d_loss_lsgan, g_loss_lsgan, g_loss_nonsaturating, l1_loss
from genzoo.models.translation.base import Translator, check_translation_spec
from genzoo.models.translation.networks import Norm, UNet, patch_discriminator, unet_depth
from genzoo.nn import init_weights_
from genzoo.registry import register


@dataclass
class Pix2PixConfig:
    g_width: int = field(32, "U-Net channels of the first layer (doubling per halving, at most 8x; paper 64)", ge=1)
    d_width: int = field(32, "PatchGAN channels of the first layer (paper 64)", ge=1)
    unet_depth: int = field(0, "U-Net halvings (0 = as many as keep the side even and >= 4: 28 -> 2, 32 -> 3)",
                            ge=0)
    d_layers: int = field(1, "PatchGAN stride-2 layers: 1 = 16x16 patches, 2 = 34x34, 3 = 70x70 (the paper's)",
                          ge=1, le=5)
    norm: Norm = field("batch", "normalisation in G and D: batch, instance (the paper's batch size 1) or none")
    dropout: float = field(0.5, "dropout in the innermost decoder layers (pix2pix's noise)", ge=0, lt=1)
    l1_weight: float = field(100.0, "lambda of the L1 term (paper: 100; 0 = the cGAN alone)", ge=0)
    gan_weight: float = field(1.0, "weight of the adversarial term (0 = L1 regression alone, the paper's L1 row)",
                              ge=0)
    loss: Literal["nonsaturating", "lsgan"] = field("nonsaturating", "adversarial objective on each patch")
    lr_g: float = field(2e-4, "generator learning rate", gt=0)
    lr_d: float = field(2e-4, "discriminator learning rate", gt=0)
    betas: tuple[float, float] = field((0.5, 0.999), "Adam betas", ge=0, lt=1)


@register("pix2pix", config=Pix2PixConfig, family="translation",
          description="pix2pix (Isola et al. 2017): U-Net + PatchGAN conditional GAN with an L1 term, on paired data",
          train_defaults={"steps": 3000, "batch_size": 32, "sample_every": 500, "precision": "fp32"})
class Pix2Pix(Translator):
    """pix2pix: a conditional GAN with an L1 term that learns a paired translation A -> B."""

    def __init__(self, cfg: Pix2PixConfig, spec: DataSpec):
        check_translation_spec(spec, "pix2pix", paired=True)
        super().__init__(cfg, spec)
        depth = unet_depth(spec.height, spec.width, cfg.unet_depth)
        self.generator_ab = UNet(spec.source_channels, spec.channels, cfg.g_width, depth, cfg.norm, cfg.dropout)
        self.discriminator = patch_discriminator(spec.source_channels + spec.channels, cfg.d_width, cfg.d_layers,
                                                 cfg.norm)
        init_weights_(self, "normal")  # N(0, 0.02), as pix2pix's code

    def configure_optimizers(self, total_steps: int) -> None:
        c = self.cfg
        self.optimizers = {"g": torch.optim.Adam(self.generator_ab.parameters(), c.lr_g, betas=c.betas),
                           "d": torch.optim.Adam(self.discriminator.parameters(), c.lr_d, betas=c.betas)}

    def critic(self, source: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """Patch scores of D for (input, output) pairs: N x 1 x h x w."""
        return self.discriminator(torch.cat([source, image], 1))

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        c, x, y = self.cfg, batch.src, batch.x
        fake = self.generator_ab(x)
        logs = {}
        if c.gan_weight > 0:
            real_s, fake_s = self.critic(x, y), self.critic(x, fake.detach())
            d_loss = 0.5 * (d_loss_bce(real_s, fake_s) if c.loss == "nonsaturating" else d_loss_lsgan(real_s, fake_s))
            self.optimize("d", d_loss)
            logs["loss_d"] = d_loss.detach()
        adv = torch.zeros((), device=y.device)
        if c.gan_weight > 0:
            s = self.critic(x, fake)
            adv = g_loss_nonsaturating(s) if c.loss == "nonsaturating" else g_loss_lsgan(s)
        l1 = l1_loss(fake, y)
        self.optimize("g", c.gan_weight * adv + c.l1_weight * l1)
        return {**logs, "loss_g": adv.detach(), "l1": l1.detach()}
