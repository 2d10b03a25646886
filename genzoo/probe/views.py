"""What attacks and visualizations see of a trained model: functions of images in [0, 1]."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from genzoo.data.imageset import from_unit
from genzoo.errors import ConfigError


@dataclass
class NetView:
    """One network of a model, as visualization and attacks use it."""

    name: str  # "classifier", "discriminator", "generator"
    net: nn.Module  # whose named submodules are the layers to target
    forward: Callable[[torch.Tensor], torch.Tensor] | None  # images in [0, 1] -> outputs (N x K)
    classes: list[str]  # names of the output columns that are classes ([] when the outputs are not classes)


def class_names(spec) -> list[str]:
    names = list(spec.class_names or [])
    return names if len(names) == spec.num_classes else [str(k) for k in range(spec.num_classes)]


def classifier_view(model, run_name: str = "this run") -> NetView:
    """The model's class scores as a function of images in [0, 1]; a clear error for models without them."""
    if not hasattr(model, "class_logits") or model.spec.num_classes < 2 or \
            getattr(model.cfg, "target", "class") != "class":
        raise ConfigError(f"{run_name} is a {model.name} run: attacks need a model with class scores, e.g. a "
                          f"classifier run (genzoo train classifier --data {model.spec.name})")
    net = getattr(model, "net", model)
    return NetView("classifier", net, lambda x01: model.class_logits(from_unit(x01, model.input_range)),
                   class_names(model.spec))


def discriminator_view(model) -> NetView:
    """A GAN's discriminator: output 0 is its realness score, then its class logits if it has any (ACGAN)."""
    def forward(x01: torch.Tensor) -> torch.Tensor:
        out = model.critic(from_unit(x01, model.input_range))
        score = out.score[:, None]
        return score if out.aux is None else torch.cat([score, out.aux], 1)
    return NetView("discriminator", model.D, forward, [])


def net_views(model) -> dict[str, NetView]:
    """Every network of `model` that `genzoo viz` can look into, by name."""
    views: dict[str, NetView] = {}
    if hasattr(model, "class_logits") and model.spec.num_classes >= 2:
        views["classifier"] = classifier_view(model)
    if hasattr(model, "critic") and hasattr(model, "D"):
        views["discriminator"] = discriminator_view(model)
    if hasattr(model, "G"):
        views["generator"] = NetView("generator", model.G, None, [])
    if not views:
        raise ConfigError(f"{model.name} has no classifier, discriminator or generator to look into")
    return views
