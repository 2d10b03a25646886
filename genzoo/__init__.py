"""genzoo: classic deep image models, trained, sampled and evaluated from one command.

Python API in a few lines::

    import genzoo
    data = genzoo.load_data("mnist-mini")                 # embedded default, no download
    model = genzoo.build("classifier", data.spec, width=32)
    genzoo.train(model, data, out="runs/clf", epochs=1)
    print(genzoo.evaluate(model, genzoo.load_data("mnist-mini", split="test")))
"""

from genzoo.errors import CheckpointError, ConfigError, DataError, GenzooError, TrainingError
from genzoo.version import __version__

__all__ = [
    "GenzooError", "ConfigError", "DataError", "CheckpointError", "TrainingError",
    "load_data", "build", "train", "evaluate", "load_run", "__version__",
]


def load_data(name: str | None = None, split: str = "train", data_dir: str | None = None, **kwargs):
    """Load a dataset by name as an in-memory `ImageSet` (see `genzoo data list`)."""
    from genzoo.data import load

    return load(name, split=split, data_dir=data_dir, **kwargs)


def build(name: str, spec, seed: int | None = 0, **overrides):
    """Build a registered model for a data spec (seeded); keyword overrides set config fields."""
    from genzoo.registry import build as _build

    return _build(name, spec, overrides, seed=seed)


def train(model, data, out: str | None = None, **train_settings):
    """Train `model` on `data` and write a run folder; returns the Trainer."""
    from genzoo.train import TrainConfig, Trainer

    trainer = Trainer(model, data, TrainConfig(**train_settings), run_dir=out)
    trainer.fit()
    return trainer


def evaluate(model, data, **kwargs) -> dict:
    """Evaluate a model on a dataset with the model's own evaluation (accuracy, ...)."""
    return model.evaluate(data, **kwargs)


def load_run(run_dir: str, which: str = "best"):
    """Load a trained model back from its run folder."""
    from genzoo.runs import load_model

    return load_model(run_dir, which=which)
