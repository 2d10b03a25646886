"""Text-to-image GAN: text-gan (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis", GAN-INT-CLS).

A caption (token ids of genzoo.data.text) goes through a small recurrent text encoder to a text embedding; the
generator draws an image from noise and the embedding, the discriminator scores (image, embedding) pairs. It
subclasses the configurable `GAN` (core.py) and inherits its keys (`genzoo list text-gan`): networks, widths,
optimiser, generator averaging, instance noise, DiffAugment, n_critic.

    genzoo train text-gan --data mnist-captions
    genzoo sample RUN --text "a thick seven leaning right" --n 16
    genzoo sample RUN --text "a small zero" --text "a wide eight" --interpolate --steps 8
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genzoo.config import ConfigError, field
from genzoo.data import captions as _captions
from genzoo.data.imageset import Batch, DataSpec, ImageSet, to_uint8
from genzoo.data.text import PAD_ID, decode, encode
from genzoo.errors import DataError
from genzoo.losses import gan as L
from genzoo.losses import text as T
from genzoo.metrics import EvalOptions, evaluate_images, features
from genzoo.models.base import class_labels, sample_count
from genzoo.models.gan.core import GAN, CriticOut, GANConfig
from genzoo.models.gan.networks import build_discriminator, build_generator
from genzoo.nn import eval_mode
from genzoo.registry import register

CAPTIONED_SETS = _captions.CAPTIONED_SETS


def check_text_spec(spec: DataSpec, model: str) -> None:
    """A clear error, before training, for data without captions."""
    if not spec.vocab or not spec.caption_length:
        raise DataError(f"{model} learns to draw images from captions and needs a captioned dataset "
                        f"({spec.name or 'this dataset'} has no captions): use {CAPTIONED_SETS}")


@dataclass
class TextGANConfig(GANConfig):
    word_dim: int = field(64, "size of the word embeddings the text encoder reads", ge=1)
    text_dim: int = field(128, "text embedding size: the text encoder's GRU state after the caption's <eos>", ge=1)
    text_proj: int = field(128, "the text embedding is compressed to this size (dense + LeakyReLU 0.2) before it "
                                "joins z in G and the image features in D (the paper: 128)", ge=1)
    d_joint: int = field(256, "units of D's dense layer over [image features, compressed text] before its score",
                         ge=1)
    projection: bool = field(True, "add (V c)^T h to D's score, c the compressed text and h the image features (a "
                                   "projection discriminator, Miyato & Koyama 2018): D learns the match in far fewer "
                                   "steps; false: the paper's concatenation only")
    cls: bool = field(True, "GAN-CLS: D also sees real images with mismatched captions, as fakes (off: a plain "
                            "text-conditional GAN)")
    int_weight: float = field(1.0, "GAN-INT: weight of G's loss on images for interpolated caption embeddings "
                                   "(0 = off)", ge=0)
    beta: float = field(0.5, "GAN-INT: interpolation weight beta * t1 + (1 - beta) * t2 (the paper: 0.5)",
                        ge=0, le=1)

    def validate(self) -> None:
        super().validate()
        if self.loss not in ("nonsaturating", "minimax"):
            raise ConfigError(f"text-gan's matching-aware loss (GAN-CLS) is a cross-entropy: set loss=nonsaturating "
                              f"or minimax, not {self.loss}")
        off = [k for k, v in (("penalty", self.penalty != "none"), ("clip", self.clip), ("replay", self.replay),
                              ("feature_matching", self.feature_matching)) if v]
        if off:
            raise ConfigError(f"text-gan does not take {', '.join(off)}; leave {'it' if len(off) == 1 else 'them'} "
                              "at the default")


class TextEncoder(nn.Module):
    """Caption ids (N x L, words then <eos>, padded with 0) -> N x text_dim: word embeddings read by a GRU, the
    state after <eos> (padding after it never reaches that state)."""

    def __init__(self, vocab_size: int, word_dim: int, text_dim: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, word_dim, padding_idx=PAD_ID)
        self.gru = nn.GRU(word_dim, text_dim, batch_first=True)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        last = (ids != PAD_ID).sum(1).clamp(min=1) - 1  # N: the position of <eos>
        out, _ = self.gru(self.embed(ids))  # N x L x text_dim
        return out[torch.arange(ids.shape[0], device=ids.device), last]


def default_init_(layer: nn.Linear) -> None:
    """PyTorch's own initialisation of a dense layer (also under spectral norm): the text compressors keep it,
    since DCGAN's N(0, 0.02) leaves the compressed text ~10x weaker than z and D's image features at the start, and
    in short runs G then learned to ignore it (class accuracy of samples 0.19 against 0.44 after 200 steps on tiny
    MNIST)."""
    weight = layer.parametrizations.weight.original if hasattr(layer, "parametrizations") else layer.weight
    with torch.no_grad():
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        if layer.bias is not None:
            bound = 1 / math.sqrt(weight.shape[1])
            nn.init.uniform_(layer.bias, -bound, bound)


def compressor(text_dim: int, size: int) -> nn.Sequential:
    """Reed et al. Sec. 4.1: the text embedding through a dense layer and LeakyReLU(0.2) to a small size."""
    return nn.Sequential(nn.Linear(text_dim, size), nn.LeakyReLU(0.2, inplace=True))


class TextGenerator(nn.Module):
    """G(z, t) = net([z, compress(t)]): `net` is one of genzoo's generators (networks.py) on the concatenation."""

    def __init__(self, net: nn.Module, text_dim: int, text_proj: int):
        super().__init__()
        self.text = compressor(text_dim, text_proj)
        self.net = net

    def forward(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, self.text(t.to(z.dtype))], 1))


class TextDiscriminator(nn.Module):
    """D(x, t): the body of one of genzoo's discriminators (networks.py) gives image features h (N x F); a dense
    layer over [h, compress(t)] with LeakyReLU(0.2), then a linear score. The paper replicates the compressed text
    over D's last 4x4 grid and applies a 1x1 then a 4x4 conv: a dense layer over the same concatenation.
    `features(x)` and `score(h, t)` are apart, so one pass over a real batch serves its matching and its
    mismatched captions."""

    def __init__(self, body: nn.Module, feature_dim: int, text_dim: int, text_proj: int, joint: int,
                 projection: bool = True):
        super().__init__()
        self.body = body
        self.feature_dim = feature_dim
        self.text = compressor(text_dim, text_proj)
        self.joint = nn.Sequential(nn.Linear(feature_dim + text_proj, joint), nn.LeakyReLU(0.2, inplace=True),
                                   nn.Linear(joint, 1))
        self.project = nn.Linear(text_proj, feature_dim, bias=False) if projection else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def score(self, h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        c = self.text(t.to(h.dtype))  # N x text_proj
        s = self.joint(torch.cat([h, c], 1))[:, 0]
        if self.project is not None:  # + (V c)^T h (Miyato & Koyama 2018, Eq. 3, with c for the class embedding)
            s = s + (self.project(c) * h).sum(1)
        return s

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.score(h, t), h


@register("text-gan", config=TextGANConfig, family="gan",
          description="Text-to-image GAN (Reed et al. 2016, GAN-INT-CLS): GRU caption encoder, matching-aware D, "
                      "interpolated captions",
          preset={"arch": "dcgan", "g_width": 64, "d_width": 64, "g_norm": "batch", "d_norm": "batch", "ema": 0.999},
          train_defaults={"steps": 3000, "batch_size": 64, "sample_every": 500, "precision": "bf16"})
class TextGAN(GAN):
    """Reed, Akata, Yan, Logeswaran, Schiele & Lee 2016, "Generative Adversarial Text to Image Synthesis".

    Text encoder: word embeddings (`word_dim`) read by a GRU; the text embedding t is its state after the
    caption's <eos> (`text_dim`). G(z, t): t compressed to `text_proj` (dense + LeakyReLU 0.2, Sec. 4.1) and
    concatenated to z, then a DCGAN generator (28 px for MNIST-size data, 32 or 64 px otherwise). D(x, t): a
    DCGAN discriminator body, then a dense layer over [image features, compressed t] and a score (Sec. 4.1).

    GAN-CLS (Sec. 4.2, Algorithm 1): D minimises softplus(-s_r) + (softplus(s_w) + softplus(s_f)) / 2 over
    {real image, its caption}, {real image, a caption of another class in the batch} and {fake, its caption}
    (genzoo.losses.text.d_loss_cls); `cls=false` drops the mismatched pairs (on mnist-captions after 501 steps D
    then won outright and G collapsed: class accuracy 0.096 against 0.759, FID 146 against 25.3). GAN-INT
    (Sec. 4.3): G is also trained (non-saturating loss, weight `int_weight`) on fresh fakes for the embeddings
    beta * t1 + (1 - beta) * t2 of two captions of the batch (each caption with its mismatched partner), with D
    scoring them against that interpolated embedding; beta = 0.5 as the paper.

    The text encoder is trained jointly, by D's loss (its parameters are in D's optimiser; G sees the embedding
    detached), where the paper pretrains a char-CNN-RNN with the deep structured joint embedding (Reed et al.
    2016a) on the images and keeps it fixed. The choice: genzoo's captions are short sentences from templates
    over a vocabulary of a few dozen words, so the embedding has little to learn beyond which words occur; and
    GAN-CLS's matching-aware loss is itself an image-text matching objective (D must tell an image's caption
    from another class's), so it shapes the embedding the same way the pretraining would, with one training run
    and no second model to ship. G does not move the encoder, so it cannot make captions easier to satisfy.

    Other differences from the paper: D's score also has a projection term (V c)^T h (Miyato & Koyama 2018), c
    the compressed text and h the image features (`projection=false` for the paper's concatenation alone): with
    the concatenation alone, D's scores of matching and mismatched pairs stayed equal (to 3 decimals) for 200 steps
    on tiny MNIST and samples ignored their caption (class accuracy 0.14, chance 0.1); with it they part within 25
    steps (0.44). On mnist-captions after 501 steps (default settings otherwise, 2000 test captions): class
    accuracy 0.759 with it against 0.243 without, attribute agreement 0.621 against 0.386, FID 25.3 against 55.5.
    Also: the text compressors keep PyTorch's initialisation (`default_init_`); a GRU over words instead of a
    char-CNN-RNN (word-level captions); a 128-d embedding instead of 1024-d; D's text joins through a dense layer
    rather than spatial replication; samples come from a generator weight average (ema=0.999, as genzoo's DCGAN
    presets; ema=0 for the paper's).

    Kept: z_dim 100, compressed text 128, Adam 2e-4 betas (0.5, 0.999), batch 64, DCGAN nets, beta 0.5. Random
    numbers (z, dropout-free nets) come from torch's global generator, which the Trainer's checkpoints keep, so
    resume is exact; the mismatched captions are a deterministic function of the batch.
    """

    def __init__(self, cfg: TextGANConfig, spec: DataSpec):
        check_text_spec(spec, "text-gan")
        super().__init__(cfg, spec)
        for layer in (self.G.text[0], self.D.text[0]):
            default_init_(layer)
        self.E = TextEncoder(len(spec.vocab), cfg.word_dim, cfg.text_dim)
        k = spec.num_classes if spec.num_classes >= 2 else 10
        # example captions (one per class) for samples drawn without text, kept with the weights: the Trainer's
        # grids, `genzoo sample RUN` and the latent views; filled from the training data by `attach_data`
        self.register_buffer("default_text", torch.zeros(k, spec.caption_length, dtype=torch.long))

    # ---- networks ------------------------------------------------------------------------------------
    def build_generator(self) -> nn.Module:
        cfg = self.cfg
        net = build_generator(cfg.arch, cfg.z_dim + cfg.text_proj, self.spec.shape, cfg.g_width, cfg.g_norm,
                              cfg.g_hidden)
        return TextGenerator(net, cfg.text_dim, cfg.text_proj)

    def build_discriminator(self) -> nn.Module:
        cfg = self.cfg
        base = build_discriminator(cfg.arch, self.spec.shape, cfg.d_width, cfg.d_norm, 1, cfg.minibatch_std,
                                   cfg.d_hidden)
        return TextDiscriminator(base.body, base.feature_dim, cfg.text_dim, cfg.text_proj, cfg.d_joint,
                                 cfg.projection)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, net: nn.Module | None = None
                 ) -> torch.Tensor:
        """Images for latents z and text embeddings `labels` (N x text_dim)."""
        if labels is None:
            raise ConfigError("text-gan draws images for text embeddings; none given")
        return (net or self.G)(z, labels)

    def critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> CriticOut:
        score, h = self.D(x, labels)
        return CriticOut(score, h, None)

    # ---- text ------------------------------------------------------------------------------------------
    def caption_ids(self, text: str | Sequence[str] | torch.Tensor) -> torch.Tensor:
        """Captions -> M x L ids in this model's vocabulary: a sentence, a list of them, or ids (M x L or L).
        A word outside the vocabulary raises genzoo.data.text's DataError, which lists the vocabulary."""
        if isinstance(text, torch.Tensor):
            ids = text.long()[None] if text.dim() == 1 else text.long()
            if ids.shape[1] != self.spec.caption_length:
                ids = torch.nn.functional.pad(ids, (0, max(0, self.spec.caption_length - ids.shape[1])))
            return ids[:, :self.spec.caption_length]
        sentences = [text] if isinstance(text, str) else list(text)
        if not sentences:
            raise ConfigError("give at least one caption")
        return torch.stack([encode(s, self.spec.vocab, self.spec.caption_length) for s in sentences])

    @torch.no_grad()
    def embed_text(self, text: str | Sequence[str] | torch.Tensor) -> torch.Tensor:
        """Text embeddings (M x text_dim, float32) of captions (see `caption_ids`)."""
        ids = self.caption_ids(text).to(self.device)
        with eval_mode(self.E):
            return torch.cat([self.E(ids[i:i + 1000]).float() for i in range(0, len(ids), 1000)])

    def default_captions(self, n: int) -> torch.Tensor:
        """n caption ids cycling through the stored examples (one per class)."""
        if not bool(self.default_text.any()):
            raise ConfigError("text-gan has no example captions yet (they come from its training data): pass the "
                              "text to draw, e.g. --text \"...\"")
        return self.default_text[torch.arange(n) % len(self.default_text)]

    def attach_data(self, data: ImageSet) -> None:
        """Keep one training caption per class (the first image of each) for samples drawn without text."""
        if data.captions is None:
            raise DataError(f"text-gan needs captions in its training data; {data.name} has none: use "
                            f"{CAPTIONED_SETS}")
        k = len(self.default_text)
        if data.labels is not None and self.spec.num_classes >= 2:
            first = [int(i[0]) if len(i) else 0 for i in ((data.labels == c).nonzero()[:, 0] for c in range(k))]
        else:
            first = [i % len(data) for i in range(k)]
        ids = data.captions[first, 0]
        ids = torch.nn.functional.pad(ids, (0, max(0, self.spec.caption_length - ids.shape[1])))
        self.default_text.copy_(ids[:, :self.spec.caption_length])

    def sample_columns(self) -> tuple[int, list[str]]:
        """The training grids' layout: `sample` cycles the example captions, one per class, so a column each,
        labelled with the class the caption names."""
        return len(self.default_text), class_labels(self.spec, len(self.default_text))

    # ---- sampling -------------------------------------------------------------------------------------
    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None, chunk: int = 500) -> torch.Tensor:
        """Images for latents z and text embeddings `labels` (N x text_dim; default: the first example caption for
        every latent, so views that only move z, such as --interpolate, keep one caption), with the averaged
        generator when there is one."""
        if labels is None:
            labels = self.embed_text(self.default_captions(1)).expand(z.shape[0], -1)
        return super().decode(z, labels, chunk)

    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
               text: str | Sequence[str] | torch.Tensor | None = None) -> torch.Tensor:
        """n images for `text` (one caption for all, or captions / ids cycled to n; default: one example caption
        per class, cycled)."""
        n = sample_count(n)
        if labels is not None:
            raise ConfigError("text-gan is conditioned on captions, not class labels: pass text (--text)")
        ids = self.default_captions(n) if text is None else self.caption_ids(text)
        ids = ids[torch.arange(n) % len(ids)]
        return self.decode(self.sample_latent(n, generator), self.embed_text(ids))

    # ---- training -------------------------------------------------------------------------------------
    def configure_optimizers(self, total_steps: int) -> None:
        super().configure_optimizers(total_steps)
        self.optimizers["d"].add_param_group({"params": list(self.E.parameters())})  # D's loss trains the encoder

    def train_step(self, batch: Batch, step: int) -> dict[str, Any]:
        cfg = self.cfg
        if batch.text is None:
            raise DataError(f"text-gan needs captions in its training data: use {CAPTIONED_SETS}")
        g_turn = (step + 1) % cfg.n_critic == 0
        real, n = batch.x, batch.x.shape[0]
        t = self.E(batch.text)  # N x text_dim; D's loss trains the encoder through it
        wrong = T.mismatched(batch.y if batch.y is not None else batch.text)  # another class's caption per image
        t_g = t.detach()  # G never moves the encoder
        z = self.sample_latent(n)
        with torch.set_grad_enabled(g_turn):
            fake = self.generate(z, t_g)
        logs = self.cls_d_step(real, fake.detach(), t, wrong, step)
        if g_turn:
            logs.update(self.int_g_step(fake, t_g, wrong, step))
            if self.G_ema is not None:
                self.G_ema.update(self.G)
        return logs

    def cls_d_step(self, real: torch.Tensor, fake: torch.Tensor, t: torch.Tensor, wrong: torch.Tensor,
                   step: int) -> dict[str, Any]:
        """One discriminator (and text encoder) update: GAN-CLS on {real, right}, {real, wrong}, {fake, right}."""
        cfg = self.cfg
        h_real = self.D.features(self.diff_augment(self.noisy(real, step)))
        h_fake = self.D.features(self.diff_augment(self.noisy(fake, step)))
        s_r, s_f = self.D.score(h_real, t).float(), self.D.score(h_fake, t).float()
        logs: dict[str, Any] = {}
        if cfg.cls:
            s_w = self.D.score(h_real, t[wrong]).float()
            loss = T.d_loss_cls(s_r, s_w, s_f, real_target=1.0 - cfg.label_smoothing)
            logs["d_wrong"] = s_w.detach().mean()
        else:
            loss = L.d_loss_bce(s_r, s_f, real_target=1.0 - cfg.label_smoothing)
        norm = self._update("d", self.D, loss)
        return {"loss_d": loss.detach(), "d_real": s_r.detach().mean(), "d_fake": s_f.detach().mean(),
                "grad_norm_d": norm, **logs}

    def int_g_step(self, fake: torch.Tensor, t: torch.Tensor, wrong: torch.Tensor, step: int) -> dict[str, Any]:
        """One generator update: the GAN loss of the fakes for their captions, plus GAN-INT's on fresh fakes for
        interpolated caption embeddings (D's weights frozen meanwhile)."""
        cfg = self.cfg
        self.D.requires_grad_(False)
        try:
            loss = self.g_loss(self.D(self.diff_augment(self.noisy(fake, step)), t)[0].float())
            logs: dict[str, Any] = {}
            if cfg.int_weight:
                t_int = T.interpolate_embeddings(t, t[wrong], cfg.beta)
                fake_int = self.generate(self.sample_latent(len(t)), t_int)
                loss_int = self.g_loss(self.D(self.diff_augment(self.noisy(fake_int, step)), t_int)[0].float())
                loss = loss + cfg.int_weight * loss_int
                logs["loss_g_int"] = loss_int.detach()
            norm = self._update("g", self.G, loss)
        finally:
            self.D.requires_grad_(True)
        return {"loss_g": loss.detach(), "grad_norm_g": norm, **logs}

    # ---- evaluation -----------------------------------------------------------------------------------
    def evaluate(self, data: ImageSet, batch_size: int = 1000) -> dict[str, Any]:
        """Samples for the captions of the first `eval_options.n` test images (one caption of each, seeded), scored:

        - `class_accuracy`: the domain classifier (genzoo.metrics.features) names the caption's class (the image's
          label) on the sample; `real_class_accuracy` is the same on the real test images (the ceiling);
        - `attr_agreement` (captioned sets with measured attributes, genzoo.data.captions): for each attribute a
          caption states, does the sample measure as the stated word; overall and per attribute, beside
          `real_attr_agreement` of the real images and their own captions (the ceiling);
        - FID / KID / precision-recall of the samples against the real test images (`eval_options.metrics`).
        """
        if data.captions is None:
            raise DataError(f"text-gan is evaluated on captioned data, and {data.name} has no captions: use "
                            f"{CAPTIONED_SETS}")
        opts = getattr(self, "eval_options", None) or EvalOptions()
        data = data.take(opts.n)
        g = torch.Generator().manual_seed(opts.seed)
        pick = torch.randint(data.captions.shape[1], (len(data),), generator=g)
        ids = data.captions[torch.arange(len(data)), pick]
        fake = self.generate_uint8(ids, g, min(batch_size, 500))
        figures: dict[str, Any] = {}
        try:
            net = features.resolve(opts.features, data.name).to(self.device)
        except (features.FeaturesUnavailable, ConfigError) as e:
            if opts.strict:
                raise
            warnings.warn(f"sample-quality metrics skipped: {e}", stacklevel=2)
            net = None
        if net is not None:
            res = evaluate_images(fake, data, metrics=opts.metrics, features=opts.features, train=opts.train,
                                  seed=opts.seed, batch_size=opts.batch_size, device=self.device)
            figures.update({k: v for k, v in res.items() if k not in ("n", "n_real")})
            if data.labels is not None and net.num_classes == data.num_classes:
                figures.update(class_accuracy(net, fake, data, opts.batch_size))
        figures.update(attribute_agreement(fake, ids, data))
        return figures

    @torch.no_grad()
    def generate_uint8(self, ids: torch.Tensor, generator: torch.Generator, batch_size: int = 500) -> torch.Tensor:
        """One sample per caption (ids N x L) as uint8 images, latents drawn from `generator`."""
        out = []
        with eval_mode(self):
            for i in range(0, len(ids), batch_size):
                x = self.sample(len(ids[i:i + batch_size]), generator=generator, text=ids[i:i + batch_size])
                if not torch.isfinite(x).all():
                    raise ConfigError("text-gan produced NaN/inf images; the model has diverged")
                out.append(to_uint8(x, self.input_range).cpu())
        return torch.cat(out)


def class_accuracy(net: features.FeatureNet, fake: torch.Tensor, data: ImageSet, batch_size: int = 500
                   ) -> dict[str, float]:
    """How often the domain classifier `net` names each sample's caption class (`data.labels`), and its accuracy on
    the real images (the ceiling)."""
    made, ceiling = features.judged_accuracy(net, fake, data.labels, data.images, data.labels, batch_size)
    return {"class_accuracy": made, "real_class_accuracy": ceiling}


def attribute_agreement(fake: torch.Tensor, ids: torch.Tensor, data: ImageSet) -> dict[str, Any]:
    """For each attribute a caption states (genzoo.data.captions.stated_attributes), the fraction of samples
    whose measured attribute word (attribute_words) is the stated one: overall (`attr_agreement`) and per
    attribute (`attr_agreement_per_attr`); the same for the real images and the captions shown (`real_...`,
    the ceiling). Empty for data whose captions state no measured attributes."""
    try:
        family = _captions.caption_family(data.name)
    except DataError:  # not a captioned set: no attributes to compare
        return {}
    stated = [_captions.stated_attributes(decode(row, data.vocab), family) for row in ids]
    out: dict[str, Any] = {}
    for prefix, images in (("", fake), ("real_", data.images)):
        measured = _captions.attribute_words(images, family)
        per, hits, total = {}, 0, 0
        for attr, words in measured.items():
            pairs = [(s[attr], words[i]) for i, s in enumerate(stated) if attr in s]
            if pairs:
                agree = sum(a == b for a, b in pairs)
                per[attr] = agree / len(pairs)
                hits, total = hits + agree, total + len(pairs)
        if total:
            out[f"{prefix}attr_agreement"] = hits / total
            out[f"{prefix}attr_agreement_per_attr"] = per
    return out
