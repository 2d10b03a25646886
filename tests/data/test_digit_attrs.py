"""mnist-attrs / mnist-mini-attrs: binary attributes derived from the digit labels."""

import torch

from genzoo.data import load
from genzoo.data.digit_attrs import ATTR_NAMES, attribute_table, digit_attributes


def test_attribute_table_by_hand():
    assert ATTR_NAMES == ("even", "at_least_5", "closed_loop")
    t = attribute_table()
    assert t[0].tolist() == [1, 0, 1] and t[1].tolist() == [0, 0, 0] and t[4].tolist() == [1, 0, 0]
    assert t[6].tolist() == [1, 1, 1] and t[7].tolist() == [0, 1, 0] and t[9].tolist() == [0, 1, 1]
    assert t[:, 2].nonzero().flatten().tolist() == [0, 6, 8, 9]
    assert digit_attributes(torch.tensor([8, 3]), ("closed_loop", "even")).tolist() == [[1, 1], [0, 0]]


def test_mnist_mini_attrs_dataset():
    base, data = load("mnist-mini", "test"), load("mnist-mini-attrs", "test", limit=300)
    assert data.name == "mnist-mini-attrs" and data.attr_names == ATTR_NAMES and len(data) == 300
    assert torch.equal(data.images, base.images[:300]) and torch.equal(data.labels, base.labels[:300])
    assert torch.equal(data.attrs, attribute_table()[data.labels])
    assert data.spec.attr_names == ATTR_NAMES and data.spec.num_classes == 10
    assert load("mnist-mini-attrs", "all").attrs.shape == (12000, 3)


def test_data_list_and_info_show_the_attribute_datasets(cli):
    r = cli("data", "list", check=True)
    assert "mnist-mini-attrs" in r.stdout and "closed_loop" in r.stdout
    r = cli("data", "info", "mnist-mini-attrs", check=True)
    assert "attributes (fraction set): even 0.49, at_least_5 0.49, closed_loop 0.39" in r.stdout
