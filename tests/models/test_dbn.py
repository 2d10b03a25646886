"""DBN and RBM-pretrained autoencoder: the lower bound against brute force on tiny nets, the linear code layer's
gradients and free energy, the greedy schedule, the unrolling, that both learn, exact resume across a layer
change and across the unrolling, the command line, bad configs."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
import torch.nn.functional as F

import genzoo
from genzoo.checkpoint import load as load_ckpt
from genzoo.data import load
from genzoo.data.imageset import Batch, DataSpec
from genzoo.errors import ConfigError
from genzoo.models.dbn import bernoulli_entropy, dbn_lower_bound, layer_schedule
from genzoo.models.rbm import exact_log_partition, free_energy
from genzoo.training import TrainConfig, Trainer
from tests.learning import SEED, record


def states(n):
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=torch.float64)


def random_layers(sizes, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)

    def normal(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    return [(normal(d, h) * scale, normal(d) * 0.5, normal(h) * 0.5) for d, h in zip(sizes, sizes[1:])]


def log_bern(x, logits):  # log p(x | logits), summed over the last dim
    return (x * logits - F.softplus(logits)).sum(-1)


def brute_force(v, layers):
    """(exact log p(v), exact variational bound) per row of v for a DBN, by enumerating every hidden layer below
    the top RBM; the bound uses -log q (not the entropy the estimator uses) and the exact log Z."""
    *directed, (wt, bt, ct) = layers
    log_z = exact_log_partition(wt, bt, ct)
    joint, bound = [], torch.zeros(len(v), dtype=torch.float64)
    for hs in itertools.product(*[states(w.shape[1]) for w, _, _ in directed]):  # one state of h_1..h_{L-1}
        log_p = -free_energy(hs[-1][None], wt, bt, ct) - log_z  # p(h_{L-1}) of the top RBM
        log_q = torch.zeros(len(v), dtype=torch.float64)
        below = v
        for (w, b, c), h in zip(directed, hs):
            log_p = log_p + log_bern(below, h @ w.T + b)  # p(h_{l-1} | h_l)
            log_q = log_q + log_bern(h, below @ w + c)  # q(h_l | h_{l-1})
            below = h.expand(len(v), -1)
        joint.append(log_p)
        bound += log_q.exp() * (log_p - log_q)
    return torch.logsumexp(torch.stack(joint), 0), bound


@pytest.mark.parametrize("sizes", [(6, 4, 3), (6, 4, 3, 2)])
def test_lower_bound_matches_its_brute_force_value_and_lies_below_log_p(sizes):
    """Salakhutdinov & Murray's bound on tiny 2- and 3-layer DBNs: the estimator (samples of q, exact entropies)
    converges to the bound summed over every hidden state, which lies strictly below the exact log p(v)."""
    layers = random_layers(sizes, seed=len(sizes))
    v = states(6)[[3, 20, 41, 62]]
    exact_log_p, exact_bound = brute_force(v, layers)
    assert (exact_bound < exact_log_p - 0.01).all(), (exact_bound, exact_log_p)  # the gap is KL(q || posterior)
    log_z = exact_log_partition(*layers[-1])
    reps = 20000
    est = dbn_lower_bound(v.repeat(reps, 1), layers, log_z, 1, torch.Generator().manual_seed(0)).reshape(reps, -1)
    se = est.std(0) / math.sqrt(reps)
    assert ((est.mean(0) - exact_bound).abs() < 5 * se).all(), (est.mean(0), exact_bound, se)
    # averaging inside the function is the same estimate
    two = dbn_lower_bound(v, layers, log_z, samples=4000, generator=torch.Generator().manual_seed(1))
    assert ((two - exact_bound).abs() < 5 * est.std(0) / math.sqrt(4000)).all()


def test_a_top_rbm_tied_to_the_first_makes_the_dbn_the_first_rbm():
    """With W2 = W1', b2 = c1, c2 = b1 the top RBM's marginal over h1 is the first RBM's, so the DBN is that RBM,
    q is its exact posterior and the bound is tight: it equals the RBM's exact log p(v) (Hinton et al. 2006: greedy
    learning of the second layer from this point can only raise the bound)."""
    (w, b, c), = random_layers((6, 4), seed=7)
    layers = [(w, b, c), (w.T.contiguous(), c, b)]
    v = states(6)[[0, 9, 33, 63]]
    log_p_rbm = -free_energy(v, w, b, c) - exact_log_partition(w, b, c)
    exact_log_p, exact_bound = brute_force(v, layers)
    torch.testing.assert_close(exact_log_p, log_p_rbm, atol=1e-9, rtol=0)
    torch.testing.assert_close(exact_bound, log_p_rbm, atol=1e-9, rtol=0)
    est = dbn_lower_bound(v, layers, exact_log_partition(w.T, c, b), samples=20000,
                          generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(est, log_p_rbm, atol=0.05, rtol=0)


def test_bernoulli_entropy_and_the_layer_schedule():
    x = torch.tensor([[0.0, 2.0, -3.0, 40.0, -40.0]], dtype=torch.float64)
    q = torch.sigmoid(x)
    direct = -(q * q.log() + (1 - q) * (1 - q).log()).nan_to_num(0.0)
    torch.testing.assert_close(bernoulli_entropy(x), direct.sum(-1))
    assert float(bernoulli_entropy(torch.zeros(1, 3))) == pytest.approx(3 * math.log(2))
    assert layer_schedule(10, (1.0, 1.0)) == [5, 10]
    assert layer_schedule(8, (1.0, 2.0, 1.0)) == [2, 6, 8]
    assert layer_schedule(3, (1.0, 1.0, 1.0, 1.0))[-1] == 3


def test_linear_code_rbm_free_energy_and_gradients():
    """The code layer's RBM (linear units with unit Gaussian noise): F(v) against numerical integration over h,
    and the closed-form CD gradients against autograd of the free-energy gap for the same negatives."""
    model = genzoo.build("rbm-ae", DataSpec(1, 1, 5), seed=0, hidden=(6,), code_dim=1, init_std=0.5)
    top = model.layers[-1]
    with torch.no_grad():
        top.b.normal_()
        top.c.normal_()
    v = states(6)[[5, 40, 63]].float()
    h = torch.linspace(-30, 30, 6001)[:, None]  # E(v, h) = -b.v - c h - v'W h + h^2 / 2
    neg_e = (v @ top.b)[None] + (h * top.c + h * (v @ top.W).T) - h.pow(2) / 2
    numeric = -(torch.logsumexp(neg_e.double(), 0) + math.log(0.01))
    free = top.free_energy(v).double()
    torch.testing.assert_close(free - free[0], numeric - numeric[0], atol=1e-5, rtol=0)  # up to the constant
    v0 = states(6)[torch.randperm(64, generator=torch.Generator().manual_seed(0))[:16]].float()
    with torch.no_grad():
        grads, logs, neg = top.cd_gradients(v0)
    gap = top.free_energy(v0).mean() - top.free_energy(neg).mean()
    gap.backward()
    assert float(logs["free_energy_gap"]) == pytest.approx(float(gap.detach()), abs=1e-5)
    for name in ("W", "b", "c"):
        torch.testing.assert_close(grads[name], getattr(top, name).grad, atol=1e-5, rtol=1e-4)


def test_greedy_steps_train_one_layer_at_a_time(mini):
    """10 steps, 2 layers: steps 0-4 move the first RBM only, 5-9 the second only; at its first step the second's
    visible biases start at the log-odds of the first's hidden probabilities."""
    model = genzoo.build("dbn", mini.spec, seed=0, hidden=(16, 8), lr=0.1)
    model.attach_data(mini.take(100))
    model.configure_optimizers(10)
    batches = [model.prepare(model.augment(mini.images[i * 20:(i + 1) * 20])) for i in range(10)]
    snap = [{k: p.detach().clone() for k, p in layer.named_parameters()} for layer in model.layers]

    def moved(i):
        return {k for k, p in model.layers[i].named_parameters() if not torch.equal(p, snap[i][k])}

    for s in range(5):
        assert model.train_step(Batch(batches[s]), s)["layer"] == 0.0
    assert moved(0) == {"W", "b", "c"} and moved(1) == set()
    snap = [{k: p.detach().clone() for k, p in layer.named_parameters()} for layer in model.layers]
    with torch.no_grad():
        p = model.layers[0].hidden_probs(batches[5].flatten(1)).mean(0).clamp(1e-3, 1 - 1e-3)
    model.train_step(Batch(batches[5]), 5)
    torch.testing.assert_close(model.layers[1].base_bias, torch.log(p / (1 - p)))
    assert (model.layers[1].b - model.layers[1].base_bias).abs().max() <= 0.1  # then one SGD step (lr 0.1, |grad| <= 1)
    for s in range(6, 10):
        assert model.train_step(Batch(batches[s]), s)["layer"] == 1.0
    assert moved(0) == set() and moved(1) == {"W", "b", "c"}


def test_linear_schedule_spans_each_layers_own_steps(mini):
    """hidden=(16, 8) over 10 steps: layer 0 trains on steps 0-4 at lr 0.1 x (1 - t/5), layer 1 on steps 5-9 from
    the full 0.1 down to 0.02; each layer's rate is left at 0 after its last step."""
    model = genzoo.build("dbn", mini.spec, seed=0, hidden=(16, 8), lr=0.1, schedule="linear")
    model.attach_data(mini.take(100))
    model.configure_optimizers(10)
    assert set(model.schedulers) == {"rbm0", "rbm1"}
    seen = []
    for s in range(10):
        layer = model.layer_at(s)
        seen.append((layer, model.optimizers[f"rbm{layer}"].param_groups[0]["lr"]))
        model.train_step(Batch(model.prepare(model.augment(mini.images[s * 20:(s + 1) * 20]))), s)
    assert seen == [(t // 5, pytest.approx(0.1 * (1 - (t % 5) / 5))) for t in range(10)]
    assert [model.optimizers[f"rbm{i}"].param_groups[0]["lr"] for i in (0, 1)] == [0.0, 0.0]


def test_unrolled_autoencoder_reproduces_the_stack_up_down_pass():
    """Before fine-tuning, encode/reconstruct are the stack's up and down passes (written out here from the RBMs'
    weights); the unrolled net computes the same; the first fine-tuning step unrolls, then the nets move on
    untied."""
    spec = DataSpec(1, 4, 5)
    model = genzoo.build("rbm-ae", spec, seed=0, hidden=(12, 8), code_dim=3, pretrain_fraction=0.5, init_std=0.5)
    with torch.no_grad():
        for layer in model.layers:
            layer.b.normal_()
            layer.c.normal_()
    (w0, b0, c0), (w1, b1, c1), (w2, b2, c2) = [(m.W.detach(), m.b.detach(), m.c.detach()) for m in model.layers]
    x = torch.rand(7, *spec.shape, generator=torch.Generator().manual_seed(0))
    v = x.flatten(1)
    code = torch.sigmoid(torch.sigmoid(v @ w0 + c0) @ w1 + c1) @ w2 + c2  # linear code units
    back = torch.sigmoid(torch.sigmoid(torch.sigmoid(code @ w2.T + b2) @ w1.T + b1) @ w0.T + b0)
    with torch.no_grad():
        assert not model.unrolled
        torch.testing.assert_close(model.encode(x), code)
        torch.testing.assert_close(model.reconstruct(x), back.reshape(x.shape))
        model.unroll()
        assert model.unrolled
        torch.testing.assert_close(model.encode(x), code)
        torch.testing.assert_close(model.reconstruct(x), back.reshape(x.shape))
    model = genzoo.build("rbm-ae", spec, seed=0, hidden=(12, 8), code_dim=3, pretrain_fraction=0.5)
    model.configure_optimizers(4)  # steps 0-1: pretraining; 2-3: fine-tuning
    for s in range(2):
        model.train_step(Batch(x), s)
    assert not model.unrolled
    out = model.train_step(Batch(x), 2)
    assert model.unrolled and set(out) == {"loss"}
    first = model.encoder[0]
    assert not torch.equal(first.weight, model.layers[0].W.T)  # one Adam step after the copy: untied
    assert (first.weight - model.layers[0].W.T).abs().max() < 2e-3  # ... by about the learning rate


@pytest.mark.learning
def test_greedy_training_raises_the_dbn_lower_bound(mini, mini_test):
    """A 784-64-32 DBN, 200 CD-1 steps a layer: the test bound rises far above the start (nearly the base-rate
    model) and training the top RBM raises it above the bound with an untrained top RBM (its first step only)."""
    data, test = mini.take(2000), mini_test.take(500)
    # CD-1 at a constant rate, the setting the thresholds below were measured with (the defaults are PCD-1 with a
    # decaying rate since 2026-12-04)
    model = genzoo.build("dbn", data.spec, seed=SEED, hidden=(64, 32), lr=0.1, persistent=False, schedule="constant")
    model.attach_data(data)
    model.configure_optimizers(400)
    v = model.prepare(model.layers[0].eval_images(test)).flatten(1)

    def bound():
        log_z, _ = model.layers[-1].log_partition(betas=1000, runs=50)
        return float(model.lower_bound(v, log_z, samples=5, generator=torch.Generator().manual_seed(0)).mean())

    start = bound()
    g = torch.Generator().manual_seed(SEED)
    for s in range(400):
        model.train_step(Batch(model.prepare(model.augment(data.images[torch.randint(2000, (50,), generator=g)]))), s)
        if s == 200:  # the top RBM's first step: its biases at the data's log-odds, weights ~ N(0, 0.01)
            top_untrained = bound()
    after = bound()
    record(start=start, top_untrained=top_untrained, after=after)
    # nats per image; measured (seeds 0-4, kernels avx2 (= native here) and default, 1 thread): start -200.4..-200.3,
    # top untrained -168.4..-165.3, after -158.2..-153.8; after - start 42.1..46.4, after - top untrained 10.2..12.7
    assert after > start + 25
    assert after > top_untrained + 5


@pytest.mark.learning
def test_rbm_pretraining_then_fine_tuning_lower_the_reconstruction_error(mini, mini_test):
    """784-256-128-64-16: 800 steps of RBM pretraining (200 a layer; the linear code layer at lr 0.01, since the
    paper's 0.001 is for 50 epochs of 60000 images) bring the test reconstruction error far below the untrained
    net's, 400 fine-tuning steps lower it further, and well below the same net fine-tuned as long from random
    weights (Hinton & Salakhutdinov's point)."""
    data, test = mini.take(2000), mini_test.take(500)
    model = genzoo.build("rbm-ae", data.spec, seed=SEED, hidden=(256, 128, 64), code_dim=16, lr_linear=0.01,
                         pretrain_fraction=2 / 3)
    model.attach_data(data)
    model.configure_optimizers(1200)
    untrained = model.evaluate(test)["mse"]
    g = torch.Generator().manual_seed(SEED)
    for s in range(1200):
        if s == 800:
            pretrained = model.evaluate(test)["mse"]
        model.train_step(Batch(model.prepare(data.images[torch.randint(2000, (50,), generator=g)])), s)
    finetuned = model.evaluate(test)["mse"]
    scratch = genzoo.build("rbm-ae", data.spec, seed=SEED, hidden=(256, 128, 64), code_dim=16, pretrain_fraction=0.0)
    scratch.attach_data(data)
    scratch.configure_optimizers(400)
    for s in range(400):
        scratch.train_step(Batch(scratch.prepare(data.images[torch.randint(2000, (50,), generator=g)])), s)
    from_scratch = scratch.evaluate(test)["mse"]
    record(untrained=untrained, pretrained=pretrained, finetuned=finetuned, from_scratch=from_scratch)
    # mse per pixel; measured (seeds 0-4, kernels avx2 (= native here) and default, 1 thread): untrained
    # 0.0737..0.0751, pretrained 0.0374..0.0387 (0.50..0.52 of untrained), fine-tuned 0.0304..0.0315 (0.0064..0.0082
    # below pretrained), from scratch 0.0588..0.0594 (fine-tuned / from scratch 0.51..0.53)
    assert pretrained < 0.65 * untrained
    assert finetuned < pretrained - 0.003
    assert finetuned < 0.7 * from_scratch


def fit(out, name, until=None, resume=False, **over):
    data = load("mnist-mini").take(200)
    model = genzoo.build(name, data.spec, seed=0, **over)
    cfg = TrainConfig(steps=10, batch_size=20, progress=False, log_every=5, n_samples=4)
    Trainer(model, data, cfg, run_dir=out).fit(resume=resume, until=until)


def assert_same_runs(a_dir, b_dir):
    a = load_ckpt(a_dir / "checkpoints/last.pt")["training_state"]
    b = load_ckpt(b_dir / "checkpoints/last.pt")["training_state"]
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert a["optimizers"].keys() == b["optimizers"].keys()
    for name, opt in a["optimizers"].items():
        for i, state in opt["state"].items():
            for k, v in state.items():
                assert torch.equal(torch.as_tensor(v), torch.as_tensor(b["optimizers"][name]["state"][i][k])), (name, k)
    return a


@pytest.mark.parametrize("schedule", ["constant", "linear"])
def test_exact_resume_dbn_across_a_layer_change(tmp_path, schedule):
    """Paused mid-layer (after step 3), at the layer change (after step 5: the next step starts the top RBM) and in
    the top layer (after step 7), with persistent chains in both layers and sampled propagation: the same weights,
    chains, momenta (and learning-rate schedules) as an uninterrupted run."""
    over = {"hidden": (16, 8), "persistent": True, "k": 2, "propagate": "samples", "sample_steps": 3,
            "schedule": schedule}
    fit(tmp_path / "straight", "dbn", **over)
    fit(tmp_path / "split", "dbn", until=3, **over)
    for until in (5, 7, None):
        fit(tmp_path / "split", "dbn", until=until, resume=True, **over)
    a = assert_same_runs(tmp_path / "straight", tmp_path / "split")
    assert a["model"]["layers.0.chains"].shape == (20, 784) and a["model"]["layers.1.chains"].shape == (20, 16)
    assert set(a["optimizers"]) == {"rbm0", "rbm1"} and a["optimizers"]["rbm1"]["state"]
    model = genzoo.load_run(str(tmp_path / "split"))
    x = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert x.shape == (5, 1, 28, 28) and 0 <= float(x.min()) and float(x.max()) <= 1


def test_exact_resume_rbm_ae_across_the_unrolling(tmp_path):
    """Paused in the third RBM's pretraining (after step 3), at the unrolling (after step 5: the next step unrolls)
    and in the fine-tuning (after step 7): the same nets, RBMs, Adam moments as an uninterrupted run."""
    over = {"hidden": (16, 8), "code_dim": 4, "pretrain_fraction": 0.5}
    fit(tmp_path / "straight", "rbm-ae", **over)
    fit(tmp_path / "split", "rbm-ae", until=3, **over)
    for until in (5, 7, None):
        fit(tmp_path / "split", "rbm-ae", until=until, resume=True, **over)
    a = assert_same_runs(tmp_path / "straight", tmp_path / "split")
    assert bool(a["model"]["unrolled"]) and a["optimizers"]["finetune"]["state"]


def test_cli_train_sample_and_eval(cli, tmp_path):
    run = tmp_path / "dbn"
    cli("train", "dbn", "--steps", "20", "--batch-size", "20", "--set", "hidden=16,8", "sample_steps=5",
        "ais_betas=30", "ais_runs=5", "bound_samples=2", "data.limit=400", "train.eval_samples=50",
        "train.eval_metrics=fid", "--out", run, "--quiet", check=True)
    m = json.loads((run / "metrics.json").read_text())
    assert m["test_log_likelihood_bound"] < 0 and m["test_rbm1_log_likelihood"] < 0 and m["test_fid"] > 0
    assert m["test_log_likelihood_bound_low"] <= m["test_log_likelihood_bound"]
    cli("sample", run, "--n", "8", "--out", tmp_path / "s.png", check=True)
    cli("sample", run, "--filters", "--n", "8", "--out", tmp_path / "f.png", check=True)
    assert (tmp_path / "s.png").stat().st_size > 0 and (tmp_path / "f.png").stat().st_size > 0
    r = cli("sample", run, "--labels", "1")
    assert r.returncode == 2 and "not conditional" in r.stderr
    run = tmp_path / "ae"
    cli("train", "rbm-ae", "--steps", "20", "--batch-size", "20", "--set", "hidden=16,8", "code_dim=4",
        "data.limit=400", "--out", run, "--quiet", check=True)
    m = json.loads((run / "metrics.json").read_text())
    assert 0 < m["test_mse"] < 0.2 and m["test_bce"] > 0
    cli("sample", run, "--reconstruct", "--n", "8", "--out", tmp_path / "r.png", check=True)


@pytest.mark.parametrize("name, over, message", [
    ("dbn", {"hidden": (16,)}, "at least two RBMs"),
    ("dbn", {"hidden": (16, 8), "layer_shares": (1.0,)}, "one share per hidden layer"),
    ("dbn", {"propagate": "means"}, "not one of"),
    ("rbm-ae", {"hidden": (16, 8), "layer_shares": (1.0, 1.0)}, "one share per RBM \\(3"),
    ("rbm-ae", {"pretrain_fraction": 1.5}, "at most 1"),
    ("rbm-ae", {"hidden": ()}, "at least one width"),
])
def test_bad_configs_say_what_to_change(name, over, message):
    with pytest.raises(ConfigError, match=message):
        genzoo.build(name, DataSpec(1, 4, 4), **over)


def test_dbn_takes_no_labels():
    with pytest.raises(ConfigError, match="not conditional"):
        genzoo.build("dbn", DataSpec(1, 4, 4), hidden=(3, 2)).sample(2, labels=torch.zeros(2))
