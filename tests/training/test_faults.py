"""Faults while training: a nan at step k, a disk that fills up during a checkpoint write, a file-size
limit, two processes on one run folder, resuming a run that ended or never reached a checkpoint."""

import errno
import json
import os
import resource
import subprocess
import sys
import time

import pytest
import torch

import genzoo
from genzoo import checkpoint as ckpt
from genzoo import registry
from genzoo.cli import main as genzoo_main
from genzoo.errors import CheckpointError, ConfigError, TrainingError
from genzoo.training import TrainConfig, Trainer
from tests.training import killchain as kc

NAN_FAMILIES = {**kc.FAMILIES, "classifier": {"width": 4}}
STEPS, EVERY, NAN_AT = 8, 3, 6  # the nan appears during step 6, a checkpoint step (last good: step 3)


def _train(family, data, out, resume=False, until=None, steps=STEPS, **settings):
    model = genzoo.build(family, data.spec, seed=3, **NAN_FAMILIES[family])
    cfg = TrainConfig(steps=steps, batch_size=16, progress=False, log_every=2, checkpoint_every=EVERY,
                      precision="fp32", tensorboard=False, n_samples=4, **settings)
    return Trainer(model, data, cfg, run_dir=out).fit(resume=resume, until=until)


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _all_finite(state) -> bool:
    tensors = [v for v in kc._flatten(state["training_state"]).values() if isinstance(v, torch.Tensor)]
    return all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())


@pytest.mark.parametrize("family", list(NAN_FAMILIES))
def test_nan_at_step_k_stops_keeps_the_last_good_checkpoint_and_resumes_exactly(family, mini, tmp_path, monkeypatch):
    data = mini.take(160)
    _train(family, data, tmp_path / "reference")
    cls = registry.get(family).model_cls
    real_step = cls.train_step

    def step_with_nan(self, batch, step):
        out = real_step(self, batch, step)
        if step + 1 == NAN_AT:  # the loss of this step is finite: only the weights check can see it
            if family == "classifier":  # a buffer (batchnorm statistics) rather than a parameter
                next(b for b in self.buffers() if b.is_floating_point()).fill_(float("nan"))
            else:
                next(self.parameters()).data.fill_(float("nan"))
        return out

    monkeypatch.setattr(cls, "train_step", step_with_nan)
    with pytest.raises(TrainingError) as e:
        _train(family, data, tmp_path / "run")
    msg = str(e.value)
    assert f"became nan/inf at step {NAN_AT}" in msg and "training diverged" in msg
    assert f"last good checkpoint is kept: {tmp_path / 'run/checkpoints/last.pt'} (step {EVERY})" in msg
    assert "would most likely diverge again" in msg and "--lr" in msg and "after lowering" not in msg
    state = ckpt.load(tmp_path / "run/checkpoints/last.pt")
    assert state["step"] == EVERY and _all_finite(state)
    assert json.loads((tmp_path / "run/metrics.json").read_text())["train_status"] == "diverged"
    monkeypatch.undo()  # the fault was transient: the resumed run is the uninterrupted one
    assert _train(family, data, tmp_path / "run", resume=True)["status"] == "finished"
    assert kc.differences(tmp_path / "reference", tmp_path / "run") == []
    assert kc.log_rows(tmp_path / "run") == kc.log_rows(tmp_path / "reference")


def test_nan_loss_before_the_first_checkpoint_says_none_was_written(mini, tmp_path, monkeypatch):
    from genzoo.models.classifier import Classifier

    real_step = Classifier.train_step
    monkeypatch.setattr(Classifier, "train_step",
                        lambda self, b, s: {**real_step(self, b, s), "loss": torch.tensor(float("inf"))})
    with pytest.raises(TrainingError, match=r"loss became inf at step 1: .*No checkpoint was written.*--lr"):
        _train("classifier", mini.take(160), tmp_path / "run")
    assert not (tmp_path / "run/checkpoints/last.pt").exists()


def _disk_full_on_write(monkeypatch, n_ok: int, folder):
    """The checkpoint write after `n_ok` good ones fails with ENOSPC half-way; returns the bytes last.pt had."""
    real, seen = ckpt._write_bytes, {"writes": 0, "before": None}

    def write(f, data):
        seen["writes"] += 1
        if seen["writes"] <= n_ok:
            return real(f, data)
        seen["before"] = (folder / "last.pt").read_bytes()
        f.write(bytes(data[:len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ckpt, "_write_bytes", write)
    return seen


def test_disk_full_during_a_checkpoint_write_keeps_last_pt_and_resumes(mini, tmp_path, monkeypatch):
    data = mini.take(160)
    _train("classifier", data, tmp_path / "reference")
    run = tmp_path / "run"
    seen = _disk_full_on_write(monkeypatch, 1, run / "checkpoints")
    with pytest.raises(CheckpointError) as e:
        _train("classifier", data, run)
    msg = str(e.value)
    assert msg.startswith(f"could not write {run / 'checkpoints/last.pt'}: no space left on the device (")
    assert "MiB free in" in msg and "last.pt keeps its previous version" in msg
    assert f"Free some space, then continue the run from step {EVERY} with `genzoo train --resume {run}`." in msg
    assert (run / "checkpoints/last.pt").read_bytes() == seen["before"]  # byte for byte
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.pt"]  # no temp file
    monkeypatch.undo()
    _train("classifier", data, run, resume=True)
    assert kc.differences(tmp_path / "reference", run) == []


def test_cli_disk_full_prints_one_line_and_exits_2(tmp_path, monkeypatch, capsys):
    def full(f, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ckpt, "_write_bytes", full)
    code = genzoo_main(["train", "classifier", "--steps", "8", "--out", str(tmp_path / "run"), "--quiet",
                        "--precision", "fp32", "--set", "width=4", "data.limit=160", "train.checkpoint_every=2"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("genzoo: error: could not write ") and "Traceback" not in err
    assert "no space left on the device" in err and "last.pt was not written" in err
    assert f"continue the run from step 0 with `genzoo train --resume {tmp_path / 'run'}`" in err


_LIMITED = ("import resource, sys; lim = int(sys.argv[1]); resource.setrlimit(resource.RLIMIT_FSIZE, (lim, lim)); "
            "from genzoo.cli import main; sys.exit(main(sys.argv[2:]))")


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="no file-size limit on this platform")
def test_file_size_limit_of_the_kernel_fails_the_write_cleanly(tmp_path):
    # the kernel refuses the write past the limit (EFBIG; Python ignores SIGXFSZ), as a full disk would
    run = tmp_path / "run"
    args = kc.train_args("conv-ae", run)
    killed = kc.run_genzoo(args, kc.Kill("between", step=5), tmp_path / "kills.jsonl")  # last.pt at step 3
    assert killed.returncode == -9, killed.stderr
    before = (run / "checkpoints/last.pt").read_bytes()
    limit = len(before) // 2  # the json files stay far below it, the next checkpoint does not
    p = subprocess.run([sys.executable, "-c", _LIMITED, str(limit), "train", "--resume", str(run), "--quiet"],
                       cwd=kc.ROOT, env=kc._env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert p.stderr.startswith(f"genzoo: error: could not write {run / 'checkpoints/last.pt'}: file too large")
    assert f"Raise the limit, then continue the run from step {kc.CHECKPOINT_EVERY}" in p.stderr
    assert (run / "checkpoints/last.pt").read_bytes() == before
    assert kc.leftovers(run) == []


def test_two_processes_on_one_run_folder(tmp_path):
    """A second `genzoo train` on a folder another one is writing refuses (new run or --resume) and changes
    nothing; once the first is killed -9, the kernel has dropped its lock and --resume goes on."""
    run, log = tmp_path / "run", tmp_path / "pause.jsonl"
    cmd = [sys.executable, "-m", "tests.training.killchain", json.dumps({"kind": "pause", "step": 5}), str(log),
           "--", *kc.train_args("conv-ae", run)]
    first = subprocess.Popen(cmd, cwd=kc.ROOT, env=kc._env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        t0 = time.monotonic()
        while not log.exists():  # the first process holds the run at step 5, checkpoint of step 3 written
            assert first.poll() is None, first.communicate()
            assert time.monotonic() - t0 < 120, "the first process did not reach step 5"
            time.sleep(0.05)
        before = _snapshot(run)
        for args in (kc.train_args("conv-ae", run), ["train", "--resume", str(run), "--quiet"]):
            p = kc.run_genzoo(args)
            assert p.returncode == 2, p.stdout + p.stderr
            assert p.stderr == (f"genzoo: error: {run} is being written by another genzoo process (pid {first.pid}); "
                                "wait for it or choose another --out\n")
            assert _snapshot(run) == before
    finally:
        first.kill()
        first.communicate()
    p = kc.run_genzoo(["train", "--resume", str(run), "--quiet"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert ckpt.load(run / "checkpoints/last.pt")["trainer"]["status"] == "finished"


def test_resuming_an_ended_run_is_refused_and_writes_nothing(mini, tmp_path, capsys):
    _train("classifier", mini.take(160), tmp_path / "run")
    before = _snapshot(tmp_path / "run")
    assert genzoo_main(["train", "--resume", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{tmp_path / 'run'} already ended (status finished at step {STEPS}/{STEPS}), so there is nothing" in err
    assert _snapshot(tmp_path / "run") == before  # not even the lock file was touched
    # nor does a new run pointed at it
    assert genzoo_main(["train", "classifier", "--steps", "8", "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert _snapshot(tmp_path / "run") == before
    with pytest.raises(ConfigError, match="already ended"):  # the Python API says the same
        _train("classifier", mini.take(160), tmp_path / "run", resume=True)
    # a run that ended at its time budget has nothing left either
    _train("classifier", mini.take(160), tmp_path / "budget", max_minutes=1e-9)
    with pytest.raises(ConfigError, match=r"already ended \(status time_limit at step 1/8\)"):
        _train("classifier", mini.take(160), tmp_path / "budget", resume=True, max_minutes=1e-9)


def test_resume_before_the_first_checkpoint_starts_from_step_0(mini, tmp_path, capsys):
    data = mini.take(160)
    _train("classifier", data, tmp_path / "reference")
    run = tmp_path / "run"
    _train("classifier", data, run, until=2)  # a paused run has a checkpoint: remove it, as if killed at step 2
    (run / "checkpoints/last.pt").unlink()
    assert [json.loads(r)["step"] for r in (run / "metrics.jsonl").read_text().splitlines()] == [2]
    s = _train("classifier", data, run, resume=True)
    assert s["status"] == "finished" and s["step"] == STEPS
    assert kc.differences(tmp_path / "reference", run) == []
    assert kc.log_rows(run) == kc.log_rows(tmp_path / "reference")  # the stale row of step 2 is gone


def test_resume_needs_a_run(tmp_path, mini):
    with pytest.raises(CheckpointError, match="has no run to resume"):
        _train("classifier", mini.take(160), tmp_path / "nothing", resume=True)
