"""Feature networks: batching, precision, resizing, caching, stacked MNIST, Inception, runs, building."""

import importlib.util
import json
import sys
import types

import pytest
import torch
import torch.nn.functional as F

from genzoo.data.imageset import to_float
from genzoo.data.stacked import stack_digits
from genzoo.errors import CheckpointError
from genzoo.metrics import evaluate_images, features
from genzoo.metrics.features import ChannelStack, FeaturesUnavailable, domain_net, extract, resolve
from tests.conftest import ROOT
from tests.data.test_idx import write_mnist_like


@pytest.fixture(scope="module")
def net():
    return domain_net("mnist")


def test_penultimate_features_and_calibrated_logits(net, mini_test):
    x = mini_test.images[:64]
    out = net(x, batch_size=10)
    model = net.model
    with torch.no_grad():
        xf = to_float(x, model.input_range)
        assert torch.allclose(out.features, model.features(xf), atol=1e-5)
        assert torch.allclose(out.logits, model(xf), atol=1e-4)  # forward includes the 1/T head scale
    assert out.features.shape == (64, 128) and out.features.dtype == torch.float32
    assert torch.equal(net(x, batch_size=64).features, out.features) or \
        torch.allclose(net(x, batch_size=64).features, out.features, atol=1e-5)
    # fp32 even when called inside a bf16 autocast region (as during bf16 training)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = net(x)
    assert inside.features.dtype == torch.float32 and torch.allclose(inside.features, out.features, atol=1e-5)


def test_other_sizes_are_resized_to_the_net_input(net, mini_test):
    x = mini_test.images[:16]
    big = F.interpolate(x.float(), size=(32, 32), mode="bilinear", antialias=True).round().clamp(0, 255).byte()
    f = net(big).features
    assert f.shape == (16, 128)
    assert (net(big).logits.argmax(1) == mini_test.labels[:16]).float().mean() > 0.8  # still digits
    with pytest.raises(Exception, match="1-channel"):
        net(torch.zeros(2, 3, 28, 28, dtype=torch.uint8))


def test_cache_in_memory_and_on_disk(net, mini_test, feature_cache, monkeypatch):
    x = mini_test.images[:100]
    first = extract(net, x, cache=True)
    files = list((feature_cache / "features").glob(f"{net.key}-*.pt"))
    assert files, "real features are written to the disk cache"
    calls = []
    orig = type(net).__call__
    monkeypatch.setattr(type(net), "__call__", lambda self, *a, **k: calls.append(1) or orig(self, *a, **k))
    assert extract(net, x, cache=True) is first and not calls  # memory hit
    features._MEMORY.clear()
    again = extract(net, x, cache=True)
    assert torch.equal(again.features, first.features) and not calls  # disk hit
    path = feature_cache / "features" / f"{net.key}-{features.fingerprint(x)}.pt"
    path.write_bytes(b"damaged")
    features._MEMORY.clear()
    assert torch.equal(extract(net, x, cache=True).features, first.features) and calls == [1]  # recomputed
    extract(net, x[:50], cache=False)  # fakes are never cached
    assert not any("50" in p.name for p in (feature_cache / "features").iterdir() if p.stat().st_size < 0)


def test_damaged_weights_are_refused(tmp_path, monkeypatch):
    src = features.WEIGHTS_DIR
    (tmp_path / "mnist.json").write_text((src / "mnist.json").read_text())
    blob = bytearray((src / "mnist.pt").read_bytes())
    blob[-100] ^= 0xFF
    (tmp_path / "mnist.pt").write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="sha256"):
        features._load_weights(tmp_path / "mnist.json", tmp_path / "mnist.pt")


def test_stacked_mnist_modes(mini_test):
    ref = stack_digits(mini_test, 1000, seed=1)
    assert isinstance(resolve("auto", ref.name), ChannelStack)
    full = evaluate_images(stack_digits(mini_test, 2000, seed=2), ref, metrics="modes,fid")
    # 2000 uniform draws over 1000 triples hit ~1000 (1 - e^-2) = 865; KL to uniform is sampling noise
    assert full["modes"] > 820 and full["modes_total"] == 1000 and full["modes_kl"] < 0.5
    low = mini_test.subset((mini_test.labels < 5).nonzero().flatten())
    collapsed = evaluate_images(stack_digits(low, 2000, seed=3), ref, metrics="modes,fid")
    # digits 0-4 only: 125 of the 1000 modes, KL = log(1000 / 125) = log 8 when they are equally hit;
    # the 0.5% of digits the classifier misreads add a few stray modes with one sample each
    assert 120 <= collapsed["modes"] <= 200 and collapsed["modes_kl"] == pytest.approx(2.08, abs=0.2)
    assert collapsed["fid"] > 5 * full["fid"]


def test_stacked_features_are_per_channel(net, mini_test):
    s = stack_digits(mini_test, 20, seed=0)
    out = ChannelStack(net)(s.images)
    assert out.features.shape == (20, 384) and out.logits.shape == (20, 1000)
    per = [net(s.images[:, c:c + 1]).logits.argmax(1) for c in range(3)]
    assert torch.equal(out.logits.argmax(1), per[0] * 100 + per[1] * 10 + per[2])
    assert torch.allclose(out.logits.exp().sum(1), torch.ones(20), atol=1e-4)  # a joint distribution


def test_inception_without_package_or_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("GENZOO_INCEPTION_WEIGHTS", str(tmp_path / "missing.pth"))
    with pytest.raises(FeaturesUnavailable, match="genzoo never downloads.*GENZOO_INCEPTION_WEIGHTS"):
        resolve("inception")
    (tmp_path / "w.pth").write_bytes(b"x")
    monkeypatch.setenv("GENZOO_INCEPTION_WEIGHTS", str(tmp_path / "w.pth"))
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", raising=False)
    with pytest.raises(FeaturesUnavailable, match=r"torch-fidelity.*genzoo\[inception\]"):
        resolve("inception")


def test_inception_through_torch_fidelity_mock(monkeypatch, tmp_path, mini_test):
    seen = {}

    class FakeInception(torch.nn.Module):  # stands in for torch-fidelity's extractor
        def __init__(self, name, features_list, feature_extractor_weights_path=None):
            super().__init__()
            seen.update(name=name, features=features_list, weights=feature_extractor_weights_path)

        def forward(self, x):
            seen.setdefault("inputs", []).append((x.dtype, tuple(x.shape)))
            f = (x.float().mean((2, 3)) / 64).repeat(1, 683)[:, :2048]  # N x 2048, depends on the image
            return f, torch.zeros(len(x), 1008)

    mod = types.ModuleType("torch_fidelity.feature_extractor_inceptionv3")
    mod.FeatureExtractorInceptionV3 = FakeInception
    monkeypatch.setitem(sys.modules, "torch_fidelity", types.ModuleType("torch_fidelity"))
    monkeypatch.setitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", mod)
    (tmp_path / "w.pth").write_bytes(b"x")
    monkeypatch.setenv("GENZOO_INCEPTION_WEIGHTS", str(tmp_path / "w.pth"))
    r = evaluate_images(mini_test.images[:300], mini_test.subset(slice(1000, 1600)), metrics="kid,pr",
                        features="inception")
    assert seen["features"] == ["2048", "logits_unbiased"] and seen["weights"] == str(tmp_path / "w.pth")
    assert all(d == torch.uint8 and s[1:] == (3, 28, 28) for d, s in seen["inputs"])  # grey -> RGB, uint8
    assert r["features"].startswith("Inception-v3") and r["kid_subset_std"] > 0 and r["precision"] > 0.5


def test_a_classifier_run_as_feature_net(tmp_path, mini, mini_test):
    import genzoo
    from genzoo.training import TrainConfig, Trainer

    data = mini.take(1000)
    model = genzoo.build("classifier", data.spec, width=4, seed=0)
    Trainer(model, data, TrainConfig(steps=20, batch_size=50, progress=False), run_dir=tmp_path / "clf").fit()
    net = resolve(str(tmp_path / "clf"))
    assert net.num_classes == 10 and net(mini_test.images[:5]).features.shape == (5, 16)
    with pytest.raises(Exception, match="unknown features"):
        resolve(str(tmp_path / "nope"))


def test_build_script_on_small_files(tmp_path, monkeypatch):
    """The build path for datasets not on this machine: tiny Fashion-MNIST files in the real format."""
    write_mnist_like(tmp_path / "data" / "fashion-mnist", n_train=64, n_test=32)
    spec = importlib.util.spec_from_file_location("build_feature_nets", ROOT / "scripts" / "build_feature_nets.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "cache" / "genzoo" / "feature-nets"
    assert script.main(["fashion-mnist", "--data-dir", str(tmp_path / "data"), "--out", str(out), "--set",
                        "width=4", "train.steps=3", "train.batch_size=16"]) == 0
    record = json.loads((out / "fashion-mnist.json").read_text())
    assert record["dataset"] == "fashion-mnist" and record["train_images"] == 64 and record["test_images"] == 32
    assert 0 <= record["test_accuracy"] <= 1 and record["temperature"] > 0 and record["feature_dim"] == 16
    # genzoo finds user-built weights in ~/.cache/genzoo/feature-nets (here with no weights in the package)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(features, "WEIGHTS_DIR", tmp_path / "no-package-weights")
    monkeypatch.setattr(features, "_NETS", {})
    net = resolve("auto", "fashion-mnist")
    assert net.key.startswith("fashion-mnist-") and net(torch.zeros(3, 1, 28, 28, dtype=torch.uint8)).features.shape \
        == (3, 16)


@pytest.mark.parametrize("name", ["fashion-mnist", "cifar10-jpeg"])
def test_shipped_domain_nets_classify_the_real_test_images(name, shared_data):
    """The weights ship with their record: the sha256 matches (domain_net checks it), and on the first 1000 real
    test images the net is about as accurate as its record says (binomial sd at n=1000 is <= 1.2 points)."""
    from genzoo.data import load

    net = domain_net(name)
    record = json.loads((ROOT / "genzoo" / "metrics" / "weights" / f"{name}.json").read_text())
    test = load(name, "test", data_dir=shared_data, limit=1000)
    out = net(test.images, batch_size=250)
    accuracy = float((out.logits.argmax(1) == test.labels).float().mean())
    assert out.features.shape == (1000, record["feature_dim"])
    assert accuracy > record["test_accuracy"] - 0.04, (accuracy, record["test_accuracy"])
    assert resolve("auto", name).description == net.description  # `genzoo eval` on the dataset finds it
