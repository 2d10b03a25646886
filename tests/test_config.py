from dataclasses import dataclass
from typing import Literal

import pytest

from genzoo.config import coerce, field, from_dict, parse_assignments, replace, to_dict
from genzoo.errors import ConfigError


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
