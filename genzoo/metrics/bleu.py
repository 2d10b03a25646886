"""Corpus BLEU (Papineni et al. 2002, "BLEU: a method for automatic evaluation of machine translation").

For each n-gram order n = 1..N, the modified precision p_n pools over the whole corpus: every candidate n-gram
counts at most as often as it occurs in the one reference that holds it most often (clipping), and the clipped
counts of all candidates are summed and divided by the number of candidate n-grams. The brevity penalty uses the
corpus lengths: c = the candidates' total length, r = the sum over candidates of the reference length closest
to the candidate's (the shorter on a tie), BP = 1 if c > r else exp(1 - r / c). BLEU-n is
BP * exp(sum_{i<=n} log(p_i) / n), the cumulative uniform-weight score that captioning papers (Vinyals et al.
2015, "Show and Tell") report as BLEU-1..4. A zero precision makes the score 0 (no smoothing), as in
nltk's `corpus_bleu` and the original definition.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

Tokens = Sequence[str] | Sequence[int]


def ngrams(tokens: Tokens, n: int) -> Counter:
    """The n-grams of a token sequence with their counts."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def closest_ref_length(refs: Sequence[Tokens], length: int) -> int:
    """The length of the reference nearest to `length` (the shorter of two equally near)."""
    return min((len(r) for r in refs), key=lambda r: (abs(r - length), r))


def corpus_bleu(references: Sequence[Sequence[Tokens]], candidates: Sequence[Tokens], max_n: int = 4
                ) -> list[float]:
    """BLEU-1..`max_n` of `candidates` (one token sequence each) against their `references` (for each
    candidate, a list of one or more token sequences), as a list of `max_n` floats in [0, 1]."""
    if len(references) != len(candidates):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} reference lists")
    if any(not refs for refs in references):
        raise ValueError("every candidate needs at least one reference")
    matched = [0] * max_n
    total = [0] * max_n
    cand_len = ref_len = 0
    for refs, cand in zip(references, candidates):
        cand_len += len(cand)
        ref_len += closest_ref_length(refs, len(cand))
        for n in range(1, max_n + 1):
            counts = ngrams(cand, n)
            best: Counter = Counter()
            for r in refs:
                best |= ngrams(r, n)  # per n-gram, its largest count in any one reference
            matched[n - 1] += sum(min(c, best[g]) for g, c in counts.items())
            total[n - 1] += max(len(cand) - n + 1, 0)
    if cand_len == 0:
        return [0.0] * max_n
    bp = 1.0 if cand_len > ref_len else math.exp(1 - ref_len / cand_len)
    scores, log_sum = [], 0.0
    for n in range(max_n):
        if matched[n] == 0 or total[n] == 0:
            scores.extend([0.0] * (max_n - n))  # a zero precision zeroes this order and every higher one
            break
        log_sum += math.log(matched[n] / total[n])
        scores.append(bp * math.exp(log_sum / (n + 1)))
    return scores
