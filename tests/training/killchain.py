"""kill -9 a `genzoo train` run at chosen or random moments, resume it, and compare with an uninterrupted run.

Used by tests/training/test_kill_resume.py (a few kills per family) and scripts/kill_resume.py (ten per family).

Parent side: `reference` runs a family uninterrupted; `chain` runs the same command as a victim, kills it
(one `Kill` per process), resumes it with `genzoo train --resume` until it ends, and `differences` compares
every tensor and value of the two final checkpoints.

Victim side: `python -m tests.training.killchain KILL_JSON LOG -- ARGS...` installs the kill described by
KILL_JSON and runs `genzoo.cli.main(ARGS)`; just before it SIGKILLs itself it appends what it was doing to
LOG (one JSON line), so that the parent knows where each kill landed. The kinds of kill:

    between   at the start of step `step`, after the previous step, its log row and checkpoint
    mid_step  inside step `step`, right after its first optimizer update (a GAN: between D and G)
    write     inside the `write`-th checkpoint write of the process, `fraction` of the file written
    timer     `delay` seconds after training starts, wherever the process then is (a thread kills it), or
              as training ends if that comes first (so that every planned kill lands)
    early     (planned as mid_step) inside a step before the first checkpoint: the resume starts from scratch
    pause     no kill: at the start of step `step` the process sleeps (holding the run folder) until killed
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[2]
STEPS = 30
CHECKPOINT_EVERY = 3
LOG_EVERY = 2
SEED = 11
# tiny nets so that a run takes about a second, most of it start-up; each keeps its family's defining trait
FAMILIES: dict[str, dict[str, Any]] = {
    "dcgan": {"g_width": 4, "d_width": 4, "ema": 0.9},  # a generator weight average (EMA)
    "wgan-gp": {"g_width": 4, "d_width": 4},  # 5 critic steps per generator step, gradient penalty
    "vae": {"hidden": (16,), "latent_dim": 4, "eval_k": 2},
    "conv-ae": {"width": 4, "code_dim": 4},
    "cdcgan": {"g_width": 4, "d_width": 4},
    "infogan": {"g_width": 4, "d_width": 4, "g_hidden": 16, "d_hidden": 16, "q_hidden": 8},
}
KINDS = ("between", "mid_step", "write", "timer", "early")
# timer delays: fit() spends about this long before the first step (run folder, env.json with git), then
# a step of these nets takes about this long on one CPU thread
SETUP_SECONDS, SECONDS_PER_STEP = 0.4, 0.02
_FINAL = ("finished", "early_stopped", "time_limit")


@dataclass
class Kill:
    kind: str
    step: int = 0  # between / mid_step: the step (1-based) it lands in or before
    write: int = 1  # write: the n-th checkpoint write of the process
    fraction: float = 0.5  # write: part of the file written when it lands
    delay: float = 0.0  # timer: seconds after fit() starts


@dataclass
class ChainResult:
    family: str
    kills: int = 0
    kills_in_write: int = 0
    resumes: int = 0
    from_scratch: int = 0  # resumes of a run killed before its first checkpoint
    restarts: int = 0  # runs killed before config.json was written: started again with the first command
    late_timers: int = 0  # timer kills that landed as training ended (the delay was longer than the run)
    landed: list[dict[str, Any]] = field(default_factory=list)  # the victims' records, one per kill
    seconds: float = 0.0


# ---- parent side --------------------------------------------------------------------------------
def train_args(family: str, out: Path) -> list[str]:
    return ["train", family, "--out", str(out), "--steps", str(STEPS), "--seed", str(SEED), "--batch-size", "16",
            "--precision", "fp32", "--quiet", "--set", *_settings(FAMILIES[family]),
            f"train.checkpoint_every={CHECKPOINT_EVERY}", f"train.log_every={LOG_EVERY}", "train.tensorboard=false",
            "train.eval_samples=50", "train.eval_metrics=kid", "train.n_samples=4", "data.limit=320"]


def _settings(cfg: dict[str, Any]) -> list[str]:
    return [f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in cfg.items()]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


def run_genzoo(args: list[str], kill: Kill | None = None, log: Path | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """`genzoo ARGS` in a subprocess; with `kill`, as a victim that kills itself as described."""
    if kill is None:
        cmd = [sys.executable, "-m", "genzoo", *args]
    else:
        cmd = [sys.executable, "-m", "tests.training.killchain", json.dumps(asdict(kill)), str(log), "--", *args]
    return subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)


def reference(family: str, out: Path) -> subprocess.Popen:
    """Start the uninterrupted run (in the background: it runs alongside the victim chain)."""
    return subprocess.Popen([sys.executable, "-m", "genzoo", *train_args(family, out)], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _checkpoint(out: Path) -> dict[str, Any] | None:
    from genzoo.checkpoint import load

    last = out / "checkpoints" / "last.pt"
    return load(last) if last.is_file() else None


def _writes_left(start: int) -> int:
    """Checkpoint writes a process resuming at `start` makes: the periodic ones, then the final one."""
    return sum(1 for s in range(start + 1, STEPS + 1) if s % CHECKPOINT_EVERY == 0) + 1


def plan(kind: str, start: int, rng: random.Random) -> Kill:
    """A kill of `kind` at a random moment of a process that resumes at step `start`."""
    if start >= STEPS or kind == "write":  # at the last step only the final writes are left
        return Kill("write", write=rng.randint(1, _writes_left(start)), fraction=rng.uniform(0.02, 0.98))
    if kind == "early" and start == 0:  # before the first checkpoint: the resume starts from step 0
        return Kill("mid_step", step=rng.randint(1, CHECKPOINT_EVERY - 1))
    if kind == "between":
        return Kill("between", step=rng.randint(min(start + 2, STEPS), STEPS))
    if kind in ("mid_step", "early"):
        return Kill("mid_step", step=rng.randint(start + 1, STEPS))
    if kind == "timer":
        return Kill("timer", delay=rng.uniform(0.0, SETUP_SECONDS + (STEPS - start) * SECONDS_PER_STEP))
    raise ValueError(f"unknown kill kind {kind!r}")


def chain(family: str, out: Path, kinds: list[str], rng: random.Random) -> ChainResult:
    """Start the run, kill it once per entry of `kinds` (`KINDS`), resuming it after each kill, then resume
    it to the end. Raises AssertionError when a process fails in any other way."""
    t0 = time.monotonic()
    res = ChainResult(family)
    log = out.parent / f"{out.name}.kills.jsonl"
    for n, kind in enumerate([*kinds, None]):
        state = _checkpoint(out)
        if state is not None and state["trainer"].get("status") in _FINAL:
            break
        resume = (out / "config.json").is_file()
        args = ["train", "--resume", str(out), "--quiet"] if resume else train_args(family, out)
        kill = None if kind is None else plan(kind, state["step"] if state else 0, rng)
        p = run_genzoo(args, kill, log)
        res.resumes += resume
        res.restarts += n > 0 and not resume
        res.from_scratch += resume and state is None
        if p.returncode == -signal.SIGKILL:
            landed = json.loads(log.read_text().splitlines()[-1])
            res.kills += 1
            res.kills_in_write += landed["in_write"]
            res.late_timers += landed.get("late", False)
            res.landed.append(landed)
        elif p.returncode == 0 and kind is None:
            break
        else:
            raise AssertionError(f"{family}: {' '.join(args)} with kill {kill} exited {p.returncode}:\n"
                                 f"{p.stdout}\n{p.stderr}")
    res.seconds = time.monotonic() - t0
    return res


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        return {k: v for key, val in obj.items() for k, v in _flatten(val, f"{prefix}/{key}").items()}
    if isinstance(obj, (list, tuple)):
        return {k: v for i, val in enumerate(obj) for k, v in _flatten(val, f"{prefix}/{i}").items()}
    return {prefix: obj}


def differences(reference_run: Path, other_run: Path) -> list[str]:
    """Every entry of the final training state (model, optimizers, schedulers, EMA, extra, RNG states,
    trainer counters but the clocks) that differs between two runs; empty when bit-identical."""
    a, b = (_checkpoint(r) for r in (reference_run, other_run))
    for s in (a, b):
        for clock in ("elapsed", "wall", "cpu", "eval_seconds"):
            s["trainer"].pop(clock, None)
    fa, fb = _flatten(a), _flatten(b)
    diff = [f"{k}: only in one run" for k in sorted(fa.keys() ^ fb.keys())]
    for k in sorted(fa.keys() & fb.keys()):
        x, y = fa[k], fb[k]
        if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
            same = isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.dtype == y.dtype \
                and x.shape == y.shape and torch.equal(x, y)
        else:
            same = x == y
        if not same:
            diff.append(k)
    return diff


def log_rows(run: Path) -> list[dict[str, Any]]:
    """metrics.jsonl without the wall-clock figures (which differ between any two runs)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("time_s", "images_per_s", "wall_s", "cpu_s")} for r in rows]


def leftovers(run: Path) -> list[str]:
    """Temp files of cut-short writes, and anything in checkpoints/ that is not a checkpoint."""
    temps = [str(p.relative_to(run)) for p in run.rglob("*.tmp")]
    odd = [p.name for p in (run / "checkpoints").iterdir() if p.name not in ("last.pt", "best.pt")]
    return temps + odd


# ---- victim side ---------------------------------------------------------------------------------
def _install(kill: Kill, log: Path) -> None:
    from genzoo import checkpoint as ckpt
    from genzoo.models.base import Model
    from genzoo.training.trainer import Trainer

    now = {"step": 0, "updates": 0, "writes": 0, "in_write": False}  # what the process is doing

    def record(**extra) -> None:
        with open(log, "a") as f:
            f.write(json.dumps({**asdict(kill), "at_step": now["step"], "in_write": now["in_write"], **extra}) + "\n")

    def die(**extra) -> None:
        record(**extra)
        os.kill(os.getpid(), signal.SIGKILL)

    real_fit, real_optimize, real_write, real_finish = Trainer.fit, Model.optimize, ckpt._write_bytes, Trainer._finish

    def fit(self, *args, **kwargs):
        step_fn = self.model.train_step

        def train_step(batch, step):
            now["step"], now["updates"] = step + 1, 0
            if kill.kind == "between" and step + 1 == kill.step:
                die()
            if kill.kind == "pause" and step + 1 == kill.step:  # hold the run (and its lock) for the parent
                record()
                time.sleep(600)
            return step_fn(batch, step)

        self.model.train_step = train_step
        if kill.kind == "timer":
            timer = threading.Timer(kill.delay, die)
            timer.daemon = True  # one that comes after the end must not hold the process (or kill it at exit)
            timer.start()
        return real_fit(self, *args, **kwargs)

    def finish(self):
        if kill.kind == "timer":  # the timer has not come yet: training ends now, so this is its last chance
            die(late=True)
        return real_finish(self)

    def optimize(self, *args, **kwargs):
        out = real_optimize(self, *args, **kwargs)
        now["updates"] += 1
        if kill.kind == "mid_step" and now["step"] == kill.step and now["updates"] == 1:
            die()
        return out

    def write_bytes(f, data):
        now["writes"] += 1
        now["in_write"] = True
        if kill.kind == "write" and now["writes"] == kill.write:
            n = int(len(data) * kill.fraction)
            f.write(bytes(data[:n]))
            f.flush()  # the part written reaches the file, as it would before a real kill
            die(bytes_written=n, file_bytes=len(data))
        real_write(f, data)
        now["in_write"] = False

    Trainer.fit, Model.optimize, ckpt._write_bytes, Trainer._finish = fit, optimize, write_bytes, finish


def main(argv: list[str]) -> int:
    from genzoo.cli import main as genzoo_main

    kill, log, sep = argv[0], argv[1], argv[2]
    assert sep == "--", "usage: python -m tests.training.killchain KILL_JSON LOG -- GENZOO_ARGS..."
    _install(Kill(**json.loads(kill)), Path(log))
    return genzoo_main(argv[3:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
