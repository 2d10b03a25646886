import pytest
import torch
from torch import nn
from torch.testing import assert_close

from genzoo.nn import EMA, MinibatchStd, ReplayBuffer, apply_spectral_norm, init_weights_


def test_ema_follows_the_warmed_up_decay():
    net = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = EMA(net, decay=0.9, start=1)
    expect = 0.0
    for t, w in enumerate([1.0, 2.0, 3.0, 4.0], start=1):
        with torch.no_grad():
            net.weight.fill_(w)
        ema.update(net)
        k = t - 1  # updates counted after `start`
        d = 0.0 if k <= 0 else min(0.9, (1 + k) / (10 + k))
        expect = d * expect + (1 - d) * w
        assert_close(ema.module.weight, torch.full((1, 2), expect))
    assert not any(p.requires_grad for p in ema.parameters())
    # the update count travels with the state_dict (exact resume)
    other = EMA(net, decay=0.9, start=1)
    other.load_state_dict(ema.state_dict())
    assert other.updates == 4 and torch.equal(other.module.weight, ema.module.weight)


def test_ema_averages_batchnorm_statistics():
    net = nn.BatchNorm1d(3)
    ema = EMA(net, decay=0.5)
    net(torch.randn(16, 3) + 5.0)  # moves the running mean toward 5
    ema.update(net)  # first update: d = min(0.5, 2/11)
    assert_close(ema.module.running_mean, (2 / 11) * 0.0 + (9 / 11) * net.running_mean)
    assert int(ema.module.num_batches_tracked) == 1


def test_replay_buffer_mixes_half_old_images():
    torch.manual_seed(0)
    buf = ReplayBuffer(8, (1, 2, 2))
    a = torch.full((4, 1, 2, 2), 1.0)
    assert torch.equal(buf.mix(a), a) and buf.filled == 2  # empty buffer: batch unchanged, half stored
    b = torch.full((4, 1, 2, 2), 2.0)
    out = buf.mix(b)
    assert torch.equal(out[:2], b[:2]) and torch.all(out[2:] == 1.0)  # second half replayed from the past
    for _ in range(5):
        buf.mix(torch.full((4, 1, 2, 2), 3.0))
    assert buf.filled == 8  # full: new images overwrite random slots
    assert (buf.images == 3.0).flatten(1).all(1).sum() >= 2
    copy = ReplayBuffer(8, (1, 2, 2))
    copy.load_state_dict(buf.state_dict())
    assert copy.filled == 8 and torch.equal(copy.images, buf.images)


def test_minibatch_std_appends_group_statistics():
    x = torch.randn(8, 3, 4, 4)
    out = MinibatchStd(group_size=4)(x)
    assert out.shape == (8, 4, 4, 4) and torch.equal(out[:, :3], x)
    # sample i belongs to group i % 2 (members i, i+2, i+4, i+6)
    for m in range(2):
        std = x[m::2].var(0, unbiased=False).add(1e-8).sqrt().mean()
        assert_close(out[m::2, 3], std.expand(4, 4, 4))
    # identical samples: no variation
    same = MinibatchStd()(torch.ones(4, 5))
    assert same.shape == (4, 6) and same[:, 5].max() < 1e-3
    assert MinibatchStd(4)(torch.randn(6, 5)).shape == (6, 6)  # 6 is not a multiple of 4: groups of 2


def test_spectral_norm_bounds_the_largest_singular_value():
    torch.manual_seed(0)
    net = apply_spectral_norm(nn.Sequential(nn.Linear(20, 30), nn.Conv2d(3, 8, 3)))
    for _ in range(30):  # power iterations run in training-mode forwards
        net[0](torch.randn(2, 20))
    sigma = torch.linalg.matrix_norm(net[0].weight.detach(), ord=2)
    assert_close(sigma, torch.tensor(1.0), atol=2e-2, rtol=0)
    assert hasattr(net[1], "parametrizations")


def test_dcgan_initialisation():
    torch.manual_seed(0)
    net = init_weights_(nn.Sequential(nn.Conv2d(16, 64, 4), nn.BatchNorm2d(64), nn.Linear(300, 200)), "normal")
    assert net[0].weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert net[0].bias.abs().max() == 0
    assert net[1].weight.mean().item() == pytest.approx(1.0, abs=0.01) and net[1].bias.abs().max() == 0
    assert net[2].weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_bernoulli_samples_have_the_given_probabilities_and_dtype():
    from genzoo.nn import bernoulli

    p = torch.tensor([0.0, 0.03, 0.5, 0.97, 1.0]).repeat(40000, 1)
    x = bernoulli(p)
    assert x.dtype == p.dtype and set(x.unique().tolist()) <= {0.0, 1.0}
    # 40000 draws per column: standard error <= 0.0025
    assert_close(x.mean(0), p[0], atol=0.01, rtol=0)
    assert x[:, 0].sum() == 0 and x[:, -1].sum() == len(x)  # p = 0 and p = 1 exactly
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(bernoulli(p[:100], g()), bernoulli(p[:100], g()))
    half = bernoulli(p[:2000].bfloat16(), g())  # bf16 probabilities, float32 uniforms
    assert half.dtype == torch.bfloat16 and abs(float(half[:, 2].float().mean()) - 0.5) < 0.05


def test_compute_dtype_follows_the_autocast_region():
    from genzoo.nn import compute_dtype

    w = torch.zeros(3)
    assert compute_dtype(w) == torch.float32 and compute_dtype(w.double()) == torch.float64
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert compute_dtype(w) == torch.bfloat16
        with torch.autocast("cpu", enabled=False):
            assert compute_dtype(w) == torch.float32
