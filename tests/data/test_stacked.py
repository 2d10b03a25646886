"""Stacked MNIST: three digits per image, one per channel; label 100 a + 10 b + c."""

import pytest
import torch

from genzoo.data import load
from genzoo.data.imageset import ImageSet
from genzoo.data.stacked import stack_digits
from genzoo.errors import DataError
from tests.conftest import shared_path


def test_channels_hold_the_labelled_digits(mini_test):
    s = stack_digits(mini_test, 300, seed=5)
    assert s.shape == (3, 28, 28) and len(s) == 300 and s.num_classes == 1000 and s.class_names[42] == "042"
    idx = torch.randint(len(mini_test), (300, 3), generator=torch.Generator().manual_seed(5))
    for c in range(3):
        assert torch.equal(s.images[:, c], mini_test.images[idx[:, c], 0])
    digits = torch.stack([s.labels // 100, s.labels // 10 % 10, s.labels % 10], 1)
    assert torch.equal(digits, mini_test.labels[idx])
    assert torch.equal(stack_digits(mini_test, 300, seed=5).images, s.images)  # seeded


def test_needs_labelled_grey_digits():
    with pytest.raises(DataError, match="1-channel digits"):
        stack_digits(ImageSet(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4)), 10)


def test_named_dataset_from_the_mnist_files():
    root = shared_path("mnist")
    a = load("stacked-mnist", "test", data_dir=root.parent)
    assert len(a) == 10000 and a.shape == (3, 28, 28) and a.num_classes == 1000
    assert torch.equal(a.images[:50], load("stacked-mnist", "test", data_dir=root.parent, limit=50).images)
    assert a.labels.unique().numel() > 990  # 10,000 draws over 1000 triples
