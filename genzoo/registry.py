"""Model registry: name -> (Model class, config dataclass, preset overrides, default trainer settings).

Models register themselves with `@register(...)`; a preset (e.g. `wgan-gp`) is the same class with
other config defaults, registered with `register_preset`. `genzoo list` prints this table.

A model's best defaults can differ between datasets (a GAN tuned on MNIST digits is not the best one on colour
photographs), so an entry may also carry per-dataset defaults (`dataset_defaults`, set with
`set_dataset_defaults`): config overrides applied on top of the preset when the model is built for data of that
name, and below the user's own overrides, and likewise trainer settings (`dataset_train_defaults`: a recipe's batch
size and length) on top of `train_defaults`. A run folder records the resolved config, so a resumed or reloaded
run never depends on them.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import warnings
from dataclasses import dataclass, field
from typing import Any

from genzoo.checkpoint import seed_everything
from genzoo.config import replace
from genzoo.errors import ConfigError


@dataclass(frozen=True)
class Entry:
    name: str
    model_cls: type
    config_cls: type
    description: str
    family: str
    preset: dict[str, Any] = field(default_factory=dict)
    train_defaults: dict[str, Any] = field(default_factory=dict)
    # dataset name -> config overrides for that data (on top of `preset`)
    dataset_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    # dataset name -> trainer settings for that data (on top of `train_defaults`: a recipe's batch size, length)
    dataset_train_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)

    def default_config(self, dataset: str = ""):
        """The config this entry builds with by default, for data named `dataset` ("": no dataset's defaults)."""
        return replace(self.config_cls(), {**self.preset, **self.dataset_defaults.get(dataset, {})},
                       what=f"{self.name} config" + (f" for {dataset}" if dataset in self.dataset_defaults else ""))

    def trainer_defaults(self, dataset: str = "") -> dict[str, Any]:
        """The trainer settings this entry trains with by default on data named `dataset`."""
        return with_settings(self.train_defaults, self.dataset_train_defaults.get(dataset, {}))


def with_settings(defaults: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """Trainer `settings` over `defaults`, where a length given (`steps` or `epochs`) replaces both default lengths."""
    if {"steps", "epochs"} & settings.keys():
        defaults = {k: v for k, v in defaults.items() if k not in ("steps", "epochs")}
    return {**defaults, **settings}


_REGISTRY: dict[str, Entry] = {}


def register(name: str, *, config: type, family: str, description: str = "",
             train_defaults: dict[str, Any] | None = None, preset: dict[str, Any] | None = None):
    """Class decorator: make a Model available to `build(name)` and the CLI."""

    def deco(cls):
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} registered twice")
        desc = description or (cls.__doc__ or "").strip().splitlines()[0]
        _REGISTRY[name] = Entry(name, cls, config, desc, family, dict(preset or {}), dict(train_defaults or {}))
        if not getattr(cls, "name", None):
            cls.name = name
        return cls

    return deco


def register_preset(name: str, base: str, *, description: str, preset: dict[str, Any],
                    train_defaults: dict[str, Any] | None = None) -> None:
    """Register `name` as `base` with other config defaults (and optionally other trainer defaults)."""
    b = _REGISTRY[base]
    td = {**b.train_defaults, **(train_defaults or {})}
    _REGISTRY[name] = Entry(name, b.model_cls, b.config_cls, description, b.family, {**b.preset, **preset}, td)


# The modules whose classes register themselves: a plugin table, like an entry-point group. The registry sits
# below the models in the layers (docs/ARCHITECTURE.md), so it names them instead of importing them, and
# imports them by name on the first lookup. Other packages add models through the "genzoo.models" entry-point
# group, each entry naming a module that calls `register` when imported.
MODEL_MODULES = ("genzoo.models",)
ENTRY_POINT_GROUP = "genzoo.models"
_loaded = False


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in MODEL_MODULES:
        importlib.import_module(module)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            importlib.import_module(ep.value.split(":")[0])
        except Exception as e:  # a broken plugin must not take the built-in models down with it
            warnings.warn(f"genzoo model plugin {ep.name!r} ({ep.value}) failed to import: {e}", stacklevel=2)


def get(name: str) -> Entry:
    _ensure_loaded()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown model {name!r}.{hint} Run `genzoo list` to see the models.")
    return _REGISTRY[name]


def entries() -> list[Entry]:
    _ensure_loaded()
    return list(_REGISTRY.values())


def set_dataset_defaults(name: str, datasets: tuple[str, ...], overrides: dict[str, Any],
                         train: dict[str, Any] | None = None) -> None:
    """Give model `name` other config defaults (and, with `train`, other trainer defaults) on the named datasets
    (see the module docstring). A preset registered from `name` does not inherit them: each set is measured for
    one preset. (The trainer settings are checked by the tests: the registry sits below the trainer.)"""
    entry = get(name)
    replace(entry.config_cls(), {**entry.preset, **overrides}, what=f"{name} defaults for {datasets[0]}")  # valid now
    for d in datasets:
        entry.dataset_defaults[d] = dict(overrides)
        if train:
            entry.dataset_train_defaults[d] = dict(train)


def make_config(name: str, overrides: dict[str, Any] | None = None, dataset: str = ""):
    entry = get(name)
    return replace(entry.default_config(dataset), overrides or {}, what=f"{name} config")


def build(name: str, spec, overrides: dict[str, Any] | None = None, config=None, seed: int | None = None):
    """Build model `name` for data spec `spec` with config overrides (or a ready config).

    Without `config`, the entry's defaults for the data (`spec.name`) come first, then `overrides`. With `seed`,
    the global RNG is seeded first so that the initial weights are reproducible.
    """
    entry = get(name)
    cfg = config if config is not None else make_config(name, overrides, getattr(spec, "name", ""))
    if seed is not None:
        seed_everything(seed)
    model = entry.model_cls(cfg, spec)
    model.name = name
    return model
