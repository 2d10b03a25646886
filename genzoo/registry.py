"""Model registry: name -> (Model class, config dataclass, preset overrides, default trainer settings).

Models register themselves with `@register(...)`; a preset (e.g. `wgan-gp`) is the same class with
other config defaults, registered with `register_preset`. `genzoo list` prints this table.
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

    def default_config(self):
        return replace(self.config_cls(), self.preset, what=f"{self.name} config")


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


def make_config(name: str, overrides: dict[str, Any] | None = None):
    entry = get(name)
    return replace(entry.default_config(), overrides or {}, what=f"{name} config")


def build(name: str, spec, overrides: dict[str, Any] | None = None, config=None, seed: int | None = None):
    """Build model `name` for data spec `spec` with config overrides (or a ready config).

    With `seed`, the global RNG is seeded first so that the initial weights are reproducible.
    """
    entry = get(name)
    cfg = config if config is not None else make_config(name, overrides)
    if seed is not None:
        seed_everything(seed)
    model = entry.model_cls(cfg, spec)
    model.name = name
    return model
