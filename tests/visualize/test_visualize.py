"""genzoo.visualize: activation maximisation and generator channel ablation on tiny nets built here."""

from __future__ import annotations

import math
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genzoo.errors import ConfigError
from genzoo.visualize import (
    Target,
    ablate_channel,
    activation,
    channel_effect,
    layer_names,
    maximize,
    maximize_many,
    objective,
    parse_target,
)
from genzoo.visualize.params import FourierImage, PixelImage, colour_matrix, frequencies, make_image
from tests.learning import SEED, record


def conv_bn(cin: int, cout: int) -> nn.Sequential:
    # as genzoo's classifiers build them: the in-place ReLU must not spoil a captured batchnorm output
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def mnist_net() -> nn.Sequential:
    """body.0 (conv-bn-relu, 8 ch, 28x28), body.1 pool, body.2 (16 ch, 14x14), body.3 pool, head (10 logits)."""
    return nn.Sequential(OrderedDict(
        body=nn.Sequential(conv_bn(1, 8), nn.MaxPool2d(2), conv_bn(8, 16), nn.MaxPool2d(2)),
        head=nn.Sequential(nn.Flatten(), nn.Linear(16 * 7 * 7, 10))))


def forward_of(net):
    return lambda x: net(x * 2 - 1)  # the nets take [-1, 1], the visualiser works in [0, 1]


def train(net, x, y, steps, lr, bs, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr)
    net.train()
    for _ in range(steps):
        i = torch.randint(len(x), (bs,), generator=g)
        loss = F.cross_entropy(net(x[i] * 2 - 1), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.zero_grad(set_to_none=True)
    return net.eval()


@pytest.fixture(scope="module")
def mnist(mini, mini_test):
    """A small conv net trained for 150 steps on mnist-mini (92% test accuracy at seed 0), and the test images."""
    torch.manual_seed(SEED)
    net = train(mnist_net(), mini.images.float() / 255, mini.labels, 150, 3e-3, 64, SEED)
    return net, mini_test.images.float() / 255, mini_test.labels


@pytest.fixture(scope="module")
def colour():
    """3 x 16 x 16 images whose class is the dominant colour channel, and a conv net trained on them."""
    g = torch.Generator().manual_seed(SEED)
    n = 600
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randint(0, 100, (n, 3, 16, 16), generator=g).float()
    x[torch.arange(n), y] += 120
    torch.manual_seed(SEED)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 3))
    return train(net, x / 255, y, 60, 1e-2, 50, SEED), x / 255, y


def noise(n, shape, seed=1):
    return torch.rand((n, *shape), generator=torch.Generator().manual_seed(seed))


def hooks_left(net) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in net.modules())


# ---- naming targets ---------------------------------------------------------------------------------
def test_layer_names():
    names = {n: (t, c) for n, t, c in layer_names(mnist_net())}
    assert "" not in names
    assert names["body"] == ("Sequential", 16)  # past the trailing pool: the last block that sets channels
    assert names["body.0"] == ("Sequential", 8) and names["body.0.0"] == ("Conv2d", 8)
    assert names["body.0.1"] == ("BatchNorm2d", 8)
    assert names["body.0.2"] == ("ReLU", 8) and names["body.1"] == ("MaxPool2d", 8)  # shape-keeping: inherited
    assert names["body.2"] == ("Sequential", 16) and names["body.3"] == ("MaxPool2d", 16)
    assert names["head.0"] == ("Flatten", None) and names["head.1"] == ("Linear", 10)
    assert names["head"] == ("Sequential", 10)
    # ModuleList containers never run themselves: not targetable; their members are
    net = nn.Module()
    net.blocks = nn.ModuleList([nn.Conv2d(1, 4, 3), nn.ReLU()])
    assert [(n, t, c) for n, t, c in layer_names(net)] == [("blocks.0", "Conv2d", 4), ("blocks.1", "ReLU", None)]


def test_parse_target():
    assert parse_target("class:3") == Target("class", None, 3)
    assert parse_target("logit") == Target("logit", None, 0) == parse_target(" logit:0 ")
    assert parse_target("logit:2").channel == 2
    assert parse_target("channel:body.0.1:5") == Target("channel", "body.0.1", 5)
    assert parse_target("neuron:body.2:3:4:6") == Target("neuron", "body.2", 3, 4, 6)
    assert parse_target("Channel:head.1:0").kind == "channel"
    t = Target("neuron", "body.2", 3, 4, 6)
    assert parse_target(str(t)) == t and parse_target(t) is t
    for bad in ["", "class", "class:x", "class:-1", "class:1:2", "logit:a", "channel:body.0", "channel::3",
                "channel:body.0:c", "neuron:body.0:1:2", "neuron:body.0:1:c:c", "unit:3", "pixel:1:2", "3"]:
        with pytest.raises(ConfigError, match="channel:LAYER:C") as e:
            parse_target(bad)
        assert "neuron:LAYER:C:Y:X" in str(e.value)
    with pytest.raises(ConfigError):
        parse_target(3)


def test_bad_targets_name_what_exists_and_leave_the_net_clean():
    net = mnist_net().train()
    fwd = forward_of(net)
    shape = (1, 28, 28)
    with pytest.raises(ConfigError, match="body.0.1") as e:
        maximize(net, fwd, "channel:body.0.l:0", shape, steps=2)  # a letter l for the digit 1
    assert "genzoo list-layers" in str(e.value)
    with pytest.raises(ConfigError, match="16 channels"):
        maximize(net, fwd, "channel:body.2:16", shape, steps=2)
    with pytest.raises(ConfigError, match="10 classes"):
        maximize(net, fwd, "class:10", shape, steps=2)
    with pytest.raises(ConfigError, match="14 x 14"):
        maximize(net, fwd, "neuron:body.2:0:14:3", shape, steps=2)
    with pytest.raises(ConfigError, match="spatial"):
        maximize(net, fwd, "neuron:head.1:0:0:0", shape, steps=2)
    with pytest.raises(ConfigError, match="16 channels"):
        activation(net, fwd, "channel:body.2.1:99", torch.zeros(2, *shape))
    with pytest.raises(ConfigError, match="did not run"):
        maximize(Unused(), None, "channel:spare:0", (1, 8, 8), steps=1)
    for kw in [dict(steps=-1), dict(param="wavelet"), dict(jitter=28), dict(scales=()), dict(lr=0), dict(n=0),
               dict(tv=-1.0)]:
        with pytest.raises(ConfigError):
            maximize(net, fwd, "class:0", shape, **kw)
    with pytest.raises(ConfigError, match="C, H, W"):
        maximize(net, fwd, "class:0", (28, 28), steps=1)
    assert hooks_left(net) == 0 and all(m.training for m in net.modules())
    assert all(p.grad is None for p in net.parameters())


class Unused(nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.spare = nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3)

    def forward(self, x):
        return self.used(x).mean((2, 3))


# ---- the net is left as it was found ----------------------------------------------------------------
def test_net_left_as_found():
    torch.manual_seed(0)
    net = mnist_net().train()
    net.body[2][1].eval()  # a mixed-mode net: each module's own flag must come back
    flags = [m.training for m in net.modules()]
    stats = [b.clone() for b in net.buffers()]
    with torch.no_grad():  # the caller's grad mode does not matter
        maximize_many(net, forward_of(net), ["class:1", "channel:body.0:2", "neuron:body.2.2:3:7:7"], (1, 28, 28),
                      steps=3, tv=0.1, l2=0.1, blur_every=2)
    assert [m.training for m in net.modules()] == flags
    assert hooks_left(net) == 0
    assert all(p.grad is None for p in net.parameters())
    # ran in eval mode: batchnorm used (and so did not update) its running statistics
    assert all(torch.equal(a, b) for a, b in zip(stats, net.buffers()))
    activation(net, forward_of(net), "channel:body.0:0", torch.rand(4, 1, 28, 28))
    assert [m.training for m in net.modules()] == flags and hooks_left(net) == 0


def test_result_shape_range_and_seed():
    torch.manual_seed(0)
    net = mnist_net().eval()
    fwd = forward_of(net)
    for param in ("pixel", "fourier"):
        def run(seed, param=param, **kw):
            return maximize(net, fwd, "channel:body.2:1", (1, 28, 28), steps=6, param=param,
                            generator=torch.Generator().manual_seed(seed), **kw)

        a = run(0)
        assert a.shape == (1, 1, 28, 28) and not a.requires_grad and 0 <= a.min() and a.max() <= 1
        assert torch.equal(a, run(0))
        assert not torch.allclose(a, run(1))
        three = run(0, n=3)
        assert three.shape == (3, 1, 28, 28) and not torch.allclose(three[0], three[1])
    torch.manual_seed(5)
    a = maximize(net, fwd, "class:2", (1, 28, 28), steps=2)
    torch.manual_seed(5)
    assert torch.equal(a, maximize(net, fwd, "class:2", (1, 28, 28), steps=2))  # no generator: torch's seed


def test_images_of_a_batch_do_not_interact():
    # the loss is a sum of per-image objectives and the net runs in eval mode: changing the other
    # images' targets leaves an image unchanged
    torch.manual_seed(0)
    net = mnist_net().train()
    fwd = forward_of(net)
    def run(targets):
        return maximize_many(net, fwd, targets, (1, 28, 28), steps=10, generator=torch.Generator().manual_seed(0))

    a = run(["class:3", "class:4", "channel:body.0:1"])
    b = run(["class:3", "class:9", "neuron:body.2:5:1:1"])
    torch.testing.assert_close(a[0], b[0], rtol=0, atol=1e-6)
    assert not torch.allclose(a[1], b[1])
    with pytest.raises(ConfigError, match="leave out n"):
        maximize_many(net, fwd, ["class:0"], (1, 28, 28), n=2)


# ---- what the activation of a target is ---------------------------------------------------------------
def test_activation_values():
    torch.manual_seed(0)
    net = mnist_net().eval()
    with torch.no_grad():  # give batchnorm non-trivial statistics
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
    fwd = forward_of(net)
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        bn = net.body[0][1](net.body[0][0](x * 2 - 1))  # before the in-place ReLU
        h = net.body[:3](x * 2 - 1)
        logits = fwd(x)
    assert (bn < 0).any()
    torch.testing.assert_close(activation(net, fwd, "class:7", x), logits[:, 7])
    torch.testing.assert_close(activation(net, fwd, "channel:body.2:4", x), h[:, 4].mean((1, 2)))
    torch.testing.assert_close(activation(net, fwd, "neuron:body.2:4:3:9", x), h[:, 4, 3, 9])
    torch.testing.assert_close(activation(net, fwd, "channel:head.1:2", x), logits[:, 2])  # a dense layer's unit
    # the batchnorm output is captured before the ReLU(inplace=True) after it overwrites it, whether the
    # forward pass stops at the layer (channel targets only) or runs on to the logits (mixed with a class)
    targets = ["channel:body.0.1:3", "class:0", "channel:body.0.1:3", "channel:body.0.1:5", "neuron:body.0.1:5:0:0"]
    got = activation(net, fwd, targets, x)
    torch.testing.assert_close(got[[0, 2, 3]], torch.stack([bn[0, 3].mean(), bn[2, 3].mean(), bn[3, 5].mean()]))
    torch.testing.assert_close(got[4], bn[4, 5, 0, 0])
    torch.testing.assert_close(activation(net, fwd, "channel:body.0.1:3", x), bn[:, 3].mean((1, 2)))
    # discriminator outputs: N, N x 1, or a patch map N x 1 x h x w (its mean)
    torch.testing.assert_close(activation(net, lambda x: fwd(x)[:, 4], "logit", x), logits[:, 4])
    torch.testing.assert_close(activation(net, lambda x: fwd(x)[:, 4:5], "logit:0", x), logits[:, 4])
    torch.testing.assert_close(activation(net, lambda x: net.body[:3](x * 2 - 1), "logit:4", x), h[:, 4].mean((1, 2)))
    # under a warp (the optimiser's jitter dy, dx and zoom) a neuron follows its content: the 14 x 14 map
    # of a 28 x 28 image moves one cell per 2 px; a zoom about the centre moves (3, 9) away from it
    with objective(net, fwd, "neuron:body.2:4:3:9") as f:
        torch.testing.assert_close(f(x, warp=(0, 0, 1.0)), h[:, 4, 3, 9])
        torch.testing.assert_close(f(x, warp=(2, -4, 1.0)), h[:, 4, 4, 7])
        torch.testing.assert_close(f(x, warp=(-8, 0, 1.0)), h[:, 4, 13, 9])  # rolled round the edge
        # zoom 8/7 about pixel 14: row 3 (centre 7 px) -> 6 px = cell 2.5; column 9 (19 px) -> 19 5/7 px = 9 5/14
        rows = (h[:, 4, 2] + h[:, 4, 3]) / 2
        torch.testing.assert_close(f(x, warp=(0, 0, 8 / 7)), rows[:, 9] * 9 / 14 + rows[:, 10] * 5 / 14)
    with objective(net, fwd, ["class:1", "class:2"]) as f:
        with pytest.raises(ConfigError, match="2 targets for a batch of 5"):
            f(x)
    assert hooks_left(net) == 0


def test_dead_relu_channel_is_brought_to_life():
    # a unit that is off on the grey start image has no gradient; the optimiser follows its
    # pre-activation until it fires
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.ReLU())
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].weight[0, 0, 1, 1] = 1.0
        net[0].bias.fill_(-0.8)  # grey (0.5) -> -0.3: off; white -> 0.2
    x0 = torch.full((1, 1, 8, 8), 0.5, requires_grad=True)
    with objective(net, None, "channel:1:0") as f:
        assert f(x0).item() == 0
        assert torch.autograd.grad(f(x0).sum(), x0)[0].abs().sum() == 0
    v = maximize(net, None, "channel:1:0", (1, 8, 8), steps=40, generator=torch.Generator().manual_seed(0))
    assert activation(net, None, "channel:1:0", v).item() > 0.15  # the maximum is 0.2 (a white image)
    assert v.mean() > 0.9


# ---- parameterisations ------------------------------------------------------------------------------
def high_frequency_share(x: torch.Tensor) -> float:
    """Share of the (mean-removed) image energy above half the Nyquist frequency."""
    spec = torch.fft.rfft2(x - x.mean((-2, -1), keepdim=True), norm="ortho").abs().pow(2)
    high = frequencies(*x.shape[-2:]) > 0.25
    return float(spec[..., high].sum() / spec.sum())


def test_fourier_parameterisation():
    shape = (3, 32, 32)
    g = torch.Generator().manual_seed(0)
    fourier = make_image("auto", shape, 4, g)
    pixel = make_image("pixel", shape, 4, g, decorrelate=False)
    assert isinstance(fourier, FourierImage) and isinstance(make_image("auto", (1, 8, 8), 1), PixelImage)
    with torch.no_grad():
        img = fourier()
        assert img.shape == (4, *shape) and 0 <= img.min() and img.max() <= 1
        assert abs(img.mean() - 0.5) < 0.05 and img.std() < 0.1  # starts near grey
        fourier.spectrum.mul_(1e4)  # whatever the parameters: a valid image
        big = fourier()
        assert 0 <= big.min() and big.max() <= 1 and big.std() > 0.3
    fourier = make_image("fourier", shape, 4, torch.Generator().manual_seed(0), decorrelate=False)
    with torch.no_grad():
        f_share, p_share = high_frequency_share(fourier.logits()), high_frequency_share(pixel.logits())
        # white pixel noise has ~80% of its energy above f = 0.25 cycles/px (that share of the frequency
        # plane); the 1/f spectrum spreads energy evenly over octaves, leaving ~25% there
        assert p_share > 0.7 and f_share < 0.35 and f_share < 0.4 * p_share, (f_share, p_share)
        for image in (fourier, pixel):  # blurring removes high frequencies and keeps the mean
            before = image.logits().clone()
            image.blur_(1.0)
            after = image.logits()
            assert high_frequency_share(after) < 0.3 * high_frequency_share(before)
            torch.testing.assert_close(after.mean((2, 3)), before.mean((2, 3)), atol=1e-6, rtol=1e-4)
        # and it is one operator whichever the parameterisation (odd sizes too)
        f = make_image("fourier", (1, 16, 15), 2, g, decorrelate=False)
        p = make_image("pixel", (1, 16, 15), 2, g)
        p.pixels.copy_(f.logits() / p.GAIN)
        f.blur_(0.8)
        p.blur_(0.8)
        torch.testing.assert_close(p.logits(), f.logits(), atol=1e-5, rtol=1e-4)


def test_colour_matrix():
    m = colour_matrix()
    torch.testing.assert_close(m, m.T)  # symmetric square root of the covariance
    assert math.isclose(float(m.norm(dim=0).max()), 1.0, rel_tol=1e-6)
    cov = m @ m.T
    corr = cov / (cov.diag()[:, None] * cov.diag()[None, :]).sqrt()
    off = corr[~torch.eye(3, dtype=torch.bool)]
    assert off.min() > 0.7  # natural RGB channels are strongly correlated (0.77..0.90 here)
    assert (cov.diag() > 0.9).all() and (cov.diag() <= 1.0 + 1e-6).all()


# ---- learning: visualisations beat real images and noise ---------------------------------------------
# "measured LO..HI": seeds 0-4 under the native, avx2 and default kernel settings (scripts/learning_spread.py)
@pytest.mark.learning
def test_class_visualisations_beat_real_images(mnist):
    net, x, y = mnist
    fwd = forward_of(net)
    vis = maximize_many(net, fwd, [f"class:{k}" for k in range(10)], (1, 28, 28), steps=128,
                        generator=torch.Generator().manual_seed(SEED))  # one batched run: ~0.2 s on one core
    with torch.no_grad():
        own, real = fwd(vis), fwd(x)
    # the class logit of class k's visualisation against the highest class-k logit of any real image of
    # another class, and of any noise image
    margin = torch.stack([own[k, k] - real[y != k, k].max() for k in range(10)])
    over_noise = torch.stack([own[k, k] - fwd(noise(200, (1, 28, 28)))[:, k].max() for k in range(10)])
    record(min_margin=margin.min(), min_over_noise=over_noise.min())
    assert own.argmax(1).tolist() == list(range(10))
    assert margin.min() > 2.0, margin  # measured 7.68..11.9
    assert over_noise.min() > 5.0, over_noise  # measured 14.3..21.5


@pytest.mark.learning
def test_priors_smooth_the_images(mnist):
    from genzoo.visualize.transforms import l2_from_grey, total_variation

    net, _, _ = mnist
    fwd = forward_of(net)
    targets = [f"class:{k}" for k in range(10)]

    def run(**kw):
        vis = maximize_many(net, fwd, targets, (1, 28, 28), steps=128, generator=torch.Generator().manual_seed(SEED),
                            **kw)
        return float(total_variation(vis).mean()), float(l2_from_grey(vis).mean())

    tv0, l20 = run()
    tv_tv, _ = run(tv=10.0)  # penalties are per-pixel means: weights on the scale of the logits (~15)
    tv_blur, _ = run(blur_every=4)
    _, l2_l2 = run(l2=100.0)
    record(tv_ratio=tv_tv / tv0, blur_ratio=tv_blur / tv0, l2_ratio=l2_l2 / l20)
    assert tv_tv < 0.85 * tv0  # measured 0.63..0.71
    assert tv_blur < 0.6 * tv0  # measured 0.38..0.44
    assert l2_l2 < 0.5 * l20  # measured 0.30..0.34


@pytest.mark.learning
def test_channel_visualisations_beat_noise(mnist):
    net, x, _ = mnist
    fwd = forward_of(net)
    targets = [f"channel:body.2:{c}" for c in range(16)]
    vis = maximize_many(net, fwd, targets, (1, 28, 28), steps=128, generator=torch.Generator().manual_seed(SEED))
    got = activation(net, fwd, targets, vis)
    p99 = torch.stack([activation(net, fwd, t, noise(300, (1, 28, 28))).quantile(0.99) for t in targets])
    alive = p99 > 0  # a channel that noise never switches on has nothing to compare with
    ratio = got[alive] / p99[alive]
    # neurons of the same layer (one position of a channel's map), against the same neuron on noise
    neurons = [f"neuron:body.2:{c}:{y}:{x}" for c, y, x in ((3, 7, 7), (8, 2, 11), (12, 10, 4))]
    vis_n = maximize_many(net, fwd, neurons, (1, 28, 28), steps=64, generator=torch.Generator().manual_seed(SEED))
    got_n = activation(net, fwd, neurons, vis_n)
    p99_n = torch.stack([activation(net, fwd, t, noise(300, (1, 28, 28))).quantile(0.99) for t in neurons])
    record(min_ratio=ratio.min(), median_ratio=ratio.median(), alive=alive.sum(),
           neuron_min_excess=(got_n - p99_n).min())
    assert alive.sum() >= 12  # measured 16
    assert (got[~alive] >= 0).all()
    assert ratio.min() > 1.0 and ratio.median() > 2.0, ratio  # measured min 1.48..2.24, median 2.94..7.39
    assert (got_n - p99_n).min() > 1.0, (got_n, p99_n)  # measured 3.89..6.23


@pytest.mark.learning
def test_fourier_visualisations_on_a_colour_net(colour):
    net, x, y = colour
    fwd = forward_of(net)
    targets = [f"class:{k}" for k in range(3)] + [f"channel:4:{c}" for c in range(16)]
    vis = maximize_many(net, fwd, targets, (3, 16, 16), steps=128, generator=torch.Generator().manual_seed(SEED))
    got = activation(net, fwd, targets, vis)
    with torch.no_grad():
        real = fwd(x)
    margin = torch.stack([got[k] - real[y != k, k].max() for k in range(3)])
    p99 = torch.stack([activation(net, fwd, t, noise(300, (3, 16, 16))).quantile(0.99) for t in targets[3:]])
    alive = p99 > 0
    ratio = got[3:][alive] / p99[alive]
    record(min_margin=margin.min(), min_ratio=ratio.min(), alive=alive.sum())
    assert margin.min() > 5.0, margin  # measured 16.0..20.5
    assert alive.sum() >= 8 and ratio.min() > 1.5, ratio  # measured alive 13..16, ratio 2.22..3.84
    # and the colour class is visible: class k's image is dominated by channel k
    assert vis[:3].mean((2, 3)).argmax(1).tolist() == [0, 1, 2]


# ---- generator channel ablation -----------------------------------------------------------------------
def tiny_generator(final=None) -> nn.Sequential:
    torch.manual_seed(0)
    layers = [nn.Linear(4, 6 * 4 * 4), nn.Unflatten(1, (6, 4, 4)), nn.ReLU(), nn.ConvTranspose2d(6, 1, 4, 2, 1)]
    return nn.Sequential(*layers, *([final] if final else []))


def test_ablate_channel():
    g = tiny_generator()
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        hidden = g[:3](z)
        expect = g(z)
    images, ablated = ablate_channel(g, "2", [], z)
    assert torch.equal(images, expect) and torch.equal(ablated, expect)  # ablating nothing changes nothing
    _, flat = ablate_channel(g, "2", range(6), z)  # every channel of the last hidden layer: only the bias is left
    torch.testing.assert_close(flat, g[3].bias.view(1, 1, 1, 1).expand_as(flat))
    _, one = ablate_channel(g, "2", 4, z)
    # the change is exactly channel 4's contribution, where it draws and nowhere else
    contribution = F.conv_transpose2d(hidden[:, 4:5], g[3].weight[4:5], stride=2, padding=1)
    torch.testing.assert_close(images - one, contribution, atol=1e-6, rtol=1e-5)
    assert (contribution == 0).any() and (contribution != 0).any()
    # the generator's own output range, e.g. tanh
    gt = tiny_generator(nn.Tanh())
    images, flat = ablate_channel(gt, "2", list(range(6)), z)
    torch.testing.assert_close(flat, torch.tanh(gt[3].bias).view(1, 1, 1, 1).expand_as(flat))
    assert images.abs().max() < 1
    for bad, match in [(6, "6 channels"), ([0, 9], "6 channels"), (-1, "whole numbers")]:
        with pytest.raises(ConfigError, match=match):
            ablate_channel(g, "2", bad, z)
    with pytest.raises(ConfigError, match="list-layers"):
        ablate_channel(g, "hidden", 0, z)
    assert hooks_left(g) == 0 and hooks_left(gt) == 0


def test_channel_effect_ranks_by_ablation():
    g = tiny_generator().train()  # eval mode inside, restored after
    with torch.no_grad():
        g[3].weight.mul_(torch.tensor([0.1, 3.0, 1.0, 0.0, 2.0, 0.5]).view(6, 1, 1, 1))
    z = torch.randn(7, 4, generator=torch.Generator().manual_seed(1))
    expect = []
    for c in range(6):
        images, ablated = ablate_channel(g, "2", c, z)
        expect.append((c, float((images - ablated).abs().mean())))
    expect.sort(key=lambda cv: -cv[1])
    for max_batch in (1, 7, 20, 1000):  # one channel a pass, one, two and all channels a pass
        got = channel_effect(g, "2", z, top=None, max_batch=max_batch)
        assert [c for c, _ in got] == [c for c, _ in expect]
        for (_, a), (_, b) in zip(got, expect):
            assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-7)
    assert [c for c, _ in channel_effect(g, "2", z, top=3)] == [c for c, _ in expect[:3]]
    assert channel_effect(g, "2", z)[-1][1] >= 0 and len(channel_effect(g, "2", z)) == 6  # top=8 > 6 channels
    assert dict(channel_effect(g, "2", z, top=None))[3] == 0.0  # a channel with zero weights draws nothing
    # conditional generators: a tuple of inputs
    class Cond(nn.Module):
        def __init__(self):
            super().__init__()
            self.g, self.embed = g, nn.Embedding(3, 4)

        def forward(self, z, labels):
            return self.g(z + self.embed(labels))

    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    assert len(channel_effect(Cond(), "g.2", (z, labels), top=2, max_batch=14)) == 2
    with pytest.raises(ConfigError, match="top"):
        channel_effect(g, "2", z, top=0)
    assert all(m.training for m in g.modules()) and hooks_left(g) == 0


def test_a_net_dead_around_grey_still_gets_a_visualisation():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))
    with torch.no_grad():
        net[0].bias.fill_(-0.5)  # every unit off near grey (input 0 in [-1, 1]): no gradient at a flat start

    def forward(x):
        return net(x * 2 - 1)

    def run(steps):
        return maximize(net, forward, "class:1", (1, 8, 8), steps=steps, jitter=0, scales=(1.0,),
                        generator=torch.Generator().manual_seed(0))

    start, x = run(0), run(32)
    assert start.std() > 0.1  # restarted from stronger noise (a flat grey start has no gradient here)
    # measured: start -0.0003, after 32 steps 0.33
    assert activation(net, forward, "class:1", x) > activation(net, forward, "class:1", start) + 0.15
