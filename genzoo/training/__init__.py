"""Training loop, checkpoints, run folders and data parallelism."""

from genzoo.runs import RunDir, load_model
from genzoo.training.trainer import TrainConfig, Trainer

__all__ = ["Trainer", "TrainConfig", "RunDir", "load_model"]
