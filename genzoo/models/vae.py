"""Variational autoencoders: VAE (Bernoulli, Gaussian or discretized logistic decoder), label-conditioned CVAE,
and IWAE.

VAE (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"): encoder q(z|x) = N(mu, diag(sigma^2)),
prior p(z) = N(0, I), decoder p(x|z) Bernoulli (binary images), Gaussian (continuous pixels, e.g.
Frey faces) or discretized logistic (8-bit pixels: each value's probability is the logistic mass of its bin, as
in Kingma et al. 2016's IAF VAE and PixelCNN++ with one component, so the likelihood is a probability and
-log p / (D ln 2) is bits per dimension, comparable with PixelCNN's). Trained on the ELBO
E_q[log p(x|z)] - KL(q || p) (their eq. 7, "SGVB B") with the reparameterisation z = mu + sigma * eps (eq. 10)
and the analytic KL (appendix B).

IWAE (Burda, Grosse & Salakhutdinov 2016): the same networks trained on the importance-weighted
bound L_k = E log (1/k) sum_i p(x, z_i) / q(z_i | x) (eq. 8) with k samples per example.

CVAE: encoder q(z|x, y) and decoder p(x|z, y) both receive the one-hot label (the "M2 with y
observed" model of Kingma et al. 2014; Sohn et al. 2015), prior N(0, I); sampling with a label
gives class-conditional images, and `log_likelihood` estimates log p(x | y).

The paper setting is `vae-burda` / `iwae-burda`: the single-stochastic-layer MNIST setting of Burda et al.
2016, section 5: two deterministic layers of 200 tanh units on each side, 50 latent units, Adam (beta1 0.9,
beta2 0.999, eps 1e-4), batch 20, and 3^i passes at learning rate 1e-3 * 10^(-i/7) for i = 0..7 (3280 epochs,
about six hours here); `schedule=burda` compresses those stages proportionally into however many steps the run
has. Published test log-likelihoods (k = 5000, dynamically binarized MNIST): VAE -86.76, IWAE (k=50) -84.78 nats.

`vae-logistic` (fully connected) and `vae-conv` (`arch=conv`: the stride-2 conv encoder and transposed-conv
decoder of `conv-ae`, with `width` channels) model grey or colour 8-bit images with the discretized logistic
decoder and report bits/dim, e.g. Fashion-MNIST and CIFAR-10 (JPEG copy).

`vae`'s own defaults serve a short run: two layers of 400 ReLU units on each side (pytorch/examples' VAE has one),
the same 50 latent units, Adam and batch 20, a cosine learning-rate decay over the run (the compressed Burda
schedule spends most of a short run at its smallest rate) and 10 epochs. Measured on MNIST, 5 epochs: negative
ELBO 105.5 and log-likelihood -101.8 nats (k=100), against 131.4 / -128.9 for the Burda setting compressed into
the same 5 epochs (bench/likelihood.py).

MNIST binarization: *dynamic* (Burda et al.): every training image is re-sampled as
Bernoulli(pixel intensity) each time it is used; evaluation uses one fixed stochastic binarization
of the evaluation set (seed 0), the same for every model, so figures are comparable between runs.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import ConfigError, field
from genzoo.data.imageset import DataSpec
from genzoo.losses import (
    bernoulli_log_likelihood,
    discretized_logistic_log_likelihood,
    elbo,
    gaussian_kl,
    gaussian_log_likelihood,
    iwae_bound,
)
from genzoo.models.autoencoder import EncoderConfig, build_decoder, build_encoder
from genzoo.models.base import Model, sample_count
from genzoo.nn import bernoulli, eval_mode, full_precision
from genzoo.registry import register, register_preset

EVAL_BINARIZATION_SEED = 0
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "softplus": nn.Softplus}


@dataclass
class VAEConfig:
    arch: Literal["mlp", "conv"] = field("mlp", "mlp: fully connected; conv: conv-ae's stride-2 conv encoder and "
                                                "transposed-conv decoder (image sides divisible by 4)")
    hidden: tuple[int, ...] = field((400, 400), "mlp: deterministic hidden layers of the encoder (decoder mirrors)",
                                    ge=1)
    width: int = field(32, "conv: channels of the first conv layer (the second has twice as many)", ge=1)
    latent_dim: int = field(50, "dimension of the latent variable z", ge=1)
    activation: Literal["tanh", "relu", "softplus"] = field("relu", "hidden-unit nonlinearity")
    decoder: Literal["bernoulli", "gaussian", "logistic"] = field(
        "bernoulli", "bernoulli: binary pixels (logits); gaussian: continuous pixels (mean and variance); "
                     "logistic: 8-bit pixels, a discretized logistic per value (mean and scale; bits/dim)")
    binarize: Literal["dynamic", "none"] = field(
        "dynamic", "dynamic: resample binary training images each time (eval: one fixed sample); none: as is")
    objective: Literal["elbo", "iwae"] = field("elbo", "training bound: the ELBO, or the importance-weighted bound")
    k: int = field(1, "samples of z per example in training (elbo: averaged; iwae: the bound's k)", ge=1)
    eval_k: int = field(100, "importance samples for the log-likelihood estimate in evaluate (paper figure: "
                             "5000)", ge=1)
    min_log_var: float = field(-6.0, "gaussian / logistic decoder: floor on each pixel's log-variance / log-scale "
                                     "(soft)")
    lr: float = field(1e-3, "Adam learning rate (peak)", gt=0)
    adam_eps: float = field(1e-4, "Adam epsilon (Burda et al. use 1e-4)", gt=0)
    schedule: Literal["burda", "cosine", "constant"] = field(
        "cosine", "burda: stages of 3^i passes at lr*10^(-i/7), i=0..7, scaled to the run; cosine; constant")

    def validate(self) -> None:
        if not self.hidden:
            raise ConfigError("hidden must list at least one positive width (e.g. 200,200)")
        if self.decoder != "bernoulli" and self.binarize != "none":
            raise ConfigError(f"a {self.decoder} decoder models grey-level pixels, not bits: set binarize=none")


def mlp(sizes: tuple[int, ...], activation: str) -> nn.Sequential:
    """Linear layers between consecutive `sizes`, with the activation after every layer but the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def burda_schedule(total_steps: int):
    """lr multiplier per step: stage i (i = 0..7) lasts 3^i / 3280 of the run at 10^(-i/7)."""
    ends = list(itertools.accumulate(3 ** i / 3280 for i in range(8)))  # fractions of the run

    def factor(step: int) -> float:
        stage = min(bisect.bisect_right(ends, step / max(total_steps, 1)), 7)
        return 10.0 ** (-stage / 7.0)

    return factor


def normal(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Standard normal noise: from `generator` (a CPU generator, for repeatable sampling and evaluation)
    or, in training, from the global RNG directly on the model's device."""
    if generator is None:
        return torch.randn(shape, device=device)
    return torch.randn(shape, generator=generator).to(device)


def binarize_fixed(images: torch.Tensor, seed: int = EVAL_BINARIZATION_SEED) -> torch.Tensor:
    """One stochastic binarization of a whole uint8 set (deterministic given the seed): 0/255 uint8."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(images.shape, generator=g)
    return ((u * 255.0) < images.float()).to(torch.uint8) * 255


def binarize_training(images: torch.Tensor, mode: str) -> torch.Tensor:
    """A training batch of uint8 images as 0/255 bits: `dynamic`, a fresh Bernoulli(intensity) sample each time;
    `threshold`, pixel > 127."""
    if mode == "dynamic":
        return bernoulli(images.float() / 255.0).to(torch.uint8) * 255
    return (images > 127).to(torch.uint8) * 255


def binarize_evaluation(images: torch.Tensor, mode: str) -> torch.Tensor:
    """The evaluation images as bits: one fixed stochastic binarization (`dynamic`) or pixel > 127 (`threshold`)."""
    return binarize_fixed(images) if mode == "dynamic" else (images > 127).to(torch.uint8) * 255


@register("vae", config=VAEConfig, family="vae",
          description="Variational autoencoder (Kingma & Welling 2014); vae-burda: Burda et al.'s MNIST setting",
          train_defaults={"epochs": 10, "batch_size": 20, "channels_last": False})
class VAE(Model):
    """VAE with a Gaussian encoder and a Bernoulli or Gaussian decoder; `objective=iwae` for the IWAE.

    `evaluate` reports the ELBO, its two terms, the IWAE bound at the training k, and the
    importance-sampled log-likelihood estimate (eval_k samples; `genzoo eval RUN --k 5000` for the
    published figure), all in nats per image, on a fixed binarization of the evaluation images.
    """

    input_range = (0.0, 1.0)
    val_metric = "elbo"
    val_higher_is_better = True
    conditional = False

    def __init__(self, cfg: VAEConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        cfg.validate()
        if self.conditional and spec.num_classes < 2:
            raise ConfigError(f"{type(self).__name__.lower()} conditions on labels, but dataset {spec.name!r} has "
                              f"{spec.num_classes} classes; use a labelled dataset (e.g. mnist)")
        self.data_dim = math.prod(spec.shape)
        self.n_cond = spec.num_classes if self.conditional else 0
        per_value = 1 if cfg.decoder == "bernoulli" else 2  # logits, or (mean, log-variance / log-scale)
        if cfg.arch == "conv":
            if self.conditional:
                raise ConfigError(f"{self.name} takes its label through the fully connected nets: use arch=mlp")
            self.encoder = build_encoder(EncoderConfig("conv", 2 * cfg.latent_dim, width=cfg.width), spec)
            self.encoder.insert(0, nn.Unflatten(1, spec.shape))  # the bounds work on flattened images
            out_spec = dataclasses.replace(spec, channels=per_value * spec.channels)  # channel-major: chunk splits
            self.decoder = build_decoder(EncoderConfig("conv", cfg.latent_dim, width=cfg.width), out_spec)
        else:
            self.encoder = mlp((self.data_dim + self.n_cond, *cfg.hidden, 2 * cfg.latent_dim), cfg.activation)
            self.decoder = mlp((cfg.latent_dim + self.n_cond, *reversed(cfg.hidden), per_value * self.data_dim),
                               cfg.activation)

    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    # ---- the two networks ---------------------------------------------------------------------------
    def _onehot(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if not self.conditional:
            return None
        if labels is None:
            raise ConfigError(f"{self.name} is conditional: it needs labels")
        if len(labels) != n:
            raise ConfigError(f"{n} inputs but {len(labels)} labels")
        return F.one_hot(labels.to(self.device).long(), self.n_cond).float()

    @staticmethod
    def _with(h: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """Append the one-hot label (broadcast over leading sample dims) to the last dim."""
        if cond is None:
            return h
        return torch.cat([h, cond.expand(*h.shape[:-1], cond.shape[-1])], -1)

    def posterior(self, x_flat: torch.Tensor, cond: torch.Tensor | None = None):
        """q(z | x[, y]): mean and log-variance, each N x latent_dim."""
        mu, log_var = self.encoder(self._with(x_flat, cond)).chunk(2, dim=-1)
        return mu, log_var

    def decoder_params(self, z: torch.Tensor, cond: torch.Tensor | None = None):
        """p(x | z[, y]): Bernoulli logits; (mean in (0,1), log-variance) for Gaussian; (mean on the [-1, 1] pixel
        grid, log-scale) for the discretized logistic; the log-variance / log-scale is >= about min_log_var."""
        h = self._with(z, cond)
        out = self.decoder(h.reshape(-1, h.shape[-1])).reshape(*h.shape[:-1], -1)  # leading sample dims: conv
        if self.cfg.decoder == "bernoulli":
            return out
        mean, raw = out.chunk(2, dim=-1)
        floor = self.cfg.min_log_var  # soft floor: stays differentiable, stops variances collapsing to 0
        mean = torch.sigmoid(mean) if self.cfg.decoder == "gaussian" else mean
        return mean, floor + F.softplus(raw - floor)

    def log_px_given_z(self, x_flat: torch.Tensor, z: torch.Tensor, cond: torch.Tensor | None = None):
        """log p(x | z) summed over pixels; z may carry leading sample dims (k x N x latent)."""
        params = self.decoder_params(z, cond)
        if self.cfg.decoder == "bernoulli":
            return bernoulli_log_likelihood(params, x_flat)
        if self.cfg.decoder == "logistic":  # x in [0, 1] on the k/255 grid -> the [-1, 1] grid
            return discretized_logistic_log_likelihood(2 * x_flat - 1, *params)
        return gaussian_log_likelihood(x_flat, *params)

    # ---- bounds --------------------------------------------------------------------------------------
    def log_weights(self, x_flat: torch.Tensor, k: int, cond: torch.Tensor | None = None,
                    generator: torch.Generator | None = None, posterior=None) -> torch.Tensor:
        """k importance log-weights log p(x, z_i) - log q(z_i | x), z_i ~ q: shape k x N."""
        mu, log_var = posterior if posterior is not None else self.posterior(x_flat, cond)
        eps = normal((k, *mu.shape), generator, mu.device)
        z = mu + torch.exp(0.5 * log_var) * eps  # reparameterisation, k x N x latent
        log_pz = gaussian_log_likelihood(z, torch.zeros_like(z), 0.0)
        log_qz = gaussian_log_likelihood(z, mu, log_var)
        return self.log_px_given_z(x_flat, z, cond) + log_pz - log_qz

    def elbo_terms(self, x_flat: torch.Tensor, cond: torch.Tensor | None = None, k: int = 1,
                   generator: torch.Generator | None = None):
        """(ELBO, E_q log p(x|z), KL) per example with the analytic KL and k samples of z."""
        mu, log_var = self.posterior(x_flat, cond)
        eps = normal((k, *mu.shape), generator, mu.device)
        rec = self.log_px_given_z(x_flat, mu + torch.exp(0.5 * log_var) * eps, cond)  # k x N
        kl = gaussian_kl(mu, log_var)
        return elbo(rec, kl), rec.mean(0), kl

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, k: int = 5000, labels: torch.Tensor | None = None,
                       generator: torch.Generator | None = None, chunk_rows: int = 50_000) -> torch.Tensor:
        """Importance-sampled estimate of log p(x) (CVAE: log p(x | y)) per image, in nats, with k samples
        from q(z|x) as the proposal (Burda et al. 2016, sec. 5: k = 5000). `x`: N x C x H x W in the
        model's data domain (binary images for a Bernoulli decoder). Samples are processed in chunks
        of about `chunk_rows` decoder rows, combined with a running logsumexp.
        """
        x_flat = x.to(self.device).flatten(1).float()
        cond = self._onehot(labels, len(x))
        post = self.posterior(x_flat, cond)
        step = max(1, chunk_rows // len(x))
        total = None
        for start in range(0, k, step):
            lw = self.log_weights(x_flat, min(step, k - start), cond, generator, posterior=post)
            part = torch.logsumexp(lw, 0)
            total = part if total is None else torch.logaddexp(total, part)
        return total - math.log(k)

    # ---- generation -----------------------------------------------------------------------------------
    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return normal((n, self.latent_dim), generator, self.device)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Latents N x latent_dim -> mean images N x C x H x W in [0, 1] (Bernoulli or Gaussian means; the
        logistic's location, which is its mean up to the edge bins)."""
        if self.conditional and labels is None:
            labels = torch.arange(len(z)) % self.n_cond
        params = self.decoder_params(z.to(self.device), self._onehot(labels, len(z)))
        if self.cfg.decoder == "bernoulli":
            mean = torch.sigmoid(params)
        elif self.cfg.decoder == "logistic":
            mean = (params[0].clamp(-1, 1) + 1) / 2
        else:
            mean = params[0]
        return mean.reshape(len(z), *self.spec.shape)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None):
        """Mean images of p(x | z) for z from the prior (conditional: for `labels`, default 0,1,2,...)."""
        n = sample_count(n)
        if labels is not None and not self.conditional:
            raise ConfigError(f"{self.name} is not conditional: it takes no labels")
        return self.decode(self.sample_latent(n, generator), labels)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Posterior means N x latent_dim (the code used for plots and the latent manifold)."""
        if self.conditional and labels is None:
            raise ConfigError(f"{self.name} is conditional: encode needs the labels")
        return self.posterior(x.to(self.device).flatten(1), self._onehot(labels, len(x)))[0]

    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, labels), labels)

    # ---- training -------------------------------------------------------------------------------------
    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """Dynamic binarization: a fresh Bernoulli(intensity) sample of every image each time it is used."""
        return binarize_training(images, "dynamic") if self.cfg.binarize == "dynamic" else images

    def configure_optimizers(self, total_steps: int) -> None:
        opt = torch.optim.Adam(self.parameters(), lr=self.cfg.lr, betas=(0.9, 0.999), eps=self.cfg.adam_eps)
        self.optimizers = {"net": opt}
        if self.cfg.schedule == "burda":
            self.schedulers = {"net": torch.optim.lr_scheduler.LambdaLR(opt, burda_schedule(total_steps))}
        elif self.cfg.schedule == "cosine":
            self.schedulers = {"net": torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(total_steps, 1))}

    def _batch_cond(self, batch) -> torch.Tensor | None:
        if self.conditional and batch.y is None:
            raise ConfigError(f"{self.name} needs labels; this dataset has none")
        return self._onehot(batch.y, len(batch.x)) if self.conditional else None

    def train_step(self, batch, step: int) -> dict[str, Any]:
        x_flat = batch.x.flatten(1).float()
        cond = self._batch_cond(batch)
        if self.cfg.objective == "iwae":
            bound = iwae_bound(self.log_weights(x_flat, self.cfg.k, cond))
            out = {"iwae_bound": bound.mean().detach()}
        else:
            bound, rec, kl = self.elbo_terms(x_flat, cond, self.cfg.k)
            out = {"recon": rec.mean().detach(), "kl": kl.mean().detach()}
        loss = -bound.mean()
        self.optimize("net", loss)
        return {"loss": loss.detach(), **out}

    # ---- evaluation -----------------------------------------------------------------------------------
    def eval_images(self, data) -> torch.Tensor:
        """The evaluation images as the model sees them: one fixed binarization for binary models."""
        return binarize_fixed(data.images) if self.cfg.binarize == "dynamic" else data.images

    @full_precision
    @torch.no_grad()
    def evaluate(self, data, batch_size: int = 1000, k: int | None = None) -> dict[str, Any]:
        """Per-image figures in nats on `data` (fixed binarization; all sampling seeded, so repeatable)."""
        if self.conditional and data.labels is None:
            raise ConfigError(f"{self.name} needs labelled evaluation data")
        k = k or self.cfg.eval_k
        g = torch.Generator().manual_seed(0)
        images = self.eval_images(data)
        with eval_mode(self):
            sums = {"elbo": 0.0, "recon_log_likelihood": 0.0, "kl": 0.0, "log_likelihood": 0.0, "mse": 0.0}
            if self.cfg.k > 1:
                sums[f"iwae_bound_k{self.cfg.k}"] = 0.0
            # bound the decoder rows per chunk (k samples x batch) to keep memory flat whatever k is
            batch_size = max(1, min(batch_size, 500_000 // k)) if k > 100 else batch_size
            for start in range(0, len(images), batch_size):
                x = self.prepare(images[start:start + batch_size])
                labels = None if data.labels is None else data.labels[start:start + batch_size]
                cond = self._onehot(labels, len(x)) if self.conditional else None
                x_flat = x.flatten(1)
                bound, rec, kl = self.elbo_terms(x_flat, cond, 1, g)
                sums["elbo"] += float(bound.sum())
                sums["recon_log_likelihood"] += float(rec.sum())
                sums["kl"] += float(kl.sum())
                y = labels if self.conditional else None
                sums["log_likelihood"] += float(self.log_likelihood(x, k, y, g).sum())
                if self.cfg.k > 1:
                    bound_k = iwae_bound(self.log_weights(x_flat, self.cfg.k, cond, g))
                    sums[f"iwae_bound_k{self.cfg.k}"] += float(bound_k.sum())
                recon = self.reconstruct(x, y).flatten(1)
                sums["mse"] += float((recon - x_flat).pow(2).mean(1).sum())
        n = len(images)
        res: dict[str, Any] = {key: v / n for key, v in sums.items()}
        if self.cfg.decoder != "gaussian":  # a probability of discrete pixels (a density has no bits/dim)
            res["bits_per_dim"] = -res["log_likelihood"] / (self.data_dim * math.log(2))
            res["elbo_bits_per_dim"] = -res["elbo"] / (self.data_dim * math.log(2))
        res["log_likelihood_k"] = k
        res["n"] = n
        if getattr(self, "eval_options", None) is not None:  # set by the Trainer / genzoo eval: FID, KID, ...
            res = self.with_sample_metrics(res, data)
        return res


@register("cvae", config=VAEConfig, family="vae",
          description="Label-conditioned VAE: class-conditional samples with `genzoo sample --labels`",
          train_defaults={"epochs": 10, "batch_size": 20, "channels_last": False})
class CVAE(VAE):
    """VAE whose encoder and decoder both see the one-hot class label; `sample(n, labels)` draws digits
    of the given classes and `log_likelihood` estimates log p(x | y)."""

    conditional = True


register_preset(
    "iwae", "vae",
    description="Importance-weighted autoencoder, k=50 (Burda et al. 2016); iwae-burda: their MNIST setting",
    preset={"objective": "iwae", "k": 50})
BURDA = {"hidden": (200, 200), "activation": "tanh", "schedule": "burda"}
register_preset(
    "vae-burda", "vae",
    description="VAE in Burda et al.'s MNIST setting: 200-200 tanh, 50 latent, batch 20, 3280 epochs (sec. 5)",
    preset=BURDA, train_defaults={"epochs": 3280, "batch_size": 20})
register_preset(
    "iwae-burda", "vae",
    description="IWAE k=50 in Burda et al.'s MNIST setting (their table 1: -84.78 nats)",
    preset={**BURDA, "objective": "iwae", "k": 50}, train_defaults={"epochs": 3280, "batch_size": 20})
register_preset(
    "vae-frey", "vae",
    description="VAE with a Gaussian decoder and 2-D latent for Frey faces (Kingma & Welling 2014, fig. 4)",
    preset={"decoder": "gaussian", "binarize": "none", "hidden": (200,), "activation": "tanh", "latent_dim": 2,
            "schedule": "constant",
            "eval_k": 1000},
    train_defaults={"epochs": 3000, "batch_size": 100, "channels_last": False})
LOGISTIC = {"decoder": "logistic", "binarize": "none"}
register_preset(
    "vae-logistic", "vae",
    description="VAE with a discretized logistic decoder for 8-bit grey or colour pixels: test bits/dim "
                "(Kingma et al. 2016's decoder), e.g. Fashion-MNIST",
    preset=LOGISTIC, train_defaults={"epochs": 10, "batch_size": 100, "channels_last": False})
register_preset(
    "vae-conv", "vae",
    description="Convolutional VAE (conv-ae's nets, width 64) with a discretized logistic decoder: bits/dim on "
                "colour images, e.g. CIFAR-10",
    preset={**LOGISTIC, "arch": "conv", "width": 64, "latent_dim": 128},
    train_defaults={"epochs": 10, "batch_size": 100, "channels_last": False})
