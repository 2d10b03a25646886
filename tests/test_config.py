from dataclasses import dataclass
from typing import Literal

import pytest

import genzoo
from genzoo import registry
from genzoo.config import check_bounds, coerce, field, from_dict, parse_assignments, replace, to_dict
from genzoo.errors import ConfigError
from genzoo.training import TrainConfig


@dataclass
class Cfg:
    width: int = field(8, "w")
    lr: float = field(1e-3, "lr")
    loss: Literal["a", "b"] = field("a", "loss")
    betas: tuple[float, float] = field((0.5, 0.999), "betas")
    flag: bool = field(False, "flag")
    steps: int | None = field(None, "steps")


def test_overrides_are_type_checked():
    c = replace(Cfg(), parse_assignments(["width=16", "lr=2e-4", "loss=b", "betas=0,0.9", "flag=true",
                                          "steps=none"]))
    assert (c.width, c.lr, c.loss, c.betas, c.flag, c.steps) == (16, 2e-4, "b", (0.0, 0.9), True, None)
    with pytest.raises(ConfigError, match="width.*1.5"):
        replace(Cfg(), {"width": "1.5"})
    with pytest.raises(ConfigError, match=r"^width: cannot use 'abc' \('abc' is not a whole number\)$"):
        replace(Cfg(), {"width": "abc"})  # not "could not convert string to float"
    assert replace(Cfg(), {"width": "1e2"}).width == 100
    with pytest.raises(ConfigError, match="not one of a, b"):
        replace(Cfg(), {"loss": "c"})
    with pytest.raises(ConfigError, match="expected 2 comma-separated"):
        replace(Cfg(), {"betas": "0.5"})
    with pytest.raises(ConfigError, match="boolean"):
        replace(Cfg(), {"flag": "maybe"})


def test_unknown_key_suggests():
    with pytest.raises(ConfigError, match="Did you mean width"):
        replace(Cfg(), {"widht": 3})


def test_json_round_trip():
    c = Cfg(width=3, betas=(0.1, 0.2))
    assert from_dict(Cfg, to_dict(c)) == c


def test_bad_assignment():
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignments(["width"])
    assert coerce("7", int | None, "k") == 7


@dataclass
class Bounded:
    width: int = field(8, "w", ge=1)
    lr: float = field(1e-3, "lr", gt=0)
    ema: float = field(0.0, "ema", ge=0, lt=1)
    hidden: tuple[int, ...] = field((4, 4), "widths", ge=1)
    steps: int | None = field(None, "steps", ge=1)


@pytest.mark.parametrize("key, value, message", [
    ("width", "0", "width must be at least 1, got 0"),
    ("lr", "0", "lr must be greater than 0, got 0.0"),
    ("lr", "-1e-3", "lr must be greater than 0"),
    ("ema", "1", "ema must be less than 1, got 1.0"),
    ("hidden", "4,0", r"every item of hidden must be at least 1, got \(4, 0\)"),
    ("steps", "0", "steps must be at least 1"),
])
def test_bounds_are_checked_by_replace_and_from_dict(key, value, message):
    with pytest.raises(ConfigError, match=message):
        replace(Bounded(), {key: value})
    with pytest.raises(ConfigError, match=message):
        from_dict(Bounded, {key: value})  # a saved config (e.g. an edited config.json) is checked too


def test_bounds_pass_inside_and_for_none():
    c = replace(Bounded(), {"width": "1", "lr": "1e-9", "ema": "0.999", "hidden": "1", "steps": "none"})
    assert (c.width, c.ema, c.hidden, c.steps) == (1, 0.999, (1,), None)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN"])
def test_floats_must_be_finite(text):
    with pytest.raises(ConfigError, match="lr: .* is not a finite number"):
        replace(Cfg(), {"lr": text})
    with pytest.raises(ConfigError, match="not a finite number"):
        replace(Cfg(), {"betas": f"0.5,{text}"})


def test_unknown_key_in_a_saved_config_points_at_the_version():
    with pytest.raises(ConfigError, match="widht.*another genzoo version"):
        from_dict(Cfg, {"widht": 3})


@pytest.mark.parametrize("entry", registry.entries(), ids=lambda e: e.name)
def test_every_default_config_is_inside_its_bounds(entry):
    check_bounds(entry.default_config())
    for dataset in entry.dataset_defaults:
        check_bounds(entry.default_config(dataset))
    for dataset in ["", *entry.dataset_train_defaults]:  # the registry cannot check these when they are set
        check_bounds(replace(TrainConfig(), entry.trainer_defaults(dataset), what="trainer"))


@pytest.fixture
def dcgan_without_dataset_defaults():
    """dcgan's registry entry with its per-dataset defaults emptied for the test and restored after it."""
    entry = registry.get("dcgan")
    saved = dict(entry.dataset_defaults), dict(entry.dataset_train_defaults)
    entry.dataset_defaults.clear()
    entry.dataset_train_defaults.clear()
    yield entry
    for held, kept in zip((entry.dataset_defaults, entry.dataset_train_defaults), saved):
        held.clear()
        held.update(kept)


def test_dataset_defaults_apply_on_that_data_only_and_yield_to_the_users_overrides(dcgan_without_dataset_defaults,
                                                                                    mini, cli, tmp_path):
    import dataclasses

    entry = dcgan_without_dataset_defaults
    registry.set_dataset_defaults("dcgan", ("mnist-mini", "other-digits"), {"d_norm": "none", "spectral_norm": True})
    assert set(entry.dataset_defaults) == {"mnist-mini", "other-digits"}
    built = registry.build("dcgan", mini.spec)
    assert (built.cfg.d_norm, built.cfg.spectral_norm, built.cfg.g_hidden) == ("none", True, 512)  # on the preset
    elsewhere = registry.build("dcgan", dataclasses.replace(mini.spec, name="fashion-mnist"))
    assert (elsewhere.cfg.d_norm, elsewhere.cfg.spectral_norm) == ("batch", False)
    mine = registry.build("dcgan", mini.spec, {"d_norm": "layer"})
    assert (mine.cfg.d_norm, mine.cfg.spectral_norm) == ("layer", True)
    assert registry.build("dcgan-paper", mini.spec).cfg.spectral_norm is False  # presets do not inherit them
    listed = cli("list", "dcgan", check=True).stdout
    assert "defaults on mnist-mini (instead of the above): d_norm=none, spectral_norm=True" in listed

    r = cli("train", "dcgan", "--data", "mnist-mini", "--steps", "1", "--quiet", "--set", "spectral_norm=false",
            "--set", "eval_samples=200", "--out", str(tmp_path / "run"), check=True)
    assert "dcgan's defaults on mnist-mini: d_norm=none (" in r.stdout  # the one the user did not override
    import json

    saved = json.loads((tmp_path / "run" / "config.json").read_text())["model_config"]
    assert (saved["d_norm"], saved["spectral_norm"]) == ("none", False)  # the run keeps what it was built with


def test_dataset_trainer_defaults_apply_on_that_data_only_and_yield_to_the_users_flags(
        dcgan_without_dataset_defaults, mini, cli, tmp_path):
    import json

    entry = dcgan_without_dataset_defaults
    registry.set_dataset_defaults("dcgan", ("mnist-mini",), {}, train={"batch_size": 16, "steps": 2})
    assert entry.trainer_defaults("mnist-mini") == {**entry.train_defaults, "batch_size": 16, "steps": 2}
    assert entry.trainer_defaults("fashion-mnist") == entry.train_defaults
    registry.set_dataset_defaults("dcgan", ("mnist-mini",), {}, train={"epochs": 1})
    assert "steps" not in entry.trainer_defaults("mnist-mini")  # a length replaces the other length
    registry.set_dataset_defaults("dcgan", ("mnist-mini",), {}, train={"batch_size": 16, "steps": 2})
    assert "defaults on mnist-mini (instead of the above): batch_size=16, steps=2" in cli("list", "dcgan",
                                                                                          check=True).stdout
    r = cli("train", "dcgan", "--data", "mnist-mini", "--quiet", "--set", "eval_samples=200", "--out",
            str(tmp_path / "a"), check=True)
    assert "dcgan's defaults on mnist-mini: batch_size=16, steps=2 (" in r.stdout
    saved = json.loads((tmp_path / "a" / "config.json").read_text())["train"]
    assert (saved["batch_size"], saved["steps"]) == (16, 2)
    cli("train", "dcgan", "--data", "mnist-mini", "--quiet", "--batch-size", "8", "--steps", "1", "--set",
        "eval_samples=200", "--out", str(tmp_path / "b"), check=True)
    saved = json.loads((tmp_path / "b" / "config.json").read_text())["train"]
    assert (saved["batch_size"], saved["steps"]) == (8, 1)
    model = genzoo.build("dcgan", mini.spec, seed=0)
    trainer = genzoo.train(model, mini, out=str(tmp_path / "c"), progress=False, eval_samples=200)
    assert (trainer.cfg.batch_size, trainer.cfg.steps) == (16, 2)  # the Python API reads them too


def test_dataset_defaults_are_checked_when_set(dcgan_without_dataset_defaults):
    with pytest.raises(ConfigError, match="d_norm"):
        registry.set_dataset_defaults("dcgan", ("mnist-mini",), {"d_norm": "spectral"})
    assert "mnist-mini" not in registry.get("dcgan").dataset_defaults


def test_every_learning_rate_and_size_is_bounded():
    """lr / lr_* keys must be > 0 (>= 0 where the help says what 0 switches off); integer widths, sizes and
    counts declare a lower bound."""
    import dataclasses

    for entry in registry.entries():
        for f in dataclasses.fields(entry.config_cls):
            if f.name == "lr" or f.name.startswith("lr_"):
                off = f.metadata.get("ge") == 0 and "0 turns" in f.metadata["help"]
                assert f.metadata.get("gt") == 0 or off, f"{entry.name}.{f.name} has no gt=0 bound"
            elif f.type in ("int", "tuple[int, ...]"):
                assert "ge" in f.metadata or "gt" in f.metadata, f"{entry.name}.{f.name} has no lower bound"
