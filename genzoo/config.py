"""Config dataclasses: type-checked `key=value` overrides and JSON round trips.

Every model has a config dataclass with documented defaults; the trainer has `TrainConfig`.
Overrides come from the command line as strings (`--set width=64 betas=0.5,0.999`) or from Python
as values, and are checked against the field's annotated type so a typo fails loudly. Floats must be
finite, and a field may declare bounds (`field(32, "width", ge=1)`, `field(1e-3, "lr", gt=0)`) that
every override and every saved config is checked against, before the config's own `validate()`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import operator
import types
import typing
from typing import Any, Literal, get_args, get_origin

from genzoo.errors import ConfigError


def _field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{text!r} is not a boolean (use true/false)")


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert `value` (a string from the CLI or a Python value) to the annotated type `tp`."""
    origin = get_origin(tp)
    try:
        if tp is Any:
            return value
        if origin in (typing.Union, types.UnionType):
            args = get_args(tp)
            if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
                if type(None) in args:
                    return None
            errors = []
            for arg in args:
                if arg is type(None):
                    continue
                try:
                    return coerce(value, arg, key)
                except ConfigError as e:
                    errors.append(str(e))
            raise ConfigError(errors[0] if errors else f"{key}: cannot convert {value!r}")
        if origin is Literal:
            choices = get_args(tp)
            for c in choices:
                if value == c or (isinstance(value, str) and str(c) == value):
                    return c
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, choices))}")
        if origin in (tuple, list):
            args = get_args(tp)
            items = value.split(",") if isinstance(value, str) else list(value)
            items = [i for i in items if not (isinstance(i, str) and i.strip() == "")]
            if origin is tuple and args and args[-1] is not Ellipsis:
                if len(items) != len(args):
                    raise ConfigError(f"{key}: expected {len(args)} comma-separated values, got {value!r}")
                out = [coerce(i, a, key) for i, a in zip(items, args)]
            else:
                item_tp = args[0] if args else Any
                out = [coerce(i, item_tp, key) for i in items]
            return tuple(out) if origin is tuple else out
        if tp is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str):
                return _parse_bool(value)
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError(f"{value!r} is not a boolean")
        if tp is int:
            if isinstance(value, bool):
                raise ValueError("boolean given where an integer is expected")
            if isinstance(value, str):
                value = value.strip()
                try:
                    f = float(value)  # accepts 1e4 and 100.0, as people write step counts
                except ValueError:
                    raise ValueError(f"{value!r} is not a whole number") from None
                if not f.is_integer():
                    raise ValueError(f"{value!r} is not a whole number")
                return int(f)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"{value!r} is not a whole number")
            return int(value)
        if tp is float:
            if isinstance(value, bool):
                raise ValueError("boolean given where a number is expected")
            number = float(value)
            if not math.isfinite(number):
                raise ConfigError(f"{key}: {value!r} is not a finite number; give a number such as 0.5")
            return number
        if tp is str:
            return str(value)
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            return from_dict(tp, value)
        return value
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{key}: cannot use {value!r} ({e})") from None


def field_names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def unknown_key_error(key: str, known: list[str], what: str) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ConfigError(f"unknown {what} key {key!r}.{hint} Known keys: {', '.join(sorted(known))}")


def replace(cfg, overrides: dict[str, Any], what: str = "config"):
    """Return a copy of dataclass `cfg` with type-checked overrides applied."""
    if not overrides:
        return cfg
    hints = _field_types(type(cfg))
    known = field_names(type(cfg))
    changes = {}
    for key, value in overrides.items():
        if key not in known:
            raise unknown_key_error(key, known, what)
        changes[key] = coerce(value, hints[key], key)
    return checked(dataclasses.replace(cfg, **changes))


# field bounds: metadata key -> (comparison the value must pass, words for the message, symbol for the docs)
_BOUNDS = {"ge": (operator.ge, "at least", ">="), "gt": (operator.gt, "greater than", ">"),
           "le": (operator.le, "at most", "<="), "lt": (operator.lt, "less than", "<")}


def check_bounds(cfg) -> None:
    """Every field declared with bounds (`field(..., ge=1)`) holds values inside them; for tuples and
    lists, every item does. None (an unset optional) passes."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        items = value if isinstance(value, (tuple, list)) else (value,)
        for bound, (passes, words, _) in _BOUNDS.items():
            limit = f.metadata.get(bound)
            if limit is None:
                continue
            if any(isinstance(v, (int, float)) and not passes(v, limit) for v in items):
                what = f"every item of {f.name}" if items is value else f.name
                raise ConfigError(f"{what} must be {words} {limit}, got {value!r}")


def checked(cfg):
    """`cfg` after its field bounds and its own `validate()` (cross-field rules) passed."""
    check_bounds(cfg)
    validate = getattr(cfg, "validate", None)
    if callable(validate):
        validate()
    return cfg


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """Parse `["a=1", "b=x,y"]` into a dict, with a clear error for malformed items."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r} (e.g. --set width=64)")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        out[key] = value
    return out


def to_dict(cfg) -> dict[str, Any]:
    """JSON-friendly dict of a dataclass (tuples become lists)."""
    return dataclasses.asdict(cfg)


def from_dict(cls, data: dict[str, Any]):
    """Rebuild a config dataclass from `to_dict` output (a saved config); unknown keys are an error that
    points at a version mismatch, since this genzoo did not write them."""
    if not isinstance(data, dict):
        raise ConfigError(f"a saved {cls.__name__} must be a JSON object, got {type(data).__name__}")
    hints = _field_types(cls)
    known = field_names(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            err = unknown_key_error(key, known, cls.__name__)
            raise ConfigError(f"{err} (saved by another genzoo version? use that version, or remove the key)")
        kwargs[key] = coerce(value, hints[key], key)
    return checked(cls(**kwargs))


def describe(cls) -> list[tuple[str, str, str, str]]:
    """(name, type, default, help) rows for documentation and `genzoo list MODEL`."""
    rows = []
    hints = _field_types(cls)
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "")
        tp = hints[f.name]
        if get_origin(tp) is Literal:
            tname = "|".join(map(str, get_args(tp)))
        else:
            tname = str(tp).replace("typing.", "") if get_origin(tp) else getattr(tp, "__name__", str(tp))
        bounds = ", ".join(f"{symbol} {f.metadata[b]}" for b, (_, _, symbol) in _BOUNDS.items() if b in f.metadata)
        help_ = f.metadata.get("help", "") + (f" ({bounds})" if bounds else "")
        rows.append((f.name, tname, repr(default), help_))
    return rows


def field(default: Any, help: str, *, ge: float | None = None, gt: float | None = None,  # noqa: A002
          le: float | None = None, lt: float | None = None) -> Any:
    """A dataclass field with a help string (shown by `genzoo list MODEL`) and optional bounds on its
    value (ge: >=, gt: >, le: <=, lt: <), checked by `replace` and `from_dict`."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    metadata = {"help": help, **bounds}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)
