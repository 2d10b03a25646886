"""Stacks of RBMs trained greedily, one layer at a time: the deep belief net (`dbn`) and the RBM-pretrained
deep autoencoder (`rbm-ae`).

`dbn`: Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief nets". The generative model
is an RBM over the top two layers (h_{L-1}, h_L) and directed sigmoid connections below it,
p(h_{l-1} | h_l) = prod_i sigmoid(b_l + W_l h_l)_i, h_0 = v: the visible and generative weights of RBM l. It is
learned greedily: RBM 1 models the (binarized) images; then it is frozen and RBM 2 models the hidden
activities that RBM 1's recognition weights give, q(h_1 | v) = prod_j sigmoid(c_1 + v W_1)_j, and so on. The paper
(MNIST): 784-500-500-2000 (`hidden=500,500,2000`) with 10 softmax label units joined to the top RBM's 500
visible units, each layer trained for 30 sweeps through the training set, then fine-tuned by the up-down
(contrastive wake-sleep) algorithm. genzoo's defaults differ: 784-500-500 (`hidden=500,500`: two RBMs, CPU
friendly), no label units (a model of the images alone, as Salakhutdinov & Murray's DBNs), no up-down
fine-tuning; each RBM is genzoo's `rbm` (PCD-1, SGD lr 0.05 falling linearly to 0 over the layer's steps, momentum
0.5, weight decay 2e-4, W ~ N(0, 0.01), dynamically binarized images; on full MNIST, 40 epochs: bound -95.4 nats
where CD-1 at a constant rate gives -111.9) and the run's steps are split between the layers (`layer_shares`, equal by
default). A layer's visible biases (and the base-rate model of its AIS) start at log(p / (1 - p)) of the mean
of its first batch of inputs (Hinton's practical guide, 2010). The upper layers learn from the hidden
probabilities of the frozen layer below (`propagate=probs`, as Hinton & Salakhutdinov's code: the same
expected gradient with less noise) or from binary samples of them (`propagate=samples`, the aggregated
posterior the bound below speaks of).

Sampling: `sample_steps` Gibbs steps of the top RBM from its base-rate model, then one deterministic down pass
(probabilities, p(h_{l-1} | h_l) at the means) to the pixels: images in [0, 1].

Evaluation (Salakhutdinov & Murray 2008, "On the quantitative analysis of deep belief networks"): for any
q(h_1 | v), log p(v) >= sum_h1 q(h1 | v) [-F_top(h1) + log p(v | h1)] + H(q(h1 | v)) - log Z_top, where
F_top is the top RBM's free energy and Z_top its partition function (estimated by AIS, `ais_log_partition`, as
for `rbm`); q is the first layer's recognition model. The sum over h1 is estimated with `bound_samples` samples
of h1 ~ q(h1 | v) per image, the entropy is exact. Deeper stacks get the same bound with q(h_1..h_{L-1} | v) =
prod_l q(h_l | h_{l-1}) (an up pass of samples) and the entropy of each factor given the sample below. The
bound holds in expectation over the samples; an AIS estimate of log Z is biased low, which biases the
reported bound up a little (as Salakhutdinov & Murray note). `evaluate` gives `log_likelihood_bound` (nats per
image on one fixed binarization of the images), `log_z_top`, the AIS log weights' spread, the first RBM's own
AIS log-likelihood (`rbm1_log_likelihood`, `eval_first_rbm`) and FID etc. of the samples. Salakhutdinov &
Murray report a bound of about -86 nats for a 784-500-2000 DBN on MNIST, about as good as the best 500-unit
RBM (-86.3).

`rbm-ae`: Hinton & Salakhutdinov (2006, Science), "Reducing the dimensionality of data with neural networks".
The deep autoencoder 784-1000-500-250-30 is pretrained as a stack of four RBMs, the first three binary, the
fourth with linear code units (unit-variance Gaussian noise; `LinearHiddenRBM`), each trained on the hidden
probabilities of the one below (the grey pixels act as probabilities for the first), then unrolled: the
encoder's weights are the RBMs' W, the decoder's their transposes with the visible biases (untied from then
on), logistic units everywhere but the linear code layer. The net is then fine-tuned end to end on the
pixels' cross-entropy. Their settings (and code): CD-1, batches of 100, lr 0.1 (0.001 for the linear RBM),
momentum 0.5 then 0.9, weight decay 2e-4, W ~ N(0, 0.1), 50 epochs for each RBM, then 200 epochs of conjugate
gradients on batches of 1000. genzoo's differences: one run holds both phases: `pretrain_fraction` (0.5) of
the steps pretrain the RBMs (equal shares), the rest fine-tune with Adam (lr 1e-3, cosine decay) instead of
conjugate gradients; the momentum is fixed (0.9); the RBMs are `rbm`'s CD-1 (binary negative samples for the
binary layers). `evaluate` gives the same figures as `ae` (`mse` per pixel, `bce` nats per image on the
grey-level images), so the two compare directly; the paper reports a squared error of 3.00 per test image
(0.0038 per pixel). Before fine-tuning starts, `encode` / `decode` are the stack's deterministic up and down
passes, which the unrolled net reproduces exactly.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.data.imageset import Batch, DataSpec
from genzoo.errors import ConfigError
from genzoo.losses import bernoulli_log_likelihood
from genzoo.models.base import Model, sample_count
from genzoo.models.rbm import RBM, RBMConfig, ais_interval, free_energy, rbm_gradients
from genzoo.nn import bernoulli, full_precision
from genzoo.registry import register


# ---- the bound as pure functions -------------------------------------------------------------------------
def bernoulli_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of independent Bernoullis with these logits, summed over the last dim:
    q softplus(-x) + (1 - q) softplus(x), q = sigmoid(x) (stable for any logit)."""
    q = torch.sigmoid(logits)
    return (q * F.softplus(-logits) + (1 - q) * F.softplus(logits)).sum(-1)


@torch.no_grad()
def dbn_lower_bound(v: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
                    log_z_top: float, samples: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-image variational lower bound on log p(v) of a DBN (Salakhutdinov & Murray 2008), float64 (N,).

    `layers` = [(W_1, b_1, c_1), ..., (W_L, b_L, c_L)] bottom first (W_l: D_{l-1} x D_l); the top RBM is layer L
    with log partition function `log_z_top`. With h_0 = v and q(h_l | h_{l-1}) = Bern(sigmoid(c_l + h_{l-1} W_l)):
    log p(v) >= E_q[-F_L(h_{L-1}) + sum_{l<L} (log p(h_{l-1} | h_l) + H(q(. | h_{l-1})))] - log Z_L, the
    expectation estimated from `samples` up passes of binary samples (for L = 2 exactly their bound:
    sum_h1 q(h1|v) [log p*(h1) + log p(v|h1)] + H(q) - log Z)."""
    *directed, (w_top, b_top, c_top) = layers
    total = torch.zeros(len(v), dtype=torch.float64, device=v.device)
    for _ in range(samples):
        below, term = v, torch.zeros_like(total)
        for w, b, c in directed:
            x = below @ w + c  # recognition logits of q(h_l | h_{l-1})
            h = bernoulli(torch.sigmoid(x), generator)
            term += (bernoulli_entropy(x) + bernoulli_log_likelihood(h @ w.T + b, below)).double()
            below = h
        total += -free_energy(below, w_top, b_top, c_top).double() + term
    return total / samples - log_z_top


def layer_schedule(steps: int, shares: tuple[float, ...]) -> list[int]:
    """The step after each layer's last: layer l trains on steps [ends[l-1], ends[l]) of `steps`, in
    proportion to `shares`."""
    cum = list(itertools.accumulate(shares))
    ends = [round(steps * c / cum[-1]) for c in cum]
    ends[-1] = steps
    return ends


# ---- the code layer's RBM -----------------------------------------------------------------------------------
class LinearHiddenRBM(RBM):
    """RBM with binary visible and linear hidden units with unit-variance Gaussian noise (Hinton & Salakhutdinov
    2006's code layer): E(v, h) = -b.v - c.h - v'Wh + |h|^2 / 2, so p(h | v) = N(c + vW, I), p(v_i = 1 | h) =
    sigmoid(b + Wh)_i and F(v) = -b.v - |c + vW|^2 / 2 (+ a constant). CD-k as their code: h ~ p(h | v), the
    negatives are the reconstructions' probabilities. Optimizer and step are `rbm`'s; its AIS, evaluation and
    sampling (binary hidden units) do not apply."""

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        """The mean of p(h | v) (the name keeps the stack's up pass uniform)."""
        return v @ self.W + self.c

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        return -(v @ self.b) - 0.5 * (v @ self.W + self.c).pow(2).sum(-1)

    def gibbs(self, v: torch.Tensor, steps: int,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`steps` Gibbs steps v -> h ~ N(c + vW, I) -> v; returns (the last v sample, its probabilities)."""
        probs = v
        for _ in range(steps):
            m = self.hidden_probs(v)
            noise = torch.randn_like(m) if generator is None else torch.randn(m.shape, generator=generator)
            probs = self.visible_probs(m + noise.to(m.device))
            v = bernoulli(probs, generator)
        return v, probs

    def cd_gradients(self, v0: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor]:
        """As `RBM.cd_gradients` (CD only), with each negative the reconstruction's probabilities."""
        recons = []
        for _ in range(self.cfg.k):
            recons.append(self.gibbs(recons[-1] if recons else v0, 1)[1])
        vk = recons[-1]
        grads = rbm_gradients(v0, self.hidden_probs(v0), vk, self.hidden_probs(vk))
        logs = {"free_energy_gap": (self.free_energy(v0) - self.free_energy(vk)).mean(),
                "recon_mse": (recons[0] - v0).pow(2).mean(), "hidden_mean": self.hidden_probs(v0).mean()}
        return grads, logs, vk


# ---- the greedy stack ------------------------------------------------------------------------------------
class GreedyStack(Model):
    """RBMs `self.layers` (bottom first) trained one at a time on the up pass of the frozen ones below; the
    layer a step trains is a function of the step and the run's length alone, and everything a step reads
    (weights, momentum, persistent chains) is in parameters, buffers and the optimizers: resume is exact."""

    input_range = (0.0, 1.0)

    def _stack(self, sizes: tuple[int, ...], cfgs: list[RBMConfig], top: type = RBM) -> None:
        self.layers = nn.ModuleList(
            (top if i == len(cfgs) - 1 else RBM)(cfg, self.spec if i == 0 else DataSpec(1, 1, sizes[i]))
            for i, cfg in enumerate(cfgs))
        self.layer_ends: list[int] = []  # set by configure_optimizers

    def attach_data(self, data) -> None:
        self.layers[0].attach_data(data)  # visible biases and base-rate model at the pixel means

    def _configure_layers(self, steps: int, shares: tuple[float, ...]) -> None:
        self.layer_ends = layer_schedule(steps, shares or (1.0,) * len(self.layers))
        for i, (layer, start, end) in enumerate(zip(self.layers, [0, *self.layer_ends], self.layer_ends)):
            layer.configure_optimizers(end - start)  # a learning-rate decay spans the layer's own steps
            self.optimizers[f"rbm{i}"] = layer.optimizers["net"]
            if "net" in layer.schedulers:
                self.schedulers[f"rbm{i}"] = layer.schedulers["net"]

    def layer_at(self, step: int) -> int:
        return next((i for i, end in enumerate(self.layer_ends) if step < end), len(self.layers) - 1)

    def up(self, v: torch.Tensor, upto: int, sample: bool = False) -> torch.Tensor:
        """The input of layer `upto`: v passed up through layers 0..upto-1 (means, or binary samples)."""
        for layer in self.layers[:upto]:
            v = layer.hidden_probs(v)
            if sample:
                v = bernoulli(v)
        return v

    def greedy_step(self, v: torch.Tensor, step: int, sample: bool = False) -> dict[str, Any]:
        """One CD step of the layer whose turn it is, on the up pass of v."""
        i = self.layer_at(step)
        layer = self.layers[i]
        with torch.no_grad():
            x = self.up(v, i, sample)
            if i > 0 and step == self.layer_ends[i - 1]:  # the layer's first step: biases at the input's log-odds
                p = x.mean(0).clamp(1e-3, 1 - 1e-3)
                layer.base_bias.copy_(torch.log(p / (1 - p)))
                layer.b.copy_(layer.base_bias)
        layer.grad_sync = self.grad_sync
        return {**layer.train_step(Batch(x), step), "layer": float(i)}


# ---- dbn -------------------------------------------------------------------------------------------------------
@dataclass
class DBNConfig:
    hidden: tuple[int, ...] = field((500, 500), "hidden layer sizes, bottom first: one RBM per layer (the paper: "
                                                "500,500,2000)", ge=1)
    layer_shares: tuple[float, ...] = field((), "relative share of the training steps of each layer (empty: equal)",
                                            gt=0)
    propagate: Literal["probs", "samples"] = field(
        "probs", "what an upper layer learns from: the hidden probabilities of the layer below, or binary samples")
    k: int = field(1, "Gibbs steps of each layer's negative phase (CD-k / PCD-k)", ge=1)
    persistent: bool = field(True, "persistent chains (PCD) in every layer (false: CD-k)")
    lr: float = field(0.05, "SGD learning rate of each RBM", gt=0)
    momentum: float = field(0.5, "SGD momentum", ge=0, lt=1)
    schedule: Literal["constant", "linear"] = field(
        "linear", "learning-rate schedule of each RBM: constant, or linear (falls linearly to 0 over its own share "
                  "of the steps)")
    weight_decay: float = field(2e-4, "L2 weight decay on the weights", ge=0)
    init_std: float = field(0.01, "standard deviation of the initial weights", gt=0)
    binarize: Literal["dynamic", "threshold"] = field(
        "dynamic", "dynamic: a fresh Bernoulli sample of each training image (evaluation: one fixed binarization); "
                   "threshold: pixel > 127")
    sample_steps: int = field(1000, "Gibbs steps of the top RBM for each sample", ge=1)
    ais_betas: int = field(15000, "intermediate distributions of AIS for log Z (Salakhutdinov & Murray: 15000)", ge=3)
    ais_runs: int = field(100, "AIS runs", ge=1)
    bound_samples: int = field(10, "samples of q(h | v) per image for the lower bound", ge=1)
    eval_first_rbm: bool = field(True, "evaluation also estimates the first RBM's own log-likelihood by AIS "
                                       "(doubles the AIS time)")

    def validate(self) -> None:
        if len(self.hidden) < 2:
            raise ConfigError(f"a DBN stacks at least two RBMs: give two or more hidden sizes (e.g. hidden=500,500), "
                              f"got {self.hidden!r}; for a single RBM train `rbm`")
        if self.layer_shares and len(self.layer_shares) != len(self.hidden):
            raise ConfigError(f"layer_shares needs one share per hidden layer ({len(self.hidden)}), got "
                              f"{self.layer_shares!r}; leave it empty for equal shares")


@register("dbn", config=DBNConfig, family="energy",
          description="Deep belief net (Hinton et al. 2006): RBMs stacked greedily, bound on log p(v) by AIS",
          train_defaults={"epochs": 40, "batch_size": 100, "eval_every": 10**9, "channels_last": False})
class DBN(GreedyStack):
    """Deep belief net trained greedily; `evaluate` gives Salakhutdinov & Murray's lower bound on log p(v)."""

    val_metric = "log_likelihood_bound"
    val_higher_is_better = True

    def __init__(self, cfg: DBNConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        cfg.validate()
        sizes = (math.prod(spec.shape), *cfg.hidden)
        self._stack(sizes, [RBMConfig(hidden=h, k=cfg.k, persistent=cfg.persistent, lr=cfg.lr, momentum=cfg.momentum,
                                      schedule=cfg.schedule, weight_decay=cfg.weight_decay, binarize=cfg.binarize,
                                      sample_steps=cfg.sample_steps, ais_betas=cfg.ais_betas, ais_runs=cfg.ais_runs,
                                      init_std=cfg.init_std) for h in cfg.hidden])

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers[0].augment(images)

    def configure_optimizers(self, total_steps: int) -> None:
        self._configure_layers(total_steps, self.cfg.layer_shares)

    def train_step(self, batch, step: int) -> dict[str, Any]:
        return self.greedy_step(batch.x.flatten(1), step, sample=self.cfg.propagate == "samples")

    # ---- evaluation and sampling --------------------------------------------------------------------------
    def weights(self) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        return [(layer.W.detach(), layer.b.detach(), layer.c.detach()) for layer in self.layers]

    @torch.no_grad()
    def lower_bound(self, v: torch.Tensor, log_z_top: float, samples: int | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-image bound on log p(v) (float64) for binary N x D visible vectors, given the top RBM's log Z."""
        return dbn_lower_bound(v, self.weights(), log_z_top, samples or self.cfg.bound_samples, generator)

    @full_precision
    @torch.no_grad()
    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        first, top = self.layers[0], self.layers[-1]
        images = first.eval_images(data)
        log_z, spread, log_w = top.log_partition(with_log_w=True)
        log_z1 = first.log_partition()[0] if self.cfg.eval_first_rbm else None
        g = torch.Generator().manual_seed(0)
        bound, neg_f, n = 0.0, 0.0, 0
        for start in range(0, len(images), batch_size):
            v = self.prepare(images[start:start + batch_size]).flatten(1)
            bound += float(self.lower_bound(v, log_z, generator=g).sum())
            neg_f += float(-first.free_energy(v).double().sum())
            n += len(v)
        res: dict[str, Any] = {"log_likelihood_bound": bound / n, "log_z_top": log_z, "ais_log_weight_std": spread}
        if len(log_w) > 1:  # log Z +- 3 standard errors of the AIS weights (as `rbm`), as a range of the bound
            low, high = ais_interval(log_w)
            res["log_likelihood_bound_low"] = res["log_likelihood_bound"] - high
            if math.isfinite(low):
                res["log_likelihood_bound_high"] = res["log_likelihood_bound"] - low
        if log_z1 is not None:
            res["rbm1_log_likelihood"] = neg_f / n - log_z1
        res["n"] = n
        return self.with_sample_metrics(res, data)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None):
        """`sample_steps` Gibbs steps of the top RBM from its base-rate model, then the down pass of means."""
        n = sample_count(n)
        if labels is not None:
            raise ConfigError("dbn is not conditional: it takes no labels")
        top = self.layers[-1]
        start = bernoulli(torch.sigmoid(top.base_bias).expand(n, -1), generator)
        _, x = top.gibbs(start, self.cfg.sample_steps, generator)
        for layer in reversed(self.layers[:-1]):
            x = layer.visible_probs(x)
        return x.reshape(n, *self.spec.shape)

    def filters(self, n: int = 100) -> torch.Tensor:
        """The first RBM's filters (see `RBM.filters`)."""
        return self.layers[0].filters(n)


# ---- rbm-ae ------------------------------------------------------------------------------------------------
@dataclass
class RBMAutoencoderConfig:
    hidden: tuple[int, ...] = field((1000, 500, 250), "encoder hidden widths (the decoder mirrors them)", ge=1)
    code_dim: int = field(30, "linear code units (the top RBM's Gaussian hidden units)", ge=1)
    pretrain_fraction: float = field(0.5, "share of the steps that pretrain the RBMs; the rest fine-tune", ge=0, le=1)
    layer_shares: tuple[float, ...] = field((), "relative share of the pretraining steps of each RBM (empty: equal)",
                                            gt=0)
    k: int = field(1, "Gibbs steps of each RBM's negative phase (CD-k)", ge=1)
    lr_rbm: float = field(0.1, "SGD learning rate of the binary RBMs", gt=0)
    lr_linear: float = field(0.001, "SGD learning rate of the RBM with linear code units", gt=0)
    momentum: float = field(0.9, "SGD momentum of the RBMs", ge=0, lt=1)
    weight_decay: float = field(2e-4, "L2 weight decay on the RBMs' weights", ge=0)
    init_std: float = field(0.1, "standard deviation of the RBMs' initial weights", gt=0)
    lr: float = field(1e-3, "Adam learning rate of the fine-tuning", gt=0)
    schedule: Literal["cosine", "constant"] = field("cosine", "fine-tuning learning-rate schedule")

    def validate(self) -> None:
        if not self.hidden:
            raise ConfigError("hidden must list at least one width (e.g. hidden=1000,500,250)")
        if self.layer_shares and len(self.layer_shares) != len(self.hidden) + 1:
            raise ConfigError(f"layer_shares needs one share per RBM ({len(self.hidden) + 1}: the hidden layers "
                              f"and the code layer), got {self.layer_shares!r}; leave it empty for equal shares")


@register("rbm-ae", config=RBMAutoencoderConfig, family="autoencoder",
          description="Deep autoencoder 784-1000-500-250-30 pretrained as RBMs, then fine-tuned "
                      "(Hinton & Salakhutdinov 2006)",
          train_defaults={"epochs": 40, "batch_size": 100, "channels_last": False})
class RBMAutoencoder(GreedyStack):
    """RBM-pretrained deep autoencoder; `evaluate` gives `ae`'s reconstruction figures."""

    val_metric = "mse"
    val_higher_is_better = False

    def __init__(self, cfg: RBMAutoencoderConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        cfg.validate()
        sizes = (math.prod(spec.shape), *cfg.hidden, cfg.code_dim)
        n = len(sizes) - 1
        self._stack(sizes, [RBMConfig(hidden=h, k=cfg.k, lr=cfg.lr_linear if i == n - 1 else cfg.lr_rbm,
                                      momentum=cfg.momentum, weight_decay=cfg.weight_decay, init_std=cfg.init_std,
                                      persistent=False, schedule="constant")  # Hinton & Salakhutdinov's CD-1
                            for i, h in enumerate(sizes[1:])], top=LinearHiddenRBM)
        enc: list[nn.Module] = []
        dec: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            enc += [nn.Linear(a, b)] + ([nn.Sigmoid()] if i < n - 1 else [])  # the code layer is linear
            dec = [nn.Linear(b, a)] + ([nn.Sigmoid()] if i > 0 else []) + dec  # logits out
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)
        self.register_buffer("unrolled", torch.zeros((), dtype=torch.bool))
        self.pretrain_steps = 0

    @property
    def code_dim(self) -> int:
        return self.cfg.code_dim

    def configure_optimizers(self, total_steps: int) -> None:
        self.pretrain_steps = round(total_steps * self.cfg.pretrain_fraction)
        self._configure_layers(self.pretrain_steps, self.cfg.layer_shares)
        opt = torch.optim.Adam([*self.encoder.parameters(), *self.decoder.parameters()], lr=self.cfg.lr)
        self.optimizers["finetune"] = opt
        if self.cfg.schedule == "cosine":
            self.schedulers["finetune"] = torch.optim.lr_scheduler.CosineAnnealingLR(
                opt, max(total_steps - self.pretrain_steps, 1))

    @torch.no_grad()
    def unroll(self) -> None:
        """Encoder layer l <- RBM l's (W, c), decoder's mirror <- (W', b); from then on encode/decode use the net."""
        linears = [m for m in self.encoder if isinstance(m, nn.Linear)]
        mirrors = [m for m in self.decoder if isinstance(m, nn.Linear)][::-1]
        for rbm, enc, dec in zip(self.layers, linears, mirrors):
            enc.weight.copy_(rbm.W.T)
            enc.bias.copy_(rbm.c)
            dec.weight.copy_(rbm.W)
            dec.bias.copy_(rbm.b)
        self.unrolled.fill_(True)

    def train_step(self, batch, step: int) -> dict[str, Any]:
        x = batch.x.flatten(1)
        if step < self.pretrain_steps:
            return self.greedy_step(x, step)
        if not self.unrolled:
            self.unroll()
        loss = -bernoulli_log_likelihood(self.decoder(self.encoder(x)), x).mean()
        self.optimize("finetune", loss)
        return {"loss": loss.detach()}

    # ---- the autoencoder ----------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N x C x H x W in [0, 1]) -> N x code_dim codes."""
        v = x.flatten(1)
        return self.encoder(v) if self.unrolled else self.up(v, len(self.layers))

    def decoder_logits(self, z: torch.Tensor) -> torch.Tensor:
        if self.unrolled:
            return self.decoder(z)
        for layer in reversed(self.layers[1:]):
            z = layer.visible_probs(z)
        return z @ self.layers[0].W.T + self.layers[0].b

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decoder_logits(z)).reshape(len(z), *self.spec.shape)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        """`ae`'s figures: `mse` per pixel, `bce` nats per image (cross-entropy with the grey-level pixels)."""
        sq, ce, n = 0.0, 0.0, 0
        for images, _, _ in data.iter_ordered(batch_size):
            x = self.prepare(images).flatten(1)
            out = self.decoder_logits(self.encode(x))
            sq += float((torch.sigmoid(out) - x).pow(2).sum())
            ce += float(-bernoulli_log_likelihood(out, x).sum())
            n += len(x)
        return {"mse": sq / (n * math.prod(self.spec.shape)), "bce": ce / n, "n": n}
