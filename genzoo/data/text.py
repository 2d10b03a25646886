"""Words <-> token ids for captioned image sets (text-to-image GANs, captioning).

A vocabulary is a tuple of words whose first entries are the special tokens `<pad>` (id 0, fills captions up to
a common length), `<bos>` (1, what a decoder starts from) and `<eos>` (2, ends every stored caption). Captions
are stored as N x K x L int64 ids (K captions per image, each its words then `<eos>`, padded with 0) in
`ImageSet.captions`, next to `ImageSet.vocab`.

Tokenizing is deliberately plain: lower case, words are runs of letters, digits, '-' or "'": template captions
need nothing more, and a user's sentence tokenizes the same way or fails with the vocabulary listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import torch

from genzoo.errors import DataError

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIALS = (PAD, BOS, EOS)
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
_WORD = re.compile(r"[a-z0-9'\-]+")


def tokenize(text: str) -> list[str]:
    """'A thick Seven, leaning right.' -> ['a', 'thick', 'seven', 'leaning', 'right']."""
    return _WORD.findall(text.lower())


def build_vocab(sentences: Iterable[str]) -> tuple[str, ...]:
    """The special tokens, then every word of `sentences` in sorted order (so the ids do not depend on the
    order in which captions were made)."""
    words = {w for s in sentences for w in tokenize(s)}
    return SPECIALS + tuple(sorted(words))


def encode(text: str, vocab: Sequence[str], length: int | None = None) -> torch.Tensor:
    """One sentence -> its ids followed by <eos>, padded with <pad> to `length` (default: no padding).

    Words outside `vocab` raise a DataError that names them and lists the vocabulary, and so does a sentence
    longer than `length` or with no words at all."""
    index = {w: i for i, w in enumerate(vocab)}
    words = tokenize(text)
    unknown = [w for w in words if w not in index or w in SPECIALS]
    if unknown:
        known = ", ".join(w for w in vocab if w not in SPECIALS)
        raise DataError(f"unknown word{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} in "
                        f"{text!r}; the vocabulary is: {known}")
    if not words:
        raise DataError(f"{text!r} has no words; write a caption such as the dataset's examples")
    ids = [index[w] for w in words] + [EOS_ID]
    if length is not None:
        if len(ids) > length:
            raise DataError(f"{text!r} has {len(words)} words; captions of this model have at most {length - 1}")
        ids += [PAD_ID] * (length - len(ids))
    return torch.tensor(ids, dtype=torch.int64)


def decode(ids: torch.Tensor | Sequence[int], vocab: Sequence[str]) -> str:
    """Ids -> the sentence, stopping at the first <eos> or <pad> and skipping a leading <bos>."""
    words = []
    for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
        if i in (EOS_ID, PAD_ID):
            break
        if i != BOS_ID:
            words.append(vocab[i])
    return " ".join(words)


def encode_captions(captions: Sequence[Sequence[str]], vocab: Sequence[str] | None = None
                    ) -> tuple[torch.Tensor, tuple[str, ...]]:
    """K captions for each of N images -> (N x K x L int64 ids, vocabulary); L fits the longest caption + <eos>.
    The vocabulary is built from the captions unless given."""
    if not captions or any(len(c) != len(captions[0]) or not c for c in captions):
        raise DataError("captioned data needs the same number (at least 1) of captions for every image")
    vocab = tuple(vocab) if vocab is not None else build_vocab(s for c in captions for s in c)
    length = 1 + max(len(tokenize(s)) for c in captions for s in c)
    ids = torch.stack([torch.stack([encode(s, vocab, length) for s in c]) for c in captions])
    return ids, vocab
