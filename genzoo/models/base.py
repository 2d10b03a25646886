"""The Model contract: a model owns its networks, optimizers and one training step.

The Trainer owns everything around the step (data order, logging, checkpoints, evaluation, resume).
A subclass implements `configure_optimizers(total_steps)` and `train_step(batch, step)`; optional
capabilities are `evaluate`, `sample`, `encode`, `decode`, `reconstruct`, `predict`, `log_likelihood`.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import nn

from genzoo.data.imageset import Batch, DataSpec, to_float
from genzoo.data.moving_mnist import SEQUENCE_SETS
from genzoo.errors import ConfigError, DataError
from genzoo.metrics import sample_quality


def class_labels(spec: DataSpec, n: int) -> list[str]:
    """Names of classes 0..n-1 (the dataset's class names where it has them, else the numbers)."""
    return [str(spec.class_names[c]) if c < len(spec.class_names) else str(c) for c in range(n)]


def sample_count(n) -> int:
    """The `n` of a model's `sample(n)` as an int of at least 1 (0, -1, 2.5 or "4" failed deep inside torch)."""
    try:
        count = operator.index(n)
    except TypeError:
        raise ConfigError(f"sample(n): n is the number of images, a whole number; got {type(n).__name__} {n!r}") \
            from None
    if count < 1:
        raise ConfigError(f"sample(n): n is the number of images, at least 1; got {count}")
    return count


class Model(nn.Module):
    """Base class of every genzoo model."""

    name: ClassVar[str] = ""
    # images reach train_step as floats in this range: (-1, 1) for GANs, (0, 1) for likelihood models
    input_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    # the evaluation figure used for best.pt and early stopping, and whether higher is better
    val_metric: ClassVar[str | None] = None
    val_higher_is_better: ClassVar[bool] = True
    # the model scores images it makes in `evaluate` without being able to `sample` them from noise (translation:
    # outputs for test inputs), configured by `eval_options` as sampling models are
    evaluates_outputs: ClassVar[bool] = False
    # the model learns from videos: the sequence sets (moving-mnist), whose images are the digits the videos are
    # drawn from; every other model refuses them rather than silently learning still digits
    reads_sequences: ClassVar[bool] = False

    def __init__(self, cfg: Any, spec: DataSpec):
        base = SEQUENCE_SETS.get(spec.name or "")
        if base is not None and not self.reads_sequences:
            raise DataError(f"{spec.name} is a video dataset that only frame-predictor reads; this model learns "
                            f"from single images: use --data {base} for the same digits")
        super().__init__()
        self.cfg = cfg
        self.spec = spec
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        # set by the Trainer for data-parallel runs: averages gradients across processes
        self.grad_sync = None
        # warnings for the person running this (e.g. a training pathology seen at evaluation): the Trainer
        # logs and clears them after each evaluation
        self.notes: list[str] = []

    def sample_columns(self) -> tuple[int | None, list[str] | None]:
        """The layout of the Trainer's sample grids: (images per row, column labels); (None, None) for a square-ish
        grid. Class-conditional models sample labels 0, 1, 2, ... by default: one column per class, named."""
        if getattr(self, "conditional", False) and self.spec.num_classes >= 2:
            return self.spec.num_classes, class_labels(self.spec, self.spec.num_classes)
        return None, None

    # ---- to implement --------------------------------------------------------------------------
    def configure_optimizers(self, total_steps: int) -> None:
        """Create `self.optimizers` (and `self.schedulers`); `total_steps` is known for LR schedules."""
        raise NotImplementedError

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor | float]:
        """One training step (forward, backward, optimizer updates); returns scalars to log."""
        raise NotImplementedError

    # ---- optional -------------------------------------------------------------------------------
    def attach_data(self, data) -> None:
        """Called by the Trainer with its training `ImageSet` before `configure_optimizers`, for models that
        keep a part of the data as state (IRGAN's retrieval database); nothing by default."""

    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        """Figures on a held-out `ImageSet` (accuracy, reconstruction error, ...).

        By default: nothing for models that cannot sample, sample-quality metrics (FID, KID, ...)
        against `data` for those that can (see `sample_metrics`).
        """
        return self.sample_metrics(data) if self.can_sample() else {}

    def sample_metrics(self, data) -> dict[str, Any]:
        """FID, KID, precision/recall, ... of `self.sample` against the real `data`, configured by
        `self.eval_options` (a `genzoo.metrics.EvalOptions`: n, metrics, seeds, features); models with
        an evaluation of their own return `self.with_sample_metrics(own_figures, data)`."""
        return sample_quality(self, data)

    def with_sample_metrics(self, figures: dict[str, Any], data) -> dict[str, Any]:
        """A model's own `figures` on `data` (a likelihood, ...) and `sample_metrics(data)` in one dict. Both count
        something as `n`; the samples' count keeps the key (the FID floor reads it), and the number of images
        the own figures cover stays as `n_images`, so a test NLL over 10,000 images never reads as over 2,000."""
        if "n" in figures:
            figures = {**figures, "n_images": figures["n"]}
        return {**figures, **self.sample_metrics(data)}

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """Training-time augmentation of a uint8 batch (identity by default)."""
        return images

    def augment_indexed(self, images: torch.Tensor, index: torch.Tensor, epoch: int) -> torch.Tensor:
        """What the Trainer calls: `augment`, told also the images' indices in the training set and the epoch, for
        augmentations that depend on them (the classifier's alternating flip). By default `augment(images)`."""
        return self.augment(images)

    def phase(self, step: int, batch_size: int) -> str | None:
        """The name of the training phase that step `step` (0-based, at this batch size) belongs to, or None for a
        model without phases (the default). A pure function of its arguments; when a phase ends (and at the end of
        training) the Trainer writes a sample grid named after it (ProGAN: res-008, one per resolution)."""
        return None

    def can_sample(self) -> bool:
        return callable(getattr(self, "sample", None))

    def compile_networks(self) -> list[str]:
        """torch.compile, in place, each direct sub-network an optimizer trains (the Trainer's `compile`
        option; call after `configure_optimizers`). In-place compiling keeps the state_dict keys, so
        checkpoints load with or without it. Returns the compiled networks' names."""
        trained = {id(p) for opt in self.optimizers.values() for group in opt.param_groups for p in group["params"]}
        names = []
        for name, module in self.named_children():
            if any(id(p) in trained for p in module.parameters()):
                module.compile(dynamic=False)  # a static graph per batch size (the last batch of an epoch is smaller)
                names.append(name)
        return names

    # ---- helpers for subclasses ----------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def prepare(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """uint8 images -> floats in this model's input range, on its device."""
        return to_float(images_uint8.to(self.device), self.input_range)

    def optimize(self, name: str, loss: torch.Tensor, params: Iterable[nn.Parameter] | None = None,
                 clip_grad_norm: float | None = None, retain_graph: bool = False) -> torch.Tensor | None:
        """zero_grad -> backward -> (all-reduce across processes) -> optional clip -> step -> LR step.

        Returns the gradient norm when clipping (useful to log), else None.
        """
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward(retain_graph=retain_graph)
        group_params = [p for g in opt.param_groups for p in g["params"]] if params is None else list(params)
        if self.grad_sync is not None:
            self.grad_sync(group_params)
        norm = None
        if clip_grad_norm is not None:
            norm = torch.nn.utils.clip_grad_norm_(group_params, clip_grad_norm)
        self.step_optimizer(name)
        return norm

    def step_optimizer(self, name: str) -> None:
        """One step of optimizer `name` on the gradients already set, then of its learning-rate schedule.

        `optimize` ends so; a model that sets gradients in closed form (the RBM's CD estimate) calls it directly.
        """
        self.optimizers[name].step()
        if name in self.schedulers:
            self.schedulers[name].step()

    # ---- state for exact resume -----------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        """Anything besides parameters/buffers/optimizers that a step reads (override if needed)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def training_state(self) -> dict[str, Any]:
        return {
            "model": self.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "extra": self.extra_state(),
        }

    def load_training_state(self, state: dict[str, Any], weights_only: bool = False) -> None:
        self.load_state_dict(state["model"])
        if weights_only:
            return
        for k, s in state.get("optimizers", {}).items():
            if k in self.optimizers:
                self.optimizers[k].load_state_dict(s)
        for k, s in state.get("schedulers", {}).items():
            if k in self.schedulers:
                self.schedulers[k].load_state_dict(s)
        self.load_extra_state(state.get("extra", {}))
