"""Stacked MNIST: three independently drawn MNIST digits, one per colour channel: 1000 classes.

The mode-collapse benchmark of Metz et al. 2017 ("Unrolled GANs", Sec. 3.3.1) and Srivastava et al.
2017 (VEEGAN, Sec. 5.2): a model that covers the data has all 1000 digit triples (modes) equally
often; `genzoo.metrics` counts them with the MNIST feature network applied to each channel.
"""

from __future__ import annotations

import torch

from genzoo.data.catalog import Request, derived_dataset
from genzoo.data.imageset import ImageSet
from genzoo.errors import DataError

CLASS_NAMES = tuple(f"{i:03d}" for i in range(1000))


def stack_digits(digits: ImageSet, n: int, seed: int = 0, name: str = "stacked-mnist") -> ImageSet:
    """n images of 3 x H x W: channel c holds digit image i_c drawn uniformly (seeded) from `digits`;
    the label is 100 y_0 + 10 y_1 + y_2."""
    if digits.labels is None or digits.shape[0] != 1 or digits.num_classes != 10:
        raise DataError(f"stacked MNIST needs labelled 1-channel digits (10 classes), got {digits!r}")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(digits), (n, 3), generator=g)  # n x 3
    _, h, w = digits.shape
    images = digits.images[idx.reshape(-1), 0].reshape(n, 3, h, w)
    labels = (digits.labels[idx] * torch.tensor([100, 10, 1])).sum(1)
    return ImageSet(images, labels, class_names=CLASS_NAMES, name=name)


@derived_dataset("stacked-mnist", "Stacked MNIST: 3 MNIST digits in the 3 channels, 1000 classes (Metz et al. "
                 "2017); built (seeded) from the MNIST files, 60,000 train / 10,000 test", base="mnist",
                 shape=(3, 28, 28), num_classes=1000, license="CC BY-SA 3.0 (MNIST)", class_names=CLASS_NAMES)
def from_mnist(digits: ImageSet, req: Request) -> ImageSet:
    """As many stacks as digits in the split; seed 0 for train, 1 for test."""
    return stack_digits(digits, len(digits), seed=0 if req.split == "train" else 1, name=req.name)
