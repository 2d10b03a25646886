"""The configurable GAN: presets, every trick applied when its flag is set, sampling contract, resume."""

import dataclasses
import math

import pytest
import torch
from torch.testing import assert_close

import genzoo
from genzoo.checkpoint import load as load_ckpt
from genzoo.data.imageset import Batch, DataSpec
from genzoo.errors import ConfigError
from genzoo.losses import gan as L
from genzoo.training import TrainConfig, Trainer
from tests.learning import SEED, record

PRESETS = ["gan", "dcgan", "dcgan-paper", "lsgan", "wgan", "wgan-gp", "dragan", "sngan"]
TINY = {"g_width": 8, "d_width": 8, "z_dim": 16}


def tiny(name="dcgan", spec=None, **over):
    spec = spec or DataSpec(1, 28, 28, 10)
    model = genzoo.build(name, spec, **{**TINY, **over})
    model.configure_optimizers(100)
    return model


def batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.rand(n, 1, 28, 28, generator=g) * 2 - 1, torch.randint(0, 10, (n,), generator=g))


def params(net):
    return [p.detach().clone() for p in net.parameters()]


def changed(before, net):
    return any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


# ---- presets ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_trains_with_finite_changing_losses(name, mini):
    torch.manual_seed(0)
    model = tiny(name)
    g0, d0 = params(model.G), params(model.D)
    data = mini.take(320)
    rows = []
    precision = genzoo.registry.get(name).train_defaults.get("precision", "fp32")  # as the preset trains (bf16)
    cfg = TrainConfig(steps=10, batch_size=32, progress=False, precision=precision, log_every=1)
    trainer = Trainer(model, data, cfg)
    trainer._write_row = rows.append  # collect the logged rows without a run folder
    trainer.fit()
    assert changed(g0, model.G) and changed(d0, model.D)
    d_losses = [r["loss_d"] for r in rows]
    assert all(math.isfinite(v) for r in rows for k, v in r.items() if isinstance(v, float))
    assert len(set(d_losses)) > 1
    g_rows = [r for r in rows if "loss_g" in r]
    assert len(g_rows) == 10 // model.cfg.n_critic and len({r["loss_g"] for r in g_rows}) > 1


def test_sngan_takes_betas_0_099_where_they_were_measured_better_and_the_papers_elsewhere():
    make = genzoo.registry.make_config
    for data in ("cifar10-jpeg", "cifar10", "fashion-mnist"):  # README: 2 seeds on Fashion-MNIST, 1 on CIFAR
        assert make("sngan", dataset=data).betas == (0.0, 0.99)
        assert make("sngan", {"betas": (0.5, 0.999)}, dataset=data).betas == (0.5, 0.999)  # the user's wins
    for data in ("", "mnist", "celeba"):
        assert make("sngan", dataset=data).betas == (0.5, 0.999)


def test_presets_follow_their_papers():
    cfg = {n: genzoo.registry.get(n).default_config() for n in PRESETS}
    paper = cfg["dcgan-paper"]
    assert cfg["gan"].arch == "fc" and paper.arch == "dcgan" and paper.lr_g == 2e-4
    assert paper.betas == (0.5, 0.999) and paper.loss == "nonsaturating" and paper.g_hidden == paper.d_hidden == 0
    # the default differs from the paper only by its dense layers and betas (bench/gan_peers.py)
    fast = cfg["dcgan"]
    assert (fast.g_hidden, fast.d_hidden, fast.betas) == (512, 512, (0.0, 0.99))
    assert dataclasses.replace(fast, g_hidden=0, d_hidden=0, betas=(0.5, 0.999)) == paper
    assert cfg["lsgan"].loss == "lsgan"
    w = cfg["wgan"]
    assert (w.loss, w.clip, w.n_critic, w.optimizer, w.lr_d) == ("wasserstein", 0.01, 5, "rmsprop", 5e-5)
    gp = cfg["wgan-gp"]
    assert (gp.penalty, gp.penalty_weight, gp.n_critic, gp.betas, gp.d_norm) == ("gp", 10.0, 5, (0.0, 0.9), "none")
    assert cfg["dragan"].penalty == "dragan" and cfg["sngan"].spectral_norm and cfg["sngan"].loss == "hinge"
    model = tiny("wgan")
    assert isinstance(model.optimizers["d"], torch.optim.RMSprop)


def test_bad_configs_are_rejected():
    with pytest.raises(ConfigError, match="label_smoothing applies"):
        genzoo.build("wgan", DataSpec(1, 28, 28), label_smoothing=0.1)
    with pytest.raises(ConfigError, match="ema"):
        genzoo.build("dcgan", DataSpec(1, 28, 28), ema=1.0)
    with pytest.raises(ConfigError, match="image_size"):
        genzoo.build("dcgan", DataSpec(1, 30, 30))
    with pytest.raises(ConfigError, match="not conditional"):
        tiny().sample(4, labels=torch.zeros(4, dtype=torch.long))


def test_dcgan_initialisation_and_ttur():
    model = genzoo.build("dcgan-paper", DataSpec(1, 32, 32), lr_g=1e-4, lr_d=4e-4)
    model.configure_optimizers(10)
    w = model.G[1].weight
    assert w.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.optimizers["g"].param_groups[0]["lr"] == 1e-4
    assert model.optimizers["d"].param_groups[0]["lr"] == 4e-4
    assert model.optimizers["g"].param_groups[0]["params"][0] is model.G[1].weight
    fast = genzoo.build("dcgan", DataSpec(1, 32, 32))  # its dense layer comes first, with the same init
    assert isinstance(fast.G[0], torch.nn.Linear) and fast.G[0].weight.std().item() == pytest.approx(0.02, rel=0.05)


# ---- the step ----------------------------------------------------------------------------------------------
def test_n_critic_updates_g_every_nth_step():
    torch.manual_seed(0)
    model = tiny("wgan-gp")
    for step in range(5):
        g0, d0 = params(model.G), params(model.D)
        out = model.train_step(batch(), step)
        assert changed(d0, model.D)
        assert changed(g0, model.G) == (step == 4) and ("loss_g" in out) == (step == 4)
        assert out["penalty"] > 0


def test_generator_step_leaves_d_alone():
    torch.manual_seed(0)
    model = tiny()
    model.train_step(batch(), 0)
    # D's weights got no gradient from the G step (frozen meanwhile), and are trainable again after it
    assert all(p.grad is None or p.grad.abs().sum() > 0 for p in model.D.parameters())
    assert all(p.requires_grad for p in model.D.parameters())
    d_grads = [p.grad.clone() for p in model.D.parameters()]
    out = model.g_step(batch().x, None, model.generate(model.sample_latent(16)), None, None, 1)
    assert all(torch.equal(a, p.grad) for a, p in zip(d_grads, model.D.parameters()))
    assert out["grad_norm_g"] > 0


def test_weight_clipping_is_applied():
    model = tiny("wgan")
    with torch.no_grad():
        for p in model.D.parameters():
            p.mul_(100)
    model.train_step(batch(), 0)
    assert max(p.abs().max().item() for p in model.D.parameters()) <= 0.01


def spy_critic(model):
    seen = []
    real_critic = model.critic

    def critic(x, labels=None):
        seen.append(x.detach().clone())
        return real_critic(x, labels)

    model.critic = critic
    return seen


def test_label_smoothing_is_applied():
    model = tiny(label_smoothing=0.1)
    r, f = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    assert_close(model.d_loss(r, f), L.d_loss_bce(r, f, real_target=0.9))
    assert not torch.allclose(model.d_loss(r, f), L.d_loss_bce(r, f))
    lsgan = tiny("lsgan", label_smoothing=0.1)
    assert_close(lsgan.d_loss(r, f), L.d_loss_lsgan(r, f, b=0.9))


def test_separate_batches_flag():
    for separate, calls in ((True, [16, 16]), (False, [32])):
        model = tiny(separate_batches=separate)
        sizes = []
        model.D.register_forward_pre_hook(lambda m, args, sizes=sizes: sizes.append(args[0].shape[0]))
        model.d_step(batch().x, None, model.generate(model.sample_latent(16)).detach(), None, 0)
        assert sizes == calls


def test_replay_feeds_d_half_old_fakes():
    torch.manual_seed(0)
    model = tiny(replay=64)
    seen = spy_critic(model)
    for step in range(3):
        model.train_step(batch(seed=step), step)
    # calls per step: D(real), D(fake), G-step D(fake); the D fakes of the last step: half replayed
    d_fake = seen[-2]
    stored = model.replay.images.flatten(1)
    fresh_g = seen[-1]
    assert torch.equal(d_fake[:8], fresh_g[:8])  # first half: this step's fakes
    for img in d_fake[8:]:  # second half: images from the buffer, not this step's
        assert (stored == img.flatten()).all(1).any()
        assert not (fresh_g.flatten(1) == img.flatten()).all(1).any()
    assert model.replay.filled == 3 * 8


def test_instance_noise_is_added_and_annealed():
    torch.manual_seed(0)
    model = tiny(instance_noise=0.5)
    model.configure_optimizers(total_steps=100)
    seen = spy_critic(model)
    real = batch(64).x
    model.d_step(real, None, real.clone(), None, step=0)
    assert (seen[0] - real).std().item() == pytest.approx(0.5, rel=0.05)
    model.d_step(real, None, real.clone(), None, step=50)
    assert (seen[2] - real).std().item() == pytest.approx(0.25, rel=0.05)
    model.d_step(real, None, real.clone(), None, step=100)
    assert torch.equal(seen[4], real)


def test_diffaugment_transforms_what_d_sees_in_both_updates():
    torch.manual_seed(0)
    model = tiny(diffaugment="translation,cutout")
    seen = spy_critic(model)
    real = batch(64).x
    fake = model.generate(model.sample_latent(64))
    fake.retain_grad()
    model.d_step(real, None, fake.detach(), None, step=0)
    model.g_step(real, None, fake, None, None, step=0)
    for x, orig in zip(seen, [real, fake, fake]):
        background = (x == -1).flatten(1).sum(1)  # translation pads and cutout cuts with the background value
        assert x.shape == orig.shape and not torch.equal(x, orig) and (background >= 9).all()
    assert (fake.grad != 0).float().mean() > 0.3  # G's gradient flows through the transforms
    # off by default; a typo is a config error naming the choices
    plain = tiny()
    seen = spy_critic(plain)
    plain.d_step(real, None, real.clone(), None, step=0)
    assert torch.equal(seen[0], real)
    with pytest.raises(ConfigError, match="unknown augmentation 'color'.*translation, cutout"):
        tiny(diffaugment="translation,color")
    with pytest.raises(ConfigError, match="bigan has no DiffAugment"):
        tiny("bigan", diffaugment="cutout")


def test_feature_matching_replaces_the_adversarial_generator_loss(monkeypatch):
    calls = []
    real_fm = L.feature_matching_loss
    monkeypatch.setattr(L, "feature_matching_loss", lambda r, f: calls.append(r.shape) or real_fm(r, f))
    monkeypatch.setattr(L, "g_loss_nonsaturating", lambda f: pytest.fail("adversarial loss used"))
    model = tiny(feature_matching=True)
    g0 = params(model.G)
    model.train_step(batch(), 0)
    assert calls == [(16, model.D.feature_dim)] and changed(g0, model.G)


def test_minibatch_std_makes_d_see_the_batch():
    model = tiny(minibatch_std=True, d_norm="none").eval()
    x = batch(8).x
    a = model.critic(x).score
    x2 = x.clone()
    x2[2] = 0.0  # sample 2 is in the same group as samples 0, 4 and 6 (groups of 4 over 8 -> i % 2)
    b = model.critic(x2).score
    assert a[0] != b[0] and a[1] == b[1]


def test_spectral_norm_preset():
    model = tiny("sngan")
    convs = [m for m in model.D.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)


# ---- sampling contract ---------------------------------------------------------------------------------------
def test_sampling_contract_and_ema():
    torch.manual_seed(0)
    model = tiny(ema=0.9, z_dist="uniform")
    assert model.latent_dim == 16 and not model.conditional
    z = model.sample_latent(500, torch.Generator().manual_seed(1))
    assert z.shape == (500, 16) and z.min() >= -1 and z.max() <= 1 and z.min() < -0.9
    state = torch.get_rng_state()
    a = model.sample(6, generator=torch.Generator().manual_seed(3))
    b = model.sample(6, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(state, torch.get_rng_state())  # global RNG untouched
    assert a.shape == (6, 1, 28, 28) and a.dtype == torch.float32 and a.abs().max() <= 1
    for step in range(3):
        model.train_step(batch(), step)
    assert model.G_ema.updates == 3
    # samples come from the averaged generator, in eval mode, and leave the training mode alone
    assert model.training
    x = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert model.training and model.G_ema.module.training
    with torch.no_grad():
        for p in model.G_ema.module.parameters():
            p.add_(0.5)
    assert not torch.equal(x, model.sample(4, generator=torch.Generator().manual_seed(0)))


# ---- exact resume ------------------------------------------------------------------------------------------
def fit(mini, out, name, until=None, resume=False, **over):
    model = genzoo.build(name, mini.spec, seed=0, **{**TINY, **over})
    cfg = TrainConfig(steps=14, batch_size=32, progress=False, precision="fp32", log_every=7)
    Trainer(model, mini.take(320), cfg, run_dir=out).fit(resume=resume, until=until)


def assert_same_state(a, b):
    sa, sb = load_ckpt(a)["training_state"], load_ckpt(b)["training_state"]
    assert sa["model"].keys() == sb["model"].keys()
    for k, v in sa["model"].items():
        assert torch.equal(v, sb["model"][k]) if isinstance(v, torch.Tensor) else v == sb["model"][k], k
    for name in sa["optimizers"]:
        for i, st in sa["optimizers"][name]["state"].items():
            for k, v in st.items():
                assert torch.equal(torch.as_tensor(v), torch.as_tensor(sb["optimizers"][name]["state"][i][k]))


@pytest.mark.parametrize("name,over", [
    ("wgan-gp", {}),  # n_critic 5: the pause at step 7 falls between generator updates
    ("dcgan", {"ema": 0.9, "replay": 48, "instance_noise": 0.1}),
])
def test_exact_resume(mini, tmp_path, name, over):
    fit(mini, tmp_path / "straight", name, **over)
    fit(mini, tmp_path / "split", name, until=7, **over)
    fit(mini, tmp_path / "split", name, resume=True, **over)
    assert_same_state(tmp_path / "straight/checkpoints/last.pt", tmp_path / "split/checkpoints/last.pt")
    state = load_ckpt(tmp_path / "split/checkpoints/last.pt")["training_state"]["model"]
    if over:
        assert state["replay._extra_state"]["filled"] == 48 and state["G_ema._extra_state"]["updates"] == 14


def test_compile_option_compiles_the_trained_networks_and_keeps_checkpoints(mini, tmp_path):
    """TrainConfig.compile: G and D (what the optimizers train) run compiled, the EMA copy does not; the
    checkpoint has the eager run's keys and nearly its weights (the compiler may fuse sums differently)."""
    runs = {}
    for compiled in (False, True):
        model = genzoo.build("dcgan", mini.spec, seed=0, **TINY, g_hidden=16, d_hidden=16)
        cfg = TrainConfig(steps=3, batch_size=16, progress=False, precision="fp32", compile=compiled)
        Trainer(model, mini.take(64), cfg, run_dir=tmp_path / str(compiled)).fit()
        runs[compiled] = load_ckpt(tmp_path / str(compiled) / "checkpoints/last.pt")["training_state"]["model"]
        names = [n for n, m in model.named_children() if getattr(m, "_compiled_call_impl", None) is not None]
        assert names == (["G", "D"] if compiled else [])
    assert runs[True].keys() == runs[False].keys()
    for k, v in runs[False].items():
        if isinstance(v, torch.Tensor):
            assert_close(runs[True][k].float(), v.float(), atol=1e-3, rtol=1e-3, msg=k)
        else:  # the EMA's update count
            assert runs[True][k] == v, k


# ---- learning --------------------------------------------------------------------------------------------------
def _look_after_tiny_training(mini, name, batch_size, steps=600):
    """(mean, dark fraction, bright fraction) of 200 samples after `steps` steps at width 16 on 2400 digits."""
    data = mini.take(2400)
    model = genzoo.build(name, data.spec, seed=SEED, g_width=16, d_width=16)

    def stats():
        x = model.sample(200, generator=torch.Generator().manual_seed(0))
        return x.mean().item(), (x < -0.5).float().mean().item(), (x > 0.5).float().mean().item()

    real = data.images.float() / 127.5 - 1
    assert real.mean() < -0.7 and (real > 0.5).float().mean() > 0.1
    mean0, dark0, bright0 = stats()
    assert abs(mean0) < 0.1 and dark0 < 0.01 and bright0 < 0.01  # flat grey before training
    cfg = TrainConfig(steps=steps, batch_size=batch_size, progress=False, precision="fp32", seed=SEED)
    Trainer(model, data, cfg).fit()
    mean, dark, bright = stats()
    record(mean=mean, dark=dark, bright=bright)
    return mean, dark, bright


@pytest.mark.learning
def test_dcgan_paper_learns_the_look_of_mnist(mini):
    """600 tiny steps move the samples from flat grey to MNIST's dark background with bright strokes (after 300
    steps, 2 seeds of 6 had no strokes yet: bright 0.0008)."""
    mean, dark, bright = _look_after_tiny_training(mini, "dcgan-paper", 32)
    # measured -0.689..-0.598, 0.778..0.829, 0.068..0.090 (real digits: -0.74, 0.84, 0.11)
    assert mean < -0.45 and dark > 0.6 and bright > 0.02, (mean, dark, bright)


@pytest.mark.learning
def test_dcgan_default_learns_the_background_of_mnist(mini):
    """The default (dense layers, betas (0, 0.99)) starts slower in steps than dcgan-paper and wins later (README,
    GAN time to quality): after 900 tiny steps of 64 its samples have MNIST's dark background, not yet its strokes
    (after 600 steps of 64, seed 2 had dark 0.026-0.092; of 32, some seeds were still grey: dark 0.001-0.04)."""
    mean, dark, bright = _look_after_tiny_training(mini, "dcgan", 64, steps=900)
    # measured mean -0.677..-0.396, dark 0.386..0.787 (seeds 0-4 native and avx2, seeds 2 and 4 (the slowest at
    # 600 steps) without vector kernels); untrained: |mean| < 0.1, dark < 0.01; real digits -0.74, 0.84
    assert mean < -0.25 and dark > 0.2, (mean, dark, bright)


def test_generator_loss_is_averaged_over_generator_steps(mini):
    """With n_critic 5 and a log row every 10 steps, loss_g is the mean of the 2 generator losses."""
    model = genzoo.build("wgan-gp", mini.spec, seed=0, **TINY)
    seen = []
    real_step = model.train_step

    def step(batch, i):
        out = real_step(batch, i)
        if "loss_g" in out:
            seen.append(float(out["loss_g"]))
        return out

    model.train_step = step
    rows = []
    trainer = Trainer(model, mini.take(320), TrainConfig(steps=10, batch_size=32, progress=False, log_every=10))
    trainer._write_row = rows.append
    trainer.fit()
    assert len(seen) == 2 and rows[0]["loss_g"] == pytest.approx(sum(seen) / 2)
