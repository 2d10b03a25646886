"""InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets").

The generator's input is z = [noise, c]: incompressible noise plus latent codes c, here `n_cat`
categorical codes of `cat_dim` values (one-hot) and `n_cont` continuous codes ~ U(-1, 1). A head Q
on the discriminator's body predicts c from the image, and both players add lambda * L_I, the
variational bound on the mutual information I(c; G(z, c)) (Eq. 5-6; `infogan_info_loss`): the
categorical codes' cross-entropy and the continuous codes' Gaussian negative log-likelihood. On MNIST
the categorical code comes to name the digit and the continuous ones width and rotation, without labels.

Defaults: the paper's MNIST setting (Appendix C.1, Table 1): 62 noise variables, one 10-way
categorical code, two continuous codes; G: FC 1024-BN-ReLU, FC 7x7x128-BN-ReLU, 4x4 up-conv 64-BN-ReLU,
4x4 up-conv 1; D: 4x4 conv 64-lReLU, 4x4 conv 128-BN-lReLU, FC 1024-BN-lReLU, then the real/fake
output and Q: FC 128-BN-lReLU, FC to the code parameters. Adam lr 2e-4 for D (and Q), 1e-3 for G,
beta1 0.5, batch 100, lambda 1 for every code, as the authors' code (Q's continuous codes are
Gaussians of fixed std 1 there: `learn_std=false`). Differs: tanh output in [-1, 1] instead of sigmoid
(genzoo's GAN convention), noise ~ U(-1, 1) as the authors' code.

Evaluation (`genzoo eval RUN`): `code_accuracy`, the accuracy of the first categorical code as a
digit label for the samples under the best code-to-class matching (Hungarian), with the shipped
MNIST classifier naming the samples' classes; `q_cluster_accuracy`, Q's categorical prediction on the
real test images matched to the true labels the same way (the paper: 5% error, Sec. 7.2);
`q_accuracy`, how often Q recovers the code of the samples; plus FID etc. `genzoo sample RUN --codes`
draws the code sweeps (Fig. 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import ConfigError, field
from genzoo.data.imageset import Batch, to_uint8
from genzoo.losses import infogan_info_loss
from genzoo.metrics.features import FeaturesUnavailable, resolve
from genzoo.metrics.matching import matching_accuracy
from genzoo.models.gan.core import GAN, CriticOut, GANConfig
from genzoo.models.gan.networks import norm_layer
from genzoo.nn import batch_statistics
from genzoo.registry import register


@dataclass
class InfoGANConfig(GANConfig):
    n_cat: int = field(1, "categorical latent codes", ge=0)
    cat_dim: int = field(10, "values of each categorical code", ge=1)
    n_cont: int = field(2, "continuous latent codes, each ~ U(-1, 1)", ge=0)
    lambda_cat: float = field(1.0, "weight of the categorical codes' information term", ge=0)
    lambda_cont: float = field(1.0, "weight of the continuous codes' information term", ge=0)
    learn_std: bool = field(False, "Q predicts a std for each continuous code (false: fixed std 1)")
    q_hidden: int = field(128, "hidden units of the Q head", ge=1)

    def validate(self) -> None:
        super().validate()
        if self.n_cat + self.n_cont == 0:
            raise ConfigError("InfoGAN needs at least one code: n_cat and n_cont must not both be 0")
        if self.n_cat and self.cat_dim < 2:
            raise ConfigError(f"cat_dim must be at least 2, got {self.cat_dim}")


INFOGAN_MNIST = {"arch": "dcgan", "g_width": 64, "d_width": 64, "g_hidden": 1024, "d_hidden": 1024, "z_dim": 62,
                 "z_dist": "uniform", "lr_g": 1e-3, "lr_d": 2e-4}


@register("infogan", config=InfoGANConfig, family="gan",
          description="InfoGAN (Chen et al. 2016): categorical + continuous codes, Q head, mutual information",
          preset=INFOGAN_MNIST,
          train_defaults={"steps": 6000, "batch_size": 100, "sample_every": 500, "precision": "bf16"})
class InfoGAN(GAN):
    """GAN whose latent carries codes that a Q head must recover from the image (see the module doc)."""

    def __init__(self, cfg: InfoGANConfig, spec):
        cfg.validate()
        super().__init__(cfg, spec)

    # ---- the latent: [noise (z_dim), one-hot categorical codes (n_cat * cat_dim), continuous (n_cont)] ----
    @property
    def latent_dim(self) -> int:
        c = self.cfg
        return c.z_dim + c.n_cat * c.cat_dim + c.n_cont

    @property
    def code_layout(self) -> tuple[int, int, int]:
        """(categorical codes, values of each, continuous codes), for the --codes view."""
        return self.cfg.n_cat, self.cfg.cat_dim, self.cfg.n_cont

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = generator.device if generator is not None else self.device
        shape = (n, self.cfg.z_dim)
        z = torch.rand(shape, generator=generator, device=device) * 2 - 1 if self.cfg.z_dist == "uniform" \
            else torch.randn(shape, generator=generator, device=device)
        return z.to(self.device)

    def latent_with_codes(self, noise: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
        """noise (N x z_dim), cat (N x n_cat ints), cont (N x n_cont) -> latents N x latent_dim."""
        onehot = F.one_hot(cat.long().to(noise.device), self.cfg.cat_dim).flatten(1).to(noise.dtype)
        return torch.cat([noise, onehot, cont.to(noise)], 1)

    def split_codes(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents -> (categorical codes N x n_cat ints, continuous codes N x n_cont)."""
        c = self.cfg
        onehot = z[:, c.z_dim:c.z_dim + c.n_cat * c.cat_dim].reshape(len(z), c.n_cat, c.cat_dim)
        return onehot.argmax(2), z[:, c.z_dim + c.n_cat * c.cat_dim:]

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        c = self.cfg
        device = generator.device if generator is not None else self.device
        noise = self.sample_noise(n, generator)
        cat = torch.randint(0, c.cat_dim, (n, c.n_cat), generator=generator, device=device)
        cont = torch.rand(n, c.n_cont, generator=generator, device=device) * 2 - 1
        return self.latent_with_codes(noise, cat, cont)

    # ---- Q: a head on D's body ---------------------------------------------------------------------
    def build_discriminator(self) -> nn.Module:
        d = super().build_discriminator()
        c = self.cfg
        out = c.n_cat * c.cat_dim + c.n_cont * (2 if c.learn_std else 1)
        # a submodule of D: D's optimizer trains it, and D's freezing in the generator step covers it
        d.q = nn.Sequential(nn.Linear(d.feature_dim, c.q_hidden, bias=c.d_norm == "none"),
                            norm_layer(c.d_norm, c.q_hidden, 1), nn.LeakyReLU(0.2, inplace=True),
                            nn.Linear(c.q_hidden, out))
        return d

    def critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> CriticOut:
        out, features = self.D(self.d_input(x, labels))
        return CriticOut(out[:, 0], features, self.D.q(features))  # aux: N x (code parameters)

    def q_outputs(self, aux: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor | None]:
        """Q's raw outputs -> (categorical logits per code, continuous means, log-stds or None)."""
        c = self.cfg
        aux = aux.float()
        k = c.n_cat * c.cat_dim
        logits = list(aux[:, :k].reshape(len(aux), c.n_cat, c.cat_dim).unbind(1))
        mean = aux[:, k:k + c.n_cont]
        return logits, mean, aux[:, k + c.n_cont:] if c.learn_std else None

    def info_loss(self, aux: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        """lambda-weighted information term for fakes made from latents z, and its log entries."""
        cat, cont = self.split_codes(z)
        logits, mean, log_std = self.q_outputs(aux)
        l_cat, l_cont = infogan_info_loss(logits, list(cat.unbind(1)), mean, cont, log_std)
        logs: dict[str, Any] = {"info_cat": l_cat.detach(), "info_cont": l_cont.detach()}
        if logits:
            logs["q_acc"] = (logits[0].argmax(1) == cat[:, 0]).float().mean().detach()
        return self.cfg.lambda_cat * l_cat + self.cfg.lambda_cont * l_cont, logs

    # ---- training: the codes drawn in z travel to both players' information terms ----------------------
    def train_step(self, batch: Batch, step: int) -> dict[str, Any]:
        g_turn = (step + 1) % self.cfg.n_critic == 0
        z = self.sample_latent(batch.x.shape[0])
        with torch.set_grad_enabled(g_turn):
            fake = self.generate(z)
        # z rides in the fake-label slot: d_input ignores it, extra_d_loss reads the codes from it
        logs = self.d_step(batch.x, None, fake.detach(), z, step)
        if g_turn:
            logs.update(self.g_step(batch.x, None, fake, None, z, step))
            if self.G_ema is not None:
                self.G_ema.update(self.G)
        return logs

    def extra_d_loss(self, real: CriticOut, fake: CriticOut, labels, fake_labels):
        loss, logs = self.info_loss(fake.aux, fake_labels)
        return loss, {f"d_{k}" if k != "q_acc" else k: v for k, v in logs.items()}

    def extra_g_loss(self, fake: CriticOut, fake_labels, z: torch.Tensor):
        loss, logs = self.info_loss(fake.aux, z)
        return loss, {"g_info_cat": logs["info_cat"], "g_info_cont": logs["info_cont"]}

    # ---- evaluation ----------------------------------------------------------------------------------
    def q_predict(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Q's guess of the first categorical code for images x (N,).

        D's batchnorm uses the statistics of each batch, as in training (`batch_statistics`): with its
        running averages (eval mode) Q's accuracy on its own samples fell from 1.0 to 0.25 (measured on
        mnist-mini after 150 steps)."""
        with batch_statistics(self.D):
            out = [self.q_outputs(self.critic(x[i:i + batch_size].to(self.device)).aux)[0][0].argmax(1)
                   for i in range(0, len(x), batch_size)]
        return torch.cat(out).cpu()

    @torch.no_grad()
    def code_figures(self, data, n: int = 5000, seed: int = 0) -> dict[str, Any]:
        """code_accuracy (needs the data's domain classifier), q_accuracy and q_cluster_accuracy."""
        if not self.cfg.n_cat:
            return {}
        g = torch.Generator().manual_seed(seed)
        z = self.sample_latent(n, g)
        code = self.split_codes(z)[0][:, 0].cpu()
        fake = self.decode(z)
        res: dict[str, Any] = {"q_accuracy": float((self.q_predict(fake) == code).float().mean())}
        k = max(self.cfg.cat_dim, self.spec.num_classes)
        try:
            net = resolve(getattr(getattr(self, "eval_options", None), "features", "auto"), data.name).to(self.device)
            pred = net(to_uint8(fake, self.input_range)).logits.argmax(1)
            res["code_accuracy"] = matching_accuracy(code, pred, k, k)
        except FeaturesUnavailable:
            pass  # no classifier for this data: the code cannot be named
        if data.labels is not None and data.num_classes >= 2:
            q = self.q_predict(self.prepare(data.images))
            res["q_cluster_accuracy"] = matching_accuracy(q, data.labels, k, k)
        return res

    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        res = self.code_figures(data)
        if getattr(self, "eval_options", None) is not None:
            res.update(self.sample_metrics(data))
        return res
