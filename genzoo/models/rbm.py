"""Restricted Boltzmann machine with binary visible and hidden units, trained by contrastive divergence,
and its log-likelihood by annealed importance sampling.

Model (Smolensky 1986; Hinton 2002): energy E(v, h) = -b.v - c.h - v'Wh, p(v, h) = exp(-E) / Z. The hidden
units are independent given v and the visible ones given h: p(h_j = 1 | v) = sigmoid(c_j + (vW)_j),
p(v_i = 1 | h) = sigmoid(b_i + (Wh)_i). Summing out h gives the free energy
F(v) = -b.v - sum_j softplus(c_j + (vW)_j), so log p(v) = -F(v) - log Z.

Training (Hinton 2002; Tieleman 2008): the log-likelihood gradient is E_data[-dF/dtheta] - E_model[-dF/dtheta];
CD-k estimates the model term from k Gibbs steps started at the data, PCD (`persistent=true`) from chains
that persist across updates. Both are written as the gradient of F(v_data) - F(v_negative) with the
negative samples held fixed. Options follow Hinton's practical guide (2010): momentum, L2 weight decay, a
sparsity target on the mean hidden activation, visible biases started at log(p / (1 - p)) of the training
pixel means. The defaults are PCD-1 with the learning rate falling linearly to 0 over the run (`schedule`), as
Tieleman trained: on MNIST (500 hidden units) that gives a test log-likelihood of -88.2 nats after 50 epochs and
-86.8 after 100 (Salakhutdinov & Murray's CD-25 anchor: -86.3), where PCD-1 at a constant rate gave -131.4 after
30 (README); `persistent=false schedule=constant` is CD-1 as Hinton's guide has it, the better choice for
features rather than for a density. `--precision bf16` runs the matrix products in bf16 (the parameters, their
updates and the evaluation stay fp32): 1.6-2x faster a step on a CPU with native bf16, the same likelihood after
10 and 100 epochs (README).

Evaluation (Salakhutdinov & Murray 2008, "On the quantitative analysis of deep belief networks"): log Z by
annealed importance sampling from a base-rate model (W = 0, visible biases from the training pixel means,
hidden biases 0, whose log Z is exact) through p_beta(v) ~ p_A(v)^(1 - beta) p_B(v)^beta with their schedule
shape (1000 betas in [0, 0.5], 4000 in [0.5, 0.9], 10000 in [0.9, 1], scaled to `ais_betas`), `ais_runs`
runs; the test log-likelihood -F(v) - log Z on a fixed binarization of the evaluation images; scikit-learn's
stochastic pseudo-likelihood (one random bit flipped per image, times the number of pixels); one-step
reconstruction error; and samples from Gibbs chains of `sample_steps` steps, scored by FID like every sampler.
Their anchor: 500 hidden units, CD-25, MNIST: about -86.3 nats (AIS); CD-1: about -125.5 nats.
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
from genzoo.data.imageset import DataSpec
from genzoo.errors import ConfigError
from genzoo.models.base import Model, sample_count
from genzoo.models.vae import binarize_evaluation, binarize_training
from genzoo.nn import bernoulli, compute_dtype, full_precision
from genzoo.registry import register, register_preset


# ---- the energy model as pure functions -------------------------------------------------------------------
def free_energy(v: torch.Tensor, w: torch.Tensor, b: torch.Tensor, c: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """F(v) = -b.v - sum_j softplus(beta (c_j + (vW)_j)) for N x D visible vectors (W: D x H); with beta the
    model's energy scaled by beta (AIS's intermediate models, without their base-rate term)."""
    return -beta * (v @ b) - F.softplus(beta * (v @ w + c)).sum(-1)


def rbm_gradients(v0: torch.Tensor, q0: torch.Tensor, vk: torch.Tensor, qk: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of mean F(v0) - mean F(vk) for W, b, c in closed form, -(v0' q0 - vk' qk) / B, -(v0 - vk),
    -(q0 - qk) (batch means), where q = E[h | v] for the positive (v0) and negative (vk) visible vectors: the
    logistic p(h | v) of binary hidden units, or the mean c + vW of linear Gaussian ones (their free energy
    -b.v - |c + vW|^2 / 2 has the same derivatives with q = c + vW).

    The weight term is one product [v0; vk]' [-q0; qk] / B: in bf16 the difference is accumulated in fp32 and
    rounded once, where two bf16 products of B terms each would lose the small difference between them; the
    sign and 1 / B scale the 2B x H factor, not the D x H result."""
    dtype = q0.dtype  # the products' precision (bf16 in a bf16 step)
    w = torch.cat([v0.to(dtype), vk.to(dtype)]).T @ torch.cat([q0, -qk.to(dtype)]).mul_(-1.0 / len(v0))
    return {"W": w, "b": -(v0 - vk).mean(0), "c": -(q0 - qk).mean(0)}


def gaussian_free_energy(v: torch.Tensor, w: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
                         beta: float = 1.0) -> torch.Tensor:
    """Gaussian-Bernoulli RBM (unit-variance visible units; Hinton & Salakhutdinov 2006):
    E(v, h) = |v - b|^2 / 2 - c.h - v'Wh, so F(v) = |v - b|^2 / 2 - sum_j softplus(beta (c_j + (vW)_j))."""
    return 0.5 * (v - b).pow(2).sum(-1) - F.softplus(beta * (v @ w + c)).sum(-1)


def exact_gaussian_log_partition(w: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> float:
    """log Z of a Gaussian-Bernoulli RBM by enumerating the hidden layer (at most 20 units): for each h the
    visible integral is Gaussian, exp(c.h + b.Wh + |Wh|^2 / 2) (2 pi)^(D/2)."""
    d, h = w.shape
    if h > 20:
        raise ConfigError(f"exact log Z enumerates 2^{h} hidden states; use AIS for RBMs this large")
    w, b, c = w.double(), b.double(), c.double()
    states = torch.tensor(list(itertools.product((0.0, 1.0), repeat=h)), dtype=torch.float64)
    wh = states @ w.T  # 2^H x D
    return float(torch.logsumexp(states @ c + wh @ b + 0.5 * wh.pow(2).sum(-1), 0)) + 0.5 * d * math.log(2 * math.pi)


def exact_log_partition(w: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> float:
    """log Z by enumerating the smaller layer (at most 20 units): the ground truth for AIS on tiny RBMs."""
    d, h = w.shape
    if min(d, h) > 20:
        raise ConfigError(f"exact log Z enumerates 2^{min(d, h)} states; use AIS for RBMs this large")
    w, b, c = w.double(), b.double(), c.double()
    if h <= d:  # sum over v in closed form for every h
        states = torch.tensor(list(itertools.product((0.0, 1.0), repeat=h)), dtype=torch.float64)
        return float(torch.logsumexp(states @ c + F.softplus(states @ w.T + b).sum(-1), 0))
    states = torch.tensor(list(itertools.product((0.0, 1.0), repeat=d)), dtype=torch.float64)
    return float(torch.logsumexp(-free_energy(states, w, b, c), 0))


def ais_schedule(n: int) -> torch.Tensor:
    """n + 1 inverse temperatures from 0 to 1 shaped as Salakhutdinov & Murray's 1000 / 4000 / 10000 betas on
    [0, 0.5] / [0.5, 0.9] / [0.9, 1] (15000 in all)."""
    if n < 3:
        raise ConfigError(f"AIS needs at least 3 intermediate distributions, got {n}")
    n1, n2 = max(1, round(n / 15)), max(1, round(4 * n / 15))
    n3 = max(1, n - n1 - n2)
    return torch.cat([torch.linspace(0, 0.5, n1 + 1)[:-1], torch.linspace(0.5, 0.9, n2 + 1)[:-1],
                      torch.linspace(0.9, 1.0, n3 + 1)]).double()


def base_log_partition(base_bias: torch.Tensor, hidden: int) -> float:
    """log Z of the base-rate model: independent visible units with biases `base_bias`, free hidden units."""
    return float(F.softplus(base_bias.double()).sum()) + hidden * math.log(2.0)


@torch.no_grad()
def ais_log_partition(w: torch.Tensor, b: torch.Tensor, c: torch.Tensor, base_bias: torch.Tensor | None,
                      betas: torch.Tensor, runs: int = 100, generator: torch.Generator | None = None,
                      gaussian: bool = False) -> tuple[float, torch.Tensor]:
    """(estimate of log Z, the runs' log importance weights) by annealed importance sampling.

    p_k*(v) = exp((1 - beta_k) a.v) * exp(beta_k b.v) * prod_j (1 + exp(beta_k (c_j + (vW)_j))), a = base_bias;
    v_1 ~ p_0 exactly, v_{k+1} by one Gibbs step that leaves p_k invariant, and
    log w = sum_k log p_k*(v_k) - log p_{k-1}*(v_k). log Z_B ~= log Z_A + log mean exp(log w). Each term is
    computed as a difference (small numbers, in the parameters' precision) and summed in float64.

    `gaussian=True`: a Gaussian-Bernoulli RBM; the base model keeps the visible term |v - b|^2 / 2 and drops the
    weights (log Z_A = D/2 log 2 pi + H log 2), p_k*(v) = exp(-|v - b|^2 / 2) prod_j (1 + exp(beta_k x_j)).
    """
    device = w.device

    def normal(mean):
        if generator is None:
            return mean + torch.randn_like(mean)
        return mean + torch.randn(mean.shape, generator=generator).to(device)

    a = None if gaussian else base_bias.to(w.dtype)
    v = normal(b.expand(runs, -1)) if gaussian else bernoulli(torch.sigmoid(a).expand(runs, -1), generator)
    log_w = torch.zeros(runs, dtype=torch.float64, device=device)
    for k in range(1, len(betas)):
        prev, beta = float(betas[k - 1]), float(betas[k])
        x = v @ w + c  # the hidden units' input, shared by the weight and the Gibbs step
        term = (F.softplus(beta * x) - F.softplus(prev * x)).sum(-1)
        if not gaussian:
            term = term + (beta - prev) * (v @ (b - a))
        log_w += term.double()
        h = bernoulli(torch.sigmoid(beta * x), generator)
        if gaussian:
            v = normal(b + beta * (h @ w.T))
        else:
            v = bernoulli(torch.sigmoid((1 - beta) * a + beta * (h @ w.T + b)), generator)
    log_mean_w = float(torch.logsumexp(log_w, 0)) - math.log(runs)
    log_z_base = 0.5 * len(b) * math.log(2 * math.pi) + len(c) * math.log(2.0) if gaussian \
        else base_log_partition(a, len(c))
    return log_z_base + log_mean_w, log_w.cpu()


def ais_interval(log_w: torch.Tensor, sds: float = 3.0) -> tuple[float, float]:
    """log(mean(w) - sds * se) and log(mean(w) + sds * se) relative to log(mean(w)), se = std(w) / sqrt(runs): the
    +- 3 standard error interval Salakhutdinov & Murray report for log Z (a lower end of -inf when the interval
    reaches 0: too few runs to bound it)."""
    w = torch.exp(log_w.double() - log_w.max())
    mean, se = w.mean(), w.std() / math.sqrt(len(w))
    low = float(torch.log((mean - sds * se) / mean)) if mean > sds * se else -math.inf
    return low, float(torch.log((mean + sds * se) / mean))


def pseudo_log_likelihood(v: torch.Tensor, w: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """scikit-learn's stochastic pseudo-likelihood per image: D * log sigmoid(F(v~) - F(v)), v~ = v with one
    random bit flipped (an unbiased estimate of sum_i log p(v_i | v_-i))."""
    n, d = v.shape
    idx = torch.randint(d, (n,), generator=generator).to(v.device)
    flipped = v.clone()
    rows = torch.arange(n, device=v.device)
    flipped[rows, idx] = 1 - flipped[rows, idx]
    return d * F.logsigmoid(free_energy(flipped, w, b, c) - free_energy(v, w, b, c))


Weights = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # an RBM's (W, b, c)
_LOG_IMAGES = 10  # images of each batch whose free-energy gap and reconstruction error are logged


# ---- the model --------------------------------------------------------------------------------------------
@dataclass
class RBMConfig:
    hidden: int = field(500, "hidden units", ge=1)
    visible: Literal["binary", "gaussian"] = field(
        "binary", "binary (Bernoulli pixels) or gaussian (unit-variance units on pixels standardised by the training "
                  "mean and spread: real-valued images such as Frey faces)")
    k: int = field(1, "Gibbs steps of the negative phase (CD-k / PCD-k)", ge=1)
    persistent: bool = field(True, "persistent chains (PCD, Tieleman 2008) instead of chains started at the data "
                                   "(false: CD-k)")
    lr: float = field(0.05, "SGD learning rate (on the batch-mean gradient)", gt=0)
    momentum: float = field(0.5, "SGD momentum", ge=0, lt=1)
    schedule: Literal["constant", "linear"] = field(
        "linear", "learning-rate schedule: constant, or linear (falls linearly to 0 over the run: Tieleman 2008's "
                  "PCD schedule)")
    weight_decay: float = field(2e-4, "L2 weight decay on W", ge=0)
    sparsity_target: float = field(0.0, "target mean activation of each hidden unit (0 = no sparsity penalty)",
                                   ge=0, lt=1)
    sparsity_cost: float = field(0.0, "weight of the sparsity penalty (cross-entropy to the target)", ge=0)
    binarize: Literal["dynamic", "threshold"] = field(
        "dynamic", "dynamic: a fresh Bernoulli sample of every training image each time it is used (evaluation: one "
                   "fixed binarization); threshold: pixel > 127")
    sample_steps: int = field(1000, "Gibbs steps of each chain that `sample` runs", ge=1)
    ais_betas: int = field(15000, "intermediate distributions of AIS (Salakhutdinov & Murray: 15000)", ge=3)
    ais_runs: int = field(100, "AIS runs", ge=1)
    init_std: float = field(0.01, "standard deviation of the initial weights", gt=0)


@register("rbm", config=RBMConfig, family="energy",
          description="Restricted Boltzmann machine (binary units), CD-k or PCD, log-likelihood by AIS",
          train_defaults={"epochs": 20, "batch_size": 100, "eval_every": 10**9, "channels_last": False})
class RBM(Model):
    """Bernoulli-Bernoulli RBM; `evaluate` gives the AIS log-likelihood, pseudo-likelihood, reconstruction error
    and the sample metrics of long Gibbs chains."""

    input_range = (0.0, 1.0)
    val_metric = "pseudo_log_likelihood"
    val_higher_is_better = True

    def __init__(self, cfg: RBMConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        d = math.prod(spec.shape)
        self.gaussian = cfg.visible == "gaussian"
        self.W = nn.Parameter(torch.randn(d, cfg.hidden) * cfg.init_std)
        self.b = nn.Parameter(torch.zeros(d))
        self.c = nn.Parameter(torch.zeros(cfg.hidden))
        # log-odds of the training pixel means: the visible biases' start and AIS's base-rate model
        self.register_buffer("base_bias", torch.zeros(d))
        self.register_buffer("chains", torch.zeros(0, d))  # PCD's persistent chains (filled at the first step)
        if self.gaussian:  # the training pixels' mean and spread, which standardise the images
            self.register_buffer("pixel_mean", torch.zeros(d))
            self.register_buffer("pixel_std", torch.ones(d))


    def attach_data(self, data) -> None:
        if self.gaussian:
            x = data.images.flatten(1).double() / 255.0
            self.pixel_mean.copy_(x.mean(0).float())
            self.pixel_std.copy_(x.std(0).clamp(min=1e-2).float())
            return
        p = (data.images.flatten(1).double().mean(0) / 255.0).clamp(1e-3, 1 - 1e-3)
        if self.cfg.binarize == "threshold":
            p = (data.images.flatten(1) > 127).double().mean(0).clamp(1e-3, 1 - 1e-3)
        self.base_bias.copy_(torch.log(p / (1 - p)).float())
        with torch.no_grad():
            self.b.copy_(self.base_bias)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "chains"
        if key in state_dict:  # the chains are created at the first PCD step: take the saved shape
            self.chains = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ---- the visible layer ----------------------------------------------------------------------------------
    def to_visible(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> N x D visible vectors (standardised for gaussian units)."""
        v = x.flatten(1)
        return (v - self.pixel_mean) / self.pixel_std if self.gaussian else v

    def from_visible(self, v: torch.Tensor) -> torch.Tensor:
        """N x D visible vectors (or their means) -> images in [0, 1]."""
        x = (v * self.pixel_std + self.pixel_mean).clamp(0, 1) if self.gaussian else v
        return x.reshape(len(v), *self.spec.shape)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        return (gaussian_free_energy if self.gaussian else free_energy)(v, self.W, self.b, self.c)

    # ---- Gibbs sampling -----------------------------------------------------------------------------------
    def weights(self, dtype: torch.dtype | None = None) -> Weights:
        """(W, b, c); with `dtype`, cast copies (a bf16 training step casts them once for all its products)."""
        params = (self.W, self.b, self.c)
        return params if dtype is None else tuple(p.to(dtype) for p in params)

    def hidden_probs(self, v: torch.Tensor, weights: Weights | None = None) -> torch.Tensor:
        w, _, c = weights or self.weights()
        return torch.sigmoid(torch.addmm(c, v, w))

    def visible_probs(self, h: torch.Tensor, weights: Weights | None = None) -> torch.Tensor:
        """The mean of p(v | h): probabilities for binary units, b + Wh for gaussian ones."""
        w, b, _ = weights or self.weights()
        x = torch.addmm(b, h, w.T)
        return x if self.gaussian else torch.sigmoid(x)

    def sample_visible(self, mean: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not self.gaussian:
            return bernoulli(mean, generator)
        noise = torch.randn_like(mean) if generator is None else torch.randn(mean.shape, generator=generator)
        return mean + noise.to(mean.device)

    def gibbs(self, v: torch.Tensor, steps: int, generator: torch.Generator | None = None,
              weights: Weights | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`steps` full Gibbs steps v -> h -> v from v; returns (the last v sample, its mean p(v | h))."""
        probs = v
        for _ in range(steps):
            h = bernoulli(self.hidden_probs(v, weights), generator)
            probs = self.visible_probs(h, weights)
            v = self.sample_visible(probs, generator)
        return v, probs

    # ---- training ---------------------------------------------------------------------------------------
    def augment(self, images: torch.Tensor) -> torch.Tensor:
        return images if self.gaussian else binarize_training(images, self.cfg.binarize)

    def configure_optimizers(self, total_steps: int) -> None:
        cfg = self.cfg
        self.optimizers["net"] = torch.optim.SGD([{"params": [self.W], "weight_decay": cfg.weight_decay},
                                                  {"params": [self.b, self.c], "weight_decay": 0.0}],
                                                 lr=cfg.lr, momentum=cfg.momentum)
        if cfg.schedule == "linear":  # update t of T steps at lr (1 - t / T): the last one still moves
            total = max(total_steps, 1)
            self.schedulers["net"] = torch.optim.lr_scheduler.LambdaLR(
                self.optimizers["net"], lambda t: max(1.0 - t / total, 0.0))

    def cd_gradients(self, v0: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor]:
        """Gradients of F(v0) - F(v_neg) (batch means) for W, b, c, in closed form: -(v0' q0 - vk' qk) / B etc.
        with q = p(h | v); the negative samples v_neg come from k Gibbs steps started at v0 (CD) or at the
        persistent chains (PCD), whose state is advanced. Returns (gradients, figures to log, the negatives). The
        closed form needs 5 matrix products a step where autograd of the free energies needs 9 (PCD: 6).

        PCD's chains hold visible states, so each step samples their hidden units under the current weights.
        Holding the hidden states instead (scikit-learn's BernoulliRBM does) saves one product of the six but
        samples them under the weights before the last update: measured on MNIST (500 hidden units, 10 epochs, two
        seeds each) it ended 2 nats lower in AIS test log-likelihood and 2.2 in pseudo-likelihood."""
        cfg = self.cfg
        # products in bf16 under a bf16 autocast region, with the weights cast once here instead of at every product
        dtype = compute_dtype(self.W)
        with torch.autocast(self.device.type, enabled=False):
            weights = self.weights(dtype)
            w, b, c = weights
            v0 = v0.to(w.dtype)
            x0 = torch.addmm(c, v0, w)  # hidden units' input for the data
            q0 = torch.sigmoid(x0)
            if cfg.persistent:
                if self.chains.shape[0] != len(v0):  # start the chains at the data (Tieleman 2008)
                    self.chains = v0.to(self.W.dtype, copy=True)
                vk, first_probs = self.gibbs(self.chains.to(w.dtype), cfg.k, weights=weights)
                self.chains.copy_(vk)
            else:  # the first hidden sample reuses q0
                first_probs = self.visible_probs(bernoulli(q0), weights)
                vk = self.sample_visible(first_probs)
                if cfg.k > 1:
                    vk, _ = self.gibbs(vk, cfg.k - 1, weights=weights)
            xk = torch.addmm(c, vk, w)
            qk = torch.sigmoid(xk)
            grads = rbm_gradients(v0, q0, vk, qk)
            if cfg.sparsity_cost > 0 and cfg.sparsity_target > 0:
                # Hinton's guide (2010, sec. 11): the cross-entropy penalty's derivative wrt each hidden unit's total
                # input is (mean activation - target); it moves the hidden biases and, through the data, the weights
                push = cfg.sparsity_cost * (q0.mean(0) - cfg.sparsity_target)
                grads["c"] = grads["c"] + push
                grads["W"] = grads["W"] + v0.mean(0)[:, None] * push[None]
            logs = self._step_logs(v0[:_LOG_IMAGES], vk[:_LOG_IMAGES], x0[:_LOG_IMAGES], xk[:_LOG_IMAGES],
                                   None if cfg.persistent else first_probs[:_LOG_IMAGES], weights)
            logs["hidden_mean"] = q0.mean()
        return grads, logs, vk

    def _step_logs(self, v0, vk, x0, xk, recon_probs, weights) -> dict[str, torch.Tensor]:
        """The free-energy gap and one-step reconstruction error of the first images of a batch (the log averages
        them over many steps; for the whole batch they were an eighth of a bf16 step), in the parameters'
        precision: the gap is a difference of sums of hundreds of terms. PCD's negatives are no reconstructions
        (`recon_probs` None): those images are reconstructed here."""
        if recon_probs is None:
            recon_probs = self.visible_probs(bernoulli(torch.sigmoid(x0)), weights)
        v0, vk, x0, xk, recon_probs = (t.to(self.W.dtype) for t in (v0, vk, x0, xk, recon_probs))
        visible_gap = 0.5 * ((v0 - self.b).pow(2).sum(1) - (vk - self.b).pow(2).sum(1)) if self.gaussian \
            else -(v0 - vk) @ self.b
        gap = (visible_gap - F.softplus(x0).sum(1) + F.softplus(xk).sum(1)).mean()
        return {"free_energy_gap": gap, "recon_mse": (recon_probs - v0).pow(2).mean()}

    def train_step(self, batch, step: int) -> dict[str, Any]:
        with torch.no_grad():
            grads, logs, _ = self.cd_gradients(self.to_visible(batch.x))
        params = {"W": self.W, "b": self.b, "c": self.c}
        for name, p in params.items():  # bf16 under autocast: the parameters and their updates stay fp32
            p.grad = grads[name].to(p.dtype)
        if self.grad_sync is not None:
            self.grad_sync(list(params.values()))
        self.step_optimizer("net")
        return logs

    # ---- evaluation and sampling ----------------------------------------------------------------------------
    def eval_images(self, data) -> torch.Tensor:
        """The evaluation images as the model sees them: one fixed binarization (binary units)."""
        return data.images if self.gaussian else binarize_evaluation(data.images, self.cfg.binarize)

    def log_partition(self, betas: int | None = None, runs: int | None = None, seed: int = 0,
                      with_log_w: bool = False):
        """(AIS estimate of log Z, the standard deviation of the runs' log weights[, the log weights])."""
        g = torch.Generator().manual_seed(seed)
        log_z, log_w = ais_log_partition(self.W.detach(), self.b.detach(), self.c.detach(), self.base_bias,
                                         ais_schedule(betas or self.cfg.ais_betas), runs or self.cfg.ais_runs, g,
                                         gaussian=self.gaussian)
        spread = float(log_w.std()) if len(log_w) > 1 else 0.0
        return (log_z, spread, log_w) if with_log_w else (log_z, spread)

    @full_precision
    @torch.no_grad()
    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        images = self.eval_images(data)
        log_z, spread, log_w = self.log_partition(with_log_w=True)
        g = torch.Generator().manual_seed(0)
        neg_f, pl, mse, n = 0.0, 0.0, 0.0, 0
        for start in range(0, len(images), batch_size):
            x = self.prepare(images[start:start + batch_size])
            v = self.to_visible(x)
            neg_f += float(-self.free_energy(v).double().sum())
            if not self.gaussian:
                pl += float(pseudo_log_likelihood(v, self.W, self.b, self.c, g).double().sum())
            recon = self.from_visible(self.visible_probs(bernoulli(self.hidden_probs(v), g)))
            mse += float((recon - x).pow(2).flatten(1).mean(1).sum())
            n += len(v)
        # gaussian units model standardised pixels: the density of the [0, 1] pixels has the Jacobian of
        # the standardisation, -sum log std
        jacobian = -float(self.pixel_std.double().log().sum()) if self.gaussian else 0.0
        res = {"log_likelihood": neg_f / n - log_z + jacobian, "log_z": log_z, "ais_log_weight_std": spread,
               "recon_mse": mse / n, "n": n}
        if len(log_w) > 1:  # log Z +- 3 standard errors of the AIS weights, as a range of the log-likelihood
            low, high = ais_interval(log_w)
            res["log_likelihood_low"] = res["log_likelihood"] - high
            if math.isfinite(low):
                res["log_likelihood_high"] = res["log_likelihood"] - low
        if not self.gaussian:
            res["pseudo_log_likelihood"] = pl / n
        return self.with_sample_metrics(res, data)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None):
        """Mean images p(v | h) after `sample_steps` Gibbs steps of chains started from the base-rate model."""
        n = sample_count(n)
        if labels is not None:
            raise ConfigError("rbm is not conditional: it takes no labels")
        if self.gaussian:  # standardised pixels: start from N(0, I)
            start = self.sample_visible(torch.zeros(n, len(self.b), device=self.device), generator)
        else:
            start = bernoulli(torch.sigmoid(self.base_bias).expand(n, -1), generator)
        _, probs = self.gibbs(start, self.cfg.sample_steps, generator)
        return self.from_visible(probs)

    def filters(self, n: int = 100) -> torch.Tensor:
        """The first n hidden units' weights as images, each scaled to [0, 1] (what each unit looks for)."""
        w = self.W.detach().T[:n].reshape(-1, *self.spec.shape)
        lo = w.flatten(1).min(1).values.view(-1, 1, 1, 1)
        hi = w.flatten(1).max(1).values.view(-1, 1, 1, 1)
        return (w - lo) / (hi - lo).clamp(min=1e-8)


register_preset(
    "rbm-frey", "rbm",
    description="Gaussian-Bernoulli RBM on real-valued pixels (Frey faces): unit-variance visible units",
    preset={"visible": "gaussian", "hidden": 200, "lr": 1e-3, "momentum": 0.9, "weight_decay": 1e-4},
    train_defaults={"epochs": 200, "batch_size": 100, "eval_every": 10**9, "channels_last": False})
