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
    from genzoo.data.imageset import DataSpec, ImageSet
    from genzoo.registry import build as _build

    if not isinstance(spec, DataSpec):  # else an AttributeError from deep inside the model
        hint = "pass data.spec" if isinstance(spec, ImageSet) else "e.g. genzoo.load_data('mnist-mini').spec"
        raise ConfigError(f"build({name!r}, spec): spec must be a DataSpec ({hint}), got {type(spec).__name__}")
    return _build(name, spec, overrides, seed=seed)


def train(model, data, out: str | None = None, eval_data=None, **train_settings):
    """Train `model` on `data` and write a run folder (with its report.html); returns the Trainer.

    Trainer settings (`genzoo.training.TrainConfig`) start from the model's registered defaults for this data, as
    `genzoo train` does (`genzoo list MODEL` prints them); giving `steps` or `epochs` replaces both of the
    defaults' lengths. `eval_data` (e.g. the test split) is evaluated periodically and at the end.
    """
    from genzoo import registry
    from genzoo.config import replace
    from genzoo.training import TrainConfig, Trainer

    try:
        settings = registry.get(model.name).trainer_defaults(getattr(getattr(data, "spec", None), "name", ""))
    except (AttributeError, ConfigError):  # a model built outside the registry has no defaults
        settings = {}
    _image_set(data, "data", model)
    if eval_data is not None:
        _image_set(eval_data, "eval_data", model)
    settings = registry.with_settings(settings, train_settings)
    trainer = Trainer(model, data, replace(TrainConfig(), settings, what="trainer"), run_dir=out, eval_data=eval_data)
    summary = trainer.fit()
    if out is not None and summary["status"] != "interrupted" and trainer.dist.is_main:
        import warnings

        try:
            from genzoo.report.page import write_report

            write_report(out)
        except Exception as e:  # the run is done and saved; the report is only a view of it
            warnings.warn(f"report not written ({type(e).__name__}: {e}); try `genzoo report {out}`", stacklevel=2)
    return trainer


def evaluate(model, data, **kwargs) -> dict:
    """Evaluate a model on a dataset with the model's own evaluation (accuracy, ...)."""
    return model.evaluate(_image_set(data, "data", model), **kwargs)


def load_run(run_dir: str, which: str = "best"):
    """Load a trained model back from its run folder."""
    from genzoo.runs import load_model

    return load_model(run_dir, which=which)


def _image_set(data, what: str, model):
    """`data` itself when it is an ImageSet of the images `model` was built for; anything else is a ConfigError
    saying what to pass (a tensor, or images of another shape, failed deep inside the model)."""
    from genzoo.data.imageset import ImageSet

    if not isinstance(data, ImageSet):
        raise ConfigError(f"{what} must be an ImageSet (e.g. genzoo.load_data('mnist-mini')), got {type(data).__name__}"
                          "; a uint8 N x C x H x W tensor becomes one as genzoo.data.ImageSet(images, labels)")
    spec = getattr(model, "spec", None)
    if spec is not None and tuple(data.spec.shape) != tuple(spec.shape):
        shape = "x".join(map(str, spec.shape))
        raise ConfigError(f"{what} {data.name!r} holds {'x'.join(map(str, data.spec.shape))} images (C x H x W), but "
                          f"this {model.name} was built for {shape} ones ({spec.name!r}): build the model with "
                          f"{what}.spec, or load data of that shape (e.g. image_size=...)")
    return data
