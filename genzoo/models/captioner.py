"""Show and Tell image captioning (Vinyals et al. 2015, "Show and Tell: A Neural Image Caption Generator").

A CNN encodes the image into a vector in the word-embedding space; an LSTM reads that vector as its first input
(time step -1), then `<bos>` and the caption's words, and at every step predicts the next word (teacher forcing:
cross-entropy of the true next word, `<pad>` positions ignored). Where the image enters is the `inject` option:

- `input` (default, the paper's choice): the image vector is the LSTM's input at t = -1, once. The paper
  (section 3.1) found that feeding it at every step made the network fit image noise and overfit; feeding it
  once as an input uses the same embedding space and weights as the words, so the decoder needs no extra
  parameters and the LSTM's gates decide how much of the image to keep.
- `state`: the image vector sets the LSTM's initial hidden and cell state through a linear map and tanh (the
  "init-inject" variant of later work), offered for comparison.

Inference is greedy (the most probable word each step) or beam search of width `beam` (the paper: beam 20 in the
NIPS-era runs, 3 in the later journal version); finished captions are ranked by their log-probability divided by
their length (`length_norm`: the exponent of the length, 0 for raw log-probability). `<pad>` and `<bos>` are never
generated.

Deliberate differences from the paper, for small grey/colour images on a CPU: the encoder is a small batchnorm
conv net trained from scratch (genzoo's `FastNet`: three conv-bn-ReLU stages, w, 2w, 4w channels, global
max-pool, a linear map to the embedding) instead of an ImageNet-pretrained GoogLeNet; embedding 128 and LSTM 256
units instead of 512; Adam instead of plain SGD; dropout on embeddings and LSTM outputs as in the paper, with no
ensembling.

`evaluate` captions the held-out images and reports BLEU-1..4 against all K reference captions of each image
(genzoo.metrics.bleu), the fraction of captions that name the image's class, for genzoo's captioned sets the
fraction of stated attribute words ('thick', 'leaning right') that match the attributes measured on the image
(genzoo.data.captions), the teacher-forced per-word loss and perplexity, and the same BLEU, class and attribute
figures for two baselines: a random training caption, and the most frequent training caption (both drawn from
captions stored in the model at training time). `round_trip` captions
images made from texts (a text-to-image model's samples) and reports how often the caption states what the text
did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.data import captions as captioned
from genzoo.data.imageset import DataSpec
from genzoo.data.text import BOS_ID, EOS_ID, PAD_ID, decode, tokenize
from genzoo.errors import DataError
from genzoo.metrics.bleu import corpus_bleu
from genzoo.models.base import Model
from genzoo.models.classifier import FastNet
from genzoo.nn import eval_mode
from genzoo.registry import register

CAPTIONED_SETS = captioned.CAPTIONED_SETS
POOL = 1000  # training captions kept in the model for the random-caption baseline


def needs_captions(name: str) -> DataError:
    return DataError(f"the captioner learns from captioned images, and dataset {name!r} has no captions: train on "
                     f"{CAPTIONED_SETS} (genzoo train captioner --data mnist-captions)")


@dataclass
class CaptionerConfig:
    width: int = field(16, "CNN encoder: channels of the first conv stage (stages w, 2w, 4w)", ge=1)
    embed: int = field(128, "size of the word embeddings and of the image vector (paper: 512)", ge=1)
    hidden: int = field(256, "LSTM memory cells (paper: 512)", ge=1)
    inject: Literal["input", "state"] = field(
        "input", "input: the image vector is the LSTM's first input (the paper); state: it sets the initial state")
    dropout: float = field(0.2, "dropout on word/image embeddings and LSTM outputs", ge=0, lt=1)
    lr: float = field(2e-3, "Adam learning rate", gt=0)
    clip: float = field(5.0, "gradient-norm clipping (0 = off)", ge=0)
    beam: int = field(3, "beam width for evaluation and genzoo caption (1 = greedy)", ge=1)
    length_norm: float = field(1.0, "beam search ranks finished captions by log p / length**length_norm", ge=0)
    eval_n: int = field(1000, "held-out images captioned per evaluation (0 = all)", ge=0)


# ---- decoding (pure functions of a step function) -------------------------------------------------------------
Step = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]
Select = Callable[[Any, torch.Tensor], Any]


def greedy_search(step: Step, state: Any, n: int, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The most probable next word at every step, from `<bos>`, until `<eos>` or `max_len` words.

    `step(tokens (M,), state) -> (log-probabilities M x V, state)`. Returns the ids (n x max_len: words, `<eos>`,
    then `<pad>`) and each sequence's log-probability (n,)."""
    tokens = torch.full((n,), BOS_ID, dtype=torch.long)
    out = torch.full((n, max_len), PAD_ID, dtype=torch.long)
    logp_sum = torch.zeros(n)
    done = torch.zeros(n, dtype=torch.bool)
    for t in range(max_len):
        logp, state = step(tokens, state)
        best, tokens = logp.float().cpu().max(-1)
        logp_sum += torch.where(done, 0.0, best)
        out[:, t] = torch.where(done, PAD_ID, tokens)
        done |= tokens == EOS_ID
        if bool(done.all()):
            break
    return out, logp_sum


def beam_search(step: Step, state: Any, n: int, max_len: int, width: int, select: Select,
                length_norm: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Beam search of `width` hypotheses for each of `n` sequences, from `<bos>`, for at most `max_len` words.

    Each step extends every live hypothesis by every word and keeps the `width` best by log-probability; a
    hypothesis that produced `<eos>` is finished and carries over unchanged (it keeps competing for a place with
    its score). At the end the hypothesis with the best length-normalised score, log p / length**length_norm
    (length counting `<eos>`), is returned. With width 1 this is greedy search.

    `step(tokens (M,), state) -> (log-probabilities M x V, state)` for M = n * width rows (n x width, row-major);
    `select(state, index)` picks rows of a state. `state` holds one row per sequence (it is expanded here).
    Returns the ids (n x max_len), the log-probabilities (n,) and the normalised scores (n,)."""
    k = width
    state = select(state, torch.arange(n).repeat_interleave(k))
    tokens = torch.full((n * k,), BOS_ID, dtype=torch.long)
    seqs = torch.full((n, k, max_len), PAD_ID, dtype=torch.long)
    scores = torch.full((n, k), float("-inf"))
    scores[:, 0] = 0.0  # one live hypothesis at the start (the others would duplicate it)
    done = torch.zeros(n, k, dtype=torch.bool)
    lengths = torch.zeros(n, k, dtype=torch.long)
    for t in range(max_len):
        logp, state = step(tokens, state)
        logp = logp.float().cpu().view(n, k, -1)
        v = logp.shape[-1]
        carry = torch.full((v,), float("-inf"))
        carry[PAD_ID] = 0.0  # a finished hypothesis continues with <pad> at no cost, and only with it
        logp = torch.where(done[..., None], carry, logp)
        scores, pos = (scores[..., None] + logp).view(n, k * v).topk(k, dim=1)
        beam, word = pos // v, pos % v
        seqs = seqs.gather(1, beam[..., None].expand(-1, -1, max_len)).clone()
        seqs[:, :, t] = word
        was_done = done.gather(1, beam)
        lengths = lengths.gather(1, beam) + (~was_done).long()
        done = was_done | (word == EOS_ID)
        state = select(state, (torch.arange(n)[:, None] * k + beam).view(-1))
        tokens = word.view(-1)
        if bool(done.all()):
            break
    normed = scores / lengths.clamp(min=1).float() ** length_norm
    best = normed.argmax(1)
    rows = torch.arange(n)
    return seqs[rows, best], scores[rows, best], normed[rows, best]


def caption_tokens(ids: torch.Tensor | Sequence[int]) -> list[int]:
    """A caption's word ids: up to (without) the first `<eos>` or `<pad>`."""
    out = []
    for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
        if i in (EOS_ID, PAD_ID):
            break
        out.append(i)
    return out


def class_words(spec: DataSpec) -> list[str]:
    """The words naming each class in this data's captions ('seven', 'ankle boot'): genzoo.data.captions' for its
    captioned sets, else the class names in lower case."""
    try:
        return [captioned.class_word(spec.name, c) for c in range(spec.num_classes)]
    except DataError:
        return [str(c).lower() for c in spec.class_names]


def caption_family(spec: DataSpec) -> str | None:
    """'digits' or 'clothes' for genzoo's captioned sets (whose attribute words can be measured), else None."""
    try:
        return captioned.caption_family(spec.name)
    except DataError:
        return None


def find(tokens: Sequence, phrase: Sequence) -> int:
    """Where `phrase` first occurs in `tokens` as a run of consecutive items (-1: nowhere, or an empty phrase)."""
    n = len(phrase)
    return next((i for i in range(len(tokens) - n + 1) if n and list(tokens[i:i + n]) == list(phrase)), -1)


def stated_class(words: Sequence[str], names: Sequence[str]) -> int | None:
    """The class a caption names: the class word (or words: 'ankle boot') found earliest in it, the longer name on
    a tie; None if it names none."""
    found = [(find(words, tokenize(name)), -len(tokenize(name)), c) for c, name in enumerate(names)]
    found = [f for f in found if f[0] >= 0]
    return min(found)[2] if found else None


# ---- the model ------------------------------------------------------------------------------------------------
@register("captioner", config=CaptionerConfig, family="text",
          description="Image captioning: CNN encoder + LSTM decoder, beam search (Show and Tell, Vinyals et al. 2015)",
          train_defaults={"epochs": 10, "batch_size": 64, "precision": "fp32"})
class Captioner(Model):
    """CNN encoder + LSTM decoder trained with teacher forcing; greedy or beam-search captions (Show and Tell)."""

    input_range = (-1.0, 1.0)
    val_metric = "bleu4"
    val_higher_is_better = True

    def __init__(self, cfg: CaptionerConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        if not spec.vocab or spec.caption_length < 2:
            raise needs_captions(spec.name)
        vocab = len(spec.vocab)
        # image -> an embedding-sized vector, batch-normalised: without it the vector drifts to a large shared
        # offset that saturates the LSTM's gates, and every image gets the same caption
        self.encoder = nn.Sequential(FastNet(spec.channels, cfg.embed, cfg.width, 1, 0.0, 1.0),
                                     nn.BatchNorm1d(cfg.embed))
        self.embedding = nn.Embedding(vocab, cfg.embed, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(cfg.embed, cfg.hidden, batch_first=True)
        self.init_state = nn.Linear(cfg.embed, 2 * cfg.hidden) if cfg.inject == "state" else None
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, vocab)
        # training captions for the baselines (filled by attach_data; in the state dict, so `genzoo eval` has them)
        self.register_buffer("pool", torch.zeros(POOL, spec.caption_length, dtype=torch.long))
        self.register_buffer("pool_size", torch.zeros((), dtype=torch.long))
        self.register_buffer("frequent", torch.zeros(spec.caption_length, dtype=torch.long))

    # ---- networks -------------------------------------------------------------------------------------------
    def start(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The LSTM state (h, c) after seeing images `x` (floats in the input range), before `<bos>`."""
        f = self.encoder(x)
        if self.init_state is None:  # the image is the input at t = -1, from a zero state
            _, state = self.lstm(self.drop(f)[:, None])
            return state
        h, c = torch.tanh(self.init_state(f)).chunk(2, dim=-1)
        return h[None].contiguous(), c[None].contiguous()

    def word_logits(self, x: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits (N x L x V) of each caption word (and `<eos>`) given the image and the words
        before it. `text`: N x L ids (words, `<eos>`, `<pad>`)."""
        state = self.start(x)
        inputs = torch.cat([torch.full_like(text[:, :1], BOS_ID), text[:, :-1]], dim=1)
        h, _ = self.lstm(self.drop(self.embedding(inputs)), state)
        return self.head(self.drop(h))

    def step(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One decoding step: log-probabilities of the next word (`<pad>` and `<bos>` excluded) and the state."""
        h, state = self.lstm(self.embedding(tokens.to(self.device))[:, None], state)
        logits = self.head(h[:, 0]).float()
        logits[:, PAD_ID] = logits[:, BOS_ID] = float("-inf")
        return F.log_softmax(logits, dim=-1), state

    @staticmethod
    def _select(state: tuple[torch.Tensor, torch.Tensor], index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        index = index.to(state[0].device)
        return state[0][:, index], state[1][:, index]

    # ---- inference ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, images: torch.Tensor, beam: int | None = None, batch_size: int = 500
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Caption ids (N x L: words, `<eos>`, `<pad>`) and their log-probabilities (N,) for uint8 images, by
        greedy search (beam 1) or beam search (default: the config's width)."""
        beam = self.cfg.beam if beam is None else beam
        if beam < 1:
            raise DataError(f"the beam width is a whole number of at least 1, got {beam}")
        ids, logps = [], []
        with eval_mode(self):
            for i in range(0, len(images), batch_size):
                x = self.prepare(images[i:i + batch_size])
                state, n = self.start(x), len(x)
                if beam == 1:
                    out, lp = greedy_search(self.step, state, n, self.spec.caption_length)
                else:
                    out, lp, _ = beam_search(self.step, state, n, self.spec.caption_length, beam, self._select,
                                             self.cfg.length_norm)
                ids.append(out)
                logps.append(lp)
        return torch.cat(ids), torch.cat(logps)

    def caption(self, images: torch.Tensor, beam: int | None = None) -> list[str]:
        """One caption (a sentence) for each uint8 image (N x C x H x W)."""
        ids, _ = self.generate(images, beam)
        return [decode(row, self.spec.vocab) for row in ids]

    # ---- training -------------------------------------------------------------------------------------------
    def attach_data(self, data) -> None:
        """Keep training captions for the baselines: POOL random ones and the most frequent one."""
        if data.captions is None:
            raise needs_captions(data.name)
        self._check_vocab(data)
        flat = data.captions.flatten(0, 1)
        flat = F.pad(flat, (0, max(self.spec.caption_length - flat.shape[1], 0)))[:, :self.spec.caption_length]
        g = torch.Generator().manual_seed(0)
        pick = torch.randperm(len(flat), generator=g)[:POOL]
        self.pool.zero_()
        self.pool[:len(pick)] = flat[pick].to(self.pool.device)
        self.pool_size.fill_(len(pick))
        rows, counts = flat.unique(dim=0, return_counts=True)
        self.frequent.copy_(rows[counts.argmax()])  # unique() sorts rows: ties go to the smallest ids

    def _check_vocab(self, data) -> None:
        if tuple(data.vocab) != tuple(self.spec.vocab):
            raise DataError(f"dataset {data.name!r} writes its captions in another vocabulary ({len(data.vocab)} "
                            f"words) than this captioner's ({len(self.spec.vocab)}): use the data it was trained on")

    def configure_optimizers(self, total_steps: int) -> None:
        self.optimizers = {"net": torch.optim.Adam(self.parameters(), lr=self.cfg.lr)}

    def train_step(self, batch, step: int) -> dict[str, Any]:
        if batch.text is None:
            raise needs_captions(self.spec.name)
        logits = self.word_logits(batch.x, batch.text).float()
        loss = F.cross_entropy(logits.flatten(0, 1), batch.text.flatten(), ignore_index=PAD_ID)
        self.optimize("net", loss, clip_grad_norm=self.cfg.clip or None)
        real = batch.text != PAD_ID
        acc = (logits.detach().argmax(-1) == batch.text)[real].float().mean()
        return {"loss": loss.detach(), "word_accuracy": acc}

    # ---- evaluation -----------------------------------------------------------------------------------------
    def class_phrases(self) -> list[tuple[int, ...]]:
        """The vocabulary ids of each class's word(s) (empty where the vocabulary lacks one)."""
        index = {w: i for i, w in enumerate(self.spec.vocab)}
        out = []
        for name in class_words(self.spec):
            ids = tuple(index.get(w, -1) for w in tokenize(name))
            out.append(() if -1 in ids else ids)
        return out

    def _figures(self, hyps: list[list[int]], refs: list[list[list[int]]], labels: torch.Tensor | None,
                 measured: dict[str, list[str]] | None = None, prefix: str = "") -> dict[str, float]:
        """BLEU-1..4; class accuracy (the caption contains the image's class word); with `measured` (the attribute
        words measured on each image) attribute accuracy (of the attributes the captions state, the fraction that
        match the image's) and attributes stated per caption."""
        res = {f"{prefix}bleu{n + 1}": b for n, b in enumerate(corpus_bleu(refs, hyps))}
        if labels is not None and self.spec.num_classes:
            phrases = self.class_phrases()
            hits = [find(h, phrases[int(y)]) >= 0 for h, y in zip(hyps, labels)]
            res[f"{prefix}class_accuracy"] = sum(hits) / max(len(hits), 1)
        family = caption_family(self.spec)
        if measured is not None and family is not None:
            right = stated = 0
            for i, h in enumerate(hyps):
                for attr, word in captioned.stated_attributes(decode(h, self.spec.vocab), family).items():
                    stated += 1
                    right += measured[attr][i] == word
            res[f"{prefix}attribute_accuracy"] = right / stated if stated else 0.0
            res[f"{prefix}attributes_per_caption"] = stated / max(len(hyps), 1)
        return res

    @torch.no_grad()
    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        """BLEU-1..4 against all reference captions, class accuracy, teacher-forced loss, and the baselines."""
        if data.captions is None:
            raise needs_captions(data.name)
        self._check_vocab(data)
        if self.cfg.eval_n:
            data = data.take(self.cfg.eval_n)
        ids, _ = self.generate(data.images, batch_size=batch_size)
        hyps = [caption_tokens(r) for r in ids]
        refs = [[caption_tokens(c) for c in caps] for caps in data.captions]
        family = caption_family(self.spec)
        measured = captioned.attribute_words(data.images, family) if family else None
        res: dict[str, Any] = self._figures(hyps, refs, data.labels, measured)
        nll = words = 0.0
        with eval_mode(self):
            for i in range(0, len(data), batch_size):
                text = data.captions[i:i + batch_size, 0].to(self.device)
                logits = self.word_logits(self.prepare(data.images[i:i + batch_size]), text).float()
                nll += F.cross_entropy(logits.flatten(0, 1), text.flatten(), ignore_index=PAD_ID,
                                       reduction="sum").item()
                words += int((text != PAD_ID).sum())
        res["loss"] = nll / max(words, 1)
        res["perplexity"] = float(torch.tensor(res["loss"]).exp())
        if int(self.pool_size):
            g = torch.Generator().manual_seed(0)
            pick = torch.randint(int(self.pool_size), (len(data),), generator=g)
            random_caps = [caption_tokens(self.pool[int(i)]) for i in pick]
            res.update(self._figures(random_caps, refs, data.labels, measured, "random_caption_"))
            frequent = caption_tokens(self.frequent)
            res.update(self._figures([frequent] * len(data), refs, data.labels, measured, "frequent_caption_"))
            res["frequent_caption"] = decode(self.frequent, self.spec.vocab)
        res["beam"] = self.cfg.beam
        res["n"] = len(data)
        res["examples"] = [f"{decode(ids[i], self.spec.vocab)} | {decode(data.captions[i, 0], self.spec.vocab)}"
                           for i in range(min(8, len(data)))]
        return res


# ---- the round trip: text -> image (a text-to-image model) -> text (a captioner) ---------------------------------
def round_trip(captioner: Captioner, images: torch.Tensor, texts: Sequence[str], beam: int | None = None
               ) -> dict[str, Any]:
    """Caption `images` (uint8, N x C x H x W; e.g. a text-to-image model's samples, one per text of `texts`) and
    compare each caption with the text that produced its image.

    Returns `class_agreement`: the fraction of captions that name the text's class (a text naming none counts as a
    miss); for genzoo's captioned sets also `attribute_agreement`: of the attribute words the texts state ('thick',
    'leaning right'), the fraction their captions state alike, and `agreement`: the fraction of captions that
    agree with their text on the class and on every attribute the text states; and the captions."""
    if len(images) != len(texts):
        raise DataError(f"round trip: {len(images)} images for {len(texts)} texts; give one image per text")
    captions = captioner.caption(images, beam)
    names, family = class_words(captioner.spec), caption_family(captioner.spec)
    same_class = same_all = attrs_said = attrs_kept = 0
    for text, cap in zip(texts, captions):
        k = stated_class(tokenize(text), names)
        ok = k is not None and k == stated_class(tokenize(cap), names)
        same_class += ok
        if family is not None:
            want, got = captioned.stated_attributes(text, family), captioned.stated_attributes(cap, family)
            kept = sum(got.get(a) == w for a, w in want.items())
            attrs_said += len(want)
            attrs_kept += kept
            ok = ok and kept == len(want)
        same_all += ok
    n = max(len(texts), 1)
    res: dict[str, Any] = {"class_agreement": same_class / n, "n": len(texts), "captions": captions}
    if family is not None:
        res["attribute_agreement"] = attrs_kept / attrs_said if attrs_said else 0.0
        res["agreement"] = same_all / n
    return res
