"""ProGAN (Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of GANs for Improved Quality, Stability,
and Variation").

G and D start at a base resolution (4x4 for 32 and 64 pixel data, 7x7 for 28: `networks.pyramid`) and grow
by doubling up to the data's size. Each new resolution first fades in (Sec. 2, Fig. 2): with alpha rising
linearly from 0 to 1,

    G(z) = (1 - alpha) * upsample(toRGB_old(h)) + alpha * toRGB_new(block(h))
    D(x) = D_rest((1 - alpha) * fromRGB_old(avgpool(x)) + alpha * block(fromRGB_new(x)))

and the real images, average-pooled to the current resolution, are faded the same way (their 2x-pooled and
nearest-upsampled copy, weight 1 - alpha, as the authors' `process_reals`). Then the resolution stabilises
(alpha = 1). The base resolution has a stabilise phase only; the last one lasts until training ends.

Besides growing: pixelwise feature normalisation after every conv in G (Sec. 4.2; z ~ N(0, I) is pixel-
normalised onto the hypersphere of radius sqrt(z_dim) first), the equalized learning rate (Sec. 4.1: weights
drawn from N(0, 1) and scaled at run time by He's constant sqrt(2 / fan_in); gain 1 on toRGB and D's output,
as the authors' code), minibatch standard deviation before D's last block (Sec. 3, group size 4), the WGAN-GP
loss with lambda 10 plus the drift term eps_drift * E[D(x)^2], eps_drift 0.001 (Appendix A.1), Adam lr 1e-3
betas (0, 0.99), one critic step per generator step, and samples from a generator weight average (decay 0.999).

The schedule is `schedule = (fade-in images, stabilise images)` per phase (paper: 800k, 800k). The phase,
resolution and alpha are pure functions of (step, batch size) (`ProGAN.at`), so a run resumes exactly
anywhere, also inside a fade-in. `sample(n)` gives images at the data's full size (nearest-upsampled from
the current resolution), clamped to [-1, 1], from the averaged generator. The Trainer writes one grid per
resolution, samples/res-RRR.png, when that resolution's last step has run (`Model.phase`).

Deliberate differences from the paper (CelebA-HQ 1024x1024 on 8 GPUs), sized for a CPU:
- widths: `g_width`/`d_width` channels (default 64; paper 512) up to the resolution `halve_at`, halving with
  each doubling from there (default 16; paper 64: 512 up to 32x32, then 256, 128, ... 16 at 1024);
  z_dim 128 (paper 512, the base width). At width 128, 5 minutes on 2 CPU cores made 617 steps on MNIST and never
  left 14x14; width 64 makes 753 steps in 3 minutes (bf16), past the 28x28 fade-in.
- schedule: 12k + 12k images per phase (paper 800k + 800k), 4000 steps of 64 by default: the full schedule
  of 28x28 data ends at step 750 (32x32: 1125, 64x64: 1500; 3 minutes on 2 CPU cores for 28x28) and the
  rest stabilises the last resolution.
- bf16 autocast on CPU (the conv GANs' default): 19% more steps in 3 minutes than float32 at the same FID
  (86.0 vs 88.5 on MNIST, one seed, mid fade-in to 28x28).
- batch size 64 at every resolution (paper: 16, lowered to 14, 6 and 3 at 256-1024 pixels for memory; the
  phase lengths count images, so another batch size keeps the schedule). With data parallelism the images are
  counted per process.
- Adam's state is kept across resolutions (the authors' code resets it for each new resolution).
- the generator's first (dense) layer uses He's gain like every other layer (the authors' code: sqrt(2)/4).
Config keys of the GAN core that do not apply are ignored (arch, g_norm, d_norm, init) or refused (replay,
spectral_norm, g_hidden, d_hidden); `minibatch_std=false` removes the statistics plane (an ablation).
`train.compile` is best left off: the networks take alpha as a Python number, so the compiler would build a
graph for every step of a fade-in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import ConfigError, field
from genzoo.data.imageset import Batch, DataSpec
from genzoo.models.gan.core import GAN, CriticOut, GANConfig
from genzoo.models.gan.networks import FlattenHWC, pyramid
from genzoo.nn import EqualizedConv2d, EqualizedLinear, MinibatchStd, PixelNorm
from genzoo.registry import register


@dataclass
class ProGANConfig(GANConfig):
    # the core's width keys, with what they mean here
    g_width: int = field(64, "generator channels at the base resolution and up to halve_at (paper: 512)", ge=1)
    d_width: int = field(64, "discriminator channels at the base resolution and up to halve_at (paper: 512)", ge=1)
    schedule: tuple[int, int] = field((12000, 12000), "images shown in each fade-in phase and in each stabilise "
                                                      "phase (paper: 800000,800000)")
    halve_at: int = field(16, "resolution from which the channels halve with each doubling (paper: 64)", ge=1)
    eps_drift: float = field(0.001, "weight of the drift term eps * E[D(real)^2] in D's loss", ge=0)

    def validate(self) -> None:
        super().validate()
        fade, stable = self.schedule
        if fade < 1 or stable < 1:
            raise ConfigError(f"schedule: every phase must show at least 1 image, got fade-in {fade} and stabilise "
                              f"{stable}; give two positive image counts, e.g. schedule=12000,12000")
        refused = {"replay": self.replay, "spectral_norm": self.spectral_norm, "g_hidden": self.g_hidden,
                   "d_hidden": self.d_hidden}
        for key, value in refused.items():
            if value:
                raise ConfigError(f"progan has no {key} (its networks grow and use the equalized learning rate); "
                                  f"set {key}={0 if not isinstance(value, bool) else 'false'}")


def drift_penalty(real_scores: torch.Tensor) -> torch.Tensor:
    """Appendix A.1: E[D(x)^2] over real images, keeping the critic's scores from drifting far from 0."""
    return real_scores.float().pow(2).mean()


def widths(width: int, base: int, stages: int, halve_at: int) -> list[int]:
    """Channels at each resolution base * 2^k, k = 0..stages: `width`, halved once per doubling that
    reaches `halve_at` or more (never below 1)."""
    return [max(1, width >> sum(base * 2 ** j >= halve_at for j in range(1, k + 1))) for k in range(stages + 1)]


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


# ---- networks (Table 2) ----------------------------------------------------------------------------------
class ProGenerator(nn.Module):
    """z -> pixel norm -> dense to the base grid -> conv3 -> blocks (up, conv3, conv3) -> toRGB (1x1, linear).
    Every conv is followed by LeakyReLU(0.2) and pixel norm. forward(z, stage, alpha): images at
    base * 2^stage, the last block faded in with weight alpha."""

    def __init__(self, z_dim: int, channels: list[int], base: tuple[int, int], out_channels: int):
        super().__init__()
        (h0, w0), c0 = base, channels[0]
        self.base = nn.Sequential(
            PixelNorm(), EqualizedLinear(z_dim, c0 * h0 * w0), nn.Unflatten(1, (c0, h0, w0)), _lrelu(), PixelNorm(),
            EqualizedConv2d(c0, c0, 3), _lrelu(), PixelNorm())  # N x c0 x h0 x w0
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2.0, mode="nearest"),
                          EqualizedConv2d(cin, cout, 3), _lrelu(), PixelNorm(),
                          EqualizedConv2d(cout, cout, 3), _lrelu(), PixelNorm())
            for cin, cout in zip(channels, channels[1:]))
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, out_channels, 1, gain=1.0) for c in channels)

    def forward(self, z: torch.Tensor, stage: int, alpha: float = 1.0) -> torch.Tensor:
        h = self.base(z)
        old = None
        for k in range(1, stage + 1):
            if k == stage and alpha < 1:  # the previous resolution's image, upsampled (Fig. 2b)
                old = _up(self.to_rgb[k - 1](h))
            h = self.blocks[k - 1](h)
        x = self.to_rgb[stage](h)  # N x C x (h0 * 2^stage) x (w0 * 2^stage)
        return x if old is None else torch.lerp(old, x, alpha)


class ProDiscriminator(nn.Module):
    """fromRGB (1x1) -> blocks (conv3, conv3, avgpool) -> [minibatch std] -> conv3 -> dense -> dense to 1.
    LeakyReLU(0.2) after every layer but the output. forward(x, stage, alpha) -> (N x 1 scores, N x c0
    features), the newest block faded in with weight alpha against fromRGB of the 2x-pooled input."""

    def __init__(self, channels: list[int], base: tuple[int, int], in_channels: int, minibatch_std: bool = True):
        super().__init__()
        (h0, w0), c0 = base, channels[0]
        self.from_rgb = nn.ModuleList(nn.Sequential(EqualizedConv2d(in_channels, c, 1), _lrelu()) for c in channels)
        self.blocks = nn.ModuleList(
            nn.Sequential(EqualizedConv2d(cin, cin, 3), _lrelu(), EqualizedConv2d(cin, cout, 3), _lrelu(),
                          nn.AvgPool2d(2))
            for cin, cout in zip(channels[1:], channels))  # blocks[k - 1]: resolution k -> k - 1
        stats = [MinibatchStd(4)] if minibatch_std else []
        self.base = nn.Sequential(
            *stats, EqualizedConv2d(c0 + len(stats), c0, 3), _lrelu(), FlattenHWC(),
            EqualizedLinear(c0 * h0 * w0, c0), _lrelu())  # N x c0
        self.head = EqualizedLinear(c0, 1, gain=1.0)
        self.feature_dim = c0

    def forward(self, x: torch.Tensor, stage: int, alpha: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.from_rgb[stage](x)
        for k in range(stage, 0, -1):
            h = self.blocks[k - 1](h)
            if k == stage and alpha < 1:
                h = torch.lerp(self.from_rgb[k - 1](F.avg_pool2d(x, 2)), h, alpha)
        features = self.base(h)
        return self.head(features), features


# ---- the schedule ----------------------------------------------------------------------------------------
class Growth(NamedTuple):
    """Where training stands: resolution index (0 = base), fade-in weight, image size, whether fading."""

    stage: int
    alpha: float
    size: tuple[int, int]
    fading: bool


def growth_at(images: int, schedule: tuple[int, int], base: tuple[int, int], stages: int) -> Growth:
    """The growth state after `images` training images: base stabilise, then (fade-in, stabilise) per
    doubling; alpha = images into the fade-in / its length (0 at its first image)."""
    fade, stable = schedule
    (h0, w0), stage, alpha = base, 0, 1.0
    if images >= stable:
        into = images - stable
        stage = 1 + into // (fade + stable)
        if stage > stages:
            stage = stages
        else:
            r = into % (fade + stable)
            alpha = r / fade if r < fade else 1.0
    return Growth(stage, alpha, (h0 << stage, w0 << stage), alpha < 1.0)


def reachable_sizes(limit: int) -> list[int]:
    """Image sides the growth reaches (b * 2^n, 4 <= b <= 7, n >= 1) up to `limit`."""
    return sorted({b << n for b in range(4, 8) for n in range(1, 12) if b << n <= limit})


def _check_size(h: int, w: int) -> tuple[int, int, int]:
    try:
        return pyramid(h, w)
    except ConfigError:
        sizes = reachable_sizes(max(2 * max(h, w), 8))  # 8 at least: below it no size is reachable
        lower = [s for s in sizes if s <= max(h, w)][-1:]
        higher = [s for s in sizes if s > max(h, w)][:1]
        near = " or ".join(str(s) for s in lower + higher)
        raise ConfigError(
            f"progan grows images from a base of 4 to 7 pixels by doubling, so each side must be b * 2^n with "
            f"4 <= b <= 7 and n >= 1, the same n for both sides (8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, "
            f"64, ...); got {h}x{w}. Resize the data to a size that works, e.g. --set data.image_size="
            f"{(lower + higher)[0]} (nearest: {near})") from None


@register("progan", config=ProGANConfig, family="gan",
          description="Progressive growing of GANs (Karras et al. 2018): fade-in of each resolution, WGAN-GP + drift",
          preset={"g_width": 64, "d_width": 64, "z_dim": 128, "d_norm": "none", "g_norm": "none",
                  "minibatch_std": True, "loss": "wasserstein", "penalty": "gp", "penalty_weight": 10.0,
                  "n_critic": 1, "lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.0, 0.99), "ema": 0.999},
          train_defaults={"steps": 4000, "batch_size": 64, "sample_every": 0, "precision": "bf16"})
class ProGAN(GAN):
    """Progressive GAN on the GAN core: its own growing networks, critic and generator calls at the current
    resolution, the drift term as the extra D loss (see the module doc)."""

    def __init__(self, cfg: ProGANConfig, spec: DataSpec):
        h0, w0, self.stages = _check_size(spec.height, spec.width)
        self.base_size = (h0, w0)
        super().__init__(cfg, spec)
        # [step, batch size] of the last trained step: what sampling grows the networks to, in the state_dict
        # (so also `genzoo sample` on a checkpoint's weights)
        self.register_buffer("grown_at", torch.zeros(2, dtype=torch.long))
        self.growth = self.at(0, 1)

    # ---- networks ---------------------------------------------------------------------------------------
    def build_generator(self) -> nn.Module:
        ch = widths(self.cfg.g_width, self.base_size[0], self.stages, self.cfg.halve_at)
        return ProGenerator(self.latent_dim, ch, self.base_size, self.spec.channels)

    def build_discriminator(self) -> nn.Module:
        ch = widths(self.cfg.d_width, self.base_size[0], self.stages, self.cfg.halve_at)
        return ProDiscriminator(ch, self.base_size, self.spec.channels, self.cfg.minibatch_std)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, net: nn.Module | None = None
                 ) -> torch.Tensor:
        """Images at the current resolution (N x C x h x w, not clamped: the paper's linear output)."""
        return (net or self.G)(self.g_input(z, labels), self.growth.stage, self.growth.alpha)

    def critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> CriticOut:
        out, features = self.D(self.d_input(x, labels), self.growth.stage, self.growth.alpha)
        return CriticOut(out[:, 0], features, None)

    # ---- the schedule -----------------------------------------------------------------------------------
    def at(self, step: int, batch_size: int) -> Growth:
        """The growth state of training step `step` (a pure function: resume is exact anywhere)."""
        return growth_at(step * batch_size, self.cfg.schedule, self.base_size, self.stages)

    def phase(self, step: int, batch_size: int) -> str | None:
        """res-RRR: one phase (and one sample grid) per resolution, its fade-in and stabilisation together."""
        h, w = self.at(step, batch_size).size
        return f"res-{h:03d}" if h == w else f"res-{h:03d}x{w:03d}"

    def reals(self, x: torch.Tensor, g: Growth) -> torch.Tensor:
        """Real images at the growth's resolution (average pooling), faded as G's output during a fade-in."""
        x = F.adaptive_avg_pool2d(x, g.size) if x.shape[-2:] != g.size else x
        if g.fading:
            x = torch.lerp(_up(F.avg_pool2d(x, 2)), x, g.alpha)
        return x

    # ---- sampling ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None, chunk: int = 500) -> torch.Tensor:
        """Full-size images in [-1, 1] (nearest-upsampled from the resolution of the last trained step)."""
        step, batch_size = self.grown_at.tolist()
        self.growth = self.at(step, batch_size)
        x = super().decode(z, labels, chunk)
        return F.interpolate(x, size=self.spec.shape[1:], mode="nearest").clamp_(-1.0, 1.0)

    # ---- training ---------------------------------------------------------------------------------------
    def train_step(self, batch: Batch, step: int) -> dict[str, Any]:
        n = batch.x.shape[0]
        self.growth = g = self.at(step, n)
        self.grown_at.copy_(torch.tensor([step, n]))
        logs = super().train_step(dataclasses.replace(batch, x=self.reals(batch.x, g)), step)
        return {**logs, "resolution": float(g.size[0]), "alpha": g.alpha}

    def extra_d_loss(self, real: CriticOut, fake: CriticOut, labels, fake_labels
                     ) -> tuple[torch.Tensor | None, dict[str, Any]]:
        if not self.cfg.eps_drift:
            return None, {}
        drift = drift_penalty(real.score)
        return self.cfg.eps_drift * drift, {"drift": drift.detach()}
