"""CatGAN (Springenberg 2016, "Unsupervised and Semi-supervised Learning with Categorical Generative
Adversarial Networks").

The discriminator is a K-way classifier p(y | x, D) instead of a real/fake judge. Its objective
(L_D, Sec. 3; `d_loss_catgan`) asks it to be certain about real images (low entropy per image), to
keep the real class marginal balanced (high entropy of the batch-average prediction), and to be
uncertain about generated images; the generator (L_G; `g_loss_catgan`) wants samples D is certain
about, spread evenly over the classes. The classes D invents are clusters of the data.
Semi-supervised (Sec. 4): `labelled` > 0 adds lambda * cross-entropy on that many labelled training
examples (collected class-balanced from the first batches; the other labels are never read), which
ties D's K outputs to the dataset's classes.

Defaults: K = the dataset's classes, lambda 1, batch 100. Differs from the paper: DCGAN nets and
optimiser (Adam 2e-4, beta1 0.5; the paper uses its own conv nets with batchnorm) and z ~ N(0, I).

Evaluation: `cluster_accuracy`, D's argmax on the evaluation images against the true labels under the
best one-to-one cluster-to-class matching (Hungarian), and `cluster_majority_accuracy`, each cluster
named by its most frequent class (the paper's protocol: 4.27% error on MNIST with 20 clusters, as
quoted in Makhzani et al. 2016, Table 3); with labels, `accuracy` (D's class = the label, no matching;
the paper: 1.91% error with 100 labels on permutation-invariant MNIST); plus FID etc. of the samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import ConfigError, field
from genzoo.data.imageset import Batch
from genzoo.losses import d_loss_catgan, g_loss_catgan, marginal_entropy, mean_entropy
from genzoo.metrics.matching import cluster_figures
from genzoo.models.gan.core import _DCGAN, GAN, CriticOut, GANConfig
from genzoo.models.gan.networks import build_discriminator
from genzoo.nn import LabelledPool, batch_statistics
from genzoo.registry import register, register_preset


@dataclass
class CatGANConfig(GANConfig):
    clusters: int = field(0, "K, the classes D invents (0 = the dataset's number of classes)", ge=0)
    labelled: int = field(0, "labelled training examples for the semi-supervised loss (0 = unsupervised)", ge=0)
    lambda_sup: float = field(1.0, "weight of the cross-entropy on the labelled examples", ge=0)

    def validate(self) -> None:
        super().validate()
        if self.clusters == 1:
            raise ConfigError("clusters must be 0 (the dataset's classes) or >= 2")


_TRAIN = {"steps": 6000, "batch_size": 100, "sample_every": 500, "precision": "bf16"}


@register("catgan", config=CatGANConfig, family="gan",
          description="Categorical GAN (Springenberg 2016): D is a K-way classifier, entropy objectives",
          preset=_DCGAN, train_defaults=_TRAIN)
class CatGAN(GAN):
    """GAN whose discriminator clusters the data into K classes (see the module doc)."""

    def __init__(self, cfg: CatGANConfig, spec):
        cfg.validate()
        k = cfg.clusters or spec.num_classes
        if k < 2:
            raise ConfigError(f"dataset {spec.name!r} has no classes: set clusters=K (e.g. clusters=10)")
        if cfg.labelled and k != spec.num_classes:
            raise ConfigError(f"semi-supervised CatGAN needs clusters = the dataset's {spec.num_classes} classes, "
                              f"got clusters={cfg.clusters}")
        self.k = k
        super().__init__(cfg, spec)
        self.pool = LabelledPool(cfg.labelled, k, spec.shape) if cfg.labelled else None

    def build_discriminator(self) -> nn.Module:
        c = self.cfg
        return build_discriminator(c.arch, self.spec.shape, c.d_width, c.d_norm, self.k, c.minibatch_std, c.d_hidden)

    def critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> CriticOut:
        logits, features = self.D(self.d_input(x, labels))  # N x K
        # score (logged as d_real / d_fake): log sum_k exp l_k, the "realness" of Salimans et al. 2016
        return CriticOut(torch.logsumexp(logits.float(), 1), features, logits)

    # ---- training: the entropy objectives replace the real/fake losses ------------------------------
    def train_step(self, batch: Batch, step: int) -> dict[str, Any]:
        if self.pool is not None:
            self.pool.add(batch.x, batch.y)
        return super().train_step(Batch(batch.x, None, None), step)  # no other label is read

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return real.new_zeros(())

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return fake.new_zeros(())

    def extra_d_loss(self, real: CriticOut, fake: CriticOut, labels, fake_labels):
        loss = d_loss_catgan(real.aux, fake.aux)
        logs: dict[str, Any] = {"h_real": mean_entropy(real.aux).detach(), "h_fake": mean_entropy(fake.aux).detach(),
                                "h_marginal_real": marginal_entropy(real.aux).detach()}
        drawn = self.pool.draw(real.aux.shape[0]) if self.pool is not None else None
        if drawn is not None:
            ce = F.cross_entropy(self.critic(drawn[0]).aux.float(), drawn[1])
            loss = loss + self.cfg.lambda_sup * ce
            logs["ce_labelled"] = ce.detach()
        return loss, logs

    def extra_g_loss(self, fake: CriticOut, fake_labels, z: torch.Tensor):
        return g_loss_catgan(fake.aux), {}

    # ---- evaluation ------------------------------------------------------------------------------------
    def predict(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """D's class (cluster) for images x in the model's input range (N,); batchnorm with each batch's
        statistics, as in training (see `batch_statistics`)."""
        with batch_statistics(self.D):
            out = [self.critic(x[i:i + batch_size].to(self.device)).aux.argmax(1) for i in range(0, len(x), batch_size)]
        return torch.cat(out).cpu()

    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        res: dict[str, Any] = {}
        if data.labels is not None and data.num_classes >= 2:
            pred = self.predict(self.prepare(data.images), batch_size)
            res.update(cluster_figures(pred, data.labels, self.k, bool(self.cfg.labelled)))
        if getattr(self, "eval_options", None) is not None:
            res.update(self.sample_metrics(data))
        return res


register_preset(
    "catgan-semi", "catgan", preset={"labelled": 100},
    description="Semi-supervised CatGAN (Springenberg 2016, Sec. 4): 100 labelled examples",
    train_defaults=_TRAIN)
