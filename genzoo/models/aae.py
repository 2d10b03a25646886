"""Adversarial autoencoders (Makhzani, Shlens, Jaitly, Goodfellow & Frey 2016, "Adversarial Autoencoders").

An autoencoder whose code distribution q(z) is pushed to a prior p(z) by a GAN on the code: a
discriminator tells prior samples from codes of data, and the encoder (the GAN's generator) learns
to fool it. Each training step has the paper's phases (Sec. 2): reconstruction (encoder and
decoder), regularisation (the code discriminator, then the encoder against it). Once q(z) matches
p(z), decoding prior samples gives images.

Variants (registered names):
  aae             unsupervised, Gaussian prior N(0, I) (`prior=mixture`: 10 Gaussians on a circle in the
                  first two code dimensions, the paper's Fig. 2 prior).
  aae-supervised  the label's one-hot goes to the decoder too (Sec. 4, Fig. 6): z keeps only the style,
                  `genzoo sample RUN --labels 3` draws 3s; conditional.
  aae-semi        semi-supervised (Sec. 5, Fig. 8): the encoder also outputs q(y|x), a softmax over the
                  K classes, pushed to one-hot vectors of Cat(K) by a second discriminator; the decoder
                  sees [y, z]; cross-entropy on `labelled` (100) labelled training examples (collected
                  class-balanced from the first batches; no other label is read).
  aae-cluster     unsupervised clustering (Sec. 6): the same with no labels and 16 clusters.

Defaults: the paper's MNIST nets, 784-1000-1000 ReLU encoder and decoder (sigmoid output,
cross-entropy), 1000-1000 ReLU discriminators, 8-D Gaussian code. Differs: Adam (reconstruction
lr 1e-3; the adversarial phases lr 2e-4, beta1 0.5) instead of SGD with momentum.

Evaluation: `mse` (reconstruction, per pixel in [0, 1]), `code_mean`/`code_std` (average |mean| and std
of each code dimension on the data: 0 and 1 when q(z) matches N(0, I)); categorical variants:
`cluster_accuracy` (Hungarian, one-to-one) and `cluster_majority_accuracy` (each cluster named by its
most frequent class, the paper's Table 3 protocol: 9.55% error with 16 clusters, 4.10% with 30), and
with labels `accuracy` (Table 2: 1.90% error with 100 labels); plus FID etc. of the samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from genzoo.config import ConfigError, field
from genzoo.data.imageset import Batch, DataSpec
from genzoo.losses import bernoulli_log_likelihood, d_loss_bce, g_loss_nonsaturating
from genzoo.metrics.matching import cluster_figures
from genzoo.models.base import Model, sample_count
from genzoo.models.vae import mlp, normal
from genzoo.nn import LabelledPool
from genzoo.registry import register, register_preset


@dataclass
class AAEConfig:
    hidden: tuple[int, ...] = field((1000, 1000), "encoder hidden widths (the decoder mirrors them)", ge=1)
    d_hidden: tuple[int, ...] = field((1000, 1000), "hidden widths of the code discriminators", ge=1)
    latent_dim: int = field(8, "size of the continuous code z", ge=1)
    prior: Literal["gaussian", "mixture"] = field(
        "gaussian", "gaussian: N(0, I); mixture: 10 Gaussians on a circle in the first two code dimensions")
    categorical: int = field(0, "K > 0: the encoder also outputs a K-way softmax code y, pushed to one-hot "
                                "(Sec. 5-6)", ge=0)
    labelled: int = field(0, "labelled training examples for the cross-entropy on y (needs categorical = "
                             "classes)", ge=0)
    lambda_sup: float = field(1.0, "weight of the cross-entropy on the labelled examples", ge=0)
    lr: float = field(1e-3, "Adam learning rate of the reconstruction phase", gt=0)
    lr_adv: float = field(2e-4, "Adam learning rate of the adversarial phases (beta1 0.5); 0 turns them off", ge=0)

    def validate(self) -> None:
        if not self.hidden or not self.d_hidden:
            raise ConfigError("hidden and d_hidden must list positive widths (e.g. 1000,1000)")
        if self.categorical == 1:
            raise ConfigError("categorical must be 0 (none) or >= 2")
        if self.prior == "mixture" and self.latent_dim < 2:
            raise ConfigError("the mixture prior lives in the first two code dimensions: latent_dim >= 2")
        if self.labelled and not self.categorical:
            raise ConfigError("labelled examples train the categorical code y: set categorical to the classes (10)")


def mixture_means(k: int = 10, radius: float = 4.0) -> torch.Tensor:
    """k points evenly on a circle of `radius` (k x 2): the modes of the mixture prior."""
    a = torch.arange(k) * (2 * math.pi / k)
    return torch.stack([a.cos(), a.sin()], 1) * radius


_TRAIN = {"epochs": 50, "batch_size": 100, "sample_every": 1000, "channels_last": False}


@register("aae", config=AAEConfig, family="autoencoder",
          description="Adversarial autoencoder (Makhzani et al. 2016): code pushed to a prior by a discriminator",
          train_defaults=_TRAIN)
class AAE(Model):
    """Adversarial autoencoder (see the module doc for the variants)."""

    input_range = (0.0, 1.0)
    val_metric = "mse"
    val_higher_is_better = False
    conditional = False  # aae-supervised: the label goes to the decoder

    def __init__(self, cfg: AAEConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        cfg.validate()
        if (self.conditional or cfg.labelled) and spec.num_classes < 2:
            raise ConfigError(f"{self.name or 'this model'} needs labels, dataset {spec.name!r} has none")
        if cfg.labelled and cfg.categorical != spec.num_classes:
            raise ConfigError(f"semi-supervised AAE needs categorical = the dataset's {spec.num_classes} classes, "
                              f"got {cfg.categorical}")
        d = math.prod(spec.shape)
        k, n_cond = cfg.categorical, spec.num_classes if self.conditional else 0
        self.encoder = mlp((d, *cfg.hidden, cfg.latent_dim + k), "relu")  # -> [z, y logits]
        self.decoder = mlp((cfg.latent_dim + k + n_cond, *reversed(cfg.hidden), d), "relu")  # -> pixel logits
        self.d_z = mlp((cfg.latent_dim, *cfg.d_hidden, 1), "relu")
        self.d_y = mlp((k, *cfg.d_hidden, 1), "relu") if k else None
        self.pool = LabelledPool(cfg.labelled, k, spec.shape) if cfg.labelled else None
        self.register_buffer("means", mixture_means(), persistent=False)

    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    # ---- the networks ----------------------------------------------------------------------------------
    def encode_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Images -> (z N x latent_dim, y logits N x K or None)."""
        h = self.encoder(x.flatten(1))
        z, y = h[:, :self.cfg.latent_dim], h[:, self.cfg.latent_dim:]
        return z, (y if self.cfg.categorical else None)

    def _onehot(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if not self.conditional:
            return None
        if labels is None or len(labels) != n:
            raise ConfigError(f"{self.name} is conditional: give one label per image")
        return F.one_hot(labels.to(self.device).long(), self.spec.num_classes).float()

    def decoder_logits(self, z: torch.Tensor, y: torch.Tensor | None = None, cond: torch.Tensor | None = None):
        """[z, y (softmax / one-hot), one-hot label] -> N x D pixel logits."""
        return self.decoder(torch.cat([t for t in (z, y, cond) if t is not None], 1))

    # ---- generative / encoder contract -------------------------------------------------------------------
    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = normal((n, self.cfg.latent_dim), generator, self.device)
        if self.cfg.prior == "mixture":  # component per sample; std 0.5 around its mean in dims 0-1
            comp = torch.randint(0, len(self.means), (n,), generator=generator).to(self.device)
            z = torch.cat([self.means[comp] + 0.5 * z[:, :2], z[:, 2:]], 1)
        return z

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """[z from the prior, one-hot y from Cat(K)] (just z without a categorical code)."""
        z = self.sample_prior(n, generator)
        if not self.cfg.categorical:
            return z
        y = torch.randint(0, self.cfg.categorical, (n,), generator=generator).to(self.device)
        return torch.cat([z, F.one_hot(y, self.cfg.categorical).float()], 1)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Latents (as `sample_latent`) -> images N x C x H x W in [0, 1] (conditional: for `labels`, default
        0, 1, 2, ... as the CVAE)."""
        z = z.to(self.device)
        if self.conditional and labels is None:
            labels = torch.arange(len(z)) % self.spec.num_classes
        out = self.decoder_logits(z, None, self._onehot(labels, len(z)))
        return torch.sigmoid(out).float().reshape(len(z), *self.spec.shape)

    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None):
        n = sample_count(n)
        if labels is not None and not self.conditional:
            raise ConfigError(f"{self.name} is not conditional: it takes no labels")
        return self.decode(self.sample_latent(n, generator), labels)

    def _latent_of(self, x: torch.Tensor) -> torch.Tensor:
        """What the decoder sees for x: [z, softmax y]."""
        z, y = self.encode_parts(x)
        return z if y is None else torch.cat([z, y.softmax(1)], 1)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images -> the continuous code z (N x latent_dim)."""
        return self.encode_parts(x.to(self.device))[0]

    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = x.to(self.device)
        return self.decode(self._latent_of(x), labels)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """argmax q(y | x): the class (semi-supervised) or cluster of each image (N,)."""
        if not self.cfg.categorical:
            raise ConfigError(f"{self.name} has no categorical code; use aae-semi or aae-cluster")
        return self.encode_parts(x.to(self.device))[1].argmax(1)

    # ---- training: reconstruction, then regularisation (D, then the encoder as generator) --------------
    def configure_optimizers(self, total_steps: int) -> None:
        c = self.cfg
        d_params = list(self.d_z.parameters()) + (list(self.d_y.parameters()) if self.d_y is not None else [])
        self.optimizers = {
            "ae": torch.optim.Adam(list(self.encoder.parameters()) + list(self.decoder.parameters()), lr=c.lr),
            "d": torch.optim.Adam(d_params, lr=c.lr_adv, betas=(0.5, 0.999)),
            "gen": torch.optim.Adam(self.encoder.parameters(), lr=c.lr_adv, betas=(0.5, 0.999))}

    def train_step(self, batch: Batch, step: int) -> dict[str, Any]:
        x, n = batch.x, batch.x.shape[0]
        cond = self._onehot(batch.y, n)
        if self.pool is not None:
            self.pool.add(x, batch.y)
        # 1. reconstruction phase: -log p(x | z, y) summed over pixels, nats per image (+ cross-entropy on labels)
        z, y = self.encode_parts(x)
        logits = self.decoder_logits(z, None if y is None else y.softmax(1), cond)
        rec = -bernoulli_log_likelihood(logits.float(), x.flatten(1)).mean()
        logs: dict[str, Any] = {"loss_rec": rec.detach()}
        loss_ae = rec
        drawn = self.pool.draw(n) if self.pool is not None else None
        if drawn is not None:  # the semi-supervised phase, folded into this one (same encoder, same lr)
            ce = F.cross_entropy(self.encode_parts(drawn[0])[1].float(), drawn[1])
            loss_ae = loss_ae + self.cfg.lambda_sup * ce
            logs["ce_labelled"] = ce.detach()
        self.optimize("ae", loss_ae)
        # 2. regularisation phase, discriminator: prior samples are "real", codes of data "fake"
        z, y = (t.detach() if t is not None else None for t in self.encode_parts(x))
        loss_d = d_loss_bce(self.d_z(self.sample_prior(n))[:, 0].float(), self.d_z(z)[:, 0].float())
        if y is not None:
            onehot = F.one_hot(torch.randint(0, self.cfg.categorical, (n,), device=self.device), self.cfg.categorical)
            loss_d = loss_d + d_loss_bce(self.d_y(onehot.float())[:, 0].float(), self.d_y(y.softmax(1))[:, 0].float())
        self.optimize("d", loss_d)
        # 3. regularisation phase, encoder as generator
        z, y = self.encode_parts(x)
        loss_g = g_loss_nonsaturating(self.d_z(z)[:, 0].float())
        if y is not None:
            loss_g = loss_g + g_loss_nonsaturating(self.d_y(y.softmax(1))[:, 0].float())
        self.optimize("gen", loss_g)
        return {**logs, "loss_d": loss_d.detach(), "loss_g": loss_g.detach()}

    # ---- evaluation ------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        sq, codes, preds = 0.0, [], []
        for images, labels, _ in data.iter_ordered(batch_size):
            x = self.prepare(images)
            rec = self.reconstruct(x, labels if self.conditional else None)
            sq += float((rec - x).pow(2).sum())
            z, y = self.encode_parts(x)
            codes.append(z.float().cpu())
            if y is not None:
                preds.append(y.argmax(1).cpu())
        codes = torch.cat(codes)
        res: dict[str, Any] = {"mse": sq / (len(codes) * math.prod(self.spec.shape)),
                               "code_mean": float(codes.mean(0).abs().mean()), "code_std": float(codes.std(0).mean())}
        if preds and data.labels is not None and data.num_classes >= 2:
            res.update(cluster_figures(torch.cat(preds), data.labels, self.cfg.categorical, bool(self.cfg.labelled)))
        if getattr(self, "eval_options", None) is not None:
            res.update(self.sample_metrics(data))
        return res


@register("aae-supervised", config=AAEConfig, family="autoencoder",
          description="Label-conditioned AAE (Makhzani et al. 2016, Sec. 4): the label goes to the decoder, z keeps "
                      "the style", train_defaults=_TRAIN)
class SupervisedAAE(AAE):
    conditional = True


register_preset(
    "aae-semi", "aae", preset={"categorical": 10, "labelled": 100},
    description="Semi-supervised AAE (Makhzani et al. 2016, Sec. 5): categorical code y with 100 labels",
    train_defaults=_TRAIN)
register_preset(
    "aae-cluster", "aae", preset={"categorical": 16},
    description="Unsupervised clustering AAE (Makhzani et al. 2016, Sec. 6): 16 clusters",
    train_defaults=_TRAIN)
