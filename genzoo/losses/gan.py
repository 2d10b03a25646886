"""GAN objectives and penalties, as pure functions of discriminator logits / critic scores.

Naming: `d_*` losses are minimised by the discriminator (critic), `g_*` by the generator. Inputs are
raw discriminator outputs (logits for the cross-entropy losses, unbounded scores otherwise), one per
image, shape (N,). Probabilities are never formed: log D = -softplus(-l) and log(1 - D) = -softplus(l)
for D = sigmoid(l), which stay finite for any logit (log(sigmoid(-100)) in float32 is -inf).

Penalties take the critic as a callable (images -> scores) because they differentiate through it;
they return the unweighted penalty, the caller multiplies by its lambda / gamma.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F

__all__ = [
    "d_loss_bce", "g_loss_minimax", "g_loss_nonsaturating",
    "d_loss_lsgan", "g_loss_lsgan",
    "d_loss_wasserstein", "g_loss_wasserstein", "clip_weights_",
    "d_loss_hinge", "g_loss_hinge",
    "gradient_penalty", "dragan_penalty", "r1_penalty",
    "feature_matching_loss",
    "mean_entropy", "marginal_entropy", "d_loss_catgan", "g_loss_catgan", "infogan_info_loss",
    "reconstruction_energy", "d_loss_ebgan", "pulling_away", "d_loss_began", "began_k_update", "began_convergence",
]

Critic = Callable[[torch.Tensor], torch.Tensor]


# ---- Goodfellow et al. 2014, "Generative Adversarial Nets" ----------------------------------------
def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))] (Eq. 1, the discriminator's side), from logits.

    `real_target` < 1 is one-sided label smoothing (Salimans et al. 2016, Sec. 3.4): the real term
    becomes the cross-entropy against target t, t*softplus(-l) + (1-t)*softplus(l); fakes keep 0.
    At D = 1/2 everywhere (logits 0) the loss is log 4, the value at the game's equilibrium.
    """
    t = real_target
    real = t * F.softplus(-real_logits) + (1.0 - t) * F.softplus(real_logits) if t != 1.0 \
        else F.softplus(-real_logits)
    return real.mean() + F.softplus(fake_logits).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """E[log(1 - D(G(z)))], the generator's side of the minimax game (Eq. 1); saturates when D wins."""
    return -F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(G(z))], the "non-saturating" generator loss (Goodfellow et al. 2014, Sec. 3)."""
    return F.softplus(-fake_logits).mean()


# ---- Mao et al. 2017, "Least Squares Generative Adversarial Networks" -----------------------------
def d_loss_lsgan(real: torch.Tensor, fake: torch.Tensor, a: float = 0.0, b: float = 1.0) -> torch.Tensor:
    """1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2] (Eq. 2 with the 0-1 coding a=0, b=c=1)."""
    return 0.5 * ((real - b) ** 2).mean() + 0.5 * ((fake - a) ** 2).mean()


def g_loss_lsgan(fake: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """1/2 E[(D(G(z)) - c)^2] (Eq. 2)."""
    return 0.5 * ((fake - c) ** 2).mean()


# ---- Arjovsky et al. 2017, "Wasserstein GAN" --------------------------------------------------------
def d_loss_wasserstein(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[f(G(z))] - E[f(x)]: minus the critic's estimate of the Wasserstein-1 distance (Eq. 3)."""
    return fake.mean() - real.mean()


def g_loss_wasserstein(fake: torch.Tensor) -> torch.Tensor:
    """-E[f(G(z))] (Algorithm 1, generator update)."""
    return -fake.mean()


@torch.no_grad()
def clip_weights_(params: Iterable[torch.Tensor], c: float) -> None:
    """Clamp every parameter to [-c, c] in place (Algorithm 1: keeps the critic K-Lipschitz)."""
    for p in params:
        p.clamp_(-c, c)


# ---- hinge loss (Lim & Ye 2017; Miyato et al. 2018, Eq. 16-17) -----------------------------------
def d_loss_hinge(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def g_loss_hinge(fake: torch.Tensor) -> torch.Tensor:
    """-E[D(G(z))]."""
    return -fake.mean()


# ---- gradient penalties -------------------------------------------------------------------------------
def _input_grad(critic: Critic, x: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
    """d sum(critic(x)) / dx, per sample (N x ...); summing is exact when samples do not interact."""
    x = x.detach().requires_grad_(True)
    scores = critic(x)
    (grad,) = torch.autograd.grad(scores.float().sum(), x, create_graph=create_graph)
    return grad


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, target: float = 1.0,
                     alpha: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP: E[(||grad D(x_hat)||_2 - target)^2] at x_hat = a x + (1 - a) x~, a ~ U[0, 1] per sample.

    Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Eq. 3 / Algorithm 1.
    `alpha` (N,) fixes the interpolation weights (tests); otherwise they are drawn from torch's RNG.
    """
    if alpha is None:
        alpha = torch.rand(real.shape[0], device=real.device)
    a = alpha.to(real.dtype).view(-1, *([1] * (real.dim() - 1)))
    # a * real + (1 - a) * fake; under bf16 autocast G's output is bf16 while the real batch is float32
    x_hat = torch.lerp(fake.detach().to(real.dtype), real.detach(), a)
    grad = _input_grad(critic, x_hat)
    return ((grad.flatten(1).norm(2, dim=1) - target) ** 2).mean()


def dragan_penalty(critic: Critic, real: torch.Tensor, c: float = 0.5, target: float = 1.0,
                   noise: torch.Tensor | None = None, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """DRAGAN: E[(||grad D(x_p)||_2 - target)^2] at points x_p near the real data.

    Kodali et al. 2017, "On Convergence and Stability of GANs", Eq. 9, as in the authors' code:
    x_p = x + a * (c * std(x) * u), u ~ U[0, 1] per pixel, a ~ U[0, 1] per sample.
    `noise` (like real) and `alpha` (N,) fix the random draws (tests).
    """
    x = real.detach()
    if noise is None:
        noise = torch.rand_like(x)
    if alpha is None:
        alpha = torch.rand(x.shape[0], device=x.device)
    a = alpha.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
    x_p = x + a * (c * x.std() * noise)
    grad = _input_grad(critic, x_p)
    return ((grad.flatten(1).norm(2, dim=1) - target) ** 2).mean()


def r1_penalty(critic: Critic, real: torch.Tensor) -> torch.Tensor:
    """R1: E[||grad D(x)||_2^2] on real data (Mescheder et al. 2018, Eq. 9; the loss term is gamma/2 * R1)."""
    grad = _input_grad(critic, real)
    return grad.flatten(1).pow(2).sum(1).mean()


# ---- Salimans et al. 2016, "Improved Techniques for Training GANs", Sec. 3.1 ------------------------
def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """||E f(x) - E f(G(z))||_2^2 over an intermediate discriminator layer f (N x F each)."""
    return (real_features.detach().float().mean(0) - fake_features.float().mean(0)).pow(2).sum()


# ---- Springenberg 2016, "Unsupervised and Semi-supervised Learning with Categorical GANs" --------
def mean_entropy(logits: torch.Tensor) -> torch.Tensor:
    """E_x H[p(y | x, D)]: the average entropy of each sample's class distribution (N x K logits)."""
    log_p = logits.float().log_softmax(1)
    return -(log_p.exp() * log_p).sum(1).mean()


def marginal_entropy(logits: torch.Tensor) -> torch.Tensor:
    """H[p(y | D)] with p(y | D) = E_x p(y | x, D), the batch estimate of the class marginal (Eq. 6)."""
    log_p = logits.float().log_softmax(1)
    log_marginal = torch.logsumexp(log_p, 0) - math.log(len(logits))  # log of the mean probability
    return -(log_marginal.exp() * log_marginal).sum()


def d_loss_catgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-H_X[p(y|D)] + E_x H[p(y|x,D)] - E_z H[p(y|G(z),D)] (Eq. 7, the discriminator's side): balanced
    and certain on real data, uncertain on generated data. Minimum -2 log K, 0 at all-equal logits."""
    return -marginal_entropy(real_logits) + mean_entropy(real_logits) - mean_entropy(fake_logits)


def g_loss_catgan(fake_logits: torch.Tensor) -> torch.Tensor:
    """-H_G[p(y|D)] + E_z H[p(y|G(z),D)] (Eq. 8, the generator's side): samples D is certain about,
    spread evenly over the K classes."""
    return -marginal_entropy(fake_logits) + mean_entropy(fake_logits)


# ---- Chen et al. 2016, "InfoGAN", Eq. 4-6 ------------------------------------------------------------
def infogan_info_loss(cat_logits: list[torch.Tensor], cat_codes: list[torch.Tensor],
                      cont_mean: torch.Tensor | None = None, cont_codes: torch.Tensor | None = None,
                      cont_log_std: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The negative variational lower bound on I(c; G(z, c)), up to the constant H(c): (categorical, continuous).

    L_I = E[log Q(c | x)] + H(c) (Lemma 5.1); minimising -E log Q(c|x) tightens and raises the bound.
    Categorical codes: cross-entropy of Q's logits (each N x K) with the drawn codes (N, ints), summed over
    codes. Continuous codes (N x M): Gaussian negative log-likelihood of the drawn values under
    N(mean, exp(log_std)^2), summed over codes, averaged over the batch; with `cont_log_std` None the
    std is fixed at 1 (the authors' code, `fix_std=True`): 0.5 (c - mean)^2 + 0.5 log(2 pi).
    """
    device = cat_logits[0].device if cat_logits else cont_mean.device  # type: ignore[union-attr]
    cat = sum((F.cross_entropy(lg.float(), c.long()) for lg, c in zip(cat_logits, cat_codes)),
              torch.zeros((), device=device))
    cont = torch.zeros((), device=device)
    if cont_mean is not None and cont_codes is not None:
        log_std = torch.zeros_like(cont_mean) if cont_log_std is None else cont_log_std.float()
        nll = 0.5 * ((cont_codes - cont_mean.float()) / log_std.exp()) ** 2 + log_std + 0.5 * math.log(2 * math.pi)
        cont = nll.sum(1).mean()
    return cat, cont


# ---- autoencoder discriminators: EBGAN (Zhao et al. 2017) and BEGAN (Berthelot et al. 2017) ------------
def reconstruction_energy(x: torch.Tensor, reconstruction: torch.Tensor, power: int = 2) -> torch.Tensor:
    """Per-image energy of an autoencoder discriminator: mean over pixels of |D(x) - x|^power (N).

    EBGAN's D(x) = ||Dec(Enc(x)) - x|| with power 2 (squared error); BEGAN's L(v) = |v - D(v)|^eta with
    eta = 1 (L1). A mean over pixels rather than a sum keeps margins and gamma independent of the image size.
    """
    return (reconstruction.float() - x.float()).abs().pow(power).flatten(1).mean(1)


def d_loss_ebgan(real_energy: torch.Tensor, fake_energy: torch.Tensor, margin: float) -> torch.Tensor:
    """E[D(x)] + E[[m - D(G(z))]^+] (EBGAN Eq. 1): low energy on data, at least m on samples (N each).
    The generator's side (Eq. 2) is E[D(G(z))], the mean fake energy."""
    return real_energy.float().mean() + F.relu(margin - fake_energy.float()).mean()


def pulling_away(codes: torch.Tensor) -> torch.Tensor:
    """EBGAN's pulling-away term (Sec. 2.4): the mean squared cosine similarity between the codes (N x F,
    the encoder's output) of distinct samples in a batch, 1/(N(N-1)) sum_{i != j} cos(S_i, S_j)^2.
    0 for orthogonal codes, 1 for a batch of one repeated code: the generator minimises it to spread out."""
    n = codes.shape[0]
    if n < 2:
        return codes.new_zeros(())
    unit = F.normalize(codes.float().flatten(1), dim=1)
    cos2 = (unit @ unit.T).pow(2)
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))


def d_loss_began(real_loss: torch.Tensor, fake_loss: torch.Tensor, k: float | torch.Tensor) -> torch.Tensor:
    """L(x) - k_t L(G(z_D)) (BEGAN Eq. 4, the discriminator's side; the generator minimises L(G(z_G)))."""
    return real_loss.float().mean() - k * fake_loss.float().mean()


def began_k_update(k: torch.Tensor, real_loss: torch.Tensor, fake_loss: torch.Tensor, gamma: float,
                   lambda_k: float) -> torch.Tensor:
    """k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1): proportional control that keeps
    E[L(G(z))] = gamma E[L(x)], the equilibrium the diversity ratio gamma asks for (BEGAN Eq. 4)."""
    return (k + lambda_k * (gamma * real_loss.float().mean() - fake_loss.float().mean())).clamp(0.0, 1.0)


def began_convergence(real_loss: torch.Tensor, fake_loss: torch.Tensor, gamma: float) -> torch.Tensor:
    """M_global = L(x) + |gamma L(x) - L(G(z_G))| (BEGAN Sec. 3.4.1): the paper's measure of convergence,
    claimed to fall as the samples improve."""
    real = real_loss.float().mean()
    return real + (gamma * real - fake_loss.float().mean()).abs()
