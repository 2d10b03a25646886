"""BiGAN (Donahue, Krähenbühl & Darrell 2017, "Adversarial Feature Learning") = ALI (Dumoulin et al. 2017,
"Adversarially Learned Inference").

Besides the generator G: z -> x there is an encoder E: x -> z, and the discriminator judges pairs:
real (x, E(x)) against generated (G(z), z). The game (Eq. 1 of BiGAN / Eq. 2 of ALI)

    min_{G,E} max_D  E_x log D(x, E(x)) + E_z log(1 - D(G(z), z))

is optimal when the joint distributions match, which makes E the inverse of G (BiGAN, Theorem 2), so
E(x) is a learned feature of x and G(E(x)) a reconstruction. G and E are trained together with the
non-saturating (label-swapped) loss, as the authors' code.

Networks: G is the InfoGAN/BiGAN MNIST generator (FC 1024, 7x7x128, up-convs, `g_hidden=1024`); E is
the DCGAN discriminator body (4x4 convs 64, 128 with batchnorm, FC 1024) ending in a linear map to z;
D joins the same kind of image body with a z branch (FC 512, LeakyReLU) and a joint FC 1024 layer
before its output. Defaults: z 50-D ~ U(-1, 1), Adam 2e-4 beta1 0.5 (paper: 2e-4, beta1 0.5, batch 128,
weight decay 2.5e-5). Differs: conv nets on MNIST (the paper's MNIST nets are fully connected).

Evaluation: `feature_1nn_accuracy`, 1-nearest-neighbour classification by cosine distance on E(x), the
paper's MNIST figure (97.39%, Table 1). `evaluate` has only the evaluation split, so its first half
(seeded permutation) is the labelled database and the second half the queries; `reconstruction_mse`
of G(E(x)) in [0, 1] pixel units; FID etc. of the samples. `genzoo sample RUN --reconstruct` shows
G(E(x)) under test images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genzoo.config import ConfigError, field
from genzoo.data.imageset import Batch, DataSpec
from genzoo.losses import gan as L
from genzoo.metrics.retrieval import nearest_neighbours
from genzoo.models.gan.core import _CONV_TRAIN, _DCGAN, GAN, CriticOut, GANConfig
from genzoo.models.gan.networks import build_discriminator
from genzoo.nn import eval_mode, init_weights_
from genzoo.registry import register


@dataclass
class BiGANConfig(GANConfig):
    z_branch: int = field(512, "D: width of the dense layer on z", ge=1)
    joint_hidden: int = field(1024, "D: width of the dense layer on [image features, z features]", ge=1)

    def validate(self) -> None:
        super().validate()
        if self.diffaugment:
            raise ConfigError("bigan has no DiffAugment (D judges image and code pairs); set diffaugment to empty")


class JointDiscriminator(nn.Module):
    """D(x, z): image body -> F, z -> z_branch, concatenated -> joint_hidden -> 1 logit."""

    def __init__(self, cfg: BiGANConfig, shape: tuple[int, int, int], z_dim: int):
        super().__init__()
        self.x_net = build_discriminator(cfg.arch, shape, cfg.d_width, cfg.d_norm, 1, False, cfg.d_hidden).body
        x_dim = self.x_net(torch.zeros(2, *shape)).shape[1]
        self.z_net = nn.Sequential(nn.Linear(z_dim, cfg.z_branch), nn.LeakyReLU(0.2, inplace=True))
        self.joint = nn.Sequential(nn.Linear(x_dim + cfg.z_branch, cfg.joint_hidden), nn.LeakyReLU(0.2, inplace=True))
        self.head = nn.Linear(cfg.joint_hidden, 1)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.joint(torch.cat([self.x_net(x), self.z_net(z.to(x.dtype))], 1))  # N x joint_hidden
        return self.head(h)[:, 0], h


@register("bigan", config=BiGANConfig, family="gan",
          description="BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): encoder E, D on (x, z) pairs",
          preset={**_DCGAN, "g_hidden": 1024, "d_hidden": 1024, "z_dim": 50, "z_dist": "uniform"},
          train_defaults={**_CONV_TRAIN, "steps": 6000, "batch_size": 128})
class BiGAN(GAN):
    """GAN with an encoder, trained by a discriminator on (image, latent) pairs (see the module doc)."""

    def __init__(self, cfg: BiGANConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        # E: the image body of a discriminator, then a linear map to z
        body = build_discriminator(cfg.arch, spec.shape, cfg.d_width, cfg.d_norm, self.latent_dim, False, cfg.d_hidden)
        self.E = init_weights_(body, "normal" if cfg.init in ("auto", "normal") else cfg.init)

    def build_discriminator(self) -> nn.Module:
        return JointDiscriminator(self.cfg, self.spec.shape, self.latent_dim)

    def critic(self, x: torch.Tensor, z: torch.Tensor | None = None) -> CriticOut:
        score, h = self.D(x, z)
        return CriticOut(score, h, None)

    def configure_optimizers(self, total_steps: int) -> None:
        super().configure_optimizers(total_steps)
        self.optimizers["g"].add_param_group({"params": list(self.E.parameters())})  # G and E play together

    # ---- encoder ----------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] -> E(x), N x z_dim (eval mode)."""
        with torch.no_grad(), eval_mode(self.E):
            return self.E(x.to(self.device))[0].float()

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x)): the image the generator makes from x's code."""
        return self.decode(self.encode(x))

    # ---- training ---------------------------------------------------------------------------------
    def train_step(self, batch: Batch, step: int) -> dict[str, Any]:
        cfg = self.cfg
        g_turn = (step + 1) % cfg.n_critic == 0
        x = batch.x
        z = self.sample_latent(x.shape[0])
        with torch.set_grad_enabled(g_turn):
            fake = self.generate(z)
            ex = self.E(x)[0]  # N x z_dim
        real_out, fake_out = self.critic(x, ex.detach()), self.critic(fake.detach(), z)
        loss_d = L.d_loss_bce(real_out.score.float(), fake_out.score.float())
        norm_d = self._update("d", self.D, loss_d)
        logs = {"loss_d": loss_d.detach(), "d_real": real_out.score.detach().float().mean(),
                "d_fake": fake_out.score.detach().float().mean(), "grad_norm_d": norm_d}
        if g_turn:
            self.D.requires_grad_(False)
            try:
                # swapped labels: (x, E(x)) should look generated, (G(z), z) real (non-saturating)
                r, f = self.critic(x, ex).score.float(), self.critic(fake, z).score.float()
                loss_g = L.d_loss_bce(f, r)
                logs.update(loss_g=loss_g.detach(), grad_norm_g=self._update("g", self.G, loss_g))
            finally:
                self.D.requires_grad_(True)
            if self.G_ema is not None:
                self.G_ema.update(self.G)
        return logs

    # ---- evaluation -------------------------------------------------------------------------------
    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        codes, sq = [], 0.0
        for images, _, _ in data.iter_ordered(batch_size):
            x = self.prepare(images)
            z = self.encode(x)
            sq += float(((self.decode(z) - x) / 2).pow(2).sum())  # [-1, 1] -> [0, 1] units
            codes.append(z.cpu())
        codes = torch.cat(codes)
        res: dict[str, Any] = {"reconstruction_mse": sq / (len(codes) * math.prod(self.spec.shape))}
        if data.labels is not None and len(codes) >= 4:
            perm = torch.randperm(len(codes), generator=torch.Generator().manual_seed(0))
            db, q = perm[: len(perm) // 2], perm[len(perm) // 2:]
            unit = torch.nn.functional.normalize(codes, dim=1)
            nn_idx = nearest_neighbours(unit[q], unit[db], 1, "euclidean")[:, 0]  # cosine = euclidean on unit vectors
            res["feature_1nn_accuracy"] = float((data.labels[db][nn_idx] == data.labels[q]).float().mean())
        if getattr(self, "eval_options", None) is not None:
            res.update(self.sample_metrics(data))
        return res
