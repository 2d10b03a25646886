"""CycleGAN: Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks".

Two generators, G: A -> B and F: B -> A, two PatchGAN discriminators D_B and D_A, trained on unpaired data with
the least-squares GAN objective on each side (Sec. 4), the cycle-consistency loss lambda (||F(G(a)) - a||_1 +
||G(F(b)) - b||_1) with lambda = 10 (Eq. 2-3), the identity loss 0.5 lambda (||G(b) - b||_1 + ||F(a) - a||_1,
Sec. 5.2), and each discriminator shown a pool of the last 50 generated images (after Shrivastava et al. 2017),
D's objective halved. Adam 2e-4, betas (0.5, 0.999), the learning rate constant for the first half of training
and then decayed linearly to 0 (the paper: 100 + 100 epochs).

Deliberate differences, for 28x28 and 32x32 images on a CPU: the generators are pix2pix's U-Nets without dropout
(`generator=resnet` gives the paper's ResNet generators, here with 32 channels in the first layer, paper 64, and 4
residual blocks, paper 6 at 128x128 and 9 at 256x256): in 2 minutes on MNIST -> MNIST-M the U-Net made 2,094 steps
and kept the digit's class in 67% of translations (FID 27.7), the ResNet 326 steps and 11% (FID 54.2; at width 16,
732 steps and 22%), bench/translation.py on 2 CPU cores; the skip connections hand the input's strokes to the output.
The PatchGANs have one stride-2 layer (16x16 patches; `d_layers=3` is the paper's 70x70) and 32 channels; batch size
16 (paper 1) with instance normalisation as in the paper. The identity loss needs both domains to have the same
number of channels; where they differ (MNIST -> MNIST-M, grey -> colour) it is left out and the model says so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch

from genzoo.config import field
from genzoo.data.imageset import Batch, DataSpec, ImageSet
from genzoo.losses import cycle_consistency_loss, d_loss_lsgan, g_loss_lsgan, l1_loss
from genzoo.metrics import EvalOptions
from genzoo.models.translation.base import Translator, check_translation_spec, source_domain
from genzoo.models.translation.networks import Norm, UNet, patch_discriminator, resnet_generator, unet_depth
from genzoo.nn import ReplayBuffer, init_weights_
from genzoo.registry import register


@dataclass
class CycleGANConfig:
    generator: Literal["resnet", "unet"] = field("unet", "generator: unet (pix2pix's; genzoo's CPU default) or resnet "
                                                         "(the paper's)")
    g_width: int = field(32, "channels of the generators' first layer (paper 64)", ge=1)
    g_blocks: int = field(4, "residual blocks of the ResNet generators (paper: 6 at 128x128, 9 at 256x256)", ge=0)
    d_width: int = field(32, "PatchGAN channels of the first layer (paper 64)", ge=1)
    d_layers: int = field(1, "PatchGAN stride-2 layers: 1 = 16x16 patches, 3 = 70x70 (the paper's)", ge=1, le=5)
    norm: Norm = field("instance", "normalisation in G and D: instance (the paper's), batch or none")
    cycle_weight: float = field(10.0, "lambda of the cycle-consistency loss", ge=0)
    identity_weight: float = field(0.5, "identity loss weight as a fraction of lambda (paper 0.5; 0 = off); left "
                                        "out where the domains' channel counts differ", ge=0)
    pool: int = field(50, "images in each discriminator's pool of past translations (0 = off)", ge=0)
    lr: float = field(2e-4, "learning rate of all four networks", gt=0)
    betas: tuple[float, float] = field((0.5, 0.999), "Adam betas", ge=0, lt=1)
    decay_from: float = field(0.5, "fraction of training after which the learning rate decays linearly to 0",
                              ge=0, le=1)


@register("cyclegan", config=CycleGANConfig, family="translation",
          description="CycleGAN (Zhu et al. 2017): two generators and two PatchGANs with cycle consistency, on "
                      "unpaired data",
          train_defaults={"steps": 3000, "batch_size": 16, "sample_every": 500, "precision": "fp32"})
class CycleGAN(Translator):
    """CycleGAN: G: A -> B and F: B -> A learnt from unpaired images by cycle consistency."""

    directions = ("ab", "ba")

    def __init__(self, cfg: CycleGANConfig, spec: DataSpec):
        check_translation_spec(spec, "cyclegan", paired=False)
        super().__init__(cfg, spec)
        a, b = spec.source_channels, spec.channels
        self.generator_ab = self._generator(a, b)
        self.generator_ba = self._generator(b, a)
        self.discriminator_b = patch_discriminator(b, cfg.d_width, cfg.d_layers, cfg.norm)
        self.discriminator_a = patch_discriminator(a, cfg.d_width, cfg.d_layers, cfg.norm)
        init_weights_(self, "normal")  # N(0, 0.02), as CycleGAN's code
        self.identity = cfg.identity_weight > 0 and a == b
        if cfg.identity_weight > 0 and a != b:
            self.notes.append(f"identity loss left out: domain A has {a} channel(s), domain B {b}")
        self.pool_a = ReplayBuffer(cfg.pool, self.source_shape) if cfg.pool else None
        self.pool_b = ReplayBuffer(cfg.pool, spec.shape) if cfg.pool else None

    def _generator(self, c_in: int, c_out: int) -> torch.nn.Module:
        c, s = self.cfg, self.spec
        if c.generator == "unet":
            return UNet(c_in, c_out, c.g_width, unet_depth(s.height, s.width), c.norm, dropout=0.0)
        return resnet_generator(c_in, c_out, c.g_width, c.g_blocks, c.norm, s.height, s.width)

    def configure_optimizers(self, total_steps: int) -> None:
        c = self.cfg
        gens = [*self.generator_ab.parameters(), *self.generator_ba.parameters()]
        discs = [*self.discriminator_a.parameters(), *self.discriminator_b.parameters()]
        self.optimizers = {"g": torch.optim.Adam(gens, c.lr, betas=c.betas),
                           "d": torch.optim.Adam(discs, c.lr, betas=c.betas)}
        start = int(c.decay_from * total_steps)

        def factor(step: int) -> float:  # constant, then linear to 0 at the last step
            return 1.0 if step < start else max(0.0, 1.0 - (step - start) / max(1, total_steps - start))

        self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, factor) for k, o in self.optimizers.items()}

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        c, a, b = self.cfg, batch.src, batch.x
        fake_b, fake_a = self.generator_ab(a), self.generator_ba(b)
        # generators: fool both discriminators, keep the cycles (and the identities)
        adv = g_loss_lsgan(self.discriminator_b(fake_b)) + g_loss_lsgan(self.discriminator_a(fake_a))
        cycle = cycle_consistency_loss(a, self.generator_ba(fake_b), b, self.generator_ab(fake_a))
        loss_g = adv + c.cycle_weight * cycle
        logs = {"loss_g": adv.detach(), "cycle": cycle.detach()}
        if self.identity:
            identity = l1_loss(self.generator_ab(b), b) + l1_loss(self.generator_ba(a), a)
            loss_g = loss_g + c.identity_weight * c.cycle_weight * identity
            logs["identity"] = identity.detach()
        self.optimize("g", loss_g)
        # discriminators: real against pooled translations, the objective halved
        pooled_b = self.pool_b.mix(fake_b) if self.pool_b is not None else fake_b.detach()
        pooled_a = self.pool_a.mix(fake_a) if self.pool_a is not None else fake_a.detach()
        loss_d = 0.5 * (d_loss_lsgan(self.discriminator_b(b), self.discriminator_b(pooled_b))
                        + d_loss_lsgan(self.discriminator_a(a), self.discriminator_a(pooled_a)))
        self.optimize("d", loss_d)
        return {**logs, "loss_d": loss_d.detach()}

    # ---- evaluation: both directions and the cycles ---------------------------------------------------
    def more_figures(self, data: ImageSet, out: torch.Tensor, opts: EvalOptions, batch_size: int) -> dict:
        """Besides the A -> B figures (Translator.evaluate): B -> A against the real sources (keys `*_ba`) and the
        cycle errors (mean absolute error on [0, 1] of F(G(a)) against a, and of G(F(b)) against b)."""
        fake_a = self.translate_uint8(data.images, "ba", batch_size)
        reverse = ImageSet(data.sources, data.source_labels, name=source_domain(data.name))
        # the reverse direction's figures are extras: a source domain without a feature network skips them
        figures = self.output_figures(fake_a, reverse, dataclasses.replace(opts, strict=False), labels=data.labels,
                                      suffix="_ba")
        cycled_a = self.translate_uint8(out, "ba", batch_size)
        cycled_b = self.translate_uint8(fake_a, "ab", batch_size)
        figures["cycle_l1_a"] = float((cycled_a.double() - data.sources.double()).abs().mean() / 255)
        figures["cycle_l1_b"] = float((cycled_b.double() - data.images.double()).abs().mean() / 255)
        return figures
