"""The Trainer: the loop around `Model.train_step`.

It owns data order (seeded per epoch, so resume needs only the step count), device and precision,
logging (progress bar, metrics.jsonl, TensorBoard), periodic evaluation with early stopping and
best.pt, sample grids, atomic checksummed checkpoints with every RNG state (exact resume, even after
kill -9), Ctrl-C handling, NaN/inf detection (no checkpoint ever holds a nan), a lock on the run folder
against a second process, and data parallelism across processes started by torchrun.
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

from genzoo import checkpoint as ckpt
from genzoo.config import checked, field, to_dict
from genzoo.data.grid import MAX_GRID_IMAGES, save_grid
from genzoo.data.imageset import Batch, ImageSet, to_float
from genzoo.errors import CheckpointError, ConfigError, TrainingError
from genzoo.metrics.suite import EvalOptions, parse_metrics
from genzoo.runs import RunDir, RunLock, environment
from genzoo.training import distributed as dist

# how a run ends for good: resuming such a run is refused (there is nothing left to train)
FINAL_STATUSES = ("finished", "early_stopped", "time_limit")


@dataclass
class TrainConfig:
    """Settings of the training loop (model hyper-parameters live in each model's config)."""

    epochs: int | None = field(None, "passes over the training data (or give steps)", ge=1)
    steps: int | None = field(None, "training steps; overrides epochs", ge=1)
    batch_size: int = field(64, "images per step (per process when data-parallel)", ge=1)
    seed: int = field(0, "fixes data order, initialisation and sampling")
    device: str = field("auto", "auto (cuda if available), cpu, cuda, cuda:1, ...")
    precision: Literal["fp32", "bf16"] = field("fp32", "bf16 runs forward passes under autocast")
    channels_last: bool = field(True, "NHWC memory layout for conv nets (faster on CPU and GPU)")
    compile: bool = field(False, "torch.compile the trained networks (opt-in: the first steps wait for the "
                                 "compiler; on CPU it made the default GAN slower, README 'GAN time to quality')")
    log_every: int = field(50, "steps between metrics.jsonl rows", ge=1)
    eval_every: int = field(0, "steps between evaluations; 0 = epoch ends within eval_budget (epoch runs) / at "
                               "the end (step runs)", ge=0)
    eval_budget: float = field(0.1, "with eval_every=0 in an epoch run: an epoch-end evaluation is skipped while the "
                                    "evaluations so far took more than this fraction of the training time (0 = "
                                    "every epoch); the last step is always evaluated", ge=0)
    sample_every: int = field(0, "steps between sample grids in samples/; 0 = at the end only", ge=0)
    checkpoint_every: int = field(0, "steps between checkpoints; 0 = each epoch and every checkpoint_minutes",
                                 ge=0)
    checkpoint_minutes: float = field(2.0, "also checkpoint when this much time passed since the last one",
                                     gt=0)
    val_fraction: float = field(0.0, "hold out this fraction of the training data for evaluation", ge=0,
                               lt=1)
    early_stop_patience: int = field(0, "stop after this many evaluations without improvement (0 = off)",
                                    ge=0)
    max_minutes: float = field(0.0, "stop after this many minutes of training-step time (evaluation and sample "
                                    "grids not counted), as if finished: a fixed compute budget (0 = off)", ge=0)
    eval_batch_size: int = field(1000, "batch size for evaluation", ge=1)
    eval_samples: int = field(2000, "generative models: samples drawn per evaluation (FID, KID, ...)",
                              ge=2)
    eval_metrics: str = field("fid,kid,pr", "generative models: comma-separated metrics per evaluation "
                              "(fid, kid, pr, dc, is, cls, cacc, modes; see genzoo.metrics)")
    n_samples: int = field(64, "images in each sample grid", ge=1, le=MAX_GRID_IMAGES)
    progress: bool = field(True, "show a progress bar (on a terminal) or periodic lines")
    tensorboard: bool = field(True, "write TensorBoard events to tb/ when tensorboard is installed")

    def validate(self) -> None:  # the field bounds are checked by config.checked before this
        if problem := device_problem(self.device):
            raise ConfigError(f"device: {problem}")
        parse_metrics(self.eval_metrics)


DEVICE_TYPES = ("cpu", "cuda", "mps")  # torch names more (xla, meta, ...): genzoo trains on none of them


def device_problem(name: str) -> str | None:
    """What is wrong with a device name (None for auto, cpu, cuda, cuda:N and mps; whether this machine has the
    device is `resolve_device`'s question)."""
    if name == "auto":
        return None
    try:
        kind = torch.device(name).type
    except RuntimeError:
        kind = None
    if kind not in DEVICE_TYPES:
        return f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps"
    return None


def resolve_device(name: str, info: dist.DistInfo) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if problem := device_problem(name):
        raise ConfigError(problem)
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but CUDA is not available; use --device cpu")
        if device.index is None:
            device = torch.device("cuda", info.local_rank)
        if device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                              f"cuda:0 to cuda:{torch.cuda.device_count() - 1}; pick one of them, or --device cuda")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r} requested but MPS (an Apple GPU) is not available; use --device cpu")
    return device


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies in bf16 natively (AVX-512 BF16 or AMX). Elsewhere oneDNN emulates bf16 products:
    with AVX2 kernels (`ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2` on an AVX-512 BF16 EPYC) `dcgan` trained at
    42 images/s in bf16 against 568 in fp32, and an `rbm` epoch took 37.5 s against 2.2. The kernel capability
    torch picked (which that variable lowers) must be AVX-512 and the CPU must have the instructions."""
    if torch.backends.cpu.get_cpu_capability() != "AVX512":
        return False
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(probe() for probe in probes if probe is not None)


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
        checked(self.cfg)  # field bounds, then validate()
        self.data = data
        self.eval_data = eval_data
        self.eval_name = "test"
        if self.cfg.val_fraction > 0 or (self.cfg.early_stop_patience > 0 and eval_data is None):
            frac = self.cfg.val_fraction or 0.1
            self.data, self.eval_data = data.split(frac, seed=self.cfg.seed)
            self.eval_name = "val"
        self.data_args = data_args or {"name": data.name}
        # before anything touches the run folder, so that data the model cannot use is a clean error; deterministic,
        # so a resumed run rebuilds what its checkpoint holds
        model.attach_data(self.data)
        self.run = RunDir(run_dir) if run_dir is not None else None
        self.log = log
        self.dist = dist.from_env()
        self.device = resolve_device(self.cfg.device, self.dist)
        self.step = 0
        self.elapsed = 0.0  # training seconds, summed over resumes
        # wall-clock and CPU seconds of this run (evaluation, grids and checkpoints included), summed over resumes
        self.wall = 0.0
        self.cpu = 0.0
        self.eval_seconds = 0.0  # wall-clock seconds of the periodic evaluations, summed over resumes
        self._clock_marks: tuple[float, float] | None = None
        self.best: float | None = None
        self.bad_evals = 0
        self.status = "new"
        self.saved_step: int | None = None  # step of the last checkpoint in the run folder
        self._tb = None
        self._lock: RunLock | None = None
        self._peeked: tuple[tuple[int, int, int], dict[str, Any]] | None = None
        # sums and counts of the logged values since the last log row: in the checkpoint, so that a resumed
        # run writes the same rows as an uninterrupted one
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}
        if (model.can_sample() or model.evaluates_outputs) and getattr(model, "eval_options", None) is None:
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

    def _setup(self, resume: bool) -> dict[str, Any] | None:
        """Lock and prepare the run folder; returns the checkpoint to resume from (None: start at step 0)."""
        dist.init(self.dist, self.device)
        self.steps_per_epoch  # noqa: B018 -- data too small for one batch fails before the run folder is made
        self._acquire_lock(resume)
        state = self._resume_state() if resume else None
        if state is None:
            ckpt.seed_everything(self.cfg.seed + self.dist.rank)
        self.model.to(self.device)
        if self.cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.model.configure_optimizers(self.total_steps)
        if self.cfg.compile:
            self.log(f"compiling {', '.join(self.model.compile_networks()) or 'nothing'} with torch.compile")
        if self.dist.enabled:
            self.model.grad_sync = dist.all_reduce_grads
            if state is None:
                dist.broadcast_module(self.model)
        if self.run is None or not self.dist.is_main:
            return state
        # temp files of writes cut short by a kill: in checkpoints/ (the trainer's alone) and of the files
        # the trainer writes in the run folder (where other commands may be writing their own)
        ckpt.remove_temp_files(self.run.checkpoints)
        ckpt.remove_temp_files(self.run.path, ("config.json", "env.json", "metrics.jsonl", "metrics.json"))
        if resume:
            now = environment(self.device)  # (a run killed before it wrote env.json gets it now)
            env = self.run.read_json("env.json") if (self.run.path / "env.json").is_file() else now
            env.setdefault("resumed", []).append(now["started"])
            self.run.write_json("env.json", env)
            if state is None:  # stopped before its first checkpoint: its log rows are replayed
                self.log(f"{self.run.path} has no checkpoint yet (it stopped before the first one): "
                         "training it from step 0 with its saved config")
                self.run.checkpoints.mkdir(parents=True, exist_ok=True)
                self.run.samples.mkdir(parents=True, exist_ok=True)
                self.run.truncate_metrics_log(0)
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
        return state

    def _acquire_lock(self, resume: bool) -> None:
        """The main process locks the run folder before writing to it; every process learns if that failed."""
        failed = None
        if self.run is not None and self.dist.is_main:
            lock = RunLock(self.run.path)
            try:  # is there something to resume / room for a new run? asked under the lock, before marking it
                lock.acquire(check=self._resume_state if resume else self.run.check_free)
                self._lock = lock
            except CheckpointError as e:
                failed = e
        if self._agree(failed is not None):
            raise failed or CheckpointError(f"the main process cannot start training in {self.run.path} "
                                            "(see its message)")

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def check_resumable(self) -> None:
        """Raise if `fit(resume=True)` would have nothing to do (the run ended); reads, never writes."""
        self._resume_state()

    def _resume_state(self) -> dict[str, Any] | None:
        """The checkpoint a resume starts from, None when the run stopped before its first checkpoint."""
        if self.run is None:
            raise CheckpointError("resume needs a run folder")
        if not self.run.last.is_file():
            if not self.run.exists():
                raise CheckpointError(f"{self.run.path} has no run to resume (no config.json, no checkpoint); "
                                      "start one with `genzoo train MODEL --out ...`")
            return None
        state = self._read_last()
        if state.get("model_name") != self.model.name:
            raise CheckpointError(f"{self.run.last} belongs to model {state.get('model_name')!r}, "
                                  f"not {self.model.name!r}")
        t = state["trainer"]
        # checkpoints from before statuses were saved: a run at its last step had finished
        status = t.get("status", "finished" if t["step"] >= self.total_steps else "running")
        if status in FINAL_STATUSES:
            raise ConfigError(f"{self.run.path} already ended (status {status} at step {t['step']}/"
                              f"{self.total_steps}), so there is nothing to resume; evaluate it with "
                              f"`genzoo eval {self.run.path}`, or train longer in a new run "
                              "(`genzoo train MODEL --steps N --out NEW_DIR`)")
        return state

    def _read_last(self) -> dict[str, Any]:
        """Load last.pt, once: a second call reuses it while the file is the same (atomic writes make
        every version a new inode)."""
        st = self.run.last.stat()
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._peeked is None or self._peeked[0] != key:
            self._peeked = (key, ckpt.load(self.run.last, map_location=self.device))
        return self._peeked[1]

    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_training_state(state["training_state"])
        rngs = state["rng"]
        ckpt.set_rng_state(rngs[self.dist.rank] if self.dist.rank < len(rngs) else rngs[0])
        t = state["trainer"]
        self.step, self.elapsed, self.best, self.bad_evals = t["step"], t["elapsed"], t["best"], t["bad_evals"]
        self.wall, self.cpu = t.get("wall", self.elapsed), t.get("cpu", 0.0)  # (older checkpoints: not recorded)
        self.eval_seconds = t.get("eval_seconds", 0.0)
        self._sums = {k: v.to(self.device) for k, v in t.get("log_sums", {}).items()}
        self._counts = dict(t.get("log_counts", {}))
        self.saved_step = self.step
        self._peeked = None
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
            "trainer": {"step": self.step, "elapsed": self.elapsed, "wall": self._tick()[0], "cpu": self.cpu,
                        "eval_seconds": self.eval_seconds,
                        "best": self.best,
                        "bad_evals": self.bad_evals, "status": self.status,
                        "log_sums": {k: v.detach().cpu() for k, v in self._sums.items()},
                        "log_counts": dict(self._counts)},
        }

    def save_checkpoint(self, best: bool = False) -> None:
        self._check_weights_finite()  # a checkpoint never holds a nan: the last good one stays
        state = self._state()  # every rank takes part in gathering RNG states
        if self.run is not None and self.dist.is_main:
            path = self.run.best if best else self.run.last
            start = f"from step {self.saved_step}" if self.saved_step is not None else "from step 0"
            try:
                ckpt.save(state, path, then=f"continue the run {start} with `genzoo train --resume {self.run.path}`")
            except CheckpointError:
                self.status = "failed"
                raise
            if not best:
                self.saved_step = self.step
        self._last_ckpt_time = time.monotonic()

    # ---- logging -------------------------------------------------------------------------------
    def _tick(self) -> tuple[float, float]:
        """Add the wall-clock and CPU (this process, all threads) seconds since the last call to the run's
        totals; returns (wall, cpu)."""
        now = (time.monotonic(), time.process_time())
        if self._clock_marks is not None:
            self.wall += now[0] - self._clock_marks[0]
            self.cpu += now[1] - self._clock_marks[1]
        self._clock_marks = now
        return self.wall, self.cpu

    def _write_row(self, row: dict[str, Any]) -> None:
        if not self.dist.is_main:
            return
        wall, cpu = self._tick()
        row = {**row, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
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
        # evaluation draws from its own RNG state: whether and when it runs (the default cadence depends on
        # timing) never changes the random numbers training gets
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad(), self._autocast():
            res = self.model.evaluate(self.eval_data, batch_size=self.cfg.eval_batch_size)
        self.model.train()
        return res

    def write_samples(self, name: str) -> Path | None:
        if self.run is None or not self.dist.is_main:
            return None
        if hasattr(self.model, "write_figures"):  # models that draw their own figures (frame-predictor: PNG + GIF)
            return self.model.write_figures(self.eval_data if self.eval_data is not None else self.data,
                                            self.run.samples / name)
        if hasattr(self.model, "translation_grid"):  # translators: held-out inputs, outputs and targets
            x, nrow, rows = self.model.translation_grid(self.eval_data if self.eval_data is not None else self.data)
            return save_grid(x, self.run.samples / f"{name}.png", nrow=nrow, value_range=self.model.input_range,
                             row_labels=rows)
        if not self.model.can_sample():
            return None

        g = torch.Generator(device="cpu").manual_seed(self.cfg.seed + 12345)
        self.model.eval()
        with torch.no_grad():
            x = self.model.sample(self.cfg.n_samples, generator=g)
        self.model.train()
        path = self.run.samples / f"{name}.png"
        nrow, cols = self.model.sample_columns()
        save_grid(x, path, nrow=nrow, value_range=self.model.input_range, col_labels=cols)
        return path

    def _autocast(self):
        if self.cfg.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ---- the loop --------------------------------------------------------------------------------
    def fit(self, resume: bool = False, until: int | None = None) -> dict[str, Any]:
        """Train to the end (or, with `until`, pause after that step with a checkpoint); resumable.

        The run folder stays locked against other processes until this returns.
        """
        try:
            state = self._setup(resume)
            if state is not None:
                self._restore(state)
            return self._train(until, resumed=state is not None)
        finally:
            self._release_lock()

    def _train(self, until: int | None, resumed: bool) -> dict[str, Any]:
        cfg, model, total, spe = self.cfg, self.model, self.total_steps, self.steps_per_epoch
        step_runs = cfg.steps is not None
        eval_every = cfg.eval_every or (0 if step_runs else spe)
        ckpt_every = cfg.checkpoint_every or (0 if step_runs else spe)
        # per-key sums and counts since the last log row (kept in self._sums, self._counts for checkpoints):
        # a key may be logged on some steps only (a GAN's generator loss with n_critic > 1), and is averaged
        # over the steps that reported it
        sums, counts = self._sums, self._counts
        images_since, t_log = 0, time.monotonic()
        self._last_ckpt_time = time.monotonic()
        last_print = 0.0
        bar = self._progress(total)
        self.status = "running"
        self._clock_marks = (time.monotonic(), time.process_time())
        model.train()
        epoch, pos = divmod(self.step, spe)
        batches = self.data.batches(cfg.batch_size, cfg.seed, epoch, pos, self.dist.rank, self.dist.world_size,
                                    with_index=True)
        rank0_msgs = self.dist.is_main
        if rank0_msgs and resumed:
            self.log(f"resuming {model.name} at step {self.step}/{total}")
        try:
            with _StopFlag() as stop:
                while self.step < total:
                    t0 = time.monotonic()
                    try:
                        images, labels, attrs, sources, text, index = next(batches)
                    except StopIteration:
                        epoch += 1
                        batches = self.data.batches(cfg.batch_size, cfg.seed, epoch, 0, self.dist.rank,
                                                    self.dist.world_size, with_index=True)
                        continue
                    x = model.augment_indexed(images.to(self.device, non_blocking=True), index, epoch)
                    x = to_float(x, model.input_range)
                    if cfg.channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    src = None if sources is None else to_float(sources.to(self.device), model.input_range)
                    batch = Batch(x, None if labels is None else labels.to(self.device),
                                  None if attrs is None else attrs.to(self.device), src,
                                  None if text is None else text.to(self.device))
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
                        self._sums, self._counts = sums, counts
                    stop_now = self._agree(stop.requested)
                    time_up = bool(cfg.max_minutes) and self._agree(self.elapsed >= cfg.max_minutes * 60)
                    due = bool(eval_every) and self.step % eval_every == 0
                    if due and not cfg.eval_every and cfg.eval_budget:
                        # the default cadence: spend at most eval_budget of the training time evaluating (the
                        # first epoch end always evaluates; its cost then spaces the next ones)
                        due = self._agree(self.eval_seconds <= cfg.eval_budget * self.elapsed)
                    if due or self.step == total or time_up:
                        first_eval = self.eval_seconds == 0.0
                        if self._eval_and_track(rank0_msgs, final=self.step == total or time_up):
                            self.status = "early_stopped"
                            break
                        if first_eval and not cfg.eval_every and cfg.eval_budget and self.step < total and \
                                rank0_msgs and cfg.progress:
                            every = math.ceil(self.eval_seconds / (cfg.eval_budget * self.elapsed / self.step * spe))
                            if every > 1:
                                self.log(f"an evaluation takes {self.eval_seconds:.1f} s: evaluating about every "
                                         f"{every} epochs to keep it under {cfg.eval_budget:.0%} of the training "
                                         "time (set train.eval_every=STEPS for a fixed cadence)")
                    if cfg.sample_every and self.step % cfg.sample_every == 0:
                        self.write_samples(f"step-{self.step:07d}")
                    # models with phases (Model.phase): a grid named after each phase when its last step has run
                    ended = model.phase(self.step - 1, cfg.batch_size)
                    if ended is not None and (self.step == total or time_up or
                                              ended != model.phase(self.step, cfg.batch_size)):
                        self.write_samples(ended)
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
            if self.status in FINAL_STATUSES:
                self._finish()
        finally:
            if bar is not None:
                bar.close()
            if self._tb is not None:
                self._tb.close()
        return self._summary()

    def _summary(self) -> dict[str, Any]:
        images = self.step * self.cfg.batch_size * self.dist.world_size
        wall, cpu = self._tick()
        return {"status": self.status, "step": self.step, "epoch": round(self.step / self.steps_per_epoch, 4),
                "train_seconds": round(self.elapsed, 2), "images_per_s": round(images / max(self.elapsed, 1e-9), 1),
                "wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
                "eval_seconds": round(self.eval_seconds, 2)}

    def _finish(self) -> None:
        """Samples, figures, then the final checkpoint, which alone marks the run ended: a process killed
        before it leaves a checkpoint that a resume completes (the same steps, then these writes again)."""
        self._check_weights_finite()
        self.write_samples(f"step-{self.step:07d}")
        if self.dist.enabled:
            self._check_ranks_in_sync()
        if self.run is not None and self.dist.is_main:
            self.run.update_metrics({"train_" + k if not k.startswith("train") else k: v
                                     for k, v in self._summary().items()})
        self.save_checkpoint()

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
        self._diverged(f"{', '.join(bad)} became {float(out[bad[0]])} at step {self.step}")

    def _check_weights_finite(self) -> None:
        """Parameters, buffers and optimizer state all finite (on GPU the loss is checked only every
        log_every steps, so this is what keeps a nan out of a checkpoint)."""
        named = [*self.model.named_parameters(), *self.model.named_buffers()]
        for opt_name, opt in self.model.optimizers.items():
            named += [(f"optimizer {opt_name} state", t) for st in opt.state.values() for t in st.values()
                      if isinstance(t, torch.Tensor)]
        named = [(n, t) for n, t in named if t.is_floating_point() and t.numel()]
        flags = [torch.isfinite(t).all() for _, t in named]
        ok = torch.stack(flags).tolist() if flags else []  # one device sync for all tensors
        if not self._agree(not all(ok)):
            return
        bad = list(dict.fromkeys(n for (n, _), good in zip(named, ok) if not good))
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        self._diverged(f"{shown} became nan/inf at step {self.step}")

    def _diverged(self, what: str) -> None:
        """Stop for good: say what became non-finite, what was kept, and what to do (the advice must hold:
        a resume takes the saved config and replays the same steps)."""
        self.status = "diverged"
        if self.run is not None and self.dist.is_main:
            self.run.update_metrics({"train_status": "diverged", "train_step": self.step})
        if self.run is not None and self.saved_step is not None:
            kept = (f" The last good checkpoint is kept: {self.run.last} (step {self.saved_step}); resuming it "
                    "replays the same steps with the saved config and would most likely diverge again, so")
        else:
            kept = " No checkpoint was written, so"
        raise TrainingError(f"{what}: training diverged, so it was stopped.{kept} start a new run with a lower "
                            "learning rate (--lr).")

    def _eval_and_track(self, verbose: bool, final: bool) -> bool:
        """Evaluate, log, keep best.pt; returns True when early stopping says stop."""
        t0 = time.monotonic()
        res = self.evaluate()
        self.eval_seconds += time.monotonic() - t0
        if not res:
            return False
        scalars = {f"{self.eval_name}_{k}": v for k, v in res.items() if isinstance(v, (int, float))}
        self._write_row({"step": self.step, "epoch": round(self.step / self.steps_per_epoch, 4), **scalars,
                         "time_s": round(self.elapsed, 2)})
        if verbose and self.cfg.progress:
            self.log(f"step {self.step}: " + ", ".join(f"{k} {v:.4g}" for k, v in scalars.items()))
        for note in self.model.notes:
            if verbose:
                self.log(f"warning at step {self.step}: {note}")
        self.model.notes.clear()
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
