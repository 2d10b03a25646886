"""`model.sample(n)` from Python: an n that is no count of images is genzoo's error for every sampling model (0, -1,
2.5 and "4" failed deep inside torch: torch.cat of an empty list, a negative dimension, randn's argument types)."""

import pytest
import torch

import genzoo
from genzoo import registry
from genzoo.data.imageset import ImageSet
from genzoo.errors import ConfigError, GenzooError
from genzoo.models.base import sample_count

SPEC = ImageSet(torch.zeros(20, 1, 16, 16, dtype=torch.uint8), torch.arange(20) % 10, name="grey16",
                class_names=tuple(f"c{i}" for i in range(10))).spec


def test_sample_count():
    assert sample_count(3) == 3 and sample_count(torch.tensor(2)) == 2
    for bad, message in ((0, "at least 1; got 0"), (-1, "got -1"), (2.5, "whole number; got float 2.5"),
                         ("4", "got str '4'"), (None, "got NoneType")):
        with pytest.raises(ConfigError, match=message):
            sample_count(bad)


def test_every_sampling_model_refuses_a_bad_n():
    checked = []
    for name in sorted(e.name for e in registry.entries()):
        try:
            model = genzoo.build(name, SPEC, seed=0)
        except GenzooError:  # a model for other data (colour, captions, attributes, sequences)
            continue
        if not model.can_sample() or not type(model).sample.__module__.startswith("genzoo."):
            continue  # tests register toy models of their own (test-mean-image) on the same worker
        for bad in (0, 2.5):
            with pytest.raises(ConfigError, match="sample\\(n\\): n is the number of images"):
                print(name)  # shown when it does not raise
                model.sample(bad)
        checked.append(type(model).sample.__qualname__.split(".")[0])
    # the classes that implement sample() whose models take grey 16x16 images (attr-gan and text-gan, which take
    # attributes and captions, share the check)
    assert set(checked) >= {"GAN", "ConditionalGAN", "LAPGAN", "AutoregressiveModel", "VAE", "AAE", "RBM", "DBN"}, \
        sorted(set(checked))
