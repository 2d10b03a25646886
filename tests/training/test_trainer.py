import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

import genzoo
from genzoo.checkpoint import load as load_ckpt
from genzoo.errors import TrainingError
from genzoo.training import TrainConfig, Trainer, load_model
from tests.conftest import ROOT, run_cli

TINY = {"width": 4}


def small(mini, n=640):
    return mini.take(n)


def train(mini, out, resume=False, until=None, **settings):
    data = small(mini)
    model = genzoo.build("classifier", data.spec, seed=settings.get("seed", 0), **TINY)
    cfg = TrainConfig(**{"steps": 20, "batch_size": 32, "progress": False, "log_every": 5,
                         "precision": "fp32", **settings})
    tr = Trainer(model, data, cfg, run_dir=out, eval_data=None)
    return tr, tr.fit(resume=resume, until=until)


def weights(path):
    return load_ckpt(path)["training_state"]["model"]


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_exact_resume_gives_identical_weights(mini, tmp_path):
    _, s = train(mini, tmp_path / "straight")
    assert s["status"] == "finished" and s["step"] == 20
    _, s1 = train(mini, tmp_path / "split", until=10)
    assert s1["status"] == "paused" and s1["step"] == 10
    _, s2 = train(mini, tmp_path / "split", resume=True)
    assert s2["step"] == 20
    assert_same(weights(tmp_path / "straight/checkpoints/last.pt"), weights(tmp_path / "split/checkpoints/last.pt"))
    # the optimizer state too (momentum buffers), and the log has each step row once
    a = load_ckpt(tmp_path / "straight/checkpoints/last.pt")["training_state"]["optimizers"]["net"]
    b = load_ckpt(tmp_path / "split/checkpoints/last.pt")["training_state"]["optimizers"]["net"]
    for k in a["state"]:
        assert torch.equal(a["state"][k]["momentum_buffer"], b["state"][k]["momentum_buffer"])
    steps = [json.loads(r)["step"] for r in (tmp_path / "split/metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20]


def test_resume_mid_epoch_with_augmentation(mini, tmp_path):
    # 640 images / 32 = 20 steps per epoch; pause inside the 2nd epoch; augmentation draws random numbers
    _, _ = train(mini, tmp_path / "a", steps=30)
    train(mini, tmp_path / "b", steps=30, until=27)
    train(mini, tmp_path / "b", steps=30, resume=True)
    assert_same(weights(tmp_path / "a/checkpoints/last.pt"), weights(tmp_path / "b/checkpoints/last.pt"))


def test_different_seeds_differ(mini, tmp_path):
    train(mini, tmp_path / "s0", seed=0, steps=5)
    train(mini, tmp_path / "s1", seed=1, steps=5)
    a, b = weights(tmp_path / "s0/checkpoints/last.pt"), weights(tmp_path / "s1/checkpoints/last.pt")
    assert not torch.equal(a["net.head.weight"], b["net.head.weight"])


def test_run_folder_contents(mini, tmp_path):
    train(mini, tmp_path / "r")
    r = tmp_path / "r"
    assert {p.name for p in r.iterdir()} >= {"config.json", "env.json", "metrics.jsonl", "metrics.json",
                                           "checkpoints", "samples"}
    cfg = json.loads((r / "config.json").read_text())
    assert cfg["model"] == "classifier" and cfg["model_config"]["width"] == 4 and cfg["train"]["steps"] == 20
    env = json.loads((r / "env.json").read_text())
    assert env["torch"] == torch.__version__ and "git_commit" in env and env["python"]
    model = load_model(r, which="last")
    assert model.checkpoint_step == 20 and not model.training


def test_nan_loss_stops_and_keeps_last_good_checkpoint(mini, tmp_path, monkeypatch):
    from genzoo.models.classifier import Classifier

    real_step = Classifier.train_step

    def step(self, batch, step):
        out = real_step(self, batch, step)
        if step >= 12:
            out["loss"] = torch.tensor(float("nan"))
        return out

    monkeypatch.setattr(Classifier, "train_step", step)
    with pytest.raises(TrainingError, match=r"loss became nan at step 13.*last good checkpoint"):
        train(mini, tmp_path / "n", checkpoint_every=10)
    assert load_ckpt(tmp_path / "n/checkpoints/last.pt")["step"] == 10
    assert json.loads((tmp_path / "n/metrics.json").read_text())["train_status"] == "diverged"


def test_early_stopping_on_validation(mini, tmp_path, monkeypatch):
    from genzoo.models.classifier import Classifier

    monkeypatch.setattr(Classifier, "evaluate", lambda self, data, batch_size=1000: {"accuracy": 0.5})
    tr, s = train(mini, tmp_path / "e", steps=40, eval_every=5, early_stop_patience=2, val_fraction=0.2)
    assert s["status"] == "early_stopped" and s["step"] == 15  # best at 5, no gain at 10 and 15
    assert (tmp_path / "e/checkpoints/best.pt").is_file()
    assert load_ckpt(tmp_path / "e/checkpoints/best.pt")["step"] == 5


def _start(args, out):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "genzoo", "train", "classifier", "--out", str(out),
                             "--seed", "3", "--batch-size", "32", "--precision", "fp32",
                             "--set", "width=4", "data.limit=640", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path, proc, timeout=120):
    t = time.time()
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"training exited early:\n{proc.stdout.read()}\n{proc.stderr.read()}")
        if time.time() - t > timeout:
            proc.kill()
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.05)


def test_kill_9_then_resume_gives_the_same_weights(tmp_path):
    steps = 400  # a fast CPU trains this net at ~3 ms a step, and 60 steps ended before the kill landed
    args = ["--steps", str(steps), "--set", "train.checkpoint_every=4", "train.log_every=4"]
    straight = _start(args, tmp_path / "straight")
    assert straight.wait(timeout=300) == 0, straight.stderr.read()
    victim = _start(args, tmp_path / "killed")
    _wait_for(tmp_path / "killed/checkpoints/last.pt", victim)
    time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    step = load_ckpt(tmp_path / "killed/checkpoints/last.pt")["step"]
    assert step < steps, "the run finished before it could be killed; make it longer"
    r = run_cli("train", "--resume", str(tmp_path / "killed"), env={"OMP_NUM_THREADS": "1"}, check=True)
    assert f"resuming classifier at step {step}/{steps}" in r.stdout
    assert_same(weights(tmp_path / "straight/checkpoints/last.pt"), weights(tmp_path / "killed/checkpoints/last.pt"))


def test_ctrl_c_saves_and_resumes(tmp_path):
    proc = _start(["--steps", "400", "--set", "train.log_every=2"], tmp_path / "c")
    _wait_for(tmp_path / "c/metrics.jsonl", proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "genzoo train --resume" in out
    step = load_ckpt(tmp_path / "c/checkpoints/last.pt")["step"]
    assert 0 < step < 400
    r = run_cli("train", "--resume", str(tmp_path / "c"), "--quiet", env={"OMP_NUM_THREADS": "1"}, check=True)
    assert load_ckpt(tmp_path / "c/checkpoints/last.pt")["step"] == 400, r.stdout


def test_torchrun_data_parallel_gloo(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    with socket.socket() as sock:  # a free port: a fixed one clashed with another job on a shared machine
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", port,
           "-m", "genzoo", "train", "classifier", "--steps", "12", "--batch-size", "16", "--out",
           str(tmp_path / "ddp"), "--precision", "fp32", "--set", "width=4", "data.limit=640",
           "train.log_every=4"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    state = load_ckpt(tmp_path / "ddp/checkpoints/last.pt")
    assert state["step"] == 12 and len(state["rng"]) == 2  # both ranks' RNG states for exact resume
    rows = [json.loads(x) for x in (tmp_path / "ddp/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [4, 8, 12]  # logged once (rank 0), not twice
    env_json = json.loads((tmp_path / "ddp/env.json").read_text())
    assert env_json["world_size"] == 2
    # 2 ranks x 16 images per step on disjoint shards: 20 steps per epoch of the 640 images
    assert rows[-1]["epoch"] == pytest.approx(12 / 20)


def test_time_budget_stops_like_a_finished_run(mini, tmp_path):
    tr, summary = train(mini, tmp_path / "t", max_minutes=1e-9)  # spent after the first step
    assert summary["status"] == "time_limit" and summary["step"] == 1
    assert load_ckpt(tmp_path / "t/checkpoints/last.pt")["step"] == 1
    assert (tmp_path / "t/samples").is_dir()
    assert json.loads((tmp_path / "t/metrics.json").read_text())["train_status"] == "time_limit"


def test_default_cadence_keeps_evaluation_within_its_budget(mini, tmp_path, monkeypatch):
    """An epoch run whose evaluation costs half an epoch of training (measured as it runs, so the test holds on a
    loaded machine): the default cadence evaluates at the first epoch end, then only while evaluations took at most
    10% of the training time, and at the end; eval_budget=0 evaluates every epoch, as does an explicit eval_every."""
    from genzoo.models.classifier import Classifier

    real_step = Classifier.train_step
    step_seconds: list[float] = []
    spe = 9  # 576 training images (a tenth held out) in batches of 64

    def timed_step(self, batch, step):
        t0 = time.monotonic()
        out = real_step(self, batch, step)
        step_seconds.append(time.monotonic() - t0)
        return out

    eval_sleeps: list[float] = []

    def slow_eval(self, data, batch_size=1000):
        eval_sleeps.append(0.5 * sum(step_seconds[-spe:]))
        time.sleep(eval_sleeps[-1])
        return {"accuracy": 0.5}

    monkeypatch.setattr(Classifier, "train_step", timed_step)
    monkeypatch.setattr(Classifier, "evaluate", slow_eval)

    def eval_epochs(out, **over):
        eval_sleeps.clear()
        tr, s = train(mini, out, steps=None, epochs=10, batch_size=64, val_fraction=0.1, log_every=100, **over)
        rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
        return [r["epoch"] for r in rows if "val_accuracy" in r], tr

    budgeted, tr = eval_epochs(tmp_path / "budget")
    assert budgeted[0] == pytest.approx(1.0) and budgeted[-1] == pytest.approx(10.0)
    assert 2 <= len(budgeted) <= 5, budgeted  # nominally epochs 1, 6, 10
    # the rule keeps the evaluations before the final one (always done) within 10% of the training time, give or take
    # the last one it allowed, which may overshoot; evaluating every epoch would take 50%. (A bound on all of them
    # together, 16%, failed once in CI: with three evaluations of half an epoch each it had 1% to spare.)
    before_final = eval_sleeps[:-1]
    assert sum(before_final) - max(before_final) <= 0.10 * tr.elapsed, (eval_sleeps, tr.elapsed)
    assert tr.eval_seconds <= 0.3 * tr.elapsed, (tr.eval_seconds, tr.elapsed)
    every, _ = eval_epochs(tmp_path / "every", eval_budget=0.0)
    assert every == pytest.approx([float(e) for e in range(1, 11)])
    fixed, _ = eval_epochs(tmp_path / "fixed", eval_every=spe)
    assert fixed == every


def test_evaluation_never_changes_the_random_numbers_training_gets(mini, tmp_path, monkeypatch):
    """An evaluation that draws from the global RNG (as sampling-based metrics may) leaves training's random
    stream alone: evaluating every 5 steps or never gives identical weights (the default cadence makes the
    evaluated epochs depend on timing, so this must hold)."""
    from genzoo.models.classifier import Classifier

    real_step = Classifier.train_step

    def noisy_step(self, batch, step):  # training that reads the global RNG (as dropout or augmentation do)
        out = real_step(self, batch, step)
        with torch.no_grad():
            next(self.parameters()).add_(torch.randn_like(next(self.parameters())) * 1e-3)
        return out

    def greedy_eval(self, data, batch_size=1000):
        return {"accuracy": float(torch.rand(()))}

    monkeypatch.setattr(Classifier, "train_step", noisy_step)
    monkeypatch.setattr(Classifier, "evaluate", greedy_eval)
    train(mini, tmp_path / "often", eval_every=5, val_fraction=0.1)
    train(mini, tmp_path / "never", val_fraction=0.1)
    assert_same(weights(tmp_path / "often/checkpoints/last.pt"), weights(tmp_path / "never/checkpoints/last.pt"))


def test_resolve_device_names_the_cuda_devices_a_machine_has(monkeypatch):
    """cuda:N beyond the machine's devices failed deep inside torch; plain cuda is the rank's own device."""
    from genzoo.errors import ConfigError
    from genzoo.training.distributed import DistInfo
    from genzoo.training.trainer import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    rank1 = DistInfo(rank=1, world_size=2, local_rank=1)
    assert resolve_device("cuda", rank1) == torch.device("cuda", 1)
    assert resolve_device("cuda:0", rank1) == torch.device("cuda", 0)
    with pytest.raises(ConfigError, match=r"'cuda:2': this machine has 2 CUDA device\(s\), cuda:0 to cuda:1"):
        resolve_device("cuda:2", rank1)
    with pytest.raises(ConfigError, match="unknown device 'meta'"):
        resolve_device("meta", rank1)
