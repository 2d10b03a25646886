"""Label- and attribute-conditional GANs: cgan, cdcgan, acgan, projection, attr-gan.

All subclass the configurable `GAN` (core.py) through its extension points and inherit every key
of it (`genzoo list cgan`). Fake batches are generated for the labels (attribute rows) of the real
batch, so the generator sees the data's class balance (attribute combinations). Sampling without
labels gives labels 0, 1, ..., k-1, 0, ... (one class per column of a 10-wide grid).

    cgan        Mirza & Osindero 2014: one-hot y concatenated to z and to D's (flattened) input, FC nets
    cdcgan      the same on DCGAN nets: y one-hot to G's input, y as k constant planes on D's input
    acgan       Odena et al. 2017: D has an auxiliary classifier head; class loss for D and G
    projection  Miyato & Koyama 2018: projection discriminator + conditional batchnorm in G
    attr-gan    multi-label attribute vectors (CelebA-style), with an attribute classifier guiding G
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import ConfigError, field
from genzoo.data.imageset import USE_LABELLED_DATA, Batch, DataSpec
from genzoo.metrics.suite import attribute_quality
from genzoo.models.base import sample_count
from genzoo.models.gan.core import GAN, CriticOut, GANConfig
from genzoo.models.gan.networks import build_discriminator, build_generator
from genzoo.nn import eval_mode
from genzoo.registry import register, register_preset, set_dataset_defaults

_DCGAN = {"arch": "dcgan", "g_width": 64, "d_width": 64, "g_norm": "batch", "d_norm": "batch"}
_CONV_TRAIN = {"steps": 3000, "batch_size": 64, "sample_every": 500, "precision": "bf16"}


def one_hot(labels: torch.Tensor, k: int, like: torch.Tensor) -> torch.Tensor:
    """N labels -> N x k one-hot rows in the dtype of `like` (N x k float rows pass through: attributes)."""
    if labels.dim() == 2:
        return labels.to(like.dtype)
    return F.one_hot(labels.long(), k).to(like.dtype)


def label_planes(x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Images N x C x H x W and codes N x k -> N x (C + k) x H x W: each code entry as a constant plane."""
    n, _, h, w = x.shape
    return torch.cat([x, code[:, :, None, None].expand(n, code.shape[1], h, w)], 1)


class ConditionalGAN(GAN):
    """Shared by the conditional models: label checks, fakes for the real labels, default labels, and
    G(z, y) = G([z, one-hot y]) (projection overrides the generator side)."""

    conditional = True

    def __init__(self, cfg: GANConfig, spec: DataSpec):
        if self.code_dim(spec) < 2:
            raise ConfigError(f"{type(self).__name__} needs labelled data with at least 2 classes; dataset "
                              f"{spec.name!r} has {spec.num_classes}: {USE_LABELLED_DATA}")
        super().__init__(cfg, spec)

    @staticmethod
    def code_dim(spec: DataSpec) -> int:
        return spec.num_classes

    @property
    def k(self) -> int:
        return self.code_dim(self.spec)

    def build_generator(self) -> nn.Module:
        cfg = self.cfg
        return build_generator(cfg.arch, cfg.z_dim + self.k, self.spec.shape, cfg.g_width, cfg.g_norm, cfg.g_hidden)

    def g_input(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([z, one_hot(labels, self.k, z)], 1)  # N x (z_dim + k)

    def fake_labels(self, n: int, labels: torch.Tensor | None) -> torch.Tensor:
        if labels is None:
            raise ConfigError(f"{self.name} is conditional and needs labels; this dataset has none")
        return labels  # the real batch's labels: fakes follow the data's class balance

    def default_labels(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.arange(n) % self.k

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None, chunk: int = 500) -> torch.Tensor:
        """Images for latents z and labels (default: `default_labels` with a fixed seed, e.g. for views
        that only move z)."""
        if labels is None:
            labels = self.default_labels(z.shape[0], torch.Generator().manual_seed(0))
        return super().decode(z, labels, chunk)

    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
               ) -> torch.Tensor:
        n = sample_count(n)
        z = self.sample_latent(n, generator)
        labels = self.default_labels(n, generator) if labels is None else labels
        if labels.shape[0] != n:
            raise ConfigError(f"{self.name}.sample({n}) got {labels.shape[0]} labels")
        return self.decode(z, labels)


# ---- cgan / cdcgan ---------------------------------------------------------------------------------
@register("cgan", config=GANConfig, family="gan",
          description="Conditional GAN (Mirza & Osindero 2014): one-hot label on G's and D's inputs, dense nets",
          preset={"arch": "fc", "g_width": 128, "d_width": 128, "d_norm": "none"},
          train_defaults={"steps": 5000, "batch_size": 64, "sample_every": 500, "precision": "fp32"})
class CGAN(ConditionalGAN):
    """Conditional GAN: G(z, y) and D(x, y) with y one-hot.

    cgan   Mirza & Osindero 2014, "Conditional Generative Adversarial Nets", Sec. 4.1: y (one-hot)
           concatenated to z for G and to the flattened image for D; dense nets. Differs: genzoo's fc
           nets (LeakyReLU, batchnorm in G) instead of ReLU/maxout with dropout, z ~ N(0, I) instead of
           uniform, Adam (2e-4, 0.5) instead of SGD with momentum.
    cdcgan the same conditioning on DCGAN nets (Radford et al. 2016 nets, DCGAN hyper-parameters):
           y one-hot concatenated to z; for D, y as k constant planes stacked on the image channels
           (the common "cDCGAN" construction), so every conv of D sees the label.
    """

    def build_discriminator(self) -> nn.Module:
        cfg = self.cfg
        c, h, w = self.spec.shape
        # fc: D reads the flat vector [x, y] (a 1 x 1 x (CHW + k) "image"); conv: k extra planes
        shape = (1, 1, c * h * w + self.k) if cfg.arch == "fc" else (c + self.k, h, w)
        return build_discriminator(cfg.arch, shape, cfg.d_width, cfg.d_norm, 1 + self.aux_dim,
                                   cfg.minibatch_std, cfg.d_hidden)

    def d_input(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        y = one_hot(labels, self.k, x)
        if self.cfg.arch == "fc":
            return torch.cat([x.flatten(1), y], 1)  # N x (CHW + k)
        return label_planes(x, y)  # N x (C + k) x H x W


register_preset(
    "cdcgan", "cgan", preset=_DCGAN,
    description="Conditional DCGAN: one-hot label to G's input, label planes on D's input channels",
    train_defaults=_CONV_TRAIN)


# ---- acgan -------------------------------------------------------------------------------------------
@dataclass
class ACGANConfig(GANConfig):
    aux_weight: float = field(1.0, "weight of the auxiliary class loss (both networks)", ge=0)


@register("acgan", config=ACGANConfig, family="gan",
          description="Auxiliary-classifier GAN (Odena et al. 2017): D also predicts the class",
          preset=_DCGAN, train_defaults=_CONV_TRAIN)
class ACGAN(ConditionalGAN):
    """Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs".

    G(z, y) with y one-hot concatenated to z; D sees only the image and has two heads: real/fake and
    the class posterior P(C | X). Objectives (Sec. 3): L_S = log-likelihood of the right source,
    L_C = log-likelihood of the right class; D maximises L_S + L_C, G maximises L_C - L_S. Here the
    source loss is the configured GAN loss (non-saturating by default) and L_C is the cross-entropy
    on real and fake images for D, on fakes only for G, weighted by `aux_weight`. DCGAN nets and
    hyper-parameters (the paper's CIFAR nets are of this family). Logs d_class_acc, the accuracy of
    the class head on the real batch.
    """

    @property
    def aux_dim(self) -> int:  # one logit per class after the real/fake score
        return self.spec.num_classes

    def extra_d_loss(self, real: CriticOut, fake: CriticOut, labels, fake_labels):
        loss = F.cross_entropy(real.aux.float(), labels) + F.cross_entropy(fake.aux.float(), fake_labels)
        acc = (real.aux.detach().argmax(1) == labels).float().mean()
        return self.cfg.aux_weight * loss, {"d_class_loss": loss.detach(), "d_class_acc": acc}

    def extra_g_loss(self, fake: CriticOut, fake_labels, z):
        loss = F.cross_entropy(fake.aux.float(), fake_labels)
        return self.cfg.aux_weight * loss, {"g_class_loss": loss.detach()}


# ---- projection discriminator + conditional batchnorm ------------------------------------------------
class ConditionalBatchNorm(nn.Module):
    """Batchnorm without its own affine, then a per-class gain and bias (de Vries et al. 2017; Miyato &
    Koyama 2018, Sec. 5): y -> gamma_y * BN(x) + beta_y, gamma initialised to 1 and beta to 0.

    The labels are set by the enclosing `ConditionalGenerator` for the duration of one forward pass."""

    def __init__(self, channels: int, num_classes: int, dims: int = 2):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False) if dims == 2 else nn.BatchNorm1d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)
        self.labels: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.labels is None:
            raise RuntimeError("ConditionalBatchNorm called outside ConditionalGenerator.forward")
        shape = (-1, x.shape[1]) + (1,) * (x.dim() - 2)  # N x C (x 1 x 1)
        return self.bn(x) * self.gain(self.labels).view(shape) + self.bias(self.labels).view(shape)


class ConditionalGenerator(nn.Module):
    """A generator whose batchnorms are `ConditionalBatchNorm`s: forward(z, y)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cbns = [m for m in self.net.modules() if isinstance(m, ConditionalBatchNorm)]
        for m in cbns:
            m.labels = labels
        try:
            return self.net(z)
        finally:
            for m in cbns:
                m.labels = None


def conditional_batchnorm(net: nn.Module, num_classes: int) -> int:
    """Replace every BatchNorm1d/2d in `net` by a ConditionalBatchNorm (in place); returns how many."""
    count = 0
    for name, child in list(net.named_children()):
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            dims = 2 if isinstance(child, nn.BatchNorm2d) else 1
            setattr(net, name, ConditionalBatchNorm(child.num_features, num_classes, dims))
            count += 1
        else:
            count += conditional_batchnorm(child, num_classes)
    return count


@register("projection", config=GANConfig, family="gan",
          description="Projection-discriminator cGAN (Miyato & Koyama 2018): y-embedding . D features, "
                      "spectral norm, hinge loss, conditional batchnorm in G",
          preset={**_DCGAN, "d_norm": "none", "spectral_norm": True, "loss": "hinge"},
          train_defaults=_CONV_TRAIN)
class Projection(ConditionalGAN):
    """Miyato & Koyama 2018, "cGANs with Projection Discriminator".

    D(x, y) = psi(phi(x)) + embed(y) . phi(x) (Eq. 3): phi is D's body (N x F features), psi its
    linear head, embed a learned class embedding (k x F, spectral-normalised like every D layer).
    G takes z only; the class enters through conditional batchnorm (per-class gain and bias) in every
    batchnorm layer. Hinge loss, spectral norm on D, Adam 2e-4. Differs from the paper: DCGAN-size
    nets by default (arch=resnet gives SNGAN ResNets), one D step per G step with betas (0.5, 0.999)
    (SNGAN setting C; the paper used 5 D steps, betas (0, 0.9)) to fit short CPU runs; on CIFAR-10, betas (0, 0.99)
    (a per-dataset default: 4x lower FID at 10 minutes, see below).
    """

    def build_generator(self) -> nn.Module:
        cfg = self.cfg
        net = build_generator(cfg.arch, cfg.z_dim, self.spec.shape, cfg.g_width, cfg.g_norm, cfg.g_hidden)
        if conditional_batchnorm(net, self.k) == 0:
            raise ConfigError("projection puts the class into the generator's batchnorm layers; set g_norm=batch")
        return ConditionalGenerator(net)

    def build_discriminator(self) -> nn.Module:
        d = super().build_discriminator()
        d.embed = nn.Embedding(self.k, d.feature_dim)  # part of D: trained and spectral-normalised with it
        nn.init.xavier_uniform_(d.embed.weight)
        if self.cfg.spectral_norm:
            from torch.nn.utils.parametrizations import spectral_norm

            spectral_norm(d.embed)
        return d

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, net: nn.Module | None = None
                 ) -> torch.Tensor:
        return (net or self.G)(z, labels)

    def critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> CriticOut:
        out, features = self.D(x)  # N x 1, N x F
        proj = (self.D.embed(labels) * features).sum(1)  # N: y^T V phi(x)
        return CriticOut(out[:, 0] + proj, features, None)


# On CIFAR-10 (JPEG copy) Adam betas (0, 0.99), as sngan's there: 10 minutes on 2 cores (AMD EPYC), seed 0
# (bench/gan.py table, 2026-12-04): FID 6.13, recall 0.16, conditional accuracy 0.45 against 25.4, 0.01 and 0.25.
set_dataset_defaults("projection", ("cifar10-jpeg", "cifar10"), {"betas": (0.0, 0.99)})


# ---- attribute-conditional GAN --------------------------------------------------------------------
MAX_ATTRS = 16  # the joint attribute table has 2^A entries


@dataclass
class AttrGANConfig(GANConfig):
    attributes: str = field("", "comma-separated attribute names to condition on (empty: all of the data's, at "
                                "most 16), e.g. Smiling,Male,Eyeglasses,Blond_Hair,Young")
    cls_weight: float = field(1.0, "weight of the classifier's BCE on samples in G's loss (0: plain cGAN)", ge=0)
    lr_c: float = field(2e-4, "attribute classifier learning rate", gt=0)


@register("attr-gan", config=AttrGANConfig, family="gan",
          description="Attribute-conditional DCGAN on multi-label vectors, guided by an attribute classifier",
          preset=_DCGAN, train_defaults=_CONV_TRAIN)
class AttrGAN(CGAN):
    """A conditional DCGAN on binary attribute vectors a in {0, 1}^A (CelebA's Smiling, Male, ...).

    G(z, a): a concatenated to z; D(x, a): a as A constant planes on the image (as cdcgan). A separate
    attribute classifier C (DCGAN discriminator body, A logits) is trained with BCE on real images and
    their attributes; G adds cls_weight * BCE(C(G(z, a)), a), so samples must carry the requested
    attributes in C's eyes, in the spirit of VAC-GAN (Bazrafkan & Corcoran 2018, "Versatile Auxiliary
    Classifier with GANs": a classifier separate from D, trained on real data, guiding G). Fakes are
    generated for the real batch's attribute rows, so training sees the data's joint attribute
    distribution. The model counts the attribute combinations it trains on (`attr_counts`, 2^A
    entries): `sample` without attributes draws rows from that joint, and `sample_attrs` fixes some
    attributes and draws the rest from the joint conditioned on them.
    """

    conditional = False  # not class-conditional: `sample(labels=...)` takes N x A attribute rows instead

    def __init__(self, cfg: AttrGANConfig, spec: DataSpec):
        if not spec.attr_names:
            raise ConfigError(f"attr-gan needs a dataset with attributes (mnist-attrs, mnist-mini-attrs, celeba); "
                              f"{spec.name!r} has none")
        wanted = [a.strip() for a in cfg.attributes.split(",") if a.strip()] or list(spec.attr_names)
        unknown = [a for a in wanted if a not in spec.attr_names]
        if unknown:
            raise ConfigError(f"unknown attribute(s) {', '.join(unknown)} for {spec.name!r}; it has "
                              f"{', '.join(spec.attr_names)}")
        if len(wanted) > MAX_ATTRS:
            raise ConfigError(f"attr-gan conditions on at most {MAX_ATTRS} attributes, {spec.name!r} has "
                              f"{len(wanted)}; choose some with --set attributes=A,B,C")
        self.attr_names = tuple(wanted)
        self.attr_index = [spec.attr_names.index(a) for a in wanted]
        super().__init__(cfg, spec)
        self.C = build_discriminator(cfg.arch, spec.shape, cfg.d_width, "batch" if cfg.arch != "resnet" else "none",
                                     len(wanted))
        self.register_buffer("attr_counts", torch.zeros(2 ** len(wanted), dtype=torch.float64))

    def code_dim(self, spec: DataSpec) -> int:  # type: ignore[override]
        return len(self.attr_names)

    # ---- the attribute joint -------------------------------------------------------------------
    def _codes(self, attrs: torch.Tensor) -> torch.Tensor:
        bits = 2 ** torch.arange(attrs.shape[1], device=attrs.device)
        return (attrs.long() * bits).sum(1)

    def _rows(self, codes: torch.Tensor) -> torch.Tensor:
        bits = 2 ** torch.arange(len(self.attr_names))
        return ((codes[:, None] // bits) % 2).float()

    def sample_attrs(self, n: int, fixed: dict[str, int] | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """n attribute rows (N x A float): `fixed` attributes as given, the others drawn from the training
        joint conditioned on them (uniformly over the unseen combinations if training never saw one)."""
        fixed = fixed or {}
        rows = self._rows(torch.arange(len(self.attr_counts)))  # 2^A x A
        keep = torch.ones(len(rows), dtype=torch.bool)
        for name, v in fixed.items():
            keep &= rows[:, self.attr_names.index(name)] == float(v)
        p = self.attr_counts.cpu() * keep
        if p.sum() == 0:
            p = keep.double()
        codes = torch.multinomial(p, n, replacement=True, generator=generator)
        return rows[codes]

    def default_labels(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return self.sample_attrs(n, generator=generator)

    # ---- training ------------------------------------------------------------------------------
    def configure_optimizers(self, total_steps: int) -> None:
        super().configure_optimizers(total_steps)
        self.optimizers["c"] = torch.optim.Adam(self.C.parameters(), lr=self.cfg.lr_c, betas=self.cfg.betas)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.C(x)[0].float()  # N x A attribute logits

    def train_step(self, batch: Batch, step: int) -> dict[str, Any]:
        if batch.attrs is None:
            raise ConfigError("attr-gan needs attributes in the training data")
        attrs = batch.attrs[:, self.attr_index].float()  # N x A
        self.attr_counts += torch.bincount(self._codes(attrs), minlength=len(self.attr_counts)).to(self.attr_counts)
        logits = self.classify(batch.x)
        c_loss = F.binary_cross_entropy_with_logits(logits, attrs)
        self.optimize("c", c_loss)
        logs = super().train_step(Batch(batch.x, attrs), step)
        acc = ((logits.detach() > 0).float() == attrs).float().mean()
        return {**logs, "c_loss": c_loss.detach(), "c_acc": acc}

    def g_step(self, real, labels, fake, fake_labels, z, step: int) -> dict[str, Any]:
        self.C.requires_grad_(False)  # C guides G here but is trained on real images only
        self._g_fake = fake  # the clean fake batch (D may see it with instance noise), for extra_g_loss
        try:
            return super().g_step(real, labels, fake, fake_labels, z, step)
        finally:
            self.C.requires_grad_(True)
            self._g_fake = None

    def extra_g_loss(self, fake: CriticOut, fake_labels, z):
        if not self.cfg.cls_weight:
            return None, {}
        loss = F.binary_cross_entropy_with_logits(self.classify(self._g_fake), fake_labels)
        return self.cfg.cls_weight * loss, {"g_attr_loss": loss.detach()}

    # ---- evaluation --------------------------------------------------------------------------------
    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
               ) -> torch.Tensor:
        """n images for attribute rows `labels` (N x A in {0, 1}), or rows drawn from the training joint."""
        n = sample_count(n)
        if labels is not None and (labels.dim() != 2 or labels.shape[1] != len(self.attr_names)):
            raise ConfigError(f"attr-gan samples for N x {len(self.attr_names)} attribute rows "
                              f"({', '.join(self.attr_names)}), got labels of shape {tuple(labels.shape)}")
        return super().sample(n, None if labels is None else labels.float(), generator)

    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        return {**self.sample_metrics(data), **attribute_quality(self, data)}

    @torch.no_grad()
    def classifier_accuracy(self, data, batch_size: int = 500) -> float:
        """Accuracy of the guiding classifier on real images (a check that it learned)."""
        hits, total = 0.0, 0
        with eval_mode(self.C):
            for images, _, attrs in data.iter_ordered(batch_size):
                pred = (self.classify(self.prepare(images)) > 0).float().cpu()
                hits += float((pred == attrs[:, self.attr_index].float()).sum())
                total += pred.numel()
        return hits / max(total, 1)
