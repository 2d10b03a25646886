"""`genzoo project RUN IMAGE...`: put real images into a trained generator's latent space, then edit them there.

After Zhu, Krähenbühl, Shechtman & Efros 2016, "Generative Visual Manipulation on the Natural Image Manifold"
(iGAN), whose method has three parts; genzoo implements the first two and the morphs:

- Projection (Sec. 3.1, Eq. 2): z* = argmin_z L(G(z), x) over the prior's support, L a pixel distance plus a
  distance in a classifier's features. Here: Adam on z from `starts` random codes per image, keeping the one with
  the lowest loss (the paper: L-BFGS-B from random starts); optionally one start from the model's encoder where
  it has one (BiGAN, VAE, AAE), the paper's "hybrid" method with a trained encoder. Features: the penultimate
  layer of genzoo's domain classifier for the run's dataset (`genzoo.metrics.features`; the paper: AlexNet conv4),
  compared by cosine distance, so that the weight does not depend on the feature scale; datasets without a domain
  classifier get the pixel loss alone. The latent stays in the prior's region: clamped to [-1, 1] for a uniform
  prior (as the paper's box constraints), and for a normal prior an optional penalty (`norm_penalty`) on the
  distance of |z| / sqrt(d) from 1, the shell where samples of N(0, I) lie.
- Editing (Sec. 3.2, Eq. 4): a constrained optimisation from z*. A stroke (mask + colour) pulls the masked pixels
  towards the colour with weight `edit_weight` while the other pixels stay close to the projection G(z*); a
  target class (conditional GANs) or categorical code value (InfoGAN) changes the label and re-optimises z so that
  the image stays close to the projection. The paper keeps the edit close in latent space (a smoothness term
  |z - z0|^2) and then transfers the change onto the photo by motion and colour flow (Sec. 3.3); genzoo keeps it
  close in image space outside the stroke and shows the generator's images themselves (no flow).
- Morphs: project two images and walk between their codes (lerp, or slerp as `genzoo sample --interpolate`);
  conditional models switch the label at the midpoint.

Conditional models are projected under `--label K` or under every class, keeping the best; InfoGAN's first
categorical code is searched the same way (its other categorical codes stay at value 0), and its noise and
continuous codes are optimised. Errors are reported in [0, 1] pixel units (per-pixel MSE) and as the feature
distance, beside the error of random codes (what the projection gained). `--against train|test N` projects N of
the run's own training and test images: a generator that memorised its training set reconstructs those
markedly better than held-out ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genzoo.data.grid import save_grid
from genzoo.data.images import IMAGE_SUFFIXES, channels_of, decode_many, read_modes
from genzoo.data.imageset import from_unit, to_unit
from genzoo.errors import ConfigError, GenzooError
from genzoo.metrics.features import FeatureNet, resolve
from genzoo.probe.attack import caption_scale
from genzoo.runs import RunDir, load_model, load_split
from genzoo.sampling import class_name, slerp

PROJECTABLE = ("GANs (gan, dcgan, wgan-gp, sngan, bigan, infogan, ...), class-conditional GANs (cgan, cdcgan, acgan, "
               "projection) and latent-variable models with a decoder (vae, iwae, cvae, aae)")
RANDOM_CODES = 8  # random codes per image for the baseline error
ROW_CHUNK = 512  # rows (image x label x start) optimised together


@dataclass
class ProjectOptions:
    starts: int = 8  # random starts per image (and per label searched)
    iters: int = 300  # Adam steps of each projection and of each edit
    lr: float = 0.05
    pixel_loss: str = "mse"  # mse | l1
    feature_weight: float = 0.1  # weight of the feature (cosine) distance; 0: pixels only (a 1500-step dcgan of
    # mnist-mini, 6 test digits: weights 0 / 0.1 / 1 gave per-pixel MSE 0.031 / 0.032 / 0.037, feature distance
    # 0.033 / 0.029 / 0.021)
    norm_penalty: float = 0.0  # normal priors: weight of (|z| / sqrt(d) - 1)^2
    encoder: bool = False  # one start from the model's encoder
    label: int | None = None  # conditional models: project under this label (None: search all)
    resize: bool = False  # convert and resize images of another size or channel count
    against: list[tuple[str, int]] = field(default_factory=list)  # (split, n) to project from the run's data
    stroke: str | None = None  # mask image: where the edit constraint applies
    color: str | None = None  # R,G,B or a grey intensity (0-255) the stroke pulls towards
    edit_weight: float = 0.3  # lambda: weight of the stroke against the rest staying put (0.3 kept MNIST digits
    # recognisable under a bar across the top; 1 and 3 turned them into other digits)
    target_class: int | None = None  # conditional / InfoGAN: the label (code value) to change to
    edit_steps: int = 4  # intermediate edit results kept
    morph: tuple[str, str] | None = None
    frames: int = 8  # morph frames
    slerp: bool = False
    seed: int = 0
    out: str | None = None
    data_dir: str | None = None


# ---- the run's generator as a differentiable function of a free latent ---------------------------------------
class LatentGenerator:
    """G(z, label) -> images in [0, 1], differentiable in z, for the generator used for sampling (the weight
    average where there is one). `dim` free latent entries are optimised; `labels` discrete choices (classes, or
    InfoGAN's first categorical code) are searched; `hi` bounds the entries of a uniform prior to [-hi, hi] (inf for
    the entries of a normal prior)."""

    def __init__(self, model):
        self.model = model
        self.device = model.device
        self.info = callable(getattr(model, "latent_with_codes", None))  # InfoGAN: codes inside the latent
        self.gan = callable(getattr(model, "generate", None)) and hasattr(model, "G")
        self.net = (model.G_ema.module if getattr(model, "G_ema", None) is not None else model.G) if self.gan else None
        if self.gan and hasattr(model, "grown_at"):  # ProGAN: generate at the resolution it was trained to
            model.growth = model.at(*model.grown_at.tolist())
        self.conditional = bool(getattr(model, "conditional", False))
        cfg = model.cfg
        if self.info:
            n_cat, k, n_cont = model.code_layout
            self.labels, self.label_kind = (k if n_cat else 0), "code"
            self.dim = cfg.z_dim + n_cont
            noise_bound = 1.0 if cfg.z_dist == "uniform" else math.inf
            bound = torch.tensor([noise_bound] * cfg.z_dim + [1.0] * n_cont)
        else:
            self.labels = model.spec.num_classes if self.conditional else 0
            self.label_kind = "class" if self.conditional else None
            self.dim = model.sample_latent(1).shape[1]
            uniform = getattr(cfg, "z_dist", "normal") == "uniform"
            bound = torch.full((self.dim,), 1.0 if uniform else math.inf)
        self.hi = bound.to(self.device)
        self.normal = torch.isinf(self.hi)

    def full_latent(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """What the model's `decode` takes: z itself, or for InfoGAN [noise, one-hot codes, continuous codes]."""
        if not self.info:
            return z
        n_cat, _, n_cont = self.model.code_layout
        z_dim = self.model.cfg.z_dim
        cat = torch.zeros(len(z), n_cat, dtype=torch.long, device=z.device)
        if n_cat and labels is not None:
            cat[:, 0] = labels
        return self.model.latent_with_codes(z[:, :z_dim], cat, z[:, z_dim:])

    def __call__(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        full = self.full_latent(z, labels)
        cond = labels if self.conditional else None
        if self.gan:
            x = self.model.generate(full, cond, net=self.net).float()
            if tuple(x.shape[-2:]) != tuple(self.model.spec.shape[1:]):  # ProGAN below full size
                x = F.interpolate(x, size=self.model.spec.shape[1:], mode="nearest")
        else:
            x = self.model.decode(full, cond).float()
        return to_unit(x, self.model.input_range).clamp(0.0, 1.0)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n free latents from the prior."""
        if self.info:
            full = self.model.sample_latent(n, generator)
            z_dim, (n_cat, k, _) = self.model.cfg.z_dim, self.model.code_layout
            return torch.cat([full[:, :z_dim], full[:, z_dim + n_cat * k:]], 1)
        return self.model.sample_latent(n, generator)

    def clamp_(self, z: torch.Tensor) -> None:
        """Back into the prior's box (uniform entries); normal entries are left alone."""
        torch.minimum(torch.maximum(z, -self.hi), self.hi, out=z)

    def penalty(self, z: torch.Tensor, weight: float) -> torch.Tensor:
        """Per row: weight * (|z_normal| / sqrt(d) - 1)^2 (0 without normal entries or weight)."""
        if not weight or not bool(self.normal.any()):
            return z.new_zeros(len(z))
        zn = z[:, self.normal]
        return weight * (zn.norm(dim=1) / math.sqrt(zn.shape[1]) - 1).pow(2)

    def encode(self, x01: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
        """The encoder's codes for images in [0, 1] (None where the model has no encoder of this latent)."""
        if self.info or not callable(getattr(self.model, "encode", None)):
            return None
        x = from_unit(x01, self.model.input_range)
        with torch.no_grad():
            z = self.model.encode(x, labels) if self.conditional else self.model.encode(x)
        z = z.float()
        return z if z.shape[1] == self.dim else None

    def label_name(self, label: int | None) -> str:
        if label is None:
            return ""
        return f"code {label}" if self.label_kind == "code" else class_name(self.model, label)


def latent_generator(model, run_name: str) -> LatentGenerator:
    """The run's generator, or a ConfigError that says which models can be projected."""
    if hasattr(model, "sample_attrs"):
        raise ConfigError(f"{run_name} is a {model.name} run, conditioned on attribute vectors; projection takes "
                          f"{PROJECTABLE}")
    has_gen = callable(getattr(model, "sample_latent", None)) and (
        callable(getattr(model, "generate", None)) or callable(getattr(model, "decode", None)))
    if not has_gen:
        raise ConfigError(f"{run_name} is a {model.name} run, which has no generator to project into; projection "
                          f"takes {PROJECTABLE}")
    return LatentGenerator(model)


# ---- losses ------------------------------------------------------------------------------------------------
def pixel_distance(a: torch.Tensor, b: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Per-pixel distance N x C x H x W: squared (mse) or absolute (l1) difference."""
    d = a - b
    return d.pow(2) if kind == "mse" else d.abs()


def feature_function(fnet: FeatureNet | None, channels: int) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """Images in [0, 1] -> the feature net's features, differentiable (None when the net cannot read them)."""
    if fnet is None or (fnet.input_shape is not None and fnet.input_shape[0] != channels):
        return None

    def features(x01: torch.Tensor) -> torch.Tensor:
        x = from_unit(x01, fnet.input_range)
        if fnet.input_shape is not None and tuple(x.shape[2:]) != fnet.input_shape[1:]:
            x = F.interpolate(x, size=fnet.input_shape[1:], mode="bilinear", antialias=True, align_corners=False)
        with torch.autocast(x.device.type, enabled=False):
            return fnet.run(x.float()).features.float()

    return features


class Reconstruction:
    """L(G(z), x) per row = mean pixel distance + w * (1 - cos(features(G(z)), features(x)))."""

    def __init__(self, target: torch.Tensor, pixel: str, features: Callable | None, weight: float):
        self.target, self.pixel, self.features, self.weight = target, pixel, features, weight
        with torch.no_grad():
            self.target_features = features(target) if features is not None else None

    def parts(self, x: torch.Tensor, rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(per-pixel MSE, feature distance) per row; `rows` picks the targets (default: one per row)."""
        target = self.target if rows is None else self.target[rows]
        mse = (x - target).pow(2).flatten(1).mean(1)
        if self.target_features is None:
            return mse, None
        tf = self.target_features if rows is None else self.target_features[rows]
        return mse, 1 - F.cosine_similarity(self.features(x), tf, dim=1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        loss = pixel_distance(x, self.target, self.pixel).flatten(1).mean(1)
        if self.target_features is not None and self.weight:
            loss = loss + self.weight * (1 - F.cosine_similarity(self.features(x), self.target_features, dim=1))
        return loss


def descend(gen: LatentGenerator, z0: torch.Tensor, labels: torch.Tensor | None, loss_fn: Callable, opts:
            ProjectOptions, keep: int = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Adam on z (rows independent) for opts.iters steps, clamped to the prior's box after each; returns the final
    z and, with `keep`, the z of `keep` evenly spaced steps (the last included)."""
    z = z0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=opts.lr)
    marks = {round(opts.iters * (k + 1) / keep) for k in range(keep)} if keep else set()
    kept = []
    for step in range(1, opts.iters + 1):
        loss = loss_fn(gen(z, labels)) + gen.penalty(z, opts.norm_penalty)
        z.grad, = torch.autograd.grad(loss.sum(), [z])  # gradients of z only: the networks stay untouched
        opt.step()
        with torch.no_grad():
            gen.clamp_(z)
        if step in marks:
            kept.append(z.detach().clone())
    return z.detach(), kept


# ---- projection, editing, morphing ---------------------------------------------------------------------------
@dataclass
class Projection:
    z: torch.Tensor  # N x dim free latents
    labels: torch.Tensor | None  # N labels (class or code value) or None
    images: torch.Tensor  # N x C x H x W in [0, 1]
    mse: torch.Tensor  # N per-pixel MSE against the target images
    feature: torch.Tensor | None  # N feature distances (None without a feature net)
    random_mse: torch.Tensor  # N: mean per-pixel MSE of random codes (the baseline)
    from_encoder: torch.Tensor  # N bools: the best start was the encoder's code


def _candidates(gen: LatentGenerator, n: int, labels: torch.Tensor | None, opts: ProjectOptions) -> torch.Tensor | None:
    """N x L labels to try per image: the given ones, --label, or all of them (None: no labels)."""
    if not gen.labels:
        return None
    if labels is not None:
        return labels.to(gen.device).long()[:, None]
    if opts.label is not None:
        return torch.full((n, 1), opts.label, device=gen.device)
    return torch.arange(gen.labels, device=gen.device).expand(n, gen.labels)


def project(gen: LatentGenerator, x01: torch.Tensor, opts: ProjectOptions, features: Callable | None = None,
            labels: torch.Tensor | None = None, generator: torch.Generator | None = None) -> Projection:
    """Project images (N x C x H x W in [0, 1]) into the latent space: `opts.starts` starts per image and label
    candidate, the lowest loss kept; images are processed in chunks of about ROW_CHUNK rows."""
    generator = generator or torch.Generator().manual_seed(opts.seed)
    x01 = x01.to(gen.device)
    cand = _candidates(gen, len(x01), labels, opts)
    per = (1 if cand is None else cand.shape[1]) * opts.starts  # rows per image
    step = max(1, ROW_CHUNK // per)
    parts = [_project_chunk(gen, x01[i:i + step], None if cand is None else cand[i:i + step], opts, features,
                            generator) for i in range(0, len(x01), step)]
    cat = lambda k: None if getattr(parts[0], k) is None else torch.cat([getattr(p, k) for p in parts])  # noqa: E731
    return Projection(**{k: cat(k) for k in Projection.__dataclass_fields__})


def _project_chunk(gen: LatentGenerator, x01: torch.Tensor, cand: torch.Tensor | None, opts: ProjectOptions,
                   features: Callable | None, generator: torch.Generator) -> Projection:
    """One batch of rows (image x label candidate x start) optimised together; the best row of each image kept,
    with its errors and the random-code baseline for the label it found."""
    n, s = len(x01), opts.starts
    n_lab = 1 if cand is None else cand.shape[1]
    per = n_lab * s
    rows = torch.arange(n, device=gen.device).repeat_interleave(per)  # image of each row
    row_labels = None if cand is None else cand.repeat_interleave(s, 1).flatten()  # image-major, label, start
    z0 = gen.sample(n * per, generator)
    encoded = torch.zeros(n * per, dtype=torch.bool, device=gen.device)
    if opts.encoder:
        first = torch.arange(0, n * per, s, device=gen.device)  # start 0 of each (image, label)
        ze = gen.encode(x01[rows[first]], None if row_labels is None else row_labels[first])
        if ze is not None:
            z0[first] = ze.to(z0)
            encoded[first] = True
    loss = Reconstruction(x01[rows], opts.pixel_loss, features, opts.feature_weight)
    z, _ = descend(gen, z0, row_labels, loss, opts)
    with torch.no_grad():
        final = (loss(gen(z, row_labels)) + gen.penalty(z, opts.norm_penalty)).reshape(n, per)
        best = final.argmin(1) + torch.arange(n, device=gen.device) * per  # row of each image's best start
        labels = None if row_labels is None else row_labels[best]
        images = gen(z[best], labels)
        mse, feat = Reconstruction(x01, opts.pixel_loss, features, opts.feature_weight).parts(images)
        r = gen.sample(n * RANDOM_CODES, generator)
        rand = gen(r, None if labels is None else labels.repeat_interleave(RANDOM_CODES))
        random_mse = (rand - x01.repeat_interleave(RANDOM_CODES, 0)).pow(2).flatten(1).mean(1)
    return Projection(z[best], labels, images, mse, feat, random_mse.reshape(n, -1).mean(1), encoded[best])


def edit_loss(projected: torch.Tensor, mask: torch.Tensor | None, color: torch.Tensor | None, weight: float,
              pixel: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Per row: mean distance to the projection outside the mask + weight * mean distance to the colour inside it
    (no mask: the whole image stays close to the projection)."""
    keep = torch.ones_like(projected[:1, :1]) if mask is None else 1 - mask  # 1 x 1 x H x W

    def loss(x: torch.Tensor) -> torch.Tensor:
        d = pixel_distance(x, projected, pixel).mean(1, keepdim=True)  # N x 1 x H x W
        out = (d * keep).flatten(1).sum(1) / keep.sum().clamp(min=1)
        if mask is not None:
            c = pixel_distance(x, color.view(1, -1, 1, 1).expand_as(x), pixel).mean(1, keepdim=True)
            out = out + weight * (c * mask).flatten(1).sum(1) / mask.sum()
        return out

    return loss


def edit(gen: LatentGenerator, proj: Projection, opts: ProjectOptions, mask: torch.Tensor | None = None,
         color: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Edit the projections towards a stroke (mask 1 x 1 x H x W in {0, 1}, colour C values in [0, 1]) and/or to
    `opts.target_class`, starting from z*. Returns the kept steps' images (N x S x C x H x W), their latents
    (N x S x dim) and the labels used (N, or None)."""
    labels = proj.labels
    if opts.target_class is not None:
        labels = torch.full((len(proj.z),), opts.target_class, device=gen.device)
    loss = edit_loss(proj.images, None if mask is None else mask.to(gen.device),
                     None if color is None else color.to(gen.device), opts.edit_weight, opts.pixel_loss)
    _, kept = descend(gen, proj.z, labels, loss, opts, keep=opts.edit_steps)
    zs = torch.stack(kept, 1)  # N x S x dim
    with torch.no_grad():
        lab = None if labels is None else labels.repeat_interleave(zs.shape[1])
        images = gen(zs.flatten(0, 1), lab).reshape(*zs.shape[:2], *proj.images.shape[1:])
    return images, zs, labels


def morph(gen: LatentGenerator, a: Projection, b: Projection, frames: int, spherical: bool = False
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """`frames` images from the first projection of `a` to that of `b` (lerp or slerp of the free latents; labels
    switch at the midpoint). Returns images (frames x C x H x W), latents (frames x dim), labels (or None)."""
    t = torch.linspace(0.0, 1.0, frames, device=gen.device)
    za, zb = a.z[:1], b.z[:1]
    z = slerp(za, zb, t)[0] if spherical else torch.lerp(za, zb, t[:, None])
    labels = None
    if a.labels is not None:
        labels = torch.where(t < 0.5, a.labels[0], b.labels[0])
    with torch.no_grad():
        return gen(z, labels), z, labels


# ---- reading the user's files ------------------------------------------------------------------------------
def image_files(paths: list[str]) -> list[Path]:
    """Image files named, and the images inside folders named (sorted by name)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ConfigError(f"folder {p} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            files += found
        elif not p.is_file():
            raise ConfigError(f"no such image file or folder: {p}")
        else:
            files.append(p)
    return files


def read_images(files: list[Path], spec, resize: bool) -> torch.Tensor:
    """uint8 N x C x H x W images in the model's channels and size: with `resize` converted, centre-cropped to the
    model's aspect and resized; otherwise an image of another size or channel count is an error naming it."""
    c, h, w = spec.shape
    modes = read_modes(files)  # a file that is no image fails here, named
    out = []
    for f, mode in zip(files, modes):
        if not resize and channels_of([f], [mode]) != c:
            have = "colour" if c == 1 else "grey"
            raise ConfigError(f"{f} is a {have} image, but this model makes {c}-channel images: pass --resize to "
                              "convert (and resize) it")
        crop = 10**9 if resize and h == w else None  # a square model: the largest centred square first
        img = decode_many([f], c, size=(h, w) if resize else None, crop=crop)
        if tuple(img.shape[2:]) != (h, w):
            raise ConfigError(f"{f} is {img.shape[3]}x{img.shape[2]}, but this model makes {w}x{h} images: pass "
                              "--resize to resize it")
        out.append(img)
    return torch.cat(out)


def read_mask(path: str, spec, resize: bool) -> torch.Tensor:
    """1 x 1 x H x W float mask, 1 where the stroke image is light (> 127 of 255)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no such mask file: {p}")
    read_modes([p])
    h, w = spec.shape[1:]
    m = decode_many([p], 1, size=(h, w) if resize else None)
    if tuple(m.shape[2:]) != (h, w):
        raise ConfigError(f"mask {p} is {m.shape[3]}x{m.shape[2]}, but the images are {w}x{h}: draw the stroke at "
                          f"{w}x{h}, or pass --resize to resize it")
    mask = (m > 127).float()
    if not mask.any():
        raise ConfigError(f"mask {p} has no stroke: paint the pixels to change in white (> 127) on black")
    return mask


def parse_color(text: str, channels: int) -> torch.Tensor:
    """'R,G,B' (colour models; one value: grey) or one intensity (grey models), 0-255 -> C values in [0, 1]."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"--color takes R,G,B or one grey intensity, numbers 0-255; got {text!r}") from None
    if not all(0 <= v <= 255 for v in values) or len(values) not in (1, 3):
        raise ConfigError(f"--color takes R,G,B or one grey intensity, numbers 0-255; got {text!r}")
    if len(values) == 3 and channels == 1:
        raise ConfigError(f"this model makes grey images: give --color one intensity 0-255, not {text!r}")
    return torch.tensor(values * (channels if len(values) == 1 else 1)) / 255


def check_options(gen: LatentGenerator, opts: ProjectOptions, images: list[str], run_name: str) -> None:
    """One clear error per bad combination of options (before anything is read or computed)."""
    model = gen.model
    if not images and not opts.against and not opts.morph:
        raise ConfigError("give images to project (files or folders), --morph A B, or --against train|test N")
    if opts.pixel_loss not in ("mse", "l1"):
        raise ConfigError(f"--pixel-loss is mse or l1, got {opts.pixel_loss!r}")
    for what, k in (("--label", opts.label), ("--target-class", opts.target_class)):
        if k is None:
            continue
        if not gen.labels:
            raise ConfigError(f"{what} is for class-conditional GANs and InfoGAN; {run_name} ({model.name}) has no "
                              "labels or codes")
        if not 0 <= k < gen.labels:
            raise ConfigError(f"{what} {k} is out of range: this model has {gen.label_kind}s 0..{gen.labels - 1}")
    if (opts.stroke is None) != (opts.color is None):
        raise ConfigError("--stroke MASK and --color R,G,B go together")
    if (opts.stroke or opts.target_class is not None) and not images:
        raise ConfigError("an edit (--stroke, --target-class) needs images to project first")
    if opts.encoder and (gen.info or not callable(getattr(model, "encode", None))):
        raise ConfigError(f"--encoder needs a model with an encoder of its latent (bigan, vae, aae); {model.name} "
                          "has none")
    for split, n in opts.against:
        if split not in ("train", "test") or not (isinstance(n, int) and n >= 1):
            raise ConfigError(f"--against takes train or test and a number of images, e.g. --against test 50; got "
                              f"{split} {n}")


# ---- the command -------------------------------------------------------------------------------------------
def _features(data_name: str, channels: int) -> tuple[Callable | None, str]:
    """The perceptual loss's feature function and what it is (or why there is none)."""
    try:
        fnet = resolve("auto", data_name)
    except GenzooError as e:
        return None, f"pixel loss only: {e}"
    fn = feature_function(fnet, channels)
    return fn, (fnet.description if fn else f"pixel loss only: {fnet.description} takes other images")


def _row(name: str, p: Projection, i: int, gen: LatentGenerator) -> dict[str, Any]:
    row = {"image": name, "mse": float(p.mse[i]), "random_mse": float(p.random_mse[i]),
           "feature_distance": None if p.feature is None else float(p.feature[i]),
           "from_encoder": bool(p.from_encoder[i])}
    if p.labels is not None:
        row.update(label=int(p.labels[i]), label_name=gen.label_name(int(p.labels[i])))
    return row


def _summary(p: Projection) -> dict[str, Any]:
    return {"n": len(p.mse), "mse": float(p.mse.mean()), "random_mse": float(p.random_mse.mean()),
            "feature_distance": None if p.feature is None else float(p.feature.mean())}


def _against(run: RunDir, gen: LatentGenerator, opts: ProjectOptions, features) -> dict[str, Any]:
    """Project the first n images of each requested split of the run's data (their labels where the model is
    class-conditional)."""
    out: dict[str, Any] = {}
    data_args = run.read_config()["data"]
    for split, n in opts.against:
        data = load_split(data_args, split, opts.data_dir)
        images = data.images[:n]
        labels = data.labels[:n] if gen.conditional and data.labels is not None else None
        x01 = images.float().to(gen.device) / 255
        p = project(gen, x01, opts, features, labels=labels)
        out[split] = {**_summary(p), "originals": x01.cpu(), "projections": p.images.cpu()}
    return out


@dataclass
class Figure:
    """One grid to write: cells (N x C x H x W in [0, 1]) `nrow` to a row, with row and column labels, captions."""

    name: str
    cells: torch.Tensor
    nrow: int
    rows: list[str]
    cols: list[str]
    captions: list[str] | None = None


def _projection_figure(gen: LatentGenerator, files: list[Path], x: torch.Tensor, opts: ProjectOptions, features,
                       mask, color, result: dict[str, Any], arrays: dict[str, np.ndarray]) -> Figure:
    """Project the user's images (and edit them); a row per image: original, projection, stroke, edit steps."""
    p = project(gen, x.float() / 255, opts, features)
    result["images"] = [_row(f.name, p, i, gen) for i, f in enumerate(files)]
    arrays["codes"] = gen.full_latent(p.z, p.labels).cpu().numpy()
    if p.labels is not None:
        arrays["labels"] = p.labels.cpu().numpy()

    def names(labels: torch.Tensor | None) -> list[str]:
        return [""] * len(x) if labels is None else [gen.label_name(int(k)) for k in labels]

    cells, cols = [x.float().to(gen.device) / 255, p.images], ["original", "projection"]
    caps = [[""] * len(x), [f"{n}, mse {float(m):.3f}" if n else f"mse {float(m):.4f}"
                            for m, n in zip(p.mse, names(p.labels))]]
    if mask is not None or opts.target_class is not None:
        frames, zs, labels = edit(gen, p, opts, mask, color)
        steps = zs.shape[1]
        full = gen.full_latent(zs.flatten(0, 1), None if labels is None else labels.repeat_interleave(steps))
        arrays["edit_codes"] = full.reshape(len(x), steps, -1).cpu().numpy()
        result["edit"] = _edit_figures(p, frames, mask, color, opts, gen)
        if mask is not None:
            m, c = mask.to(gen.device), color.to(gen.device).view(1, -1, 1, 1)
            cells.append(p.images * (1 - m) + c * m)
            cols.append("stroke")
            caps.append([""] * len(x))
        for k in range(steps):
            cells.append(frames[:, k])
            cols.append(f"edit {k + 1}/{steps}")
            caps.append(names(labels))
    captions = [caps[c][i] for i in range(len(x)) for c in range(len(cells))]
    return Figure("projection", torch.stack(cells, 1).flatten(0, 1), len(cells), [f.stem[:14] for f in files], cols,
                  captions)


def _morph_figure(gen: LatentGenerator, pair: torch.Tensor, opts: ProjectOptions, features,
                  result: dict[str, Any], arrays: dict[str, np.ndarray]) -> Figure:
    """Project the two --morph images and walk between them: A, the frames, B."""
    pa, pb = (project(gen, pair[i:i + 1].float() / 255, opts, features) for i in (0, 1))
    frames, zs, labels = morph(gen, pa, pb, opts.frames, opts.slerp)
    arrays["morph_codes"] = gen.full_latent(zs, labels).cpu().numpy()
    a, b = (Path(m).name for m in opts.morph)
    result["morph"] = {"images": [a, b], "frames": opts.frames, "path": "slerp" if opts.slerp else "lerp",
                       "a": _row(a, pa, 0, gen), "b": _row(b, pb, 0, gen)}
    originals = pair.float().to(gen.device) / 255
    cols = ["A", *[f"t={t:.2g}" for t in torch.linspace(0, 1, opts.frames).tolist()], "B"]
    return Figure("morph", torch.cat([originals[:1], frames, originals[1:]]), opts.frames + 2, [], cols)


def _against_figure(run: RunDir, gen: LatentGenerator, opts: ProjectOptions, features,
                    result: dict[str, Any]) -> Figure:
    """Project the first N images of each --against split; rows: originals and projections (up to 8 each)."""
    against = _against(run, gen, opts, features)
    result["against"] = {s: {k: v for k, v in r.items() if not isinstance(v, torch.Tensor)} for s, r in against.items()}
    show = min(8, *(len(r["originals"]) for r in against.values()))
    rows = [t[:show] for r in against.values() for t in (r["originals"], r["projections"])]
    return Figure("against", torch.cat(rows), show, [f"{s} {w}" for s in against for w in ("original", "projection")],
                  [])


def project_run(run_dir, images: list[str], opts: ProjectOptions, which: str = "best", device="cpu",
                log=print) -> dict[str, Any]:
    """Project (and edit, morph) images with the run's generator; write the grids, the codes and projection.json
    into `opts.out` (default RUN/projections/); return what went into the JSON."""
    run = RunDir(run_dir)
    model = load_model(run.path, which=which, device=device)
    gen = latent_generator(model, str(run.path))
    check_options(gen, opts, images, str(run.path))
    spec = model.spec
    # read and check every input before any work: a bad one writes nothing
    files = image_files(images) if images else []
    x = read_images(files, spec, opts.resize) if files else None
    mask = read_mask(opts.stroke, spec, opts.resize) if opts.stroke else None
    color = parse_color(opts.color, spec.channels) if opts.color else None
    pair = read_images([Path(p) for p in opts.morph], spec, opts.resize) if opts.morph else None
    features, feat_note = _features(run.read_config()["data"]["name"], spec.channels)

    result: dict[str, Any] = {"run": str(run.path), "model": model.name, "features": feat_note,
                              "checkpoint_step": getattr(model, "checkpoint_step", None),
                              "options": {k: v for k, v in asdict(opts).items() if k not in ("out", "data_dir")}}
    arrays: dict[str, np.ndarray] = {}
    figures = []
    if x is not None:
        figures.append(_projection_figure(gen, files, x, opts, features, mask, color, result, arrays))
    if pair is not None:
        figures.append(_morph_figure(gen, pair, opts, features, result, arrays))
    if opts.against:
        figures.append(_against_figure(run, gen, opts, features, result))

    out = Path(opts.out) if opts.out else run.path / "projections"
    out.mkdir(parents=True, exist_ok=True)
    written = [save_grid(f.cells.detach().cpu(), out / f"{f.name}.png", nrow=f.nrow, value_range=(0.0, 1.0),
                         row_labels=f.rows or None, col_labels=f.cols or None, captions=f.captions,
                         scale=caption_scale(spec.width)) for f in figures]
    for name, arr in arrays.items():
        written.append(out / f"{name.replace('_', '-')}.npy")
        np.save(written[-1], arr)
    result["files"] = [p.name for p in written] + ["projection.json"]
    (out / "projection.json").write_text(json.dumps(result, indent=2) + "\n")
    print_table(result, log)
    log(f"wrote {len(written) + 1} files to {out}")
    return result


def _edit_figures(p: Projection, frames: torch.Tensor, mask, color, opts: ProjectOptions, gen: LatentGenerator
                  ) -> dict[str, Any]:
    """How far the last edit moved: mean distance to the colour inside the stroke (before and after) and per-pixel
    MSE to the projection outside it."""
    last = frames[:, -1]
    res: dict[str, Any] = {"steps": frames.shape[1], "weight": opts.edit_weight}
    keep = torch.ones_like(last[:1, :1]) if mask is None else 1 - mask.to(last.device)
    res["outside_mse"] = float(((last - p.images).pow(2).mean(1, keepdim=True) * keep).sum() /
                               (keep.sum() * len(last)))
    if mask is not None:
        m, c = mask.to(last.device), color.to(last.device).view(1, -1, 1, 1)
        inside = lambda img: float(((img - c).abs().mean(1, keepdim=True) * m).sum() / (m.sum() * len(img)))  # noqa: E731
        res.update(stroke=opts.stroke, color=opts.color, inside_before=inside(p.images), inside_after=inside(last))
    if opts.target_class is not None:
        res.update(target=opts.target_class, target_name=gen.label_name(opts.target_class))
    return res


def print_table(result: dict[str, Any], log=print) -> None:
    """image | label | pixel MSE | feature distance | random-code MSE; then the --against means and the edit."""
    log(f"{'image':<26} {'label':<10} {'mse':>8} {'feature':>8} {'random':>8}")
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    rows = [(r["image"], r) for r in result.get("images", [])]
    if "morph" in result:
        rows += [(f"morph {k}: {result['morph'][k]['image']}", result["morph"][k]) for k in ("a", "b")]
    rows += [(f"{split} ({r['n']} images, mean)", r) for split, r in result.get("against", {}).items()]
    for name, r in rows:
        log(f"{name[:26]:<26} {r.get('label_name', '')[:10]:<10} {r['mse']:>8.4f} {fmt(r['feature_distance']):>8} "
            f"{r['random_mse']:>8.4f}")
    log("(mse: per pixel in [0, 1] units; feature: cosine distance in the feature net; random: mse of random codes)")
    against = result.get("against", {})
    if "train" in against and "test" in against:
        ratio = against["train"]["mse"] / max(against["test"]["mse"], 1e-12)
        log(f"train/test mse ratio {ratio:.2f} (well below 1 would mean the generator reproduces its training images "
            "better than new ones: memorisation)")
    if "edit" in result:
        e = result["edit"]
        what = f" to {e['target_name']}" if "target" in e else ""
        where = "outside the stroke" if "inside_before" in e else "(whole image)"
        line = f"edit{what}: mse to the projection {where} {e['outside_mse']:.4f}"
        if "inside_before" in e:
            line += f"; inside, mean distance to the colour {e['inside_before']:.3f} -> {e['inside_after']:.3f}"
        log(line)
    log(f"features: {result['features']}")
