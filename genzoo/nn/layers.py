"""Small layers and helpers shared by the image models."""

from __future__ import annotations

import contextlib
import functools
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

_WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)


class MinibatchStd(nn.Module):
    """Append the mean standard deviation across the minibatch as one more feature.

    Karras et al. 2018, "Progressive Growing of GANs", Sec. 3: a discriminator that sees how varied
    a batch is can penalise a generator that produces too little variation. The batch is split into
    groups of `group_size` (the largest divisor of N up to it); each sample gets its group's value.
    N x C x H x W -> N x (C+1) x H x W, or N x F -> N x (F+1).
    """

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = math.gcd(n, self.group_size)
        y = x.float().reshape(g, n // g, *x.shape[1:])  # G x M x ...: sample g*M + m is member g of group m
        std = (y.var(0, unbiased=False) + 1e-8).sqrt()  # M x ...
        s = std.flatten(1).mean(1)  # M
        s = s.repeat(g).to(x.dtype)  # N
        extra = s.view(n, 1, *([1] * (x.dim() - 2))).expand(n, 1, *x.shape[2:])
        return torch.cat([x, extra], 1)


def apply_spectral_norm(net: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every conv and linear layer of `net`."""
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(net.modules()):
        if isinstance(m, _WEIGHTED):
            spectral_norm(m)
    return net


@torch.no_grad()
def init_weights_(net: nn.Module, scheme: Literal["normal", "xavier", "default"], std: float = 0.02) -> nn.Module:
    """Initialise conv/linear weights (biases zero) and normalisation layers.

    normal: N(0, std) weights and N(1, std) norm scales, as in DCGAN (Radford et al. 2016, Sec. 4)
    and its reference code; xavier: Glorot-uniform, as in the SNGAN/WGAN-GP ResNet code;
    default: PyTorch's own initialisation.
    """
    if scheme == "default":
        return net
    for m in net.modules():
        if isinstance(m, _WEIGHTED):
            if scheme == "normal":
                nn.init.normal_(m.weight, 0.0, std)
            else:
                nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS) and m.weight is not None:
            if scheme == "normal":
                nn.init.normal_(m.weight, 1.0, std)
            else:
                nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net


@contextlib.contextmanager
def eval_mode(net: nn.Module):
    """Run `net` in eval mode (batchnorm running statistics, no updates of them, no dropout), then
    restore its mode, also when the body raises."""
    was = net.training
    net.eval()
    try:
        yield
    finally:
        net.train(was)


def full_precision(evaluate):
    """Decorate a model's `evaluate`: its figures in fp32 even when it is called inside a bf16 autocast region (the
    Trainer evaluates a `--precision bf16` run under autocast). Likelihoods, bounds and AIS estimates are sums of
    hundreds of log-probabilities per image; bf16's 8-bit mantissa moves them (+0.02 nats per MNIST image measured
    for gated-pixelcnn), and the run's figure would no longer be `genzoo eval`'s of the same checkpoint."""

    @functools.wraps(evaluate)
    def in_fp32(self, *args, **kwargs):
        with torch.autocast(self.device.type, enabled=False):
            return evaluate(self, *args, **kwargs)

    return in_fp32


def compute_dtype(t: torch.Tensor) -> torch.dtype:
    """The dtype that products with `t` take here: an active autocast region's on t's device (bf16 in a
    `--precision bf16` run), else t's own. For code that casts once, explicitly, where autocast would cast the
    same weights again at every product."""
    device = t.device.type
    try:
        enabled = torch.is_autocast_enabled(device)
    except TypeError:  # torch < 2.4: no device argument
        enabled = torch.is_autocast_cpu_enabled() if device == "cpu" else torch.is_autocast_enabled()
        return (torch.get_autocast_cpu_dtype() if device == "cpu" else torch.get_autocast_gpu_dtype()) if enabled \
            else t.dtype
    return torch.get_autocast_dtype(device) if enabled else t.dtype


def bernoulli(p: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """0/1 samples of Bernoulli(p) in p's dtype and device: uniform < p. `torch.bernoulli` draws each element in a
    scalar loop, 4x slower than this on CPU (B x 784: 0.76 vs 0.18 ms), and it was a third of an RBM's step. The
    uniforms are float32 (bf16 ones, with an 8-bit mantissa, would move p by up to 2^-9); with a generator they are
    drawn on the CPU, so a seed gives the same samples on every device."""
    if generator is None:
        u = torch.rand(p.shape, device=p.device)
    else:
        u = torch.rand(p.shape, generator=generator).to(p.device)
    return (u < p).to(p.dtype)


@contextlib.contextmanager
def batch_statistics(net: nn.Module):
    """Run `net` in training mode (batchnorm normalises with each batch's own statistics) without
    changing its running averages: they are restored on exit.

    For a GAN discriminator used as a classifier or encoder: its running averages mix real and
    generated batches, which fit neither, while in training it only ever saw one kind per batch."""
    saved = [b.clone() for b in net.buffers()]
    was = net.training
    net.train()
    try:
        with torch.no_grad():
            yield
    finally:
        net.train(was)
        for b, s in zip(net.buffers(), saved):
            b.copy_(s)


SQRT2 = math.sqrt(2.0)


# ---- ProGAN (Karras et al. 2018, Sec. 4): pixel norm, equalized learning rate ----------------------------
def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """ProGAN Sec. 4.2, Eq. 1: b = a / sqrt(mean_j a_j^2 + eps) over the channels (dim 1) at each pixel."""
    return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + eps)


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_norm(x)


class EqualizedConv2d(nn.Module):
    """Sec. 4.1: weights ~ N(0, 1), used as w * gain / sqrt(fan_in), so every layer learns at the same speed
    under Adam; biases start at 0. Same padding."""

    def __init__(self, cin: int, cout: int, kernel: int, gain: float = SQRT2):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = gain / math.sqrt(cin * kernel * kernel)

    def effective_weight(self) -> torch.Tensor:
        return self.weight * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, padding=self.weight.shape[-1] // 2)


class EqualizedLinear(nn.Module):
    """A dense layer with the equalized learning rate (see EqualizedConv2d)."""

    def __init__(self, fin: int, fout: int, gain: float = SQRT2):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fout, fin))
        self.bias = nn.Parameter(torch.zeros(fout))
        self.scale = gain / math.sqrt(fin)

    def effective_weight(self) -> torch.Tensor:
        return self.weight * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.effective_weight(), self.bias)


@contextlib.contextmanager
def single_thread():
    """Run small steps on one thread: on cores shared with other work, two threads waiting on each other can take
    seconds over what one does in milliseconds (MKL's threaded eigh at d = 384: 10 s on 2 busy threads, 0.03 s on
    one; measuring 70,000 digits for captions: 8-14 s against 0.2-0.6 s)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)
