"""Autoencoders: linear (the PCA equivalent), deep fully connected, convolutional, and binary-code.

- `linear-ae`: affine encoder and decoder trained with squared error. Its optimum spans the same
  subspace as the top-k principal components (Baldi & Hornik 1989, "Neural networks and principal
  component analysis"); see `genzoo.models.pca` for the baseline and the principal-angle check.
  Like PCA it works on centred data: the running mean of the training images is subtracted before
  the encoder and added back after the decoder. That is the same affine model, reparameterised;
  without it the mean direction dominates the inputs' second moment and gradient descent crawls
  (measured on rank-4 data: max principal angle 0.52 rad after 1000 Adam steps uncentred, 0.007
  after 300 centred).
- `ae`: the deep autoencoder of Hinton & Salakhutdinov (2006, Science), 784-1000-500-250-30 with a
  linear code layer and logistic outputs trained with cross-entropy. Deliberate difference: ReLU
  hidden units trained end to end with Adam instead of logistic units with RBM pretraining.
- `conv-ae`: two stride-2 convolutions -> linear code -> two transposed convolutions.
- `binary-ae`: a deep autoencoder whose code units are logistic and forced to be binary, for retrieval
  by Hamming distance (semantic hashing, Salakhutdinov & Hinton 2009; Krizhevsky & Hinton 2011 use
  28- and 256-bit codes for images). The code units' input is batch-normalised, so that every bit
  starts out on for about half the images (without it most bits settle on a constant value and the
  codes collapse to a few dozen distinct ones; measured on mnist-mini). Training uses the
  straight-through estimator (threshold forward, sigmoid gradient backward; Bengio et al. 2013) or,
  as in the papers, Gaussian noise added to the code units' input so that only saturated (near
  0/1) units carry information. At test time the codes are thresholded at 0.5.

Images are floats in [0, 1]; the decoder returns logits (sigmoid outputs), except for the linear
autoencoder whose output is affine so that it can equal PCA's reconstruction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from genzoo.config import ConfigError, field
from genzoo.data.imageset import DataSpec
from genzoo.losses import bernoulli_log_likelihood
from genzoo.metrics.retrieval import chance_precision, nearest_neighbours, precision_at_k
from genzoo.models.base import Model
from genzoo.nn import eval_mode
from genzoo.registry import register, register_preset


@dataclass
class EncoderConfig:
    """The encoder architecture (shared with the semi-supervised classifier that reuses it)."""

    arch: Literal["mlp", "conv", "linear"] = field("mlp", "mlp: fully connected; conv: convolutional; linear: affine")
    code_dim: int = field(30, "size of the code layer (number of bits for binary codes)", ge=1)
    hidden: tuple[int, ...] = field((1000, 500, 250), "mlp: encoder hidden widths (the decoder mirrors them)", ge=1)
    width: int = field(32, "conv: channels of the first conv layer (the second has twice as many)", ge=1)

    def validate(self) -> None:
        if self.arch == "mlp" and not self.hidden:
            raise ConfigError("hidden must list at least one positive width for arch=mlp (e.g. 1000,500,250)")


@dataclass
class AutoencoderConfig(EncoderConfig):
    code: Literal["real", "binary"] = field("real", "real-valued code, or binary code units")
    binarize: Literal["straight-through", "noise"] = field(
        "straight-through", "binary codes: straight-through estimator, or Gaussian noise before the logistic units")
    noise_std: float = field(2.0, "binary codes, binarize=noise: std of the noise added to the code units' input", ge=0)
    loss: Literal["bce", "mse"] = field("bce", "reconstruction loss: cross-entropy on logits, or squared error")
    lr: float = field(1e-3, "Adam learning rate", gt=0)
    weight_decay: float = field(0.0, "Adam weight decay", ge=0)
    schedule: Literal["cosine", "constant"] = field("cosine", "learning-rate schedule over the run")

    def validate(self) -> None:
        super().validate()
        if self.arch == "linear" and self.loss != "mse":
            raise ConfigError("the linear autoencoder is the PCA equivalent only with loss=mse")


def check_spec(cfg: EncoderConfig, spec: DataSpec) -> None:
    if cfg.arch == "conv" and (spec.height % 4 or spec.width % 4):
        raise ConfigError(f"arch=conv needs image sides divisible by 4, got {spec.height}x{spec.width}; "
                          "use arch=mlp or resize with --set data.image_size=...")


def build_encoder(cfg: EncoderConfig, spec: DataSpec) -> nn.Sequential:
    """N x C x H x W images -> N x code_dim (pre-activation of the code units)."""
    check_spec(cfg, spec)
    c, h, w = spec.shape
    d = c * h * w
    if cfg.arch == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(d, cfg.code_dim))
    if cfg.arch == "conv":
        return nn.Sequential(
            nn.Conv2d(c, cfg.width, 4, 2, 1), nn.ReLU(inplace=True),                 # w x H/2 x W/2
            nn.Conv2d(cfg.width, 2 * cfg.width, 4, 2, 1), nn.ReLU(inplace=True),     # 2w x H/4 x W/4
            nn.Flatten(), nn.Linear(2 * cfg.width * (h // 4) * (w // 4), cfg.code_dim))
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in zip((d, *cfg.hidden), cfg.hidden):
        layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.Linear(cfg.hidden[-1], cfg.code_dim))


def build_decoder(cfg: EncoderConfig, spec: DataSpec) -> nn.Sequential:
    """N x code_dim -> N x D flattened outputs (logits, or values for the linear autoencoder)."""
    c, h, w = spec.shape
    d = c * h * w
    if cfg.arch == "linear":
        return nn.Sequential(nn.Linear(cfg.code_dim, d))
    if cfg.arch == "conv":
        return nn.Sequential(
            nn.Linear(cfg.code_dim, 2 * cfg.width * (h // 4) * (w // 4)), nn.ReLU(inplace=True),
            nn.Unflatten(1, (2 * cfg.width, h // 4, w // 4)),
            nn.ConvTranspose2d(2 * cfg.width, cfg.width, 4, 2, 1), nn.ReLU(inplace=True),  # w x H/2 x W/2
            nn.ConvTranspose2d(cfg.width, c, 4, 2, 1), nn.Flatten())                      # D
    widths = tuple(reversed(cfg.hidden))
    layers: list[nn.Module] = []
    for a, b in zip((cfg.code_dim, *widths), widths):
        layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.Linear(widths[-1], d))


class RunningMean(nn.Module):
    """The exact mean of all training inputs seen so far (buffers, so checkpoints and resume keep it)."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x_flat: torch.Tensor) -> None:
        self.count += len(x_flat)
        self.mean += (x_flat.float().mean(0) - self.mean) * (len(x_flat) / float(self.count))


def adam_with_schedule(model: Model, params, lr: float, weight_decay: float, schedule: str,
                       total_steps: int) -> None:
    """One Adam optimizer 'net' over `params`, with an optional cosine decay to zero."""
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    model.optimizers = {"net": opt}
    if schedule == "cosine":
        model.schedulers = {"net": torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(total_steps, 1))}


@register("ae", config=AutoencoderConfig, family="autoencoder",
          description="Deep fully connected autoencoder 784-1000-500-250-30 (Hinton & Salakhutdinov 2006)",
          train_defaults={"epochs": 20, "batch_size": 100})
class Autoencoder(Model):
    """Autoencoder with a real or binary code; `evaluate` gives reconstruction error (and retrieval
    precision@k by Hamming distance for binary codes)."""

    input_range = (0.0, 1.0)
    val_metric = "mse"
    val_higher_is_better = False

    def __init__(self, cfg: AutoencoderConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        cfg.validate()
        self.encoder = build_encoder(cfg, spec)
        self.decoder = build_decoder(cfg, spec)
        self.binary = cfg.code == "binary"
        if self.binary:  # balanced bits from the start (see the module docstring)
            self.encoder.append(nn.BatchNorm1d(cfg.code_dim))
        # the linear autoencoder works on centred data, as PCA does (see the module docstring)
        self.centre = RunningMean(math.prod(spec.shape)) if cfg.arch == "linear" else None

    @property
    def code_dim(self) -> int:
        return self.cfg.code_dim

    # ---- the code layer ----------------------------------------------------------------------------
    def _pre_code(self, x: torch.Tensor) -> torch.Tensor:
        """The code units' input (N x code_dim)."""
        if self.centre is not None:
            x = x.flatten(1) - self.centre.mean
        return self.encoder(x)

    def _code(self, x: torch.Tensor) -> torch.Tensor:
        """Code used in training: real, or binary-ish (noisy logistic / straight-through)."""
        a = self._pre_code(x)
        if not self.binary:
            return a
        if not self.training:
            return (a > 0).to(a.dtype)
        if self.cfg.binarize == "noise":
            return torch.sigmoid(a + self.cfg.noise_std * torch.randn_like(a))
        p = torch.sigmoid(a)
        return (p > 0.5).to(p.dtype) + p - p.detach()  # forward: 0/1; backward: d sigmoid

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N x C x H x W in [0, 1]) -> codes N x code_dim (exactly 0/1 for binary codes)."""
        a = self._pre_code(x)
        return (a > 0).to(a.dtype) if self.binary else a

    def _decoder_out(self, z: torch.Tensor) -> torch.Tensor:
        """N x D decoder outputs: logits, or (linear autoencoder) the reconstruction itself."""
        out = self.decoder(z)
        return out + self.centre.mean if self.centre is not None else out

    def _decode_flat(self, z: torch.Tensor) -> torch.Tensor:
        out = self._decoder_out(z)
        return out if self.cfg.arch == "linear" else torch.sigmoid(out)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Codes -> images N x C x H x W (in [0, 1] except for the linear autoencoder, which is affine)."""
        return self._decode_flat(z).reshape(len(z), *self.spec.shape)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    # ---- training ----------------------------------------------------------------------------------
    def configure_optimizers(self, total_steps: int) -> None:
        adam_with_schedule(self, self.parameters(), self.cfg.lr, self.cfg.weight_decay, self.cfg.schedule, total_steps)

    def recon_loss(self, out: torch.Tensor, x_flat: torch.Tensor) -> torch.Tensor:
        """Per-image loss (N,): cross-entropy in nats, or sum of squared errors."""
        if self.cfg.loss == "bce":
            return -bernoulli_log_likelihood(out.float(), x_flat)
        pred = out if self.cfg.arch == "linear" else torch.sigmoid(out)
        return (pred.float() - x_flat).pow(2).sum(-1)

    def train_step(self, batch, step: int) -> dict[str, Any]:
        x_flat = batch.x.flatten(1)
        if self.centre is not None:
            self.centre.update(x_flat)
        out = self._decoder_out(self._code(batch.x))
        loss = self.recon_loss(out, x_flat).mean()
        self.optimize("net", loss)
        return {"loss": loss.detach()}

    # ---- evaluation --------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        with eval_mode(self):
            sq, ce, n, codes = 0.0, 0.0, 0, []
            for images, _, _ in data.iter_ordered(batch_size):
                x = self.prepare(images)
                x_flat = x.flatten(1)
                z = self.encode(x)
                out = self._decoder_out(z)
                pred = out if self.cfg.arch == "linear" else torch.sigmoid(out)
                sq += float((pred.float() - x_flat).pow(2).sum())
                if self.cfg.arch != "linear":
                    ce += float(-bernoulli_log_likelihood(out.float(), x_flat).sum())
                n += len(x)
                codes.append(z.cpu())
        res: dict[str, Any] = {"mse": sq / (n * math.prod(self.spec.shape))}
        if self.cfg.arch != "linear":
            res["bce"] = ce / n  # nats per image (cross-entropy with grey-level targets)
        if self.binary:
            res.update(self.retrieval_figures(torch.cat(codes), data.labels))
        res["n"] = n
        return res

    def retrieval_figures(self, codes: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        """Bit usage and leave-one-out retrieval precision@k by Hamming distance within the data."""
        res = {"bits_on": float(codes.mean()),
               "distinct_codes": len(torch.unique(codes, dim=0))}
        if labels is not None and len(codes) > 100:
            nn_idx = nearest_neighbours(codes, codes, 100, "hamming", exclude_self=True)
            res["precision_at_10"] = precision_at_k(labels, labels, nn_idx[:, :10])
            res["precision_at_100"] = precision_at_k(labels, labels, nn_idx)
            res["chance_precision"] = chance_precision(labels, labels)
        return res


register_preset(
    "linear-ae", "ae",
    description="Linear autoencoder with squared error: learns the PCA subspace (Baldi & Hornik 1989)",
    preset={"arch": "linear", "loss": "mse", "lr": 1e-2},
    train_defaults={"epochs": 20, "batch_size": 100})
register_preset(
    "conv-ae", "ae",
    description="Convolutional autoencoder: two stride-2 convs -> code -> two transposed convs",
    preset={"arch": "conv"})
register_preset(
    "binary-ae", "ae",
    description="Deep autoencoder with a 256-bit binary code for Hamming-distance retrieval "
    "(semantic hashing; Krizhevsky & Hinton 2011)",
    preset={"code": "binary", "code_dim": 256, "hidden": (1000, 500)})
