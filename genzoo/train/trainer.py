"""The Trainer: the loop around `Model.train_step`.

It owns data order (seeded per epoch, so resume needs only the step count), device and precision,
logging (progress bar, metrics.jsonl, TensorBoard), periodic evaluation with early stopping and
best.pt, sample grids, atomic checkpoints with every RNG state (exact resume), Ctrl-C handling,
NaN/inf detection, and data parallelism across processes started by torchrun.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from genzoo.config import field, to_dict
from genzoo.data.imageset import Batch, ImageSet, to_float
from genzoo.errors import CheckpointError, ConfigError, TrainingError
from genzoo.train import checkpoint as ckpt
from genzoo.train import distributed as dist
from genzoo.train.run import RunDir, environment


@dataclass
class TrainConfig:
    """Settings of the training loop (model hyper-parameters live in each model's config)."""

    epochs: int | None = field(None, "passes over the training data (or give steps)")
    steps: int | None = field(None, "training steps; overrides epochs")
    batch_size: int = field(64, "images per step (per process when data-parallel)")
    seed: int = field(0, "fixes data order, initialisation and sampling")
    device: str = field("auto", "auto (cuda if available), cpu, cuda, cuda:1, ...")
    precision: Literal["fp32", "bf16"] = field("fp32", "bf16 runs forward passes under autocast")
    channels_last: bool = field(True, "NHWC memory layout for conv nets (faster on CPU and GPU)")
    log_every: int = field(50, "steps between metrics.jsonl rows")
    eval_every: int = field(0, "steps between evaluations; 0 = every epoch (epoch runs) / at the end")
    sample_every: int = field(0, "steps between sample grids in samples/; 0 = at the end only")
    checkpoint_every: int = field(0, "steps between checkpoints; 0 = each epoch and every checkpoint_minutes")
    checkpoint_minutes: float = field(2.0, "also checkpoint when this much time passed since the last one")
    val_fraction: float = field(0.0, "hold out this fraction of the training data for evaluation")
    early_stop_patience: int = field(0, "stop after this many evaluations without improvement (0 = off)")
    max_minutes: float = field(0.0, "stop after this many minutes of training-step time (evaluation and sample "
                                    "grids not counted), as if finished: a fixed compute budget (0 = off)")
    eval_batch_size: int = field(1000, "batch size for evaluation")
    eval_samples: int = field(2000, "generative models: samples drawn per evaluation (FID, KID, ...)")
    eval_metrics: str = field("fid,kid,pr", "generative models: comma-separated metrics per evaluation "
                              "(fid, kid, pr, dc, is, cls, cacc, modes; see genzoo.metrics)")
    n_samples: int = field(64, "images in each sample grid")
    progress: bool = field(True, "show a progress bar (on a terminal) or periodic lines")
    tensorboard: bool = field(True, "write TensorBoard events to tb/ when tensorboard is installed")

    def validate(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ConfigError("steps must be at least 1")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError("epochs must be at least 1")
        if self.batch_size < 1:
            raise ConfigError("batch_size must be at least 1")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError("val_fraction must be in [0, 1)")
        if self.eval_samples < 2:
            raise ConfigError("eval_samples must be at least 2")
        from genzoo.metrics.suite import parse_metrics

        parse_metrics(self.eval_metrics)


def resolve_device(name: str, info: dist.DistInfo) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but CUDA is not available; use --device cpu")
        if name == "cuda":
            name = f"cuda:{info.local_rank}"
    return torch.device(name)


class _StopFlag:
    """Ctrl-C / SIGTERM set a flag so the loop can checkpoint and exit cleanly; a second Ctrl-C aborts."""

    def __init__(self):
        self.requested = False
        self._old: dict[int, Any] = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        return False


class Trainer:
    """Runs `model.train_step` over `data` and keeps the run folder up to date."""

    def __init__(self, model, data: ImageSet, cfg: TrainConfig | None = None,
                 run_dir: str | Path | None = None, eval_data: ImageSet | None = None,
                 data_args: dict[str, Any] | None = None, log=print):
        self.model = model
        self.cfg = cfg or TrainConfig()
        self.cfg.validate()
        self.data = data
        self.eval_data = eval_data
        self.eval_name = "test"
        if self.cfg.val_fraction > 0 or (self.cfg.early_stop_patience > 0 and eval_data is None):
            frac = self.cfg.val_fraction or 0.1
            self.data, self.eval_data = data.split(frac, seed=self.cfg.seed)
            self.eval_name = "val"
        self.data_args = data_args or {"name": data.name}
        self.run = RunDir(run_dir) if run_dir is not None else None
        self.log = log
        self.dist = dist.from_env()
        self.device = resolve_device(self.cfg.device, self.dist)
        self.step = 0
        self.elapsed = 0.0  # training seconds, summed over resumes
        self.best: float | None = None
        self.bad_evals = 0
        self.status = "new"
        self._tb = None
        if model.can_sample() and getattr(model, "eval_options", None) is None:
            from genzoo.metrics.suite import EvalOptions, parse_metrics

            # periodic evaluation of a generative model: a few metrics on a few samples, and a missing
            # feature network for the data is a warning, not the end of training
            model.eval_options = EvalOptions(n=self.cfg.eval_samples, metrics=parse_metrics(self.cfg.eval_metrics),
                                             seed=self.cfg.seed, batch_size=min(self.cfg.eval_batch_size, 500),
                                             strict=False)

    # ---- set-up ------------------------------------------------------------------------------
    @property
    def steps_per_epoch(self) -> int:
        return self.data.steps_per_epoch(self.cfg.batch_size, self.dist.world_size)

    @property
    def total_steps(self) -> int:
        if self.cfg.steps is not None:
            return self.cfg.steps
        if self.cfg.epochs is None:
            raise ConfigError("give the length of training: --epochs N or --steps N")
        return self.cfg.epochs * self.steps_per_epoch

    def run_config(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "model_config": to_dict(self.model.cfg),
            "data": self.data_args,
            "data_spec": self.model.spec.to_dict(),
            "train": to_dict(self.cfg),
        }

    def _setup(self, resume: bool) -> None:
        dist.init(self.dist, self.device)
        if not resume:
            ckpt.seed_everything(self.cfg.seed + self.dist.rank)
        self.model.to(self.device)
        if self.cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.model.configure_optimizers(self.total_steps)
        if self.dist.enabled:
            self.model.grad_sync = dist.all_reduce_grads
            if not resume:
                dist.broadcast_module(self.model)
        if self.run is None or not self.dist.is_main:
            return
        if resume:
            env = self.run.read_json("env.json") if (self.run.path / "env.json").is_file() else {}
            env.setdefault("resumed", []).append(environment(self.device)["started"])
            self.run.write_json("env.json", env)
        else:
            self.run.create()
            self.run.write_json("config.json", self.run_config())
            env = environment(self.device)
            env["world_size"] = self.dist.world_size
            self.run.write_json("env.json", env)
        if self.cfg.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.run.path / "tb"))
            except ImportError:  # tensorboard is optional
                self._tb = None

    def _load_last(self) -> None:
        if self.run is None:
            raise CheckpointError("resume needs a run folder")
        state = ckpt.load(self.run.last, map_location=self.device)
        if state.get("model_name") != self.model.name:
            raise CheckpointError(f"{self.run.last} belongs to model {state.get('model_name')!r}, "
                                  f"not {self.model.name!r}")
        self.model.load_training_state(state["training_state"])
        rngs = state["rng"]
        ckpt.set_rng_state(rngs[self.dist.rank] if self.dist.rank < len(rngs) else rngs[0])
        t = state["trainer"]
        self.step, self.elapsed, self.best, self.bad_evals = t["step"], t["elapsed"], t["best"], t["bad_evals"]
        if self.dist.is_main:
            self.run.truncate_metrics_log(self.step)

    # ---- checkpoints ---------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "format": 1,
            "model_name": self.model.name,
            "step": self.step,
            "training_state": self.model.training_state(),
            "rng": dist.gather_objects(ckpt.rng_state()),
            "trainer": {"step": self.step, "elapsed": self.elapsed, "best": self.best,
                        "bad_evals": self.bad_evals},
        }

    def save_checkpoint(self, best: bool = False) -> None:
        state = self._state()  # every rank takes part in gathering RNG states
        if self.run is not None and self.dist.is_main:
            ckpt.save(state, self.run.best if best else self.run.last)
        self._last_ckpt_time = time.monotonic()

    # ---- logging -------------------------------------------------------------------------------
    def _write_row(self, row: dict[str, Any]) -> None:
        if not self.dist.is_main:
            return
        if self.run is not None:
            self.run.append_metrics(row)
        if self._tb is not None:
            for k, v in row.items():
                if k not in ("step",) and isinstance(v, (int, float)) and math.isfinite(v):
                    self._tb.add_scalar(k, v, row["step"])

    def _progress(self, total: int):
        show = self.cfg.progress and self.dist.is_main
        if show and sys.stderr.isatty():
            from tqdm.auto import tqdm

            return tqdm(total=total, initial=self.step, dynamic_ncols=True, unit="step", leave=True,
                        desc=self.model.name)
        return None

    # ---- evaluation and samples ---------------------------------------------------------------
    def evaluate(self) -> dict[str, Any]:
        if self.eval_data is None:
            return {}
        if self.dist.enabled:  # identical batchnorm statistics on every rank -> identical decisions
            for b in self.model.buffers():
                torch.distributed.broadcast(b.data, src=0)
        self.model.eval()
        with torch.no_grad(), self._autocast():
            res = self.model.evaluate(self.eval_data, batch_size=self.cfg.eval_batch_size)
        self.model.train()
        return res

    def write_samples(self, name: str) -> Path | None:
        if self.run is None or not self.dist.is_main or not self.model.can_sample():
            return None
        from genzoo.report.grid import save_grid

        g = torch.Generator(device="cpu").manual_seed(self.cfg.seed + 12345)
        self.model.eval()
        with torch.no_grad():
            x = self.model.sample(self.cfg.n_samples, generator=g)
        self.model.train()
        path = self.run.samples / f"{name}.png"
        save_grid(x, path, value_range=self.model.input_range)
        return path

    def _autocast(self):
        if self.cfg.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ---- the loop --------------------------------------------------------------------------------
    def fit(self, resume: bool = False, until: int | None = None) -> dict[str, Any]:
        """Train to the end (or, with `until`, pause after that step with a checkpoint); resumable."""
        self._setup(resume)
        if resume:
            self._load_last()
        cfg, model, total, spe = self.cfg, self.model, self.total_steps, self.steps_per_epoch
        step_runs = cfg.steps is not None
        eval_every = cfg.eval_every or (0 if step_runs else spe)
        ckpt_every = cfg.checkpoint_every or (0 if step_runs else spe)
        # per-key sums and counts: a key may be logged on some steps only (a GAN's generator loss
        # with n_critic > 1), and is averaged over the steps that reported it
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        images_since, t_log = 0, time.monotonic()
        self._last_ckpt_time = time.monotonic()
        last_print = 0.0
        bar = self._progress(total)
        self.status = "running"
        model.train()
        epoch, pos = divmod(self.step, spe)
        batches = self.data.batches(cfg.batch_size, cfg.seed, epoch, pos, self.dist.rank, self.dist.world_size)
        rank0_msgs = self.dist.is_main
        if rank0_msgs and resume:
            self.log(f"resuming {model.name} at step {self.step}/{total}")
        try:
            with _StopFlag() as stop:
                while self.step < total:
                    t0 = time.monotonic()
                    try:
                        images, labels, attrs = next(batches)
                    except StopIteration:
                        epoch += 1
                        batches = self.data.batches(cfg.batch_size, cfg.seed, epoch, 0, self.dist.rank,
                                                    self.dist.world_size)
                        continue
                    x = model.augment(images.to(self.device, non_blocking=True))
                    x = to_float(x, model.input_range)
                    if cfg.channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    batch = Batch(x, None if labels is None else labels.to(self.device),
                                  None if attrs is None else attrs.to(self.device))
                    with self._autocast():
                        out = model.train_step(batch, self.step)
                    self.step += 1
                    images_since += len(images)
                    for k, v in out.items():
                        v = v.detach().float() if isinstance(v, torch.Tensor) else torch.tensor(float(v))
                        sums[k] = sums[k] + v if k in sums else v
                        counts[k] = counts.get(k, 0) + 1
                    self.elapsed += time.monotonic() - t0
                    if self.device.type == "cpu" or self.step % cfg.log_every == 0:
                        self._check_finite(out)
                    if bar is not None:
                        bar.update(1)
                    if self.step % cfg.log_every == 0 or self.step == total:
                        now = time.monotonic()
                        row = {"step": self.step, "epoch": round(self.step / spe, 4),
                               **{k: float(v) / counts[k] for k, v in sums.items()},
                               "images_per_s": round(images_since * self.dist.world_size / max(now - t_log, 1e-9), 1),
                               "time_s": round(self.elapsed, 2)}
                        for name, opt in model.optimizers.items():
                            row[f"lr_{name}" if len(model.optimizers) > 1 else "lr"] = opt.param_groups[0]["lr"]
                        self._write_row(row)
                        if bar is not None:
                            bar.set_postfix({k: f"{v:.4g}" for k, v in row.items()
                                             if k not in ("step", "epoch", "time_s") and not k.startswith("lr")},
                                            refresh=False)
                        elif rank0_msgs and cfg.progress and (now - last_print > 10 or self.step == total):
                            last_print = now
                            shown = ", ".join(f"{k} {v:.4g}" for k, v in row.items()
                                              if k not in ("step", "epoch", "time_s") and not k.startswith("lr"))
                            self.log(f"step {self.step}/{total} (epoch {row['epoch']:.2f}): {shown}")
                        sums, counts, images_since, t_log = {}, {}, 0, time.monotonic()
                    stop_now = self._agree(stop.requested)
                    time_up = bool(cfg.max_minutes) and self._agree(self.elapsed >= cfg.max_minutes * 60)
                    if (eval_every and self.step % eval_every == 0) or self.step == total or time_up:
                        if self._eval_and_track(rank0_msgs, final=self.step == total or time_up):
                            self.status = "early_stopped"
                            break
                    if cfg.sample_every and self.step % cfg.sample_every == 0:
                        self.write_samples(f"step-{self.step:07d}")
                    time_due = (not step_runs or not cfg.checkpoint_every) and \
                        time.monotonic() - self._last_ckpt_time > cfg.checkpoint_minutes * 60
                    if (ckpt_every and self.step % ckpt_every == 0) or self._agree(time_due) or stop_now:
                        self.save_checkpoint()
                    if stop_now:
                        self.status = "interrupted"
                        break
                    if time_up and self.step < total:
                        self.status = "time_limit"
                        if rank0_msgs:
                            self.log(f"time budget of {cfg.max_minutes:g} min spent at step {self.step}/{total}")
                        break
                    if until is not None and self.step >= until and self.step < total:
                        self.save_checkpoint()
                        self.status = "paused"
                        break
            if self.status == "running":
                self.status = "finished"
            if self.status in ("finished", "early_stopped", "time_limit"):
                self.save_checkpoint()
                self.write_samples(f"step-{self.step:07d}")
                if self.dist.enabled:
                    self._check_ranks_in_sync()
        finally:
            if bar is not None:
                bar.close()
            if self._tb is not None:
                self._tb.close()
        images = self.step * cfg.batch_size * self.dist.world_size
        summary = {"status": self.status, "step": self.step, "epoch": round(self.step / spe, 4),
                   "train_seconds": round(self.elapsed, 2), "images_per_s": round(images / max(self.elapsed, 1e-9), 1)}
        if self.run is not None and self.dist.is_main and self.status in ("finished", "early_stopped", "time_limit"):
            self.run.update_metrics({"train_" + k if not k.startswith("train") else k: v
                                     for k, v in summary.items()})
        return summary

    def _agree(self, flag: bool) -> bool:
        """Same decision on every rank (any rank's True wins); free when not distributed."""
        if not self.dist.enabled:
            return bool(flag)
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item() > 0)

    def _check_ranks_in_sync(self) -> None:
        """Data-parallel sanity check: every process must end with the same parameters."""
        local = torch.stack([p.detach().double().sum() for p in self.model.parameters()]).cpu()
        sums = dist.gather_objects(local)
        if any(not torch.allclose(s, sums[0], rtol=1e-5, atol=1e-6) for s in sums[1:]):
            raise TrainingError("data-parallel processes ended with different weights; gradients were not "
                                "synchronised (please report this as a bug)")

    def _check_finite(self, out: dict[str, Any]) -> None:
        vals = [v.detach().float().reshape(-1) for v in out.values() if isinstance(v, torch.Tensor)]
        vals += [torch.tensor([float(v)]) for v in out.values() if not isinstance(v, torch.Tensor)]
        if not vals or torch.isfinite(torch.cat([v.cpu() for v in vals])).all():
            return
        bad = [k for k, v in out.items() if not math.isfinite(float(v))]
        kept = ""
        if self.run is not None and self.run.last.is_file():
            kept = f" The last good checkpoint is kept: {self.run.last} (resume with `genzoo train --resume " \
                   f"{self.run.path}` after lowering the learning rate)."
        self.status = "diverged"
        if self.run is not None and self.dist.is_main:
            self.run.update_metrics({"train_status": "diverged", "train_step": self.step})
        raise TrainingError(f"{', '.join(bad)} became {float(out[bad[0]])} at step {self.step}: training "
                            f"diverged, so it was stopped.{kept} Try a lower learning rate (--lr).")

    def _eval_and_track(self, verbose: bool, final: bool) -> bool:
        """Evaluate, log, keep best.pt; returns True when early stopping says stop."""
        res = self.evaluate()
        if not res:
            return False
        scalars = {f"{self.eval_name}_{k}": v for k, v in res.items() if isinstance(v, (int, float))}
        self._write_row({"step": self.step, "epoch": round(self.step / self.steps_per_epoch, 4), **scalars,
                         "time_s": round(self.elapsed, 2)})
        if verbose and self.cfg.progress:
            self.log(f"step {self.step}: " + ", ".join(f"{k} {v:.4g}" for k, v in scalars.items()))
        if self.run is not None and self.dist.is_main:
            self.run.update_metrics({**scalars, "eval_step": self.step})
        metric = self.model.val_metric
        # model selection (best.pt, early stopping) only on a validation split, never on the test set
        if metric is None or metric not in res or self.eval_name != "val":
            return False
        value = float(res[metric])
        sign = 1.0 if self.model.val_higher_is_better else -1.0
        if self.best is None or sign * value > sign * self.best:
            self.best, self.bad_evals = value, 0
            self.save_checkpoint(best=True)
            return False
        self.bad_evals += 1
        patience = self.cfg.early_stop_patience
        if patience and self.bad_evals >= patience and not final:
            if verbose:
                self.log(f"early stopping at step {self.step}: {metric} has not improved for {patience} "
                         f"evaluations (best {self.best:.4g})")
            return True
        return False
