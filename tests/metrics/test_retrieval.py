import math

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from genzoo.errors import ConfigError
from genzoo.metrics.retrieval import (
    chance_precision,
    hamming_distances,
    ndcg_at_k,
    nearest_neighbours,
    pack_bits,
    precision_at_k,
    precision_at_k_by_class,
    top_k_by_score,
)


@pytest.mark.parametrize("nbits", [1, 28, 64, 65, 256])
def test_packed_hamming_equals_counting_differing_bits(nbits):
    g = torch.Generator().manual_seed(nbits)
    a = torch.randint(0, 2, (7, nbits), generator=g)
    b = torch.randint(0, 2, (11, nbits), generator=g)
    packed_b = pack_bits(b)
    assert packed_b.dtype == np.uint64 and packed_b.shape == (11, (nbits + 63) // 64)
    d = hamming_distances(pack_bits(a), np.ascontiguousarray(packed_b.T))
    assert torch.equal(d.long(), (a[:, None, :] != b[None]).sum(-1))


def test_hamming_extremes():
    zeros, ones = torch.zeros(1, 256), torch.ones(1, 256)
    assert int(hamming_distances(pack_bits(zeros), pack_bits(ones).T.copy())[0, 0]) == 256  # no uint8 overflow


def test_pack_bits_rejects_non_binary():
    with pytest.raises(ConfigError, match="only 0 and 1"):
        pack_bits(torch.tensor([[0.0, 0.4]]))


@pytest.mark.parametrize("metric", ["hamming", "euclidean"])
def test_nearest_neighbours_brute_force(metric):
    g = torch.Generator().manual_seed(0)
    if metric == "hamming":
        db = torch.randint(0, 2, (300, 48), generator=g).float()
    else:
        db = torch.randn(300, 5, generator=g)
    q = db[:40]
    idx = nearest_neighbours(q, db, 5, metric, exclude_self=True, chunk=16)
    dist = torch.cdist(q, db, p=1 if metric == "hamming" else 2)
    dist[torch.arange(40), torch.arange(40)] = float("inf")
    # same neighbour distances as brute force (indices may differ only among exact ties)
    assert_close(dist.gather(1, idx), dist.sort(1).values[:, :5])
    assert not (idx == torch.arange(40)[:, None]).any()  # never itself


def test_precision_and_chance():
    labels = torch.tensor([0, 0, 1, 1])
    neighbours = torch.tensor([[1, 2], [0, 1], [3, 0], [0, 1]])
    # query 0: labels 0,1 -> 1/2; query 1: 0,0 -> 1; query 2: 1,0 -> 1/2; query 3: 0,0 -> 0
    assert precision_at_k(labels, labels, neighbours) == pytest.approx(0.5)
    assert chance_precision(labels, labels) == pytest.approx(0.5)
    assert chance_precision(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 3])) == pytest.approx(0.25)
    # by class: class 0's queries score 1/2 and 1, class 1's 1/2 and 0; class 2 has no query
    by_class = precision_at_k_by_class(labels, torch.tensor([0, 0, 1, 1]), neighbours)
    assert by_class == pytest.approx([0.75, 0.25])
    three = precision_at_k_by_class(labels, torch.tensor([0, 0, 1, 2]), neighbours)
    assert three[:2] == pytest.approx([0.75, 0.0]) and math.isnan(three[2])


def test_clustered_codes_retrieve_their_class():
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(200) % 4
    centres = torch.randint(0, 2, (4, 64), generator=g)
    flips = torch.rand(200, 64, generator=g) < 0.1  # each code = its class centre with 10% of bits flipped
    codes = (centres[labels] ^ flips.long()).float()
    idx = nearest_neighbours(codes, codes, 10, "hamming", exclude_self=True)
    assert precision_at_k(labels, labels, idx) > 0.95
    with pytest.raises(ConfigError, match="neighbours requested"):
        nearest_neighbours(codes, codes, 200, "hamming", exclude_self=True)


def test_ndcg_by_hand():
    db = torch.tensor([0, 1, 0, 1, 1])
    q = torch.tensor([0])
    # ranked list: irrelevant, relevant, relevant -> (1/log2 3 + 1/log2 4) / (1 + 1/log2 3)
    want = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(q, db, torch.tensor([[1, 0, 2]])) == pytest.approx(want)
    assert ndcg_at_k(q, db, torch.tensor([[0, 2, 1]])) == pytest.approx(1.0)  # both relevant items first
    assert ndcg_at_k(torch.tensor([2]), torch.tensor([0, 1, 2]), torch.tensor([[0, 1]])) == 0.0
    # a query of class 1 has 3 relevant items: at k=2 the ideal list is two relevant items
    assert ndcg_at_k(torch.tensor([1]), db, torch.tensor([[3, 0]])) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_top_k_by_score():
    s = torch.tensor([[0.1, 0.9, 0.5], [3.0, 1.0, 2.0]])
    assert top_k_by_score(s, 2).tolist() == [[1, 2], [0, 2]]
    with pytest.raises(ConfigError, match="k=4 items requested from a database of 3"):
        top_k_by_score(s, 4)
