"""Generative models get sample-quality metrics without doing anything: Model.evaluate, the Trainer's
periodic evaluation (a quality-over-time curve in metrics.jsonl), `genzoo eval RUN` and
`genzoo eval --real --fake`."""

import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from genzoo import registry
from genzoo.cli import main
from genzoo.config import field
from genzoo.data.images import write_png
from genzoo.data.imageset import ImageSet
from genzoo.models.base import Model
from genzoo.training import TrainConfig, Trainer
from tests.data.test_formats import write_cifar


@dataclass
class MeanImageConfig:
    lr: float = field(0.1, "learning rate", gt=0)


class MeanImage(Model):
    """Samples its learnable mean image plus seeded noise; learns the data mean (MSE): a tiny stand-in GAN."""

    input_range = (-1.0, 1.0)

    def __init__(self, cfg, spec):
        super().__init__(cfg, spec)
        self.mean = nn.Parameter(torch.full(spec.shape, -1.0))  # starts black

    def configure_optimizers(self, total_steps):
        self.optimizers = {"g": torch.optim.SGD([self.mean], lr=self.cfg.lr)}

    def train_step(self, batch, step):
        loss = (self.mean - batch.x).pow(2).mean()
        self.optimize("g", loss)
        return {"loss": loss.detach()}

    def sample(self, n, labels=None, generator=None):
        noise = 0.5 * torch.randn((n, *self.spec.shape), generator=generator)
        return (self.mean.detach() + noise).clamp(-1, 1)


if "test-mean-image" not in registry._REGISTRY:
    registry.register("test-mean-image", config=MeanImageConfig, family="test")(MeanImage)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, mini, mini_test):
    """A trained stand-in run evaluated every 10 steps on 500 samples."""
    out = tmp_path_factory.mktemp("runs") / "mean"
    model = registry.build("test-mean-image", mini.spec)
    cfg = TrainConfig(steps=40, batch_size=50, progress=False, log_every=10, eval_every=10, eval_samples=500,
                      eval_metrics="fid,kid")
    Trainer(model, mini.take(1000), cfg, run_dir=out, eval_data=mini_test).fit()
    return out


def test_trainer_writes_a_quality_curve(run_dir):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    curve = [(r["step"], r["test_fid"], r["test_kid"]) for r in rows if "test_fid" in r]
    assert [s for s, _, _ in curve] == [10, 20, 30, 40]
    assert curve[0][1] > curve[-1][1] and curve[0][2] > curve[-1][2]  # the mean image gets closer to digits
    final = json.loads((run_dir / "metrics.json").read_text())
    assert final["test_fid"] == curve[-1][1] and final["test_n"] == 500


def test_model_evaluate_defaults_and_the_helper(mini, mini_test):
    model = registry.build("test-mean-image", mini.spec)
    res = model.evaluate(mini_test.take(500))  # no options set: the training metrics on 2000 samples
    assert {"fid", "kid", "precision", "recall"} <= res.keys() and res["n"] == 2000

    class WithLikelihood(MeanImage):  # e.g. a VAE: its own figures plus the sample metrics
        def evaluate(self, data, batch_size=1000):
            return {"nll": 1.25, **self.sample_metrics(data)}

    m = WithLikelihood(MeanImageConfig(), mini.spec)
    from genzoo.metrics import EvalOptions

    m.eval_options = EvalOptions(n=300, metrics=("fid",))
    assert set(m.evaluate(mini_test.take(300))) >= {"nll", "fid"}


def test_no_feature_network_does_not_stop_training(tmp_path, mini):
    faces = ImageSet(mini.images[:400, :, :, :20].clone(), name="frey")  # a dataset without a feature net
    model = registry.build("test-mean-image", faces.spec)
    cfg = TrainConfig(steps=4, batch_size=50, progress=False, eval_every=2, eval_samples=50)
    with pytest.warns(UserWarning, match="no domain feature network for dataset 'frey'"):
        summary = Trainer(model, faces, cfg, run_dir=tmp_path / "r", eval_data=faces.take(100)).fit()
    assert summary["status"] == "finished"
    assert not any("test_fid" in line for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines())


def test_genzoo_eval_run(run_dir, capsys):
    assert main(["eval", str(run_dir), "--n", "400", "--metrics", "fid,kid,pr,nn", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "fid" in out and "+/-" in out and "vs mnist-mini test (2000 images)" in out
    m = json.loads((run_dir / "metrics.json").read_text())
    assert {"fid", "fid_std", "kid", "kid_subset_std", "precision", "recall", "nn_train_ratio"} <= m.keys()
    assert m["eval_split"] == "test" and m["seeds"] == 2 and m["n"] == 400 and m["eval_checkpoint_step"] == 40
    assert m["fid"] > 0 and "test_fid" in m  # the training-time figure is kept beside it
    # every metric that applies, by default (nn: the run's training split is loaded)
    assert main(["eval", str(run_dir), "--n", "300"]) == 0
    m = json.loads((run_dir / "metrics.json").read_text())
    assert {"density", "coverage", "is", "class_kl", "nn_copy_fraction"} <= m.keys()


def write_pngs(root, images, labels=None):
    for i, img in enumerate(images):
        folder = root if labels is None else root / str(int(labels[i]))
        folder.mkdir(parents=True, exist_ok=True)
        write_png(folder / f"{i:05d}.png", img)


def test_genzoo_eval_folders(cli, tmp_path, mini_test):
    fake = tmp_path / "fake"
    write_pngs(fake, mini_test.images[:300], mini_test.labels[:300])  # "generated" by another tool, per class
    r = cli("eval", "--real", "mnist-mini", "--fake", str(fake), "--metrics", "fid,pr,cacc")
    assert r.returncode == 0, r.stderr
    m = json.loads((fake / "metrics.json").read_text())
    assert m["n"] == 300 and m["precision"] > 0.8 and m["cond_accuracy"] > 0.97 and m["real_split"] == "test"
    assert "cond_accuracy" in r.stdout and "features: genzoo mnist classifier" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["eval"], "give a run folder"),
    (["eval", "--fake", "x"], "--real and --fake go together"),
    # a run's options, once silently ignored with folders (and --n over the run cap was refused with a run's message)
    (["eval", "--real", "mnist-mini", "--fake", "{tmp}/flat", "--n", "2000000", "--seeds", "3"],
     "--n, --seeds: for a run folder; --real/--fake scores the images in --fake as they are"),
    (["eval", "--real", "mnist-mini", "--fake", "{tmp}/flat", "--metrics", "cacc"], "one subfolder per class"),
    (["eval", "--real", "cifar10", "--data-dir", "{tmp}/data", "--fake", "{tmp}/flat"],  # no net shipped for it
     "python scripts/build_feature_nets.py cifar10"),
    (["eval", "--real", "mnist-mini", "--fake", "{tmp}/flat", "--metrics", "fid,fdi"], "unknown metric(s) fdi"),
])
def test_eval_errors_are_one_clear_line(cli, tmp_path, mini_test, args, message):
    write_pngs(tmp_path / "flat", mini_test.images[:20])
    write_cifar(tmp_path / "data" / "cifar10")
    r = cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
