"""Binary attributes derived from MNIST digit labels: a multi-label dataset with known ground truth.

Datasets `mnist-attrs` (from the MNIST files) and `mnist-mini-attrs` (from the embedded subset) are
MNIST with these attribute columns added to the digit labels, so attribute-conditional models
(attr-gan) can be trained and scored where CelebA is not available:

    even         the digit is even (0, 2, 4, 6, 8)
    at_least_5   the digit is 5 or more
    closed_loop  the digit is usually written with a closed loop (0, 6, 8, 9)

Not every combination exists (an odd digit below 5 never has a loop), as in real attribute data.
"""

from __future__ import annotations

import dataclasses

import torch

from genzoo.data.catalog import DATASETS, Request, derived_dataset
from genzoo.data.imageset import ImageSet

DIGIT_ATTRS: dict[str, tuple[int, ...]] = {
    "even": (0, 2, 4, 6, 8),
    "at_least_5": (5, 6, 7, 8, 9),
    "closed_loop": (0, 6, 8, 9),
}
ATTR_NAMES = tuple(DIGIT_ATTRS)


def attribute_table(names: tuple[str, ...] = ATTR_NAMES) -> torch.Tensor:
    """10 x A uint8 table: row d holds the attributes of digit d."""
    table = torch.zeros(10, len(names), dtype=torch.uint8)
    for j, name in enumerate(names):
        table[list(DIGIT_ATTRS[name]), j] = 1
    return table


def digit_attributes(digits: torch.Tensor, names: tuple[str, ...] = ATTR_NAMES) -> torch.Tensor:
    """N digit labels (or predictions) -> N x A uint8 attribute matrix."""
    return attribute_table(names)[digits.long()]


def with_digit_attributes(data: ImageSet, name: str) -> ImageSet:
    """`data` (MNIST with labels) with the derived attribute columns, renamed `name`."""
    return dataclasses.replace(data, attrs=digit_attributes(data.labels), attr_names=ATTR_NAMES, name=name)


def _add_attributes(digits: ImageSet, req: Request) -> ImageSet:
    return with_digit_attributes(digits, req.name)


for _base in ("mnist", "mnist-mini"):
    derived_dataset(
        f"{_base}-attrs", f"{_base} with 3 binary attributes derived from the digit: even, at_least_5, "
        "closed_loop (0/6/8/9); multi-label data for attr-gan (genzoo.data.digit_attrs)", base=_base,
        shape=(1, 28, 28), num_classes=10, license=DATASETS[_base].license,
        class_names=DATASETS[_base].class_names)(_add_attributes)
