import pytest
import torch

from genzoo.errors import ConfigError
from genzoo.models.gan.networks import build_discriminator, build_generator, pyramid


@pytest.mark.parametrize("arch", ["fc", "dcgan", "resnet"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 28, 20)])
def test_shapes_and_output_range(arch, shape):
    torch.manual_seed(0)
    if arch == "resnet" and shape[1] == 64:
        pytest.skip("covered by 32x32; keeps the test fast")
    g = build_generator(arch, 16, shape, 8, "batch")
    d = build_discriminator(arch, shape, 8, "none" if arch == "resnet" else "batch", out_dim=3)
    x = g(torch.randn(4, 16))
    assert x.shape == (4, *shape)
    assert x.min() >= -1 and x.max() <= 1  # tanh
    out, feats = d(x)
    assert out.shape == (4, 3) and feats.shape == (4, d.feature_dim)


def test_dcgan_layouts_follow_the_paper():
    g = build_generator("dcgan", 100, (3, 64, 64), 128, "batch")
    convs = [m for m in g if isinstance(m, torch.nn.ConvTranspose2d)]
    # Radford et al. Fig. 1: 100 -> 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3
    assert [m.out_channels for m in convs] == [1024, 512, 256, 128, 3]
    d = build_discriminator("dcgan", (1, 28, 28), 64, "batch")
    convs = [m for m in d.body if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [64, 128] and d.feature_dim == 128 * 7 * 7
    # no normalisation on D's first layer (Radford et al. Sec. 3)
    assert isinstance(d.body[1], torch.nn.LeakyReLU) and isinstance(d.body[3], torch.nn.BatchNorm2d)


def test_minibatch_std_adds_a_feature():
    d = build_discriminator("dcgan", (1, 32, 32), 8, "none", minibatch_std=True)
    plain = build_discriminator("dcgan", (1, 32, 32), 8, "none")
    assert d.feature_dim == plain.feature_dim + 4 * 4  # one more 4x4 plane
    f = build_discriminator("fc", (1, 28, 28), 8, "none", minibatch_std=True)
    assert f(torch.randn(4, 1, 28, 28))[1].shape == (4, 16 + 1)


def test_channels_last_gradients_keep_their_layout():
    # the flatten before D's head must not hand the conv stack a gradient in the other memory layout
    d = build_discriminator("dcgan", (1, 28, 28), 8, "batch").to(memory_format=torch.channels_last)
    x = torch.randn(4, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    h = d.body[:-1](x)
    seen = []
    h.register_hook(lambda g: seen.append(g.is_contiguous(memory_format=torch.channels_last)))
    d.head(d.body[-1](h)).sum().backward()
    assert seen == [True]


def test_bad_sizes_are_reported():
    assert pyramid(28, 28) == (7, 7, 2) and pyramid(32, 32) == (4, 4, 3) and pyramid(64, 64) == (4, 4, 4)
    with pytest.raises(ConfigError, match="data.image_size=32"):
        pyramid(30, 30)
    with pytest.raises(ConfigError, match="same n"):
        pyramid(64, 28)
    with pytest.raises(ConfigError, match="d_norm=none"):
        build_discriminator("resnet", (1, 32, 32), 8, "batch")
