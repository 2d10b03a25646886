"""The networks of image-to-image translation: a U-Net and a ResNet generator, a PatchGAN discriminator.

U-Net (pix2pix, Isola et al. 2017, appendix 6.1.1): an encoder of 4x4 stride-2 convolutions (C64-C128-...,
LeakyReLU 0.2, no normalisation on the first), a decoder of 4x4 stride-2 transposed convolutions (ReLU,
dropout 0.5 on the innermost ones: the only noise pix2pix's generator has), and skip connections that
concatenate each encoder layer to the decoder layer of the same size. The paper's 256x256 U-Net halves 8 times
to 1x1; small images halve while the side stays even and at least 4 (28 -> 14 -> 7, 32 -> 16 -> 8 -> 4).

ResNet generator (CycleGAN, Zhu et al. 2017, appendix 7.2, after Johnson et al. 2016): c7s1-w, two stride-2
convolutions (2w, 4w), residual blocks of 4w channels, two fractionally strided convolutions back, c7s1-C, tanh;
reflection padding and instance normalisation.

PatchGAN (pix2pix appendix 6.1.2): a fully convolutional discriminator whose every output judges one patch
of the input; `layers` stride-2 convolutions then two stride-1 convolutions. layers=3 is the paper's 70x70
PatchGAN, layers=1 a 16x16 one (the patch size is `patch_size(layers)`).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from genzoo.errors import ConfigError

Norm = Literal["batch", "instance", "none"]


def norm2d(kind: Norm, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":  # pix2pix's batch-size-1 "batchnorm" and CycleGAN's choice
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


def unet_depth(height: int, width: int, depth: int = 0) -> int:
    """How many times the U-Net halves: `depth`, or (0) as often as both sides stay even and at least 4."""
    auto = 0
    h, w = height, width
    while h % 2 == 0 and w % 2 == 0 and h // 2 >= 4 and w // 2 >= 4:
        h, w, auto = h // 2, w // 2, auto + 1
    if auto == 0:
        raise ConfigError(f"the U-Net halves the image at least once, and {height}x{width} has an odd side or one "
                          "under 8; resize the data (--set data.image_size=32)")
    if depth > auto:
        raise ConfigError(f"unet_depth={depth}: a {height}x{width} image halves evenly at most {auto} times "
                          f"(side >= 4); use unet_depth <= {auto} (0 = the most)")
    return depth or auto


class UNet(nn.Module):
    """in_channels x H x W -> out_channels x H x W in [-1, 1]; `depth` halvings, skip connections across."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, depth: int = 3, norm: Norm = "batch",
                 dropout: float = 0.5, dropout_layers: int = 3, max_width: int = 512):
        super().__init__()
        widths = [min(width * 2 ** i, max_width) for i in range(depth)]
        self.down = nn.ModuleList()
        prev = in_channels
        for i, w in enumerate(widths):
            layers: list[nn.Module] = [nn.Conv2d(prev, w, 4, 2, 1, bias=norm == "none" or i == 0)]
            if i > 0 and i < depth - 1:  # the innermost (bottleneck) and outermost layers have no norm
                layers.append(norm2d(norm, w))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            self.down.append(nn.Sequential(*layers))
            prev = w
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):  # up layer i produces the size of down layer i - 1 (or the image)
            inner = widths[i] if i == depth - 1 else 2 * widths[i]  # the bottleneck has no skip to concatenate
            if i == 0:
                self.up.append(nn.Sequential(nn.ConvTranspose2d(inner, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ConvTranspose2d(inner, widths[i - 1], 4, 2, 1, bias=norm == "none"),
                      norm2d(norm, widths[i - 1])]
            if depth - 1 - i < dropout_layers and dropout > 0:
                layers.append(nn.Dropout(dropout))
            layers.append(nn.ReLU(inplace=True))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = skips.pop()
        for layer in self.up:
            x = layer(x)
            if skips:
                x = torch.cat([x, skips.pop()], 1)
        return x


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: Norm):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=norm == "none"), norm2d(norm, channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=norm == "none"), norm2d(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet_generator(in_channels: int, out_channels: int, width: int = 64, blocks: int = 6,
                     norm: Norm = "instance", height: int = 32, width_px: int = 32) -> nn.Sequential:
    """CycleGAN's generator (c7s1-w, d2w, d4w, R4w x blocks, u2w, uw, c7s1-C); sides must be divisible by 4."""
    if height % 4 or width_px % 4:
        raise ConfigError(f"the ResNet generator halves twice and needs sides divisible by 4, got {height}x{width_px}"
                          "; resize the data (--set data.image_size=32) or use generator=unet")
    bias = norm == "none"
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7, bias=bias),
                               norm2d(norm, width), nn.ReLU(inplace=True)]
    for m in (1, 2):
        layers += [nn.Conv2d(width * m, width * 2 * m, 3, 2, 1, bias=bias), norm2d(norm, width * 2 * m),
                   nn.ReLU(inplace=True)]
    layers += [ResidualBlock(4 * width, norm) for _ in range(blocks)]
    for m in (4, 2):
        layers += [nn.ConvTranspose2d(width * m, width * m // 2, 3, 2, 1, output_padding=1, bias=bias),
                   norm2d(norm, width * m // 2), nn.ReLU(inplace=True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def patch_size(layers: int) -> int:
    """The receptive field of a PatchGAN output with `layers` stride-2 convolutions (3 -> 70, 1 -> 16)."""
    rf = 1
    for stride in [1, 1] + [2] * layers:  # from the output back to the input, every conv 4x4
        rf = rf * stride + (4 - stride)
    return rf


def patch_discriminator(in_channels: int, width: int = 64, layers: int = 3, norm: Norm = "batch",
                        max_width: int = 512) -> nn.Sequential:
    """C64-C128-... (`layers` stride-2 4x4 convs, no norm on the first), a stride-1 conv, a 1-channel stride-1
    conv: N x 1 x h x w scores, one per patch (logits)."""
    bias = norm == "none"
    seq: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
    prev = width
    for i in range(1, layers + 1):
        w = min(width * 2 ** i, max_width)
        stride = 2 if i < layers else 1
        seq += [nn.Conv2d(prev, w, 4, stride, 1, bias=bias), norm2d(norm, w), nn.LeakyReLU(0.2, inplace=True)]
        prev = w
    seq.append(nn.Conv2d(prev, 1, 4, 1, 1))
    return nn.Sequential(*seq)
