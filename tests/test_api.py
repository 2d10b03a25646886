"""The Python API of README's "Python API" section: genzoo.load_data / build / train / evaluate / load_run."""

import json

import pytest
import torch

import genzoo
from genzoo.errors import ConfigError


@pytest.fixture(scope="module")
def small():
    return genzoo.load_data("mnist-mini", limit=256), genzoo.load_data("mnist-mini", split="test", limit=32)


def test_train_stays_the_api_function_after_the_training_package_is_imported(small, tmp_path):
    data, _ = small
    import genzoo.training  # noqa: F401  (importing a subpackage sets an attribute of its name on genzoo)

    for run in ("a", "b"):  # the second call is the one a shadowing subpackage would break
        model = genzoo.build("classifier", data.spec, width=4)
        genzoo.train(model, data, out=str(tmp_path / run), steps=1, batch_size=8, progress=False)
    assert callable(genzoo.train) and (tmp_path / "b" / "checkpoints" / "last.pt").is_file()


def test_train_starts_from_the_models_registered_defaults(small):
    data, _ = small
    model = genzoo.build("classifier", data.spec, width=4)
    trainer = genzoo.train(model, data, steps=1, progress=False)  # classifier: batch 128, bf16, 8 epochs
    assert (trainer.cfg.steps, trainer.cfg.epochs) == (1, None)  # a given length replaces both default lengths
    assert (trainer.cfg.batch_size, trainer.cfg.precision) == (128, "bf16")
    trainer = genzoo.train(genzoo.build("classifier", data.spec, width=4), data, steps=1, batch_size=8,
                           precision="fp32", progress=False)
    assert (trainer.cfg.batch_size, trainer.cfg.precision) == (8, "fp32")  # given settings win


def test_train_with_eval_data_logs_test_figures(small, tmp_path):
    data, test = small
    model = genzoo.build("classifier", data.spec, width=4)
    genzoo.train(model, data, out=str(tmp_path / "run"), eval_data=test, steps=2, batch_size=8, progress=False)
    figures = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert any(k.startswith("test_") for k in figures), figures
    assert genzoo.load_run(str(tmp_path / "run")).name == "classifier"


def test_unknown_trainer_setting_is_a_config_error(small):
    data, _ = small
    with pytest.raises(ConfigError, match="stpes"):
        genzoo.train(genzoo.build("classifier", data.spec, width=4), data, stpes=1)


def test_arguments_of_the_wrong_kind_are_config_errors_saying_what_to_pass(small, tmp_path):
    """They were AttributeErrors from deep inside (`'str' object has no attribute 'name'`)."""
    data, _ = small
    with pytest.raises(ConfigError, match=r"spec must be a DataSpec \(pass data.spec\), got ImageSet"):
        genzoo.build("classifier", data)
    with pytest.raises(ConfigError, match=r"spec must be a DataSpec .*load_data\('mnist-mini'\).spec\), got str"):
        genzoo.build("classifier", "mnist-mini")
    model = genzoo.build("classifier", data.spec, width=4)
    with pytest.raises(ConfigError, match=r"data must be an ImageSet .*got str"):
        genzoo.train(model, "mnist-mini", steps=1)
    with pytest.raises(ConfigError, match=r"eval_data must be an ImageSet .*got Tensor.*genzoo.data.ImageSet\(images"):
        genzoo.train(model, data, eval_data=data.images, steps=1)
    with pytest.raises(ConfigError, match=r"data must be an ImageSet .*got Tensor"):
        genzoo.evaluate(model, data.images)
    colour = genzoo.data.ImageSet(torch.zeros(8, 3, 32, 32, dtype=torch.uint8), name="colour")
    with pytest.raises(ConfigError, match=r"data 'colour' holds 3x32x32 images .* built for 1x28x28 ones "
                                          r"\('mnist-mini'\): build the model with data.spec"):
        genzoo.evaluate(model, colour)
    with pytest.raises(ConfigError, match=r"eval_data 'colour' holds 3x32x32"):
        genzoo.train(model, data, eval_data=colour, steps=1)
    genzoo.train(model, data, out=str(tmp_path / "run"), steps=1, batch_size=8, progress=False)
    with pytest.raises(ConfigError, match=r"which='worst': .* 'best' and its 'last'"):
        genzoo.load_run(str(tmp_path / "run"), which="worst")
    assert genzoo.load_run(str(tmp_path / "run"), which="last").name == "classifier"
