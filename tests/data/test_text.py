"""Token ids for captions (genzoo.data.text) and captioned ImageSets."""

import dataclasses

import pytest
import torch

from genzoo.data.imageset import ImageSet
from genzoo.data.text import BOS_ID, EOS_ID, PAD_ID, SPECIALS, build_vocab, decode, encode, encode_captions, tokenize
from genzoo.errors import DataError


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("A thick Seven, leaning right.") == ["a", "thick", "seven", "leaning", "right"]
    assert tokenize("a t-shirt isn't") == ["a", "t-shirt", "isn't"]


def test_vocab_is_specials_then_sorted_words():
    vocab = build_vocab(["b a", "c a"])
    assert vocab == SPECIALS + ("a", "b", "c")
    assert build_vocab(["c a", "b a"]) == vocab  # independent of order


def test_encode_decode_round_trip_with_eos_and_padding():
    vocab = build_vocab(["a thin seven", "a thick one"])
    ids = encode("A thin seven", vocab, length=6)
    assert ids.tolist() == [vocab.index("a"), vocab.index("thin"), vocab.index("seven"), EOS_ID, PAD_ID, PAD_ID]
    assert decode(ids, vocab) == "a thin seven"
    assert decode([BOS_ID, *ids.tolist()], vocab) == "a thin seven"


def test_unknown_words_name_themselves_and_list_the_vocabulary():
    vocab = build_vocab(["a thin seven"])
    with pytest.raises(DataError, match=r"'fat'.*vocabulary is: a, seven, thin"):
        encode("a fat seven", vocab)
    with pytest.raises(DataError, match="at most 2"):
        encode("a thin seven", vocab, length=3)
    with pytest.raises(DataError, match="no words"):
        encode("?!", vocab)


def test_encode_captions_shape_and_fixed_vocab():
    ids, vocab = encode_captions([["a one", "one"], ["a thin seven", "seven"]])
    assert ids.shape == (2, 2, 4) and ids.dtype == torch.int64
    assert decode(ids[1, 0], vocab) == "a thin seven" and decode(ids[0, 1], vocab) == "one"
    fixed = build_vocab(["a one seven thin extra"])
    ids2, vocab2 = encode_captions([["a one", "one"], ["a thin seven", "seven"]], fixed)
    assert vocab2 == fixed and decode(ids2[1, 0], fixed) == "a thin seven"
    with pytest.raises(DataError, match="same number"):
        encode_captions([["a"], ["a", "b"]])


def _captioned(n=40, k=3):
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    words = [f"w{i}" for i in range(n)]
    ids, vocab = encode_captions([[f"image {words[i]} caption {j}" for j in range(k)] for i in range(n)])
    return ImageSet(images, torch.arange(n) % 10, name="toy", captions=ids, vocab=vocab)


def test_captioned_imageset_batches_pair_each_image_with_one_of_its_captions():
    d = _captioned()
    assert d.spec.vocab == d.vocab and d.spec.caption_length == d.captions.shape[2]
    shown = []
    for x, _, _, _, text in d.batches(8, seed=1, epoch=0):
        for img, ids in zip(x[:, 0, 0, 0].tolist(), text):
            words = decode(ids, d.vocab).split()
            assert words[1] == f"w{img}"  # the caption belongs to this image
            shown.append(int(words[3]))
    assert len(set(shown)) == 3  # each of the K captions is used
    again = [t.tolist() for *_, t in d.batches(8, seed=1, epoch=0, start=2)]
    assert again == [t.tolist() for *_, t in d.batches(8, seed=1, epoch=0)][2:]  # a pure function: exact resume
    other = [t.tolist() for *_, t in d.batches(8, seed=1, epoch=1)]
    assert other != [t.tolist() for *_, t in d.batches(8, seed=1, epoch=0)]


def test_subset_keeps_captions_and_bad_captions_are_refused():
    d = _captioned()
    sub = d.subset([3, 5])
    assert torch.equal(sub.captions, d.captions[[3, 5]]) and sub.vocab == d.vocab
    with pytest.raises(DataError, match="N x K x L"):
        dataclasses.replace(d, captions=d.captions[:5])
    with pytest.raises(DataError, match="outside the vocabulary"):
        dataclasses.replace(d, captions=d.captions + len(d.vocab))
