"""One configurable GAN and its presets: gan, dcgan, lsgan, wgan, wgan-gp, dragan, sngan.

Every choice is a config key (`genzoo list dcgan`): objective, penalty, architecture, widths,
critic steps per generator step, per-network learning rates (TTUR), betas, latent size and prior,
generator weight averaging (EMA) and the stabilising tricks. One training step is one discriminator
update; the generator is updated on every `n_critic`-th step (so `--steps` counts critic updates).

Extension points for conditional and other variants (subclass `GAN`):
- `g_input(z, labels)` / `generate(z, labels)`: what the generator sees (e.g. z with a one-hot label);
- `d_input(x, labels)` / `critic(x, labels) -> CriticOut(score, features, aux)`: what the
  discriminator sees and returns; `aux_dim` extra head outputs land in `aux` (ACGAN, InfoGAN);
- `fake_labels(n, labels)`: labels to generate a training batch with;
- `extra_d_loss(...)` / `extra_g_loss(...)`: auxiliary losses added to each side;
- `d_step` / `g_step` as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
from torch import nn

from genzoo.config import ConfigError, field
from genzoo.data.augment import random_crop, random_cutout
from genzoo.data.imageset import Batch, DataSpec
from genzoo.losses import gan as L
from genzoo.models.base import Model, sample_count
from genzoo.models.gan.networks import Arch, Norm, build_discriminator, build_generator
from genzoo.nn import EMA, ReplayBuffer, apply_spectral_norm, eval_mode, init_weights_
from genzoo.registry import register, register_preset, set_dataset_defaults

Loss = Literal["nonsaturating", "minimax", "lsgan", "wasserstein", "hinge"]
DIFFAUGMENTS = ("translation", "cutout")


@dataclass
class GANConfig:
    # networks
    arch: Arch = field("dcgan", "dcgan: conv nets; fc: dense nets (classic MNIST GAN); resnet: SNGAN ResNets")
    g_width: int = field(64, "generator width (dcgan: channels of the last hidden layer; fc: units/128 "
                             "scale; resnet: channels of every block)", ge=1)
    d_width: int = field(64, "discriminator width (dcgan: channels of the first layer)", ge=1)
    g_norm: Norm = field("batch", "generator normalisation: batch, layer or none")
    d_norm: Norm = field("batch", "discriminator normalisation: batch, layer (gradient penalties) or none")
    g_hidden: int = field(0, "dcgan: a dense layer of this size between z and the first conv (0 = none; "
                             "InfoGAN's MNIST nets: 1024)", ge=0)
    d_hidden: int = field(0, "dcgan: a dense layer of this size before D's output (0 = none)", ge=0)
    spectral_norm: bool = field(False, "spectral normalisation on every discriminator layer (SNGAN)")
    minibatch_std: bool = field(False, "append the minibatch standard deviation to D's features (ProGAN)")
    init: Literal["auto", "normal", "xavier", "default"] = field(
        "auto", "weight init: normal = N(0, 0.02) (DCGAN), xavier, default (PyTorch); auto: xavier for "
                "resnet, normal otherwise")
    z_dim: int = field(100, "latent size", ge=1)
    z_dist: Literal["normal", "uniform"] = field("normal", "latent prior: N(0, I) or U[-1, 1]")
    # objective
    loss: Loss = field("nonsaturating", "nonsaturating, minimax, lsgan, wasserstein or hinge")
    penalty: Literal["none", "gp", "dragan", "r1"] = field(
        "none", "gradient penalty on D: gp (WGAN-GP), dragan, r1")
    penalty_weight: float = field(10.0, "lambda of gp/dragan; gamma of r1 (the loss adds gamma/2 * R1)", ge=0)
    clip: float = field(0.0, "WGAN weight clipping: clamp D's weights to [-clip, clip] (0 = off)", ge=0)
    n_critic: int = field(1, "discriminator updates per generator update", ge=1)
    # optimisation
    optimizer: Literal["adam", "rmsprop"] = field("adam", "adam or rmsprop (WGAN)")
    lr_g: float = field(2e-4, "generator learning rate", gt=0)
    lr_d: float = field(2e-4, "discriminator learning rate (TTUR: set it higher than lr_g)", gt=0)
    betas: tuple[float, float] = field((0.5, 0.999), "Adam betas", ge=0, lt=1)
    ema: float = field(0.0, "decay of the generator weight average used for sampling (0 = off, e.g. 0.999)", ge=0, lt=1)
    ema_start: int = field(0, "generator updates before the average starts (it copies until then)", ge=0)
    # stabilising tricks
    label_smoothing: float = field(0.0, "one-sided label smoothing: real target 1 - s (e.g. 0.1)", ge=0, lt=0.5)
    replay: int = field(0, "historical replay: buffer of this many past fakes, half of D's fakes from it "
                           "(0 = off)", ge=0)
    feature_matching: bool = field(False, "generator matches mean D features of real data instead of the "
                                          "adversarial loss")
    separate_batches: bool = field(True, "real and fake batches through D separately (own batchnorm "
                                         "statistics); false: one concatenated batch")
    instance_noise: float = field(0.0, "std of Gaussian noise added to D's inputs, annealed linearly to 0 "
                                       "over training (0 = off)", ge=0)
    grad_clip: float = field(0.0, "clip each network's gradient norm to this (0 = off)", ge=0)
    diffaugment: str = field("", "DiffAugment (Zhao et al. 2020): differentiable augmentations of every image D "
                                 "sees, real and fake, in both updates; comma-separated of translation (up to 1/8 "
                                 "of the size), cutout (a square of half the size); empty = off")

    def validate(self) -> None:
        if (self.g_hidden or self.d_hidden) and self.arch != "dcgan":
            raise ConfigError(f"g_hidden and d_hidden are dense layers of the dcgan nets; arch={self.arch} has "
                              "none, set them to 0")
        if self.label_smoothing and self.loss not in ("nonsaturating", "minimax", "lsgan"):
            raise ConfigError(f"label_smoothing applies to the nonsaturating, minimax and lsgan losses, not "
                              f"{self.loss}; set label_smoothing=0")
        if self.replay == 1:
            raise ConfigError("replay must be 0 (off) or a buffer size of at least 2 images")
        unknown = [a for a in self.augmentations if a not in DIFFAUGMENTS]
        if unknown:
            raise ConfigError(f"diffaugment: unknown augmentation {unknown[0]!r}; choose from "
                              f"{', '.join(DIFFAUGMENTS)}, comma-separated (or empty for none)")

    @property
    def augmentations(self) -> list[str]:
        return [a.strip() for a in self.diffaugment.split(",") if a.strip()]


class CriticOut(NamedTuple):
    """What the discriminator says about a batch."""

    score: torch.Tensor  # N, the real/fake logit or critic score
    features: torch.Tensor  # N x F, the layer before the head (feature matching)
    aux: torch.Tensor | None  # N x aux_dim extra head outputs, or None


@register("gan", config=GANConfig, family="gan",
          description="The original fully connected GAN (Goodfellow et al. 2014) on dense nets",
          preset={"arch": "fc", "g_width": 128, "d_width": 128, "d_norm": "none"},
          train_defaults={"steps": 5000, "batch_size": 64, "sample_every": 500, "precision": "fp32"})
class GAN(Model):
    """A generative adversarial network (Goodfellow et al. 2014), configurable into its classic variants.

    Presets (`genzoo list`), each the paper's setting unless stated:
      gan      Goodfellow et al. 2014, "Generative Adversarial Nets": dense G and D, non-saturating
               generator loss. Differs: Adam (2e-4, 0.5) and LeakyReLU instead of SGD and maxout.
      dcgan    genzoo's default GAN, tuned for time to quality on CPU (bench/gan_peers.py): the DCGAN nets
               below plus a 512-unit dense layer between z and G's first conv and before D's head (the
               layout of InfoGAN's MNIST nets, Chen et al. 2016, which use 1024), Adam betas (0, 0.99).
               On full MNIST (2 cores) it reaches in 5 minutes a FID about 6x lower than dcgan-paper's
               and a lower one than dcgan-paper reaches in 10 (README, "GAN time to quality"). On CIFAR-10
               it has no dense layers (a per-dataset default: with them, colour blobs; FID 10x higher).
      dcgan-paper  Radford et al. 2016, "Unsupervised Representation Learning with Deep Convolutional GANs":
               transposed-conv G with batchnorm and ReLU, strided-conv D with LeakyReLU(0.2), N(0, 0.02)
               init, Adam 2e-4 beta1 0.5. Differs: z ~ N(0, I) (paper: uniform; set z_dist=uniform),
               samples from a generator weight average (ema=0.999; ema=0 for the paper's).
      lsgan    Mao et al. 2017, "Least Squares GANs": least-squares loss (a=0, b=c=1) on DCGAN nets.
      wgan     Arjovsky et al. 2017, "Wasserstein GAN": critic loss, weight clipping 0.01, 5 critic
               steps per G step, RMSprop 5e-5.
      wgan-gp  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs": gradient penalty
               lambda 10 instead of clipping, no batchnorm in the critic, Adam 1e-4 betas (0, 0.9), 5 critic steps.
      dragan   Kodali et al. 2017, "On Convergence and Stability of GANs": non-saturating loss plus a
               gradient penalty around perturbed real data, lambda 10, Adam 1e-4 betas (0.5, 0.9).
      sngan    Miyato et al. 2018, "Spectral Normalization for GANs": spectral norm on every D layer,
               hinge loss, Adam 2e-4 betas (0.5, 0.999), 1 critic step (the paper's standard-CNN
               setting C); arch=resnet gives the paper's ResNets. On CIFAR-10 and Fashion-MNIST betas
               (0, 0.99) instead (a per-dataset default: 4x lower FID at 10 minutes on CIFAR, a quarter lower
               on Fashion-MNIST, see below).
    """

    input_range = (-1.0, 1.0)
    conditional = False
    aux_dim = 0  # extra discriminator head outputs (subclasses: class logits, latent codes)

    def __init__(self, cfg: GANConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        self.G = self.build_generator()
        self.D = self.build_discriminator()
        scheme = cfg.init if cfg.init != "auto" else ("xavier" if cfg.arch == "resnet" else "normal")
        init_weights_(self.G, scheme)
        init_weights_(self.D, scheme)
        if cfg.spectral_norm:
            apply_spectral_norm(self.D)
        self.G_ema = EMA(self.G, cfg.ema, cfg.ema_start) if cfg.ema else None
        self.replay = ReplayBuffer(cfg.replay, spec.shape) if cfg.replay else None
        self.total_steps = 1

    # ---- networks (override for conditional variants) -------------------------------------------
    def build_generator(self) -> nn.Module:
        cfg = self.cfg
        return build_generator(cfg.arch, self.latent_dim, self.spec.shape, cfg.g_width, cfg.g_norm, cfg.g_hidden)

    def build_discriminator(self) -> nn.Module:
        cfg = self.cfg
        return build_discriminator(cfg.arch, self.spec.shape, cfg.d_width, cfg.d_norm, 1 + self.aux_dim,
                                   cfg.minibatch_std, cfg.d_hidden)

    def g_input(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return z

    def d_input(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return x

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, net: nn.Module | None = None
                 ) -> torch.Tensor:
        """Images (N x C x H x W in [-1, 1]) from latents z (N x latent_dim) with `net` (default G)."""
        return (net or self.G)(self.g_input(z, labels))

    def critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> CriticOut:
        out, features = self.D(self.d_input(x, labels))  # N x (1 + aux_dim), N x F
        return CriticOut(out[:, 0], features, out[:, 1:] if self.aux_dim else None)

    def fake_labels(self, n: int, labels: torch.Tensor | None) -> torch.Tensor | None:
        """Labels to generate a training batch of n fakes with (None: unconditional)."""
        return None

    # ---- generative-model contract --------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.cfg.z_dim

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latents from the prior (with `generator`, drawn on its device, then moved to the model's)."""
        device = generator.device if generator is not None else self.device
        if self.cfg.z_dist == "uniform":
            z = torch.rand(n, self.latent_dim, generator=generator, device=device) * 2 - 1
        else:
            z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        return z.to(self.device)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None, chunk: int = 500) -> torch.Tensor:
        """Images for latents z, with the averaged generator when there is one (eval mode, float32)."""
        net = self.G_ema.module if self.G_ema is not None else self.G
        z = z.to(self.device)
        labels = None if labels is None else labels.to(self.device)
        with eval_mode(net):
            parts = [self.generate(z[i:i + chunk], None if labels is None else labels[i:i + chunk], net=net)
                     for i in range(0, z.shape[0], chunk)]
        return torch.cat(parts).float()

    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
               ) -> torch.Tensor:
        n = sample_count(n)
        if labels is not None and not self.conditional:
            raise ConfigError(f"{self.name} is not conditional: it takes no labels")
        return self.decode(self.sample_latent(n, generator), labels)

    # ---- training ----------------------------------------------------------------------------------
    def configure_optimizers(self, total_steps: int) -> None:
        cfg = self.cfg
        self.total_steps = max(total_steps, 1)

        def make(params, lr):
            params = list(params)
            if cfg.optimizer == "rmsprop":
                return torch.optim.RMSprop(params, lr=lr, foreach=True)
            try:  # one fused kernel for all tensors: on CPU ~6x faster than the default per-tensor loop
                return torch.optim.Adam(params, lr=lr, betas=cfg.betas, fused=True)
            except RuntimeError:  # torch < 2.4 has no fused CPU Adam
                return torch.optim.Adam(params, lr=lr, betas=cfg.betas, foreach=True)

        self.optimizers = {"g": make(self.G.parameters(), cfg.lr_g), "d": make(self.D.parameters(), cfg.lr_d)}

    def noisy(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """Instance noise (Sonderby et al. 2017; Arjovsky & Bottou 2017): N(0, s^2), s annealed to 0."""
        s = self.cfg.instance_noise * max(0.0, 1.0 - step / self.total_steps)
        return x + s * torch.randn_like(x) if s > 0 else x

    def diff_augment(self, x: torch.Tensor) -> torch.Tensor:
        """DiffAugment's transforms of a batch D is about to see (identity when off): the same random kind of
        change for real and fake images keeps D from telling them apart by it, and gradients flow to G."""
        h, w = x.shape[-2:]
        background = self.input_range[0]  # pad and cut with the darkest value: MNIST's background
        for name in self.cfg.augmentations:
            if name == "translation":
                x = random_crop(x, max(1, round(min(h, w) / 8)), fill=background)
            else:
                x = random_cutout(x, max(1, round(min(h, w) / 2)), fill=background)
        return x

    def train_step(self, batch: Batch, step: int) -> dict[str, Any]:
        cfg = self.cfg
        g_turn = (step + 1) % cfg.n_critic == 0  # the generator moves on every n_critic-th step
        real, labels = batch.x, batch.y
        n = real.shape[0]
        z = self.sample_latent(n)
        fake_labels = self.fake_labels(n, labels)
        with torch.set_grad_enabled(g_turn):  # keep G's graph only when G is updated from this batch
            fake = self.generate(z, fake_labels)
        logs = self.d_step(real, labels, fake.detach(), fake_labels, step)
        if g_turn:
            logs.update(self.g_step(real, labels, fake, fake_labels, z, step))
            if self.G_ema is not None:
                self.G_ema.update(self.G)
        return logs

    def d_scores(self, real: torch.Tensor, labels, fake: torch.Tensor, fake_labels) -> tuple[CriticOut, CriticOut]:
        if self.cfg.separate_batches:  # as the DCGAN reference: each batch has its own batchnorm statistics
            return self.critic(real, labels), self.critic(fake, fake_labels)
        both = self.critic(torch.cat([real, fake]), _cat(labels, fake_labels))
        n = real.shape[0]
        return (CriticOut(*(None if t is None else t[:n] for t in both)),
                CriticOut(*(None if t is None else t[n:] for t in both)))

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if cfg.loss in ("nonsaturating", "minimax"):
            return L.d_loss_bce(real, fake, real_target=1.0 - cfg.label_smoothing)
        if cfg.loss == "lsgan":
            return L.d_loss_lsgan(real, fake, b=1.0 - cfg.label_smoothing)
        if cfg.loss == "wasserstein":
            return L.d_loss_wasserstein(real, fake)
        return L.d_loss_hinge(real, fake)

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return {"nonsaturating": L.g_loss_nonsaturating, "minimax": L.g_loss_minimax, "lsgan": L.g_loss_lsgan,
                "wasserstein": L.g_loss_wasserstein, "hinge": L.g_loss_hinge}[self.cfg.loss](fake)

    def penalty(self, real: torch.Tensor, labels, fake: torch.Tensor, fake_labels) -> torch.Tensor | None:
        kind = self.cfg.penalty
        if kind == "none":
            return None
        # interpolates mix real and fake images, so a conditional critic sees the real labels there
        score = lambda x: self.critic(x, labels).score  # noqa: E731
        if kind == "gp":
            return L.gradient_penalty(score, real, fake)
        if kind == "dragan":
            return L.dragan_penalty(score, real)
        return 0.5 * L.r1_penalty(score, real)

    def extra_d_loss(self, real: CriticOut, fake: CriticOut, labels, fake_labels
                     ) -> tuple[torch.Tensor | None, dict[str, Any]]:
        """Auxiliary discriminator loss and its log entries (subclasses: ACGAN class loss, ...)."""
        return None, {}

    def extra_g_loss(self, fake: CriticOut, fake_labels, z: torch.Tensor
                     ) -> tuple[torch.Tensor | None, dict[str, Any]]:
        """Auxiliary generator loss and its log entries (subclasses: InfoGAN code loss, ...)."""
        return None, {}

    def d_step(self, real: torch.Tensor, labels, fake: torch.Tensor, fake_labels, step: int) -> dict[str, Any]:
        """One discriminator update on a real batch and a (detached) fake batch."""
        cfg = self.cfg
        if self.replay is not None:
            fake = self.replay.mix(fake)
        real, fake = self.diff_augment(self.noisy(real, step)), self.diff_augment(self.noisy(fake, step))
        r, f = self.d_scores(real, labels, fake, fake_labels)
        loss = self.d_loss(r.score.float(), f.score.float())
        logs: dict[str, Any] = {}
        pen = self.penalty(real, labels, fake, fake_labels)
        if pen is not None:
            loss = loss + cfg.penalty_weight * pen
            logs["penalty"] = pen.detach()
        extra, extra_logs = self.extra_d_loss(r, f, labels, fake_labels)
        if extra is not None:
            loss = loss + extra
        norm = self._update("d", self.D, loss)
        if cfg.clip:
            L.clip_weights_(self.D.parameters(), cfg.clip)
        return {"loss_d": loss.detach(), "d_real": r.score.detach().float().mean(),
                "d_fake": f.score.detach().float().mean(), "grad_norm_d": norm, **logs, **extra_logs}

    def g_step(self, real: torch.Tensor, labels, fake: torch.Tensor, fake_labels, z: torch.Tensor,
               step: int) -> dict[str, Any]:
        """One generator update through the fake batch's graph (D's weights frozen meanwhile)."""
        self.D.requires_grad_(False)  # no weight gradients for D: saves a third of its backward pass
        try:
            f = self.critic(self.diff_augment(self.noisy(fake, step)), fake_labels)
            if self.cfg.feature_matching:
                with torch.no_grad():
                    real_features = self.critic(self.diff_augment(real), labels).features
                loss = L.feature_matching_loss(real_features, f.features)
            else:
                loss = self.g_loss(f.score.float())
            extra, extra_logs = self.extra_g_loss(f, fake_labels, z)
            if extra is not None:
                loss = loss + extra
            norm = self._update("g", self.G, loss)
        finally:
            self.D.requires_grad_(True)
        return {"loss_g": loss.detach(), "grad_norm_g": norm, **extra_logs}

    def _update(self, name: str, net: nn.Module, loss: torch.Tensor) -> torch.Tensor:
        """Optimizer step; returns the gradient norm before any clipping (for the log)."""
        if self.cfg.grad_clip:
            return self.optimize(name, loss, clip_grad_norm=self.cfg.grad_clip).detach()
        self.optimize(name, loss)  # the gradients stay in .grad until the next zero_grad
        norms = [torch.linalg.vector_norm(p.grad) for p in net.parameters() if p.grad is not None]
        return torch.linalg.vector_norm(torch.stack(norms)).detach()


def _cat(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    return None if a is None or b is None else torch.cat([a, b])


# Samples come from an exponential moving average of G's weights (Yazici et al. 2019, "The Unusual
# Effectiveness of Averaging in GAN Training"): on MNIST it lowered DCGAN's FID at equal steps and halved
# KID (bench/gan.py); set ema=0 for the paper's plain generator.
_DCGAN = {"arch": "dcgan", "g_width": 64, "d_width": 64, "g_norm": "batch", "d_norm": "batch", "ema": 0.999}
# conv nets train in bf16 autocast: ~1.5x faster on CPUs with AVX512-bf16 and as good (bench/gan.py)
_CONV_TRAIN = {"steps": 6000, "batch_size": 64, "sample_every": 1000, "precision": "bf16"}

# The default GAN: what bench/gan_peers.py measured to pay at 1-10 minutes of CPU training on full MNIST
# (one seed, 5 minutes, FID in genzoo's features; dcgan-paper 3.99): betas (0, 0.99) 3.44; with dense layers of
# 1024 units 0.98 and of 512 units 0.67 (fewer parameters, more steps per second). Batch 128, TTUR
# (lr_d 4e-4), width 32, hinge + spectral norm and R1 did not pay (README, "GAN time to quality").
_DCGAN_DEFAULT = {**_DCGAN, "g_hidden": 512, "d_hidden": 512, "betas": (0.0, 0.99)}
register_preset(
    "dcgan", "gan", preset=_DCGAN_DEFAULT,
    description="DCGAN nets with a dense layer in G and D, Adam betas (0, 0.99): genzoo's fast default GAN",
    # a step costs ~1.6x dcgan-paper's: fewer steps keep the main job's time (and beat its quality)
    train_defaults={**_CONV_TRAIN, "steps": 3600})
# On colour photographs the dense layers cost dcgan most of its quality: on CIFAR-10 (JPEG copy), 10 minutes on 2
# cores, seed 0 (bench/gan.py table, 2026-12-03): FID 65.8 with them (blurred colour blobs, class KL 1.15), 6.34
# without (textured objects, class KL 0.11, recall 0.14); spectral norm instead of batchnorm in D: 83.1. The
# official CIFAR-10 files hold the same images, losslessly, so they get the same defaults.
set_dataset_defaults("dcgan", ("cifar10-jpeg", "cifar10"), {"g_hidden": 0, "d_hidden": 0})
register_preset(
    "dcgan-paper", "gan", preset=_DCGAN,
    description="Deep convolutional GAN (Radford et al. 2016): transposed-conv G, strided-conv D, batchnorm",
    train_defaults=_CONV_TRAIN)
register_preset(
    "lsgan", "gan", preset={**_DCGAN, "loss": "lsgan"},
    description="Least-squares GAN (Mao et al. 2017) on DCGAN nets", train_defaults=_CONV_TRAIN)
register_preset(
    "wgan", "gan", preset={**_DCGAN, "loss": "wasserstein", "clip": 0.01, "n_critic": 5, "optimizer": "rmsprop",
                           "lr_g": 5e-5, "lr_d": 5e-5},
    description="Wasserstein GAN with weight clipping (Arjovsky et al. 2017): 5 critic steps, RMSprop",
    train_defaults={**_CONV_TRAIN, "steps": 15000})
register_preset(
    "wgan-gp", "gan", preset={**_DCGAN, "d_norm": "none", "loss": "wasserstein", "penalty": "gp",
                              "penalty_weight": 10.0, "n_critic": 5, "lr_g": 1e-4, "lr_d": 1e-4,
                              "betas": (0.0, 0.9)},
    description="WGAN with gradient penalty (Gulrajani et al. 2017): lambda 10, 5 critic steps, Adam (0, 0.9)",
    train_defaults={**_CONV_TRAIN, "steps": 10000})
register_preset(
    "dragan", "gan", preset={**_DCGAN, "d_norm": "none", "penalty": "dragan", "penalty_weight": 10.0,
                             "lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9)},
    description="DRAGAN (Kodali et al. 2017): gradient penalty around perturbed real data",
    train_defaults=_CONV_TRAIN)
register_preset(
    "sngan", "gan", preset={**_DCGAN, "d_norm": "none", "spectral_norm": True, "loss": "hinge"},
    description="Spectral-normalised GAN (Miyato et al. 2018): SN on every D layer, hinge loss",
    train_defaults=_CONV_TRAIN)
# On CIFAR-10 (JPEG copy) Adam betas (0, 0.99), as dcgan's, instead of the paper's (0.5, 0.999): 10 minutes on 2
# cores (AMD EPYC), seed 0 (bench/gan.py table, 2026-12-04): FID 7.03, recall 0.11, class KL 0.10 against 27.5,
# 0.003 and 0.52 (a few classes). On Fashion-MNIST too (2026-12-05, 10 minutes, seeds 0 / 1): FID 1.59 / 1.73
# against 2.12 / 2.23, KID about half, recall 0.51 / 0.52 against 0.45 / 0.42, precision unchanged (0.39-0.40).
set_dataset_defaults("sngan", ("cifar10-jpeg", "cifar10", "fashion-mnist"), {"betas": (0.0, 0.99)})
