"""Nearest-neighbour image retrieval: Hamming distance on packed binary codes, Euclidean distance on
real vectors (pixels, PCA codes), and precision@k for same-class neighbours.

Binary codes are packed 64 bits to a word, so a 256-bit code is 32 bytes (a 28x28 uint8 image is
784); the Hamming distance of two codes is popcount(a XOR b), summed over words (numpy's
`bitwise_count`, one instruction per word where the CPU has it). The database is scanned
linearly in both cases, so query times compare the distance computations on equal terms.
"""

from __future__ import annotations

import numpy as np
import torch

from genzoo.errors import ConfigError

# popcount of every byte, for numpy versions without bitwise_count (< 2.0)
_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(words: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    return _POPCOUNT8[words.view(np.uint8)].reshape(*words.shape, 8).sum(-1, dtype=np.uint8)


def pack_bits(bits: torch.Tensor) -> np.ndarray:
    """N x B codes in {0, 1} (bool, int or float) -> N x ceil(B/64) uint64 words."""
    b = bits.detach().cpu()
    if b.dim() != 2:
        raise ConfigError(f"binary codes must be N x B, got shape {tuple(b.shape)}")
    if not ((b == 0) | (b == 1)).all():
        raise ConfigError("binary codes must hold only 0 and 1 (threshold them first)")
    n, nbits = b.shape
    words = (nbits + 63) // 64
    packed = np.packbits(b.numpy().astype(bool), axis=1, bitorder="little")  # N x ceil(B/8) bytes
    packed = np.pad(packed, ((0, 0), (0, words * 8 - packed.shape[1])))
    return np.ascontiguousarray(packed).view(np.uint64)


def hamming_distances(query: np.ndarray, database_t: np.ndarray) -> torch.Tensor:
    """Packed queries (Q x W) against a packed database stored word-major (W x N) -> Q x N int16."""
    d = _popcount(query[:, 0:1] ^ database_t[0][None]).astype(np.int16)
    for w in range(1, query.shape[1]):
        d += _popcount(query[:, w:w + 1] ^ database_t[w][None])
    return torch.from_numpy(d)


def squared_euclidean(query: torch.Tensor, database: torch.Tensor, db_sq_norms: torch.Tensor) -> torch.Tensor:
    """Q x D against N x D -> Q x N squared distances up to the per-query constant |q|^2 (which does not
    change the ranking), computed as |x|^2 - 2 q.x with one matrix product."""
    return db_sq_norms[None] - 2.0 * query @ database.T


def nearest_neighbours(query: torch.Tensor, database: torch.Tensor, k: int, metric: str = "euclidean",
                       exclude_self: bool = False, chunk: int = 64) -> torch.Tensor:
    """Indices (Q x k) of the k nearest database rows for each query row, nearest first.

    metric: 'hamming' for {0,1} codes (packed here), 'euclidean' for real vectors. With
    `exclude_self` the query set is the database itself and each query's own row is skipped
    (leave-one-out). Ties (common with short binary codes) are broken by torch.topk's order.
    """
    n = len(database)
    if not 1 <= k <= n - int(exclude_self):
        raise ConfigError(f"k={k} neighbours requested from a database of {n} items")
    if metric == "hamming":
        q_all, db_t = pack_bits(query), np.ascontiguousarray(pack_bits(database).T)

        def dist(s: slice) -> torch.Tensor:
            return hamming_distances(q_all[s], db_t)
    elif metric == "euclidean":
        db = database.reshape(n, -1).float()
        q_all, norms = query.reshape(len(query), -1).float(), db.pow(2).sum(1)

        def dist(s: slice) -> torch.Tensor:
            return squared_euclidean(q_all[s], db, norms)
    else:
        raise ConfigError(f"unknown retrieval metric {metric!r} (hamming or euclidean)")
    out = []
    for start in range(0, len(query), chunk):
        d = dist(slice(start, start + chunk))
        if exclude_self:
            rows = torch.arange(d.shape[0])
            d[rows, rows + start] = torch.iinfo(d.dtype).max if not d.is_floating_point() else float("inf")
        out.append(torch.topk(d, k, dim=1, largest=False).indices)  # topk sorts nearest first
    return torch.cat(out)


def precision_at_k(query_labels: torch.Tensor, database_labels: torch.Tensor, neighbours: torch.Tensor) -> float:
    """Mean fraction of each query's retrieved neighbours (Q x k indices) that share its label."""
    return float((database_labels[neighbours] == query_labels[:, None]).float().mean())


def precision_at_k_by_class(query_labels: torch.Tensor, database_labels: torch.Tensor,
                            neighbours: torch.Tensor) -> list[float]:
    """precision@k (k = neighbours' columns) averaged over the queries of each class, class 0 first; a class
    without queries gets NaN."""
    hits = (database_labels[neighbours] == query_labels[:, None]).double().mean(1)
    k = int(max(query_labels.max(), database_labels.max())) + 1
    count = torch.bincount(query_labels, minlength=k).double()
    total = torch.zeros(k, dtype=torch.float64).index_add_(0, query_labels, hits)
    return (total / count).tolist()


def chance_precision(query_labels: torch.Tensor, database_labels: torch.Tensor) -> float:
    """Expected precision of random retrieval: sum over classes of P(query class) P(database class)."""
    k = int(max(query_labels.max(), database_labels.max())) + 1
    pq = torch.bincount(query_labels, minlength=k).double() / len(query_labels)
    pd = torch.bincount(database_labels, minlength=k).double() / len(database_labels)
    return float((pq * pd).sum())


def top_k_by_score(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Q x N relevance scores (higher = more relevant) -> Q x k item indices, best first."""
    if not 1 <= k <= scores.shape[1]:
        raise ConfigError(f"k={k} items requested from a database of {scores.shape[1]} items")
    return torch.topk(scores, k, dim=1).indices


def ndcg_at_k(query_labels: torch.Tensor, database_labels: torch.Tensor, neighbours: torch.Tensor) -> float:
    """Mean normalised discounted cumulative gain of each query's ranked list (Q x k indices, best first),
    with binary relevance (same label): DCG = sum_i rel_i / log2(i + 1) over ranks i = 1..k, divided by
    the DCG of the ideal list, whose first min(k, R) items are relevant (R: the query's relevant items
    in the database). Queries without any relevant item count as 0."""
    k = neighbours.shape[1]
    rel = (database_labels[neighbours] == query_labels[:, None]).double()
    discount = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))
    dcg = (rel * discount).sum(1)
    n_classes = int(max(query_labels.max(), database_labels.max())) + 1
    relevant = torch.bincount(database_labels, minlength=n_classes)[query_labels].clamp(max=k)
    ideal = torch.cat([torch.zeros(1, dtype=torch.float64), discount.cumsum(0)])[relevant]
    return float(torch.where(ideal > 0, dcg / ideal.clamp(min=1e-12), torch.zeros_like(dcg)).mean())
