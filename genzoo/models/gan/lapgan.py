"""LAPGAN (Denton, Chintala, Szlam & Fergus 2015, "Deep Generative Image Models using a Laplacian Pyramid of
Adversarial Networks").

An image is generated coarse to fine along a Laplacian pyramid. With d = blur + subsample by 2 and
u = upsample by 2, the Gaussian pyramid of an image I is I_0 = I, I_{k+1} = d(I_k) and its Laplacian pyramid the
band-pass residuals h_k = I_k - u(I_{k+1}) plus the low-pass I_K (Sec. 3.1); I_k = u(I_{k+1}) + h_k holds
exactly by construction. One GAN per level models it:
- the coarsest level: an unconditional GAN on the low-pass image I_K (here: genzoo's fc nets, the `gan` preset's);
- each finer level k: a conditional GAN whose generator gets the upsampled coarser image l = u(I_{k+1}) with a
  noise plane as an extra channel and returns the residual h_k; its discriminator judges (h_k, l) pairs,
  real residuals of real images against generated ones. A sample is I_k = l + G_k(z_k, l) (Sec. 3.2).

The levels are independent GANs (the paper trains each on its own): every level trains on the
real pyramid of the same batch. `schedule=joint` updates every level on every step; `schedule=sequential`
trains one level at a time, coarse first, each for its `level_share` of the steps (a pure function of the step,
so a resumed run is exact). Sampling runs the chain coarse -> fine, each level conditioned on the image the
coarser level generated; `sample_levels` returns every scale (`genzoo sample RUN --levels`: a row per scale).

Paper (CIFAR-10, Sec. 4 and the released code, facebookarchive/eyescream): three levels with an 8x8 coarse
model (the code's conv levels train 16 -> 32); the coarse G and D are fully connected with two hidden ReLU
layers (G 1200 units, D 600 with dropout), z 100-D ~ U[-1, 1]; each finer G is a 3-layer ReLU conv net
(7x7, 7x7, 5x5 kernels, 128 channels, linear output) on [l, noise plane], each finer D a 2-layer conv net
(5x5, 128 channels, the second strided), ReLU, dropout, a linear sigmoid output; BCE GAN loss, SGD with
momentum (lr 0.02 decayed per epoch, momentum 0.5 rising to 0.8), levels trained in separate runs.

genzoo's defaults and deliberate differences:
- pyramid: d = 5-tap binomial blur (Burt & Adelson's [1 4 6 4 1]/16, replicated border) then every second pixel;
  u = bilinear upsampling (the code's image.scale is bilinear too). Image sides must be divisible by
  2^(levels-1) with a coarse side of at least 4, so MNIST's 28x28 gives 7 -> 14 -> 28 (CIFAR: 8 -> 16 -> 32).
- coarse level: genzoo's fc nets (three hidden LeakyReLU layers of 2w, 4w, 8w units with batchnorm in G, tanh
  output; D 4w, 2w units, no dropout) with w = `coarse_g_width` / `coarse_d_width` = 128 (G 256-512-1024,
  D 512-256: about the paper's sizes), instead of the paper's two ReLU layers with dropout in D; D also sees the
  minibatch standard deviation (ProGAN's, `coarse_minibatch_std`), a cue against a coarse level that draws a few
  shapes over and over.
- finer levels: the paper's layout, 32 channels instead of 128 (G's middle 7x7 conv dominates a step: its cost
  grows with the square of the width). On full MNIST, 2 minutes on 2 CPU cores: width 64 in float32 made 174
  steps (FID 61.1), in bf16 316 (53.3, with ema), width 32 in bf16 719 (34.6). D's convs are padded ("same"
  then strided), so any level size works (the code's unpadded 5x5 convs need sides of at least 9); D sees
  [h, l] as channels (the paper's D(h, l); the released code feeds D the sum l + h). Generated images are
  clamped to [-1, 1] at every level, the range of every real low-pass image, so the next level is conditioned
  on what it trained on.
- optimisation: Adam 2e-4 with betas (0, 0.99) (genzoo's `dcgan` setting) instead of SGD with momentum schedules,
  bf16 autocast on CPU (as genzoo's conv GANs; the real pyramid is built in float32); all levels in one run
  (`joint`) instead of separate runs; optional generator weight averaging (`ema`) for sampling.
  Full MNIST, 3 minutes, seeds 0 / 1, 2-core EPYC (2026-12-04; FID and class KL of 10k samples in the shipped
  MNIST classifier's features): DCGAN's betas (0.5, 0.999) FID 25.2 / 27.8, class KL 0.59 / 0.21; with the
  coarse minibatch std 26.8 / 22.7, 0.43 / 0.54; betas (0, 0.99) 16.9 / 25.0, 0.26 / 0.20; both (the defaults)
  18.0 / 16.0, 0.17 / 0.16. Betas (0, 0.99) with no dropout in the finer D: 15.5 / 23.0, 0.23 / 0.26, within the
  seed spread, so the dropout stays at the paper's 0.5.
  Images in [-1, 1] as every genzoo GAN (the code normalises each channel to zero mean, unit variance).

`genzoo eval` reports the sample metrics of every GAN (FID, KID, precision/recall). The paper measured
Parzen-window log-likelihoods and a human study (its CIFAR-10 samples were taken for real ~40% of the time,
a GAN's ~10%); genzoo reproduces neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import ConfigError, field
from genzoo.data.imageset import Batch, DataSpec
from genzoo.models.base import Model, sample_count
from genzoo.models.gan.core import GAN, GANConfig, Loss
from genzoo.models.gan.networks import Discriminator, FlattenHWC
from genzoo.registry import register

MIN_COARSE = 4  # the smallest coarse side: below it the blur sees mostly border


# ---- the pyramid operators (pure functions) -----------------------------------------------------------------
def _binomial(x: torch.Tensor) -> torch.Tensor:
    """The 5x5 binomial kernel [1 4 6 4 1]^T [1 4 6 4 1] / 256 as a depthwise conv weight: C x 1 x 5 x 5."""
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=x.dtype, device=x.device) / 16
    return (k[:, None] * k[None, :]).expand(x.shape[1], 1, 5, 5)


def downsample(x: torch.Tensor) -> torch.Tensor:
    """d(I): blur (binomial 5x5, replicated border: a constant stays constant), then every second pixel.
    N x C x H x W -> N x C x H/2 x W/2 (even sides)."""
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), _binomial(x), stride=2, groups=x.shape[1])


def upsample(x: torch.Tensor) -> torch.Tensor:
    """u(I): bilinear upsampling by 2. N x C x H x W -> N x C x 2H x 2W."""
    return F.interpolate(x, size=(2 * x.shape[2], 2 * x.shape[3]), mode="bilinear", align_corners=False)


def gaussian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[I_K, ..., I_1, I_0 = x], coarsest first (K = levels - 1), I_{k+1} = d(I_k)."""
    out = [x]
    for _ in range(levels - 1):
        out.append(downsample(out[-1]))
    return out[::-1]


def laplacian_pyramid(x: torch.Tensor, levels: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(low-pass I_K, [h_{K-1}, ..., h_0]) coarse to fine, with h_k = I_k - u(I_{k+1})."""
    images = gaussian_pyramid(x, levels)
    return images[0], [fine - upsample(coarse) for coarse, fine in zip(images, images[1:])]


def reconstruct(low: torch.Tensor, bands: list[torch.Tensor]) -> torch.Tensor:
    """The image from its Laplacian pyramid: I_k = u(I_{k+1}) + h_k, coarse to fine."""
    for h in bands:
        low = upsample(low) + h
    return low


def pyramid_sizes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """The (height, width) of every level, coarsest first; ConfigError (naming sizes that work) if the
    pyramid cannot reach them."""
    f = 2 ** (levels - 1)
    if height % f == 0 and width % f == 0 and min(height, width) // f >= MIN_COARSE:
        return [(height // 2 ** k, width // 2 ** k) for k in reversed(range(levels))]
    sides = sorted({height, width})
    fits = [n for n in range(2, 9) if all(s % 2 ** (n - 1) == 0 and s // 2 ** (n - 1) >= MIN_COARSE for s in sides)]
    fit = (f"set levels={fits[-1]} ({' -> '.join(f'{height >> k}x{width >> k}' for k in reversed(range(fits[-1])))})"
           " or " if fits else "")
    near = sorted({max(MIN_COARSE, round(height / f)) * f, max(MIN_COARSE, height // f) * f})
    raise ConfigError(
        f"lapgan with levels={levels} halves the image {levels - 1} time(s) down to a coarse side of at least "
        f"{MIN_COARSE}, so its sides must be multiples of {f} and at least {MIN_COARSE * f}; got {height}x{width}. "
        f"For this data {fit}resize it to a size that works, e.g. {' or '.join(f'{s}x{s}' for s in near)} "
        f"(--set data.image_size=N)")


# ---- the finer levels: a GAN conditioned on the upsampled coarser image -----------------------------------
def residual_generator(channels: int, width: int) -> nn.Sequential:
    """[l, noise plane] (C + 1 planes) -> h (C planes): 7x7, 7x7, 5x5 "same" convs, ReLU, linear output
    (a residual is not bounded like an image), as the paper's code."""
    return nn.Sequential(
        nn.Conv2d(channels + 1, width, 7, 1, 3), nn.ReLU(inplace=True),
        nn.Conv2d(width, width, 7, 1, 3), nn.ReLU(inplace=True),
        nn.Conv2d(width, channels, 5, 1, 2))


def pair_discriminator(channels: int, size: tuple[int, int], width: int, dropout: float) -> Discriminator:
    """[h, l] (2C planes) -> logit: 5x5 conv, 5x5 stride-2 conv (both padded), ReLU, dropout, linear head."""
    h, w = size
    body = nn.Sequential(
        nn.Conv2d(2 * channels, width, 5, 1, 2), nn.ReLU(inplace=True),
        nn.Conv2d(width, width, 5, 2, 2), nn.ReLU(inplace=True),
        FlattenHWC(), nn.Dropout(dropout))
    return Discriminator(body, width * ((h + 1) // 2) * ((w + 1) // 2))


class LevelGAN(GAN):
    """A finer level: the GAN core's step with the low-pass image l in the place of a label. Its real "images"
    are residuals h; `g_input` stacks l with the noise plane z (the latent, H*W values), `d_input` stacks h
    with l, and fakes are made for the real batch's l (`fake_labels`)."""

    def __init__(self, cfg: GANConfig, spec: DataSpec, dropout: float):
        self.dropout = dropout  # read by build_discriminator, which GAN.__init__ calls
        super().__init__(cfg, spec)

    def build_generator(self) -> nn.Module:
        return residual_generator(self.spec.channels, self.cfg.g_width)

    def build_discriminator(self) -> nn.Module:
        return pair_discriminator(self.spec.channels, self.spec.shape[1:], self.cfg.d_width, self.dropout)

    @property
    def latent_dim(self) -> int:  # one noise plane, drawn by GAN.sample_latent as N x H*W
        return self.spec.height * self.spec.width

    def g_input(self, z: torch.Tensor, low: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([low, z.view(-1, 1, *self.spec.shape[1:]).to(low.dtype)], 1)  # N x (C + 1) x H x W

    def d_input(self, h: torch.Tensor, low: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([h, low.to(h.dtype)], 1)  # N x 2C x H x W

    def fake_labels(self, n: int, low: torch.Tensor | None) -> torch.Tensor | None:
        return low  # generated residuals for the real low-pass images of the batch


# ---- the pyramid of GANs -------------------------------------------------------------------------------------
@dataclass
class LAPGANConfig:
    levels: int = field(3, "pyramid levels, coarse one included: the image is halved levels-1 times (28: 7, 14, 28)",
                        ge=2)
    schedule: Literal["joint", "sequential"] = field(
        "joint", "joint: every level updated on every step; sequential: one level at a time, coarse first")
    level_share: str = field("", "sequential: comma-separated step shares per level, coarse first (e.g. 2,1,1); "
                                 "empty = equal shares")
    z_dim: int = field(100, "latent size of the coarse GAN", ge=1)
    z_dist: Literal["normal", "uniform"] = field("uniform", "prior of the coarse latent and the noise planes")
    coarse_g_width: int = field(128, "coarse fc generator: hidden layers of 2w, 4w, 8w units", ge=1)
    coarse_d_width: int = field(128, "coarse fc discriminator: hidden layers of 4w, 2w units", ge=1)
    coarse_minibatch_std: bool = field(True, "append the minibatch standard deviation to the coarse D's features "
                                              "(ProGAN's diversity signal)")
    g_width: int = field(32, "channels of the finer levels' generator convs (paper's code: 128)", ge=1)
    d_width: int = field(32, "channels of the finer levels' discriminator convs (paper's code: 128)", ge=1)
    d_dropout: float = field(0.5, "dropout before the finer discriminators' heads", ge=0, lt=1)
    loss: Loss = field("nonsaturating", "GAN objective of every level: nonsaturating, minimax, lsgan, "
                                        "wasserstein or hinge")
    lr_g: float = field(2e-4, "generator learning rate", gt=0)
    lr_d: float = field(2e-4, "discriminator learning rate", gt=0)
    betas: tuple[float, float] = field((0.0, 0.99), "Adam betas of every level (DCGAN's: 0.5,0.999)", ge=0, lt=1)
    ema: float = field(0.0, "decay of the generator weight averages used for sampling (0 = off)", ge=0, lt=1)
    ema_start: int = field(0, "generator updates before the averages start", ge=0)

    def validate(self) -> None:
        if self.level_share.strip():
            shares = self.shares
            if len(shares) != self.levels or any(s <= 0 for s in shares):
                raise ConfigError(f"level_share needs {self.levels} positive numbers (one per level, coarse first, "
                                  f"e.g. {','.join(['1'] * self.levels)}), got {self.level_share!r}")

    @property
    def shares(self) -> list[float]:
        if not self.level_share.strip():
            return [1.0] * self.levels
        try:
            return [float(s) for s in self.level_share.split(",")]
        except ValueError:
            raise ConfigError(f"level_share takes comma-separated numbers, got {self.level_share!r}") from None

    def level_config(self, coarse: bool) -> GANConfig:
        """The GAN core's config of one level (the coarse fc GAN, or a finer conditional one)."""
        common = dict(z_dim=self.z_dim, z_dist=self.z_dist, loss=self.loss, lr_g=self.lr_g, lr_d=self.lr_d,
                      betas=self.betas, ema=self.ema, ema_start=self.ema_start, init="normal")
        if coarse:  # the `gan` preset's nets
            return GANConfig(arch="fc", g_width=self.coarse_g_width, d_width=self.coarse_d_width, d_norm="none",
                             minibatch_std=self.coarse_minibatch_std, **common)
        return GANConfig(g_width=self.g_width, d_width=self.d_width, g_norm="none", d_norm="none", **common)


@register("lapgan", config=LAPGANConfig, family="gan",
          description="Laplacian pyramid of GANs (Denton et al. 2015): a coarse GAN, then conditional GANs "
                      "adding each finer band",
          train_defaults={"steps": 3000, "batch_size": 64, "sample_every": 500, "precision": "bf16"})
class LAPGAN(Model):
    """A Laplacian pyramid of GANs (see the module doc): `levels[0]` the coarse GAN, `levels[k]` the k-th finer."""

    input_range = (-1.0, 1.0)
    conditional = False

    def __init__(self, cfg: LAPGANConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        self.sizes = pyramid_sizes(spec.height, spec.width, cfg.levels)  # coarse first
        c = spec.channels
        self.levels = nn.ModuleList(
            [GAN(cfg.level_config(coarse=True), DataSpec(c, *self.sizes[0]))] +
            [LevelGAN(cfg.level_config(coarse=False), DataSpec(c, *hw), cfg.d_dropout) for hw in self.sizes[1:]])
        self.total_steps = 1

    # ---- training ---------------------------------------------------------------------------------------------
    def configure_optimizers(self, total_steps: int) -> None:
        self.total_steps = max(total_steps, 1)
        for k, level in enumerate(self.levels):
            level.configure_optimizers(total_steps)
            # the same optimizer objects under this model's names: the Trainer saves and restores them
            self.optimizers.update({f"{name}{k}": opt for name, opt in level.optimizers.items()})

    def level_bounds(self) -> list[int]:
        """Sequential schedule: level k trains on steps bounds[k] <= step < bounds[k + 1]."""
        shares = self.cfg.shares
        total, acc, bounds = sum(shares), 0.0, [0]
        for s in shares:
            acc += s
            bounds.append(round(self.total_steps * acc / total))
        return bounds

    def active_levels(self, step: int) -> list[int]:
        """The levels a step updates: all (joint), or the one whose share of the steps holds `step`."""
        if self.cfg.schedule == "joint":
            return list(range(len(self.levels)))
        bounds = self.level_bounds()
        return [next((k for k in range(len(self.levels)) if step < bounds[k + 1]), len(self.levels) - 1)]

    def train_step(self, batch: Batch, step: int) -> dict[str, Any]:
        with torch.autocast(batch.x.device.type, enabled=False):  # the real pyramid in full precision
            images = gaussian_pyramid(batch.x.float(), len(self.levels))
        logs: dict[str, Any] = {}
        losses: dict[str, list[torch.Tensor]] = {"loss_d": [], "loss_g": []}
        for k in self.active_levels(step):
            level = self.levels[k]
            level.grad_sync = self.grad_sync  # the Trainer sets it on this model only
            if k == 0:
                out = level.train_step(Batch(images[0]), step)
            else:
                low = upsample(images[k - 1])
                out = level.train_step(Batch(images[k] - low, low), step)  # (h_k, l_k) of the real images
            h, w = self.sizes[k]
            logs.update({f"{key}_{h}x{w}": v for key, v in out.items()})
            for key in losses:
                if key in out:
                    losses[key].append(out[key])
        logs.update({key: torch.stack(v).mean() for key, v in losses.items() if v})
        if self.cfg.schedule == "sequential":
            logs["level"] = float(self.active_levels(step)[0])
        return logs

    def compile_networks(self) -> list[str]:
        return [f"levels.{k}.{name}" for k, level in enumerate(self.levels) for name in level.compile_networks()]

    # ---- sampling --------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample_levels(self, n: int, generator: torch.Generator | None = None, full_size: bool = True
                      ) -> list[torch.Tensor]:
        """Every level's image of n samples, coarse first: N x C x h x w each, the coarse GAN's sample, then
        I_k = clamp(u(I_{k+1}) + G_k(z_k, u(I_{k+1}))) (Sec. 3.2). `full_size`: each brought to the data size by
        nearest-neighbour upscaling (pixels shown as they are, for a grid with a row per scale). Noise is
        drawn from `generator` in chain order: the coarse latent, then each level's noise plane."""
        lo, hi = self.input_range
        coarse = self.levels[0]
        x = coarse.decode(coarse.sample_latent(n, generator)).clamp(lo, hi)
        out = [x]
        for level in self.levels[1:]:
            low = upsample(x)
            x = (low + level.decode(level.sample_latent(n, generator), low)).clamp(lo, hi)
            out.append(x)
        if full_size:
            out = [F.interpolate(im, size=self.spec.shape[1:], mode="nearest") for im in out]
        return out

    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
               ) -> torch.Tensor:
        """n full-size images in [-1, 1], the finest level of the chain (generator averages when `ema` is set)."""
        n = sample_count(n)
        if labels is not None:
            raise ConfigError("lapgan is not conditional: it takes no labels")
        return self.sample_levels(n, generator, full_size=False)[-1]
