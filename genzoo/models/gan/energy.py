"""GANs whose discriminator is an autoencoder: EBGAN and BEGAN.

The discriminator D is an autoencoder, Enc: image -> code, Dec: code -> image, and scores an image by
its reconstruction error, an energy: low on data, high elsewhere. Here Enc is the discriminator body of
the GAN core with its linear head widened to `code_dim` outputs, and Dec is the core's generator network
fed with that code, so `arch`, `d_width`, `d_norm` and `d_hidden` shape both halves. `AutoencoderCritic`
returns (energy, code) where the core's critic returns (logit, features), so the core's D and G updates,
EMA, DiffAugment and resume work unchanged; each model replaces the two losses.

- `ebgan` (Zhao, Mathieu & LeCun 2017, "Energy-based Generative Adversarial Network"): energy = mean
  squared reconstruction error; D minimises D(x) + [m - D(G(z))]^+ (Eq. 1), G minimises D(G(z)) (Eq. 2) plus
  the pulling-away term on the encoder's codes of the fake batch (Sec. 2.4, weight 0.1), which pushes
  samples apart. Paper: margin chosen by grid search per dataset, Adam 2e-4 (beta1 0.5), batchnorm, PT 0.1.
  Differs: the energy is a mean over pixels (not a sum), so the margin (1.0) does not grow with image size;
  the DCGAN conv nets with batchnorm (the encoder is DCGAN's D, the decoder DCGAN's G) around a 64-d code
  (the paper's MNIST nets are fully connected and found by a grid search); samples from a generator weight
  average (ema 0.999); G's gradient reaches its samples only through D's reconstruction (`g_gradient`, below).
- `began` (Berthelot, Schumm & Metz 2017, "BEGAN: Boundary Equilibrium GANs"): energy L(v) = mean |v - D(v)|
  (eta = 1); D minimises L(x) - k_t L(G(z)), G minimises L(G(z)); k_t (a buffer, so resume is exact) follows
  k <- clip(k + lambda_k (gamma L(x) - L(G(z))), 0, 1), lambda_k 0.001, k_0 0 (Eq. 4), which holds
  L(G(z)) at gamma L(x). The convergence measure M = L(x) + |gamma L(x) - L(G(z))| (Sec. 3.4.1) is logged every
  step as `convergence`, with `k`. Paper: no batchnorm, ELU, nearest-upsampling 3x3 conv decoder (the
  generator has the decoder's architecture), 64-d code and z ~ U(-1, 1), Adam 1e-4 betas (0.5, 0.999) halved
  when M stalls, batch 16. Differs: the DCGAN conv nets with batchnorm in G and in both halves of D (without
  it, with DCGAN's N(0, 0.02) init, D's autoencoder stalled at drawing the background, L(x) = 0.26 for 600
  steps; with Xavier init the samples were still grey after 600 tiny steps, with batchnorm dark: 0.66 of
  pixels), a constant learning rate 2e-4, batch 64, samples from a generator weight average (ema 0.999),
  gamma 0.75 (paper 0.3-0.7, its figures mostly 0.5; PyTorch-GAN's began.py 0.75): on full MNIST after 2 minutes,
  FID 213 with gamma 0.5 (k_t ~0 throughout: L(G(z)) was below gamma L(x) from the start, so D never pushed the
  samples; class-histogram KL 2.13, nearly one class) against 34 with 0.75 (KL 0.72); as the authors' code,
  k_t is updated from the losses of the discriminator's batch (z_D = z_G). On CIFAR-10 (and the JPEG copy) D
  normalises each sample on its own (`d_norm=layer`, a per-dataset default): with batchnorm the samples collapsed
  to one blurred image there (10 minutes: FID 81.2 against 39.9; the figures at the end of this file).

G's gradient (`g_gradient`). Both papers' generator loss is the energy of its samples, E(x) = |D(x) - x|^p with
x = G(z), differentiated in full: dE/dx = p |r - x|^(p-1) sign(r - x) (J_D(x) - I) / pixels with r = D(x). The -I
part moves each sample towards D's reconstruction of it, and a D that has learnt to reconstruct fakes badly
maps them all near one blurry image: on full MNIST the full-gradient EBGAN collapsed to it within the first
minute (FID 124-179 at 90 s for the default and eight variations: width and code size, code size, margin,
PT weight, D's lr, no normalisation in D, no weight average, the margin's hinge on the batch mean; one class;
pulling-away term 0.3-0.95). With `g_gradient=reconstruction` (ebgan's default) x is a constant target and the
gradient reaches G only through J_D: G moves its samples where D reconstructs them well, which is where the
data is. Same 90 s: FID 9.3 and
59.7 (seeds 0 and 1; class-histogram KL 0.11 and 0.52), and 7.8 without the pulling-away term, so the gradient
path, not PT, keeps it from collapsing. PyTorch-GAN's ebgan.py computes its G loss this way (the sample
detached as the target). began keeps the full gradient (its paper's and began.py's): with the detached target
and gamma 0.75 its samples collapsed (FID 164 at 2 minutes against 34, one class). Bench figures: README,
"Multiscale and energy-based GANs".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from genzoo.config import ConfigError, field
from genzoo.data.imageset import Batch, DataSpec
from genzoo.losses import gan as L
from genzoo.models.gan.core import _CONV_TRAIN, _DCGAN, GAN, CriticOut, GANConfig
from genzoo.models.gan.networks import build_discriminator, build_generator
from genzoo.registry import register, set_dataset_defaults


class AutoencoderCritic(nn.Module):
    """D(x) = energy of x under an autoencoder: forward returns (N x 1 energies, N x code_dim codes)."""

    def __init__(self, cfg: GANConfig, shape: tuple[int, int, int], code_dim: int, power: int,
                 detach_target: bool = False):
        super().__init__()
        # the core's discriminator with a code-sized head is the encoder, its generator the decoder
        self.encoder = build_discriminator(cfg.arch, shape, cfg.d_width, cfg.d_norm, code_dim, False, cfg.d_hidden)
        self.decoder = build_generator(cfg.arch, code_dim, shape, cfg.d_width, cfg.d_norm, cfg.d_hidden)
        self.power = power
        self.detach_target = detach_target

    def reconstruct(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code, _ = self.encoder(x)
        return self.decoder(code), code

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rec, code = self.reconstruct(x)
        # the same energy either way; detached, a gradient reaches x only through the reconstruction
        target = x.detach() if self.detach_target else x
        return L.reconstruction_energy(target, rec, self.power)[:, None], code


@dataclass
class EnergyGANConfig(GANConfig):
    loss: Literal["energy"] = field("energy", "the model's own energy losses (see `genzoo list` and the docstring)")
    code_dim: int = field(64, "size of the autoencoder discriminator's code", ge=1)
    g_gradient: Literal["reconstruction", "full"] = field(
        "full", "how G's loss, the energy |D(G(z)) - G(z)|^p of its samples, reaches G: reconstruction = only "
                "through D's reconstruction (the sample as the target is a constant), full = also through the "
                "target (the papers' loss as written; it collapsed EBGAN on MNIST)")

    def validate(self) -> None:
        super().validate()
        if self.penalty != "none" or self.clip or self.feature_matching:
            raise ConfigError("an autoencoder discriminator takes no gradient penalty, weight clipping or feature "
                              "matching here; set penalty=none clip=0 feature_matching=false")


class EnergyGAN(GAN):
    """A GAN whose discriminator is an `AutoencoderCritic`: scores are energies (reconstruction errors)."""

    energy_power = 2

    def build_discriminator(self) -> nn.Module:
        cfg = self.cfg
        return AutoencoderCritic(cfg, self.spec.shape, cfg.code_dim, self.energy_power,
                                 detach_target=cfg.g_gradient == "reconstruction")

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return fake.mean()  # EBGAN Eq. 2 and BEGAN Eq. 4 alike: G lowers the energy of its samples

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator's reconstruction of images x in [-1, 1] (what it considers data-like)."""
        return self.D.reconstruct(x.to(self.device))[0].float()


@dataclass
class EBGANConfig(EnergyGANConfig):
    margin: float = field(1.0, "m: D pushes the energy of samples up to at least m (mean squared error per pixel "
                               "of images in [-1, 1])", gt=0)
    pt_weight: float = field(0.1, "weight of the pulling-away term in G's loss (0 = off)", ge=0)


@register("ebgan", config=EBGANConfig, family="gan",
          description="Energy-based GAN (Zhao et al. 2017): autoencoder D, margin loss, pulling-away term",
          preset={**_DCGAN, "g_gradient": "reconstruction"}, train_defaults={**_CONV_TRAIN, "steps": 3600})
class EBGAN(EnergyGAN):
    """EBGAN (see the module doc)."""

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return L.d_loss_ebgan(real, fake, self.cfg.margin)

    def extra_g_loss(self, fake: CriticOut, fake_labels, z: torch.Tensor) -> tuple[torch.Tensor | None, dict]:
        if not self.cfg.pt_weight:
            return None, {}
        pt = L.pulling_away(fake.features)
        return self.cfg.pt_weight * pt, {"pulling_away": pt.detach()}


@dataclass
class BEGANConfig(EnergyGANConfig):
    gamma: float = field(0.75, "diversity ratio gamma = E L(G(z)) / E L(x) that k_t holds (paper: 0.3-0.7; "
                               "PyTorch-GAN: 0.75)", gt=0, le=1)
    lambda_k: float = field(0.001, "proportional gain of the k_t update", ge=0)
    k0: float = field(0.0, "initial k_t", ge=0, le=1)

    def validate(self) -> None:
        super().validate()
        if self.n_critic != 1:
            raise ConfigError("began updates D, G and k_t together every step (z_D = z_G); set n_critic=1")


@register("began", config=BEGANConfig, family="gan",
          description="Boundary-equilibrium GAN (Berthelot et al. 2017): autoencoder D, k_t control, measure M",
          preset={**_DCGAN, "z_dist": "uniform", "z_dim": 64},
          train_defaults={**_CONV_TRAIN, "steps": 3600})
class BEGAN(EnergyGAN):
    """BEGAN (see the module doc)."""

    energy_power = 1

    def __init__(self, cfg: BEGANConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        self.register_buffer("k", torch.tensor(float(cfg.k0)))  # in the state_dict: resume is exact

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return L.d_loss_began(real, fake, self.k)

    def train_step(self, batch: Batch, step: int) -> dict[str, Any]:
        logs = super().train_step(batch, step)
        # the D step's mean energies, before its update: L(x) and L(G(z_D)) with z_D = z_G
        real, fake, cfg = logs["d_real"], logs["d_fake"], self.cfg
        self.k.copy_(L.began_k_update(self.k, real, fake, cfg.gamma, cfg.lambda_k))
        logs.update(k=self.k.clone(), convergence=L.began_convergence(real, fake, cfg.gamma))
        return logs


# CIFAR-10 (JPEG copy), 2-core EPYC, seed 0 (README): with batchnorm in D the samples collapsed to one blurred image
# (10 minutes: FID 81.2, class KL 1.39, k_t ~0.002 throughout; at 3 minutes gamma 1.0 did no better, FID 126, nor
# real and fake batches through D together, 142); with a per-sample norm in D (GroupNorm(1), `layer`) they did not.
set_dataset_defaults("began", ("cifar10-jpeg", "cifar10"), {"d_norm": "layer"})
