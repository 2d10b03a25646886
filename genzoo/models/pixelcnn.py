"""Autoregressive image models: PixelCNN and Gated PixelCNN, exact log-likelihoods and a cached sampler.

An image is a sequence of pixels in raster order (row by row, left to right) and p(x) = prod_i p(x_i | x_<i).
One convolutional network gives every conditional at once in training; its convolutions are masked so the
output at pixel i sees only pixels before i.

PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks", sec. 3.5 and
table 2): a 7x7 convolution with mask A (the centre pixel excluded), residual blocks [ReLU, 1x1 conv 2h -> h,
ReLU, 3x3 conv mask B (centre included), ReLU, 1x1 conv h -> 2h], then ReLU, 1x1, ReLU, 1x1 to the output.
Its receptive field has a blind spot (pixels to the upper right are never seen).

Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders", fig. 2): a
vertical stack (k//2+1 x k convolutions over the rows above and the current row, shifted down one row before
use) and a horizontal stack (1 x k//2+1 convolutions over the current row up to the pixel) joined by a 1x1
link from vertical to horizontal, gated units tanh(W_f * x) . sigmoid(W_g * x), a residual 1x1 on the
horizontal stack, no blind spot; class-conditional with `conditional=true` (a learned per-class bias on every
gate, their eq. 4 with a one-hot h).

Pixel distributions (`likelihood`): `bernoulli` for binarized images (dynamic binarization in training, one
fixed binarization of the evaluation set, as genzoo's VAE; reported in nats per image); `categorical`, a
256-way softmax per channel (channels independent given the pixels before; the PixelRNN paper orders R, G, B
inside a pixel instead); `logistic`, the discretized logistic mixture of PixelCNN++ (Salimans et al. 2017)
with the linear dependence between the channels of a pixel. Grey and colour figures are in bits per
dimension as well.

Sampling: naive sampling runs the whole network once per pixel (H x W forward passes); the cached sampler
(`sampler=cached`, the default; the idea of Ramachandran et al. 2017, "Fast generation for convolutional
autoregressive models") keeps every layer's activations and computes, for each new pixel, only the one
position per layer that the pixel makes final (the gated network: the vertical stack one row at a time),
so a sample costs about one forward pass. Both draw the same random numbers in the same order and give
identical samples for one seed.

Anchors, binarized MNIST test NLL (static binarization of Larochelle & Murray 2011, which is not here):
PixelCNN 81.30, Row LSTM 80.54, Diagonal BiLSTM 79.20 nats (PixelRNN paper, its MNIST table). genzoo's figures are
on dynamically binarized training images and one fixed stochastic binarization of the test set (seed 0),
the protocol of Burda et al. for VAEs; the two protocols are close but not identical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.data.imageset import DataSpec
from genzoo.errors import ConfigError
from genzoo.losses import bernoulli_log_likelihood, discretized_logistic_mixture_log_prob
from genzoo.models.base import Model, sample_count
from genzoo.models.vae import binarize_evaluation, binarize_training
from genzoo.nn import bernoulli, eval_mode, full_precision
from genzoo.registry import register

LIKELIHOODS = ("bernoulli", "categorical", "logistic")


# ---- pixel distributions: how many outputs a pixel takes, its log-probability, and a sample ----------------
class PixelDistribution:
    """One output distribution per pixel. Pixels are floats in [0, 1]; the network's output `params` is
    (N, P, H, W) for whole images and (N, P) for one pixel position."""

    def __init__(self, kind: str, channels: int, mixtures: int = 5):
        self.kind, self.c, self.k = kind, channels, mixtures

    @property
    def params(self) -> int:
        c, k = self.c, self.k
        return {"bernoulli": c, "categorical": 256 * c, "logistic": k * (1 + 2 * c + c * (c - 1) // 2)}[self.kind]

    def _split_logistic(self, p: torch.Tensor):
        """(N, P, ...) -> logit_pi (N, K, ...), means, log_scales (N, K, C, ...), coeffs (N, K, C(C-1)/2, ...)."""
        c, k = self.c, self.k
        rest = p.shape[2:]
        logit_pi = p[:, :k]
        means = p[:, k:k + k * c].reshape(len(p), k, c, *rest)
        log_scales = p[:, k + k * c:k + 2 * k * c].reshape(len(p), k, c, *rest).clamp(min=-7.0)
        coeffs = torch.tanh(p[:, k + 2 * k * c:].reshape(len(p), k, c * (c - 1) // 2, *rest))
        return logit_pi, means, log_scales, coeffs

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x) per image in nats, (N,); x (N, C, H, W) in [0, 1] on the 1/255 grid (or binary)."""
        if self.kind == "bernoulli":
            return bernoulli_log_likelihood(params.flatten(1), x.flatten(1))
        if self.kind == "categorical":
            n, _, h, w = params.shape
            logits = params.reshape(n, self.c, 256, h, w)
            target = (x * 255).round().long()
            return -F.cross_entropy(logits.transpose(1, 2), target, reduction="none").flatten(1).sum(1)
        return discretized_logistic_mixture_log_prob(x * 2 - 1, *self._split_logistic(params))

    def sample(self, params: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """One pixel per row of params (N, P) -> (N, C) in [0, 1], exactly from the discrete distribution."""
        n = len(params)

        def uniform(*shape):
            u = torch.rand(shape, generator=generator) if generator is not None else torch.rand(shape)
            return u.to(device=params.device, dtype=params.dtype)

        if self.kind == "bernoulli":  # the same draws as uniform(n, c) in fp32; float32 uniforms for bf16 params too
            return bernoulli(torch.sigmoid(params), generator)
        if self.kind == "categorical":  # inverse CDF with one uniform per channel
            cdf = torch.softmax(params.reshape(n, self.c, 256), -1).cumsum(-1)
            idx = torch.searchsorted(cdf, uniform(n, self.c, 1)).clamp(max=255).squeeze(-1)
            return idx.to(params.dtype) / 255
        logit_pi, means, log_scales, coeffs = self._split_logistic(params)
        gumbel = -torch.log(-torch.log(uniform(n, self.k).clamp(1e-12, 1 - 1e-7)))
        comp = (logit_pi + gumbel).argmax(1)
        rows = torch.arange(n, device=params.device)
        mean, log_s, coef = means[rows, comp], log_scales[rows, comp], coeffs[rows, comp]  # N x C, N x C(C-1)/2
        u = uniform(n, self.c).clamp(1e-7, 1 - 1e-7)
        out, p = [], 0
        for ch in range(self.c):  # channel by channel: each mean moves with the pixel's earlier channels
            m = mean[:, ch]
            for j in range(ch):
                m = m + coef[:, p] * out[j]
                p += 1
            v = m + torch.exp(log_s[:, ch]) * (torch.log(u[:, ch]) - torch.log1p(-u[:, ch]))
            out.append(((v.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1)  # the bin this value falls in
        return (torch.stack(out, 1) + 1) / 2


# ---- masked convolutions and the two networks ---------------------------------------------------------------
def causal_mask(kh: int, kw: int, include_centre: bool) -> torch.Tensor:
    """kh x kw mask (centre at kh//2, kw//2) keeping the rows above the centre and the centre row's left part;
    the centre itself only with `include_centre` (mask B; mask A excludes it)."""
    m = torch.zeros(kh, kw)
    m[:kh // 2] = 1
    m[kh // 2, :kw // 2 + int(include_centre)] = 1
    return m


def conv_at(padded: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, r: int, c: int) -> torch.Tensor:
    """The convolution's output at one position: the kh x kw patch of `padded` (N, C, ., .) whose top-left corner
    is (r, c), times the weight -> (N, out)."""
    kh, kw = weight.shape[2:]
    patch = padded[:, :, r:r + kh, c:c + kw].reshape(len(padded), -1)
    return F.linear(patch, weight.reshape(len(weight), -1), bias)


def pointwise(conv: nn.Conv2d, v: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution applied to one position's features (N, C)."""
    return F.linear(v, conv.weight.flatten(1), conv.bias)


class MaskedConv2d(nn.Conv2d):
    """Square k x k convolution with a causal mask (type A excludes the centre pixel, type B keeps it)."""

    def __init__(self, cin: int, cout: int, k: int, mask_type: str):
        super().__init__(cin, cout, k, padding=k // 2)
        self.register_buffer("mask", causal_mask(k, k, mask_type == "B")[None, None], persistent=False)

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.masked_weight(), self.bias, padding=self.padding)


class ResidualBlock(nn.Module):
    """PixelCNN's residual block: ReLU, 1x1 (2h -> h), ReLU, 3x3 mask B (h -> h), ReLU, 1x1 (h -> 2h), + input."""

    def __init__(self, h: int, k: int, num_classes: int):
        super().__init__()
        self.reduce = nn.Conv2d(2 * h, h, 1)
        self.conv = MaskedConv2d(h, h, k, "B")
        self.expand = nn.Conv2d(h, 2 * h, 1)
        self.cond = nn.Embedding(num_classes, h) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        a = self.conv(F.relu(self.reduce(F.relu(x))))
        if self.cond is not None:
            a = a + self.cond(y)[:, :, None, None]
        return x + self.expand(F.relu(a))


class PixelCNNNet(nn.Module):
    def __init__(self, channels: int, out: int, h: int, layers: int, first_kernel: int, kernel: int,
                 num_classes: int):
        super().__init__()
        self.first = MaskedConv2d(channels, 2 * h, first_kernel, "A")
        self.blocks = nn.ModuleList(ResidualBlock(h, kernel, num_classes) for _ in range(layers))
        self.head1 = nn.Conv2d(2 * h, 2 * h, 1)
        self.head2 = nn.Conv2d(2 * h, out, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.first(x)
        for block in self.blocks:
            h = block(h, y)
        return self.head2(F.relu(self.head1(F.relu(h))))

    def incremental(self, n: int, shape: tuple[int, int, int], y: torch.Tensor | None) -> CachedPixelCNN:
        return CachedPixelCNN(self, n, shape, y)


class CachedPixelCNN:
    """PixelCNN's activations kept per layer: the output at (r, c) of every layer needs only positions before
    it (or at it, for mask B) of the layer below, all final once the pixels before (r, c) are drawn."""

    def __init__(self, net: PixelCNNNet, n: int, shape: tuple[int, int, int], y: torch.Tensor | None):
        c, h, w = shape
        p = net.first.weight
        self.net, self.y = net, y
        self.pad0 = net.first.kernel_size[0] // 2
        self.x = p.new_zeros(n, c, h + 2 * self.pad0, w + 2 * self.pad0)  # the image (scaled), zero-padded
        self.pads = [b.conv.kernel_size[0] // 2 for b in net.blocks]
        self.mids = [p.new_zeros(n, b.conv.in_channels, h + 2 * q, w + 2 * q) for b, q in zip(net.blocks, self.pads)]
        self.first_w = net.first.masked_weight()
        self.block_w = [b.conv.masked_weight() for b in net.blocks]
        self.cond = [None if b.cond is None else b.cond(y) for b in net.blocks]

    def params_at(self, r: int, c: int) -> torch.Tensor:
        net = self.net
        h = conv_at(self.x, self.first_w, net.first.bias, r, c)
        for i, block in enumerate(net.blocks):
            q = self.pads[i]
            self.mids[i][:, :, r + q, c + q] = F.relu(pointwise(block.reduce, F.relu(h)))
            a = conv_at(self.mids[i], self.block_w[i], block.conv.bias, r, c)
            if self.cond[i] is not None:
                a = a + self.cond[i]
            h = h + pointwise(block.expand, F.relu(a))
        return pointwise(net.head2, F.relu(pointwise(net.head1, F.relu(h))))

    def write(self, r: int, c: int, value: torch.Tensor) -> None:
        self.x[:, :, r + self.pad0, c + self.pad0] = value


def gate(a: torch.Tensor) -> torch.Tensor:
    """tanh of the first half of the channels times sigmoid of the second half (dim 1)."""
    f, g = a.chunk(2, 1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedLayer(nn.Module):
    """One gated layer: vertical stack (k//2+1) x k over the rows above and this row; horizontal stack
    1 x (k//2+1) over this row up to the pixel (the first layer excludes the pixel: mask A); link
    vertical -> horizontal through the vertical features shifted down a row; residual on the horizontal stack
    after the first layer."""

    def __init__(self, cin: int, h: int, k: int, first: bool, num_classes: int):
        super().__init__()
        self.k, self.first = k, first
        self.v = nn.Conv2d(cin, 2 * h, (k // 2 + 1, k))
        self.h = nn.Conv2d(cin, 2 * h, (1, k // 2 + 1))
        self.v2h = nn.Conv2d(2 * h, 2 * h, 1)
        self.out = nn.Conv2d(h, h, 1)
        mask = torch.ones(1, k // 2 + 1)
        if first:
            mask[0, -1] = 0
        self.register_buffer("hmask", mask[None, None], persistent=False)
        self.cond_v = nn.Embedding(num_classes, 2 * h) if num_classes else None
        self.cond_h = nn.Embedding(num_classes, 2 * h) if num_classes else None

    def h_weight(self) -> torch.Tensor:
        return self.h.weight * self.hmask

    def forward(self, v: torch.Tensor, h: torch.Tensor, y: torch.Tensor | None):
        p = self.k // 2
        vf = self.v(F.pad(v, (p, p, p, 0)))
        hf = F.conv2d(F.pad(h, (p, 0, 0, 0)), self.h_weight(), self.h.bias)
        hf = hf + self.v2h(F.pad(vf, (0, 0, 1, 0))[:, :, :-1])  # the row above only: no pixel at or after this one
        if self.cond_v is not None:
            vf = vf + self.cond_v(y)[:, :, None, None]
            hf = hf + self.cond_h(y)[:, :, None, None]
        h_out = self.out(gate(hf))
        return gate(vf), h_out if self.first else h + h_out


class GatedPixelCNNNet(nn.Module):
    def __init__(self, channels: int, out: int, h: int, layers: int, first_kernel: int, kernel: int,
                 num_classes: int):
        super().__init__()
        self.layers = nn.ModuleList([GatedLayer(channels, h, first_kernel, True, num_classes)] +
                                    [GatedLayer(h, h, kernel, False, num_classes) for _ in range(layers - 1)])
        self.head1 = nn.Conv2d(h, h, 1)
        self.head2 = nn.Conv2d(h, out, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        v = h = x
        for layer in self.layers:
            v, h = layer(v, h, y)
        return self.head2(F.relu(self.head1(F.relu(h))))

    def incremental(self, n: int, shape: tuple[int, int, int], y: torch.Tensor | None) -> CachedGatedPixelCNN:
        return CachedGatedPixelCNN(self, n, shape, y)


class CachedGatedPixelCNN:
    """The gated network's activations kept per layer. The vertical stack at row r - 1 needs only rows <= r - 1:
    it is computed one whole row at a time when row r starts. The horizontal stack at (r, c) needs this row up to
    c of the layer below and the vertical features of row r - 1 at column c."""

    def __init__(self, net: GatedPixelCNNNet, n: int, shape: tuple[int, int, int], y: torch.Tensor | None):
        c, h, w = shape
        self.net, self.w = net, w
        p = net.head1.weight
        # each layer's vertical input, zero-padded (k//2 rows on top, k//2 columns both sides)
        self.v_in = [p.new_zeros(n, layer.v.in_channels, h + layer.k // 2, w + 2 * (layer.k // 2))
                     for layer in net.layers]
        self.h_in: list[torch.Tensor] = []  # each layer's horizontal input along the current row, left-padded
        self.v_above: list[torch.Tensor] = []  # each layer's vertical features of the row above (N, 2h, W)
        self.h_w = [layer.h_weight() for layer in net.layers]
        self.cond = [(None, None) if layer.cond_v is None else (layer.cond_v(y), layer.cond_h(y))
                     for layer in net.layers]

    def _start_row(self, r: int) -> None:
        net = self.net
        self.v_above = []
        for i, layer in enumerate(net.layers):
            if r == 0:  # no row above: the shifted vertical features are the zero padding
                vf = self.v_in[i].new_zeros(len(self.v_in[i]), layer.v.out_channels, self.w)
            else:
                q = layer.k // 2
                vf = layer.v(self.v_in[i][:, :, r - 1:r + q])[:, :, 0]  # row r - 1 of this layer
                if self.cond[i][0] is not None:
                    v_act = gate(vf + self.cond[i][0][:, :, None])
                else:
                    v_act = gate(vf)
                if i + 1 < len(net.layers):
                    q1 = net.layers[i + 1].k // 2
                    self.v_in[i + 1][:, :, r - 1 + q1, q1:q1 + self.w] = v_act
            self.v_above.append(vf)
        self.h_in = [v.new_zeros(len(v), layer.h.in_channels, self.w + layer.k // 2)
                     for v, layer in zip(self.v_in, net.layers)]

    def params_at(self, r: int, c: int) -> torch.Tensor:
        net = self.net
        if c == 0:
            self._start_row(r)
        h = None
        for i, layer in enumerate(net.layers):
            q = layer.k // 2
            if i > 0:
                self.h_in[i][:, :, c + q] = h
            hf = F.linear(self.h_in[i][:, :, c:c + q + 1].reshape(len(self.h_in[i]), -1),
                          self.h_w[i].flatten(1), layer.h.bias)
            hf = hf + pointwise(layer.v2h, self.v_above[i][:, :, c])
            if self.cond[i][1] is not None:
                hf = hf + self.cond[i][1]
            h_out = pointwise(layer.out, gate(hf))
            h = h_out if layer.first else h + h_out
        return pointwise(net.head2, F.relu(pointwise(net.head1, F.relu(h))))

    def write(self, r: int, c: int, value: torch.Tensor) -> None:
        first = self.net.layers[0]
        q = first.k // 2
        self.v_in[0][:, :, r + q, c + q] = value
        self.h_in[0][:, :, c + q] = value


# ---- the models -------------------------------------------------------------------------------------------
@dataclass
class PixelCNNConfig:
    hidden: int = field(32, "feature channels h (PixelCNN's blocks carry 2h)", ge=1)
    layers: int = field(7, "residual blocks (pixelcnn) or gated layers (gated-pixelcnn)", ge=1)
    first_kernel: int = field(7, "kernel size of the first (mask A) layer, odd", ge=1)
    kernel: int = field(3, "kernel size of the later layers, odd", ge=1)
    likelihood: str = field("bernoulli", "bernoulli (binarized images), categorical (256-way softmax per "
                                         "channel), logistic (PixelCNN++'s discretized logistic mixture)")
    mixtures: int = field(5, "logistic: mixture components per pixel", ge=1)
    binarize: str = field("dynamic", "bernoulli: dynamic (a fresh Bernoulli sample of every training image each "
                                     "time; evaluation: one fixed binarization) or threshold (pixel > 127)")
    conditional: bool = field(False, "class-conditional: a learned per-class bias in every layer; sample --labels")
    sampler: str = field("cached", "cached (one forward pass per sample) or naive (one per pixel); same samples")
    lr: float = field(1e-3, "Adam learning rate", gt=0)
    schedule: str = field("cosine", "learning rate: cosine (to 0 over the run) or constant")
    clip_grad_norm: float = field(1.0, "gradient norm clipping (0 = none)", ge=0)

    def validate(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"likelihood must be one of {', '.join(LIKELIHOODS)}, got {self.likelihood!r}")
        if self.binarize not in ("dynamic", "threshold"):
            raise ConfigError(f"binarize must be dynamic or threshold, got {self.binarize!r}")
        if self.sampler not in ("cached", "naive"):
            raise ConfigError(f"sampler must be cached or naive, got {self.sampler!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ConfigError(f"schedule must be cosine or constant, got {self.schedule!r}")
        for name in ("first_kernel", "kernel"):
            if getattr(self, name) % 2 == 0:
                raise ConfigError(f"{name} must be odd (a centre pixel to mask), got {getattr(self, name)}")


class AutoregressiveModel(Model):
    """The shared part of the PixelCNNs: pixel distribution, training on the exact NLL, evaluation in nats and
    bits/dim, the naive and cached samplers. A subclass sets `net_class`."""

    input_range = (0.0, 1.0)
    val_metric = "nll"
    val_higher_is_better = False
    net_class: type[nn.Module]

    def __init__(self, cfg: PixelCNNConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        cfg.validate()
        if cfg.conditional and not spec.num_classes:
            raise ConfigError("conditional=true needs a labelled dataset; this one has no classes")
        self.conditional = cfg.conditional
        self.dist = PixelDistribution(cfg.likelihood, spec.channels, cfg.mixtures)
        self.net = self.net_class(spec.channels, self.dist.params, cfg.hidden, cfg.layers, cfg.first_kernel,
                                  cfg.kernel, spec.num_classes if cfg.conditional else 0)

    @property
    def binary(self) -> bool:
        return self.cfg.likelihood == "bernoulli"

    def _labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if not self.conditional:
            if labels is not None:
                raise ConfigError(f"{self.name} is not conditional (train it with --set conditional=true)")
            return None
        if labels is None:
            raise ConfigError(f"{self.name} is class-conditional: it needs labels (this dataset has none)")
        labels = torch.as_tensor(labels).long().to(self.device)
        if labels.dim() == 0:
            labels = labels.expand(n)
        if len(labels) != n or labels.min() < 0 or labels.max() >= self.spec.num_classes:
            raise ConfigError(f"labels must be {n} class indices in 0..{self.spec.num_classes - 1}")
        return labels

    def log_prob(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Exact log p(x) (nats per image) of images in [0, 1] (binary for `bernoulli`)."""
        return self.dist.log_prob(self.net(x * 2 - 1, self._labels(labels, len(x))), x)

    # ---- training ---------------------------------------------------------------------------------------
    def augment(self, images: torch.Tensor) -> torch.Tensor:
        return images if not self.binary else binarize_training(images, self.cfg.binarize)

    def configure_optimizers(self, total_steps: int) -> None:
        opt = torch.optim.Adam(self.parameters(), lr=self.cfg.lr)
        self.optimizers = {"net": opt}
        if self.cfg.schedule == "cosine":
            self.schedulers = {"net": torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(total_steps, 1))}

    def train_step(self, batch, step: int) -> dict[str, Any]:
        nll = -self.log_prob(batch.x, batch.y if self.conditional else None).mean()
        dims = math.prod(self.spec.shape)
        loss = nll / dims  # per dimension: the same learning rate suits any image size
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{self.name}: the loss is {float(loss)} at step {step}; lower lr")
        self.optimize("net", loss, clip_grad_norm=self.cfg.clip_grad_norm or None)
        return {"nll": nll.detach(), "bits_per_dim": loss.detach() / math.log(2)}

    # ---- evaluation -------------------------------------------------------------------------------------
    def eval_images(self, data) -> torch.Tensor:
        return data.images if not self.binary else binarize_evaluation(data.images, self.cfg.binarize)

    @full_precision
    @torch.no_grad()
    def evaluate(self, data, batch_size: int = 500) -> dict[str, Any]:
        """Exact test NLL in nats per image and bits per dimension (fixed binarization for bernoulli)."""
        if self.conditional and data.labels is None:
            raise ConfigError(f"{self.name} is class-conditional: it needs labelled evaluation data")
        images = self.eval_images(data)
        total = 0.0
        with eval_mode(self):
            for start in range(0, len(images), batch_size):
                x = self.prepare(images[start:start + batch_size])
                y = data.labels[start:start + batch_size] if self.conditional else None
                total += float(-self.log_prob(x, y).double().sum())
        nll = total / len(images)
        res: dict[str, Any] = {"nll": nll, "bits_per_dim": nll / math.prod(self.spec.shape) / math.log(2),
                               "n": len(images)}
        if getattr(self, "eval_options", None) is not None:
            res = self.with_sample_metrics(res, data)
        return res

    # ---- sampling -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
               sampler: str | None = None) -> torch.Tensor:
        """n images in [0, 1], pixel by pixel in raster order; `sampler` (default: the config's) is `cached` or
        `naive`: identical images for one generator state. Class-conditional: labels 0, 1, 2, ... by default."""
        n = sample_count(n)
        sampler = sampler or self.cfg.sampler
        if self.conditional and labels is None:
            labels = torch.arange(n) % self.spec.num_classes
        y = self._labels(labels, n)
        c, h, w = self.spec.shape
        x = torch.zeros(n, c, h, w, device=self.device)
        with eval_mode(self):
            cache = self.net.incremental(n, (c, h, w), y) if sampler == "cached" else None
            for r in range(h):
                for col in range(w):
                    if cache is not None:
                        params = cache.params_at(r, col)
                    else:  # the whole network for one pixel: cost H x W forward passes per sample
                        params = self.net(x * 2 - 1, y)[:, :, r, col]
                    value = self.dist.sample(params, generator)
                    x[:, :, r, col] = value
                    if cache is not None:
                        cache.write(r, col, value * 2 - 1)
        return x


@register("pixelcnn", config=PixelCNNConfig, family="autoregressive",
          description="PixelCNN (van den Oord et al. 2016): masked convolutions, exact likelihood",
          train_defaults={"epochs": 10, "batch_size": 64, "channels_last": False})
class PixelCNN(AutoregressiveModel):
    """PixelCNN: 7x7 mask-A convolution, residual blocks with 3x3 mask-B convolutions, 1x1 output layers.
    The paper's CIFAR-10 network is far larger (about 15 blocks of h = 128, as we read its sec. 5); genzoo's
    default is smaller (h = 32, 7 blocks) to train on a CPU."""

    net_class = PixelCNNNet


@register("gated-pixelcnn", config=PixelCNNConfig, family="autoregressive",
          description="Gated PixelCNN (van den Oord et al. 2016): vertical/horizontal stacks, no blind spot, "
                      "optionally class-conditional",
          preset={"kernel": 5},
          train_defaults={"epochs": 10, "batch_size": 64, "channels_last": False})
class GatedPixelCNN(AutoregressiveModel):
    """Gated PixelCNN; `conditional=true` for class-conditional samples (`genzoo sample RUN --labels 3`).
    Paper setting (ImageNet 32x32): 20 layers of 384 features with 5x5 kernels; genzoo's default is 7 layers of
    32 features (first layer 7, then 5) to train on a CPU."""

    net_class = GatedPixelCNNNet
