"""Generator and discriminator networks: fully connected, DCGAN and ResNet (SNGAN).

Every generator maps N x in_dim vectors to N x C x H x W images in [-1, 1] (tanh). `in_dim` is the
latent size, plus whatever a conditional model concatenates (e.g. a one-hot label).

Every discriminator is a `Discriminator`: a `body` turning images into N x F features, then one
linear `head` to N x out_dim. Column 0 is the real/fake score; extra columns are free for auxiliary
outputs (an ACGAN class head, an InfoGAN code head). Conditional models that feed labels as extra
image planes build it with more input channels.

The conv nets double (halve) the resolution per stage from a base grid of 4..7 pixels: 28 = 7 * 2^2,
32 = 4 * 2^3, 64 = 4 * 2^4 (non-square sizes work if both sides need the same number of stages).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from genzoo.errors import ConfigError
from genzoo.nn import MinibatchStd

Arch = Literal["dcgan", "fc", "resnet"]
Norm = Literal["batch", "layer", "none"]


def pyramid(height: int, width: int) -> tuple[int, int, int]:
    """(base height, base width, stages) with side = base * 2^stages and 4 <= base <= 7."""

    def split(s: int) -> tuple[int, int]:
        n = 0
        while s % 2 == 0 and s // 2 >= 4:
            s, n = s // 2, n + 1
        return s, n

    (h0, nh), (w0, nw) = split(height), split(width)
    if nh != nw or nh < 1 or not (4 <= h0 <= 7 and 4 <= w0 <= 7):
        raise ConfigError(f"the conv generators need image sides of the form b * 2^n with 4 <= b <= 7 and the "
                          f"same n for both sides (e.g. 28, 32, 64), got {height}x{width}; resize the data "
                          f"with --set data.image_size=32 or use arch=fc")
    return h0, w0, nh


def norm_layer(kind: Norm, channels: int, dims: int = 2) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels)
    if kind == "layer":  # normalises each sample over all its features (WGAN-GP's choice over batchnorm)
        return nn.GroupNorm(1, channels) if dims == 2 else nn.LayerNorm(channels)
    return nn.Identity()


class Discriminator(nn.Module):
    """body: images -> N x feature_dim; head: linear -> N x out_dim. forward returns (out, features)."""

    def __init__(self, body: nn.Module, feature_dim: int, out_dim: int = 1, minibatch_std: bool = False):
        super().__init__()
        self.body = nn.Sequential(body, MinibatchStd()) if minibatch_std else body
        self.feature_dim = feature_dim + int(minibatch_std)
        self.head = nn.Linear(self.feature_dim, out_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)  # N x F
        return self.head(h), h


# ---- fully connected (the classic MNIST GAN) ---------------------------------------------------------
def fc_generator(in_dim: int, shape: tuple[int, int, int], width: int, norm: Norm) -> nn.Sequential:
    """z -> 2w -> 4w -> 8w -> C*H*W, LeakyReLU(0.2), normalisation on the wider hidden layers, tanh."""
    c, h, w = shape
    return nn.Sequential(
        nn.Linear(in_dim, 2 * width), nn.LeakyReLU(0.2, inplace=True),
        nn.Linear(2 * width, 4 * width), norm_layer(norm, 4 * width, 1), nn.LeakyReLU(0.2, inplace=True),
        nn.Linear(4 * width, 8 * width), norm_layer(norm, 8 * width, 1), nn.LeakyReLU(0.2, inplace=True),
        nn.Linear(8 * width, c * h * w), nn.Tanh(),
        nn.Unflatten(1, (c, h, w)))  # N x C x H x W


def fc_discriminator(shape: tuple[int, int, int], width: int, norm: Norm, out_dim: int = 1,
                     minibatch_std: bool = False) -> Discriminator:
    """C*H*W -> 4w -> 2w (LeakyReLU 0.2) -> head."""
    c, h, w = shape
    body = nn.Sequential(
        nn.Flatten(),
        nn.Linear(c * h * w, 4 * width), nn.LeakyReLU(0.2, inplace=True),
        nn.Linear(4 * width, 2 * width), norm_layer(norm, 2 * width, 1), nn.LeakyReLU(0.2, inplace=True))
    return Discriminator(body, 2 * width, out_dim, minibatch_std)


class FlattenHWC(nn.Module):
    """N x C x H x W -> N x (H*W*C), features in channels-last order.

    A fixed permutation of the usual flatten, so the same function class for a linear layer after it.
    On channels_last tensors (the Trainer's default) it is a free view and its backward returns a
    channels_last gradient; nn.Flatten would copy and hand the layers below a gradient in the other
    memory layout, which makes their backward kernels (LeakyReLU, batchnorm) an order of magnitude slower.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).flatten(1)


# ---- DCGAN (Radford et al. 2016, Sec. 3 and Fig. 1) --------------------------------------------------
def dcgan_generator(in_dim: int, shape: tuple[int, int, int], width: int, norm: Norm, hidden: int = 0
                    ) -> nn.Sequential:
    """z -> (base grid, w*2^(n-1) channels) -> stride-2 transposed convs halving the channels -> tanh.

    28x28: z -> 7x7x2w -> 14x14xw -> 28x28xC; 32x32: 4x4x4w -> ... ; 64x64: 4x4x8w -> ... (as the
    paper's Fig. 1 with w=128). Batchnorm and ReLU after every layer but the last; no biases where a
    batchnorm follows (it would cancel them), none on the output layer either, as the reference code.
    `hidden` > 0 puts a dense layer of that size before the base grid (the InfoGAN MNIST generator,
    Chen et al. 2016, Table 6, has 1024).
    """
    c, h, w = shape
    h0, w0, n = pyramid(h, w)
    ch = width * 2 ** (n - 1)
    bias = norm == "none"
    layers: list[nn.Module] = []
    if hidden:
        layers += [nn.Linear(in_dim, hidden, bias=bias), norm_layer(norm, hidden, 1), nn.ReLU(inplace=True)]
        in_dim = hidden
    layers += [
        nn.Unflatten(1, (in_dim, 1, 1)),
        nn.ConvTranspose2d(in_dim, ch, (h0, w0), 1, 0, bias=bias), norm_layer(norm, ch), nn.ReLU(inplace=True)]
    for _ in range(n - 1):  # each stage: 2x the resolution, half the channels
        layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=bias), norm_layer(norm, ch // 2),
                   nn.ReLU(inplace=True)]
        ch //= 2
    layers += [nn.ConvTranspose2d(ch, c, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def dcgan_discriminator(shape: tuple[int, int, int], width: int, norm: Norm, out_dim: int = 1,
                        minibatch_std: bool = False, hidden: int = 0) -> Discriminator:
    """Stride-2 4x4 convs (w, 2w, 4w, ...) with LeakyReLU(0.2), no normalisation on the first layer
    (Radford et al. Sec. 3), down to the base grid; the head is a linear layer on the flattened map
    (the same as the reference code's last conv, whose kernel covers the whole base grid).
    `hidden` > 0 adds a dense layer of that size before the head (InfoGAN's MNIST discriminator: 1024)."""
    c, h, w = shape
    h0, w0, n = pyramid(h, w)
    layers: list[nn.Module] = [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
    ch = width
    for _ in range(n - 1):
        layers += [nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=norm == "none"), norm_layer(norm, 2 * ch),
                   nn.LeakyReLU(0.2, inplace=True)]
        ch *= 2
    if minibatch_std:  # a statistics plane before flattening, as ProGAN does before its last conv
        layers.append(MinibatchStd())
        ch += 1
    layers.append(FlattenHWC())  # N x h0*w0*ch
    features = ch * h0 * w0
    if hidden:
        layers += [nn.Linear(features, hidden, bias=norm == "none"), norm_layer(norm, hidden, 1),
                   nn.LeakyReLU(0.2, inplace=True)]
        features = hidden
    return Discriminator(nn.Sequential(*layers), features, out_dim)


# ---- ResNet (Miyato et al. 2018, Table 4 / Appendix B; Gulrajani et al. 2017, Appendix F) ------------
class GBlock(nn.Module):
    """BN-ReLU-up-conv3-BN-ReLU-conv3, shortcut up-conv1 (pre-activation residual block, 2x upsampling)."""

    def __init__(self, cin: int, cout: int, norm: Norm):
        super().__init__()
        self.main = nn.Sequential(
            norm_layer(norm, cin), nn.ReLU(), nn.Upsample(scale_factor=2.0, mode="nearest"),
            nn.Conv2d(cin, cout, 3, 1, 1), norm_layer(norm, cout), nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1))
        self.skip = nn.Sequential(nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(cin, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.skip(x)


class DBlock(nn.Module):
    """ReLU-conv3-ReLU-conv3(-avgpool); shortcut conv1(-avgpool). `first`: no leading ReLU and the
    shortcut pools before its conv (the "optimized" first block of the SNGAN code)."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        pool = [nn.AvgPool2d(2)] if down else []
        self.main = nn.Sequential(*([] if first else [nn.ReLU()]), nn.Conv2d(cin, cout, 3, 1, 1), nn.ReLU(),
                                  nn.Conv2d(cout, cout, 3, 1, 1), *pool)
        if first:
            self.skip = nn.Sequential(*pool, nn.Conv2d(cin, cout, 1))
        elif down or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1), *pool)
        else:
            self.skip = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.skip(x)


def resnet_generator(in_dim: int, shape: tuple[int, int, int], width: int, norm: Norm) -> nn.Sequential:
    """z -> linear to base grid x w -> n up-blocks -> BN-ReLU-conv3 -> tanh (32x32: 4 -> 8 -> 16 -> 32)."""
    c, h, w = shape
    h0, w0, n = pyramid(h, w)
    return nn.Sequential(
        nn.Linear(in_dim, width * h0 * w0), nn.Unflatten(1, (width, h0, w0)),
        *[GBlock(width, width, norm) for _ in range(n)],
        norm_layer(norm, width), nn.ReLU(), nn.Conv2d(width, c, 3, 1, 1), nn.Tanh())


class _SumPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum((2, 3))  # N x C x H x W -> N x C (global sum pooling, as the SNGAN code)


def resnet_discriminator(shape: tuple[int, int, int], width: int, out_dim: int = 1,
                         minibatch_std: bool = False) -> Discriminator:
    """First block (down) -> n-2 down blocks -> 2 blocks -> ReLU -> global sum pool -> head
    (32x32: 32 -> 16 -> 8, 8, 8, as Miyato et al. Table 4)."""
    c, h, w = shape
    _, _, n = pyramid(h, w)
    blocks = [DBlock(c, width, down=True, first=True)]
    blocks += [DBlock(width, width, down=True) for _ in range(n - 2)]
    blocks += [DBlock(width, width, down=False) for _ in range(2)]
    body = nn.Sequential(*blocks, nn.ReLU(), _SumPool())
    return Discriminator(body, width, out_dim, minibatch_std)


def build_generator(arch: Arch, in_dim: int, shape: tuple[int, int, int], width: int, norm: Norm,
                    hidden: int = 0) -> nn.Module:
    """`hidden`: the dcgan generator's optional dense layer (other archs take none)."""
    if arch == "fc":
        return fc_generator(in_dim, shape, width, norm)
    if arch == "dcgan":
        return dcgan_generator(in_dim, shape, width, norm, hidden)
    return resnet_generator(in_dim, shape, width, norm)


def build_discriminator(arch: Arch, shape: tuple[int, int, int], width: int, norm: Norm, out_dim: int = 1,
                        minibatch_std: bool = False, hidden: int = 0) -> Discriminator:
    """`hidden`: the dcgan discriminator's optional dense layer (other archs take none)."""
    if arch == "fc":
        return fc_discriminator(shape, width, norm, out_dim, minibatch_std)
    if arch == "dcgan":
        return dcgan_discriminator(shape, width, norm, out_dim, minibatch_std, hidden)
    if norm != "none":
        raise ConfigError("the resnet discriminator has no normalisation layers (use spectral_norm); "
                          "set d_norm=none")
    return resnet_discriminator(shape, width, out_dim, minibatch_std)
