"""Convolutional image classifiers: the classic MNIST conv net and a fast batchnorm net (the default).

`classic` is the conv-pool-conv-pool-dense-dropout network of the TensorFlow "Deep MNIST" tutorial
(after LeCun et al. 1998): 5x5 conv 32 -> 2x2 max-pool -> 5x5 conv 64 -> pool -> dense 1024 ->
dropout 0.5 -> dense classes, trained with Adam at 1e-4.

`fast` is chosen for accuracy per CPU-second, using what fast-training work on MNIST/CIFAR showed
(e.g. Page's and Keller Jordan's CIFAR-10 speed runs): three conv-batchnorm-ReLU stages (width w,
2w, 4w) with max-pooling, a global max-pool and a linear head; SGD with Nesterov momentum under a
one-cycle learning-rate schedule, label smoothing, random translations, channels_last, bf16 autocast,
and test-time augmentation (flips where they preserve the label: clothes and objects; 1-pixel
shifts for digits).
`small` is the two strided-conv, two dense-layer MNIST net of Wong & Kolter 2018, used by Wong et al. 2020
("Fast is better than free") for adversarial training; `classifier-robust` trains it with FGSM and a random
start (`adv`, see genzoo/models/adversarial.py).
Cross-entropy is always computed on logits (`F.cross_entropy`), never on probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import ConfigError, field
from genzoo.data.augment import random_crop, random_hflip
from genzoo.data.imageset import USE_LABELLED_DATA, DataSpec
from genzoo.models.adversarial import AdversarialTraining
from genzoo.models.base import Model
from genzoo.nn import eval_mode
from genzoo.registry import register, register_preset


@dataclass
class ClassifierConfig:
    arch: Literal["fast", "classic", "small"] = field(
        "fast", "fast: batchnorm conv net; classic: the tutorial net; small: Wong & Kolter's 2-conv MNIST net")
    width: int = field(32, "channels of the first conv stage (fast: w, 2w, 4w; classic, small: w, 2w)", ge=1)
    convs_per_stage: int = field(1, "fast: conv layers per stage", ge=1)
    hidden: int = field(1024, "classic, small: units of the dense layer", ge=1)
    dropout: float = field(0.0, "dropout before the last layer (classic net: 0.5)", ge=0, lt=1)
    optimizer: Literal["sgd", "adam"] = field("sgd", "sgd (Nesterov momentum) or adam")
    lr: float = field(0.1, "peak learning rate", gt=0)
    momentum: float = field(0.9, "SGD momentum / Adam beta1", ge=0, lt=1)
    weight_decay: float = field(5e-4, "L2 weight decay (not applied to batchnorm and biases)", ge=0)
    schedule: Literal["onecycle", "cosine", "constant"] = field("onecycle", "learning-rate schedule")
    warmup: float = field(0.2, "onecycle: fraction of training spent raising the learning rate", ge=0, le=1)
    label_smoothing: float = field(0.1, "cross-entropy label smoothing", ge=0, lt=1)
    crop_pad: int = field(2, "random translation of up to this many pixels (0 = off)", ge=0)
    hflip: Literal["auto", "on", "off"] = field("auto", "random horizontal flips; auto = where labels allow")
    tta: Literal["auto", "none", "flip", "shift"] = field(
        "auto", "test-time augmentation: flip (mirror), shift (1-pixel translations); "
        "auto = flip where allowed, else shift")
    head_scale: float = field(1.0, "fast: multiply logits by this (a temperature on the linear head)", gt=0)
    target: Literal["class", "attrs"] = field(
        "class", "class: one label per image (cross-entropy); attrs: the data's binary attributes, one logit "
                 "each (multi-label BCE, e.g. CelebA), used to judge attribute-conditional GANs")
    adv: Literal["none", "fgsm", "pgd"] = field(
        "none", "adversarial training: fgsm (random start, Wong et al. 2020) or pgd (Madry et al. 2018)")
    adv_eps: float = field(0.0, "adversarial training budget (L-inf, pixels in [0, 1]); 0 = the data's usual "
                                "budget: 0.3 MNIST, 0.1 Fashion-MNIST, 8/255 colour images", ge=0, le=1)
    adv_alpha: float = field(0.0, "attack step as a multiple of eps; 0 = 1.25 (fgsm), 2.5/adv_steps (pgd)", ge=0)
    adv_steps: int = field(10, "pgd training: attack steps per batch", ge=1)
    adv_ramp: float = field(0.0, "fraction of training over which eps grows linearly from 0 to adv_eps", ge=0, le=1)
    adv_eval_n: int = field(1000, "images per evaluation scored under FGSM and PGD-10 (catastrophic "
                                  "overfitting check; genzoo attack gives the full figures)", ge=0)


def conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def shift(x: torch.Tensor, dy: int, dx: int, fill: float) -> torch.Tensor:
    """Translate images by (dy, dx) pixels (|d| <= 1), filling the border with `fill`."""
    h, w = x.shape[-2:]
    return F.pad(x, (1, 1, 1, 1), value=fill)[:, :, 1 - dy:1 - dy + h, 1 - dx:1 - dx + w]


class FastNet(nn.Module):
    """conv-bn-relu stages (w, 2w, 4w) with 2x2 max-pools, global max-pool, linear head."""

    def __init__(self, channels: int, classes: int, width: int, convs: int, dropout: float, scale: float):
        super().__init__()
        layers: list[nn.Module] = []
        cin = channels
        for i, w in enumerate((width, 2 * width, 4 * width)):
            for _ in range(convs):
                layers.append(conv_bn(cin, w))
                cin = w
            if i < 2:
                layers.append(nn.MaxPool2d(2))
        self.body = nn.Sequential(*layers, nn.AdaptiveMaxPool2d(1), nn.Flatten())  # N x 4w
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, classes)
        self.scale = scale
        self.feature_dim = cin

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.body(x))) * self.scale


class DenseHeadNet(nn.Module):
    """A conv body ending in a dense layer of `hidden` units, then dropout and a linear head."""

    def __init__(self, body: nn.Sequential, hidden: int, classes: int, dropout: float):
        super().__init__()
        self.body = body
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, classes)
        self.feature_dim = hidden

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.body(x)))


class ClassicNet(DenseHeadNet):
    """5x5 conv w -> pool -> 5x5 conv 2w -> pool -> dense -> dropout -> dense (TF Deep MNIST)."""

    def __init__(self, channels: int, height: int, width_px: int, classes: int, width: int, hidden: int,
                 dropout: float):
        super().__init__(nn.Sequential(
            nn.Conv2d(channels, width, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * width * (height // 4) * (width_px // 4), hidden), nn.ReLU(inplace=True)),
            hidden, classes, dropout)


class SmallNet(DenseHeadNet):
    """4x4 stride-2 conv w -> ReLU -> 4x4 stride-2 conv 2w -> ReLU -> dense -> ReLU -> dense (Wong & Kolter
    2018's MNIST net: w=16, hidden=100). No pooling and no batchnorm: the common net of the robustness papers."""

    def __init__(self, channels: int, height: int, width_px: int, classes: int, width: int, hidden: int,
                 dropout: float):
        super().__init__(nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Flatten(), nn.Linear(2 * width * (height // 4) * (width_px // 4), hidden), nn.ReLU(inplace=True)),
            hidden, classes, dropout)


@register("classifier", config=ClassifierConfig, family="classifier",
          description="Conv-net image classifier (fast batchnorm net; arch=classic for the tutorial net)",
          train_defaults={"epochs": 8, "batch_size": 128, "precision": "bf16"})
class Classifier(AdversarialTraining, Model):
    """Image classifier; `evaluate` gives accuracy, per-class accuracy and the confusion matrix (and, when
    trained adversarially, accuracy under FGSM and PGD on part of the data)."""

    val_higher_is_better = True

    def __init__(self, cfg: ClassifierConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        outputs = len(spec.attr_names) if cfg.target == "attrs" else spec.num_classes
        if cfg.target == "attrs" and not outputs:
            raise ConfigError(f"target=attrs needs a dataset with attributes (celeba, mnist-attrs); {spec.name!r} "
                              "has none")
        if cfg.target == "class" and spec.num_classes < 2:
            raise ConfigError(f"the classifier needs labelled data with at least 2 classes; dataset "
                              f"{spec.name!r} has {spec.num_classes}: {USE_LABELLED_DATA}")
        if cfg.arch in ("classic", "small"):
            if spec.height % 4 or spec.width % 4:
                raise ConfigError(f"the {cfg.arch} net needs image sides divisible by 4, got "
                                  f"{spec.height}x{spec.width}")
            net_cls = ClassicNet if cfg.arch == "classic" else SmallNet
            self.net = net_cls(spec.channels, spec.height, spec.width, outputs, cfg.width, cfg.hidden, cfg.dropout)
        else:
            self.net = FastNet(spec.channels, outputs, cfg.width, cfg.convs_per_stage, cfg.dropout,
                               cfg.head_scale)
        self.use_hflip = cfg.hflip == "on" or (cfg.hflip == "auto" and spec.hflip_ok)
        if cfg.adv != "none" and cfg.target == "attrs":
            raise ConfigError("adversarial training (adv) is for class targets; set adv=none with target=attrs")
        self.total_steps = 1

    @property
    def val_metric(self) -> str:
        """best.pt and early stopping follow PGD accuracy when training adversarially: the usual early stop
        against catastrophic overfitting (Wong et al. 2020, section 5)."""
        return "pgd_accuracy" if self.cfg.adv != "none" else "accuracy"

    # ---- inference ------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N x classes) for float images in the model's input range."""
        return self.net(x)

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (N x classes) of images in the model's input range, differentiable and without test-time
        augmentation: what attacks (genzoo attack) and feature visualization (genzoo viz) work on."""
        return self.net(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features (used as the domain feature space by genzoo.metrics)."""
        return self.net.features(x)

    @property
    def feature_dim(self) -> int:
        return self.net.feature_dim

    def tta_mode(self) -> str:
        if self.cfg.tta == "auto":  # bench/classifier.py: shift TTA adds ~0.04 points on MNIST (3 seeds)
            return "flip" if self.spec.hflip_ok else "shift"
        return self.cfg.tta

    def logits_tta(self, x: torch.Tensor) -> torch.Tensor:
        """Logits averaged over test-time augmentations (see config `tta`)."""
        mode = self.tta_mode()
        out = self.net(x)
        if mode == "flip":
            out = (out + self.net(x.flip(3))) / 2
        elif mode == "shift":
            views = [shift(x, dy, dx, self.input_range[0]) for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1))]
            out = (out + sum(self.net(v) for v in views)) / 5
        return out

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Classes (N), or with target=attrs the 0/1 attributes (N x A). Always in eval mode: right after
        training the model is still in training mode, where batchnorm would normalise with this batch's
        statistics and update its running averages."""
        with eval_mode(self.net):
            logits = self.logits_tta(x)
        return (logits > 0).long() if self.cfg.target == "attrs" else logits.argmax(1)

    # ---- training -------------------------------------------------------------------------------
    def augment(self, images: torch.Tensor) -> torch.Tensor:
        if self.cfg.crop_pad:
            images = random_crop(images, self.cfg.crop_pad)
        if self.use_hflip:
            images = random_hflip(images)
        return images

    def configure_optimizers(self, total_steps: int) -> None:
        cfg = self.cfg
        decay = [p for n, p in self.named_parameters() if p.dim() > 1]
        no_decay = [p for n, p in self.named_parameters() if p.dim() <= 1]
        groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        if cfg.optimizer == "sgd":
            opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)
        else:
            opt = torch.optim.Adam(groups, lr=cfg.lr, betas=(cfg.momentum, 0.999))
        self.optimizers = {"net": opt}
        self.total_steps = max(total_steps, 1)
        if cfg.schedule == "onecycle":
            # OneCycleLR divides by each phase's length in steps (pct_start * total - 1 and the rest): keep both
            # phases at least 1.5 steps long, or a 4-step run (0.2 * 5 = 1) divides by zero
            total = total_steps + 1
            pct = min(max(cfg.warmup, 1.5 / total), 1 - 1.5 / total)
            sched = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=cfg.lr, total_steps=total, pct_start=pct,
                anneal_strategy="linear", div_factor=25.0, final_div_factor=1e3,
                cycle_momentum=False)
            self.schedulers = {"net": sched}
        elif cfg.schedule == "cosine":
            self.schedulers = {"net": torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(total_steps, 1))}

    def train_step(self, batch, step: int) -> dict[str, Any]:
        if self.cfg.target == "attrs":
            return self.attrs_step(batch)
        if batch.y is None:
            raise ConfigError("the classifier needs labels; this dataset has none")
        x, figures = batch.x, {}
        if self.cfg.adv != "none":
            x, figures = self.adversarial_batch(batch.x, batch.y, step)
        logits = self.net(x)
        loss = F.cross_entropy(logits.float(), batch.y, label_smoothing=self.cfg.label_smoothing)
        self.optimize("net", loss)
        acc = (logits.detach().argmax(1) == batch.y).float().mean()
        return {"loss": loss.detach(), "train_accuracy": acc, **figures}

    def attrs_step(self, batch) -> dict[str, Any]:
        """Multi-label step: BCE of one logit per attribute (label smoothing towards 1/2)."""
        if batch.attrs is None:
            raise ConfigError("target=attrs needs attributes in the training data")
        target = batch.attrs.float() * (1 - self.cfg.label_smoothing) + self.cfg.label_smoothing / 2
        logits = self.net(batch.x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), target)
        self.optimize("net", loss)
        acc = ((logits.detach() > 0) == batch.attrs.bool()).float().mean()
        return {"loss": loss.detach(), "train_accuracy": acc}

    @torch.no_grad()
    def evaluate_attrs(self, data, batch_size: int = 1000) -> dict[str, Any]:
        """Mean and per-attribute accuracy on `data`'s attributes (target=attrs)."""
        if data.attrs is None:
            raise ConfigError(f"cannot evaluate an attribute classifier on {data.name!r}: it has no attributes")
        with eval_mode(self):
            hits = torch.zeros(len(self.spec.attr_names), dtype=torch.float64)
            for images, _, attrs in data.iter_ordered(batch_size):
                x = self.prepare(images).contiguous(memory_format=torch.channels_last)
                hits += (self.predict(x).cpu() == attrs.long()).double().sum(0)
        per = hits / max(len(data), 1)
        return {"accuracy": float(per.mean()), "per_attribute_accuracy": dict(zip(self.spec.attr_names, per.tolist())),
                "n": len(data)}

    # ---- evaluation ------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        if self.cfg.target == "attrs":
            return self.evaluate_attrs(data, batch_size)
        if data.labels is None:
            raise ConfigError(f"cannot evaluate a classifier on {data.name!r}: it has no labels")
        k = self.spec.num_classes
        confusion = torch.zeros(k, k, dtype=torch.int64)
        nll = 0.0
        with eval_mode(self):
            for images, labels, _ in data.iter_ordered(batch_size):
                x = self.prepare(images).contiguous(memory_format=torch.channels_last)
                logits = self.logits_tta(x).float().cpu()
                nll += F.cross_entropy(logits, labels, reduction="sum").item()
                pred = logits.argmax(1)
                confusion += torch.bincount(labels * k + pred, minlength=k * k).reshape(k, k)
        n = int(confusion.sum())
        per_class = (confusion.diag().float() / confusion.sum(1).clamp(min=1).float()).tolist()
        res = {"accuracy": float(confusion.diag().sum()) / max(n, 1), "loss": nll / max(n, 1),
               "per_class_accuracy": per_class, "confusion_matrix": confusion.tolist(), "n": n}
        if self.cfg.adv != "none":
            res.update(self.robust_figures(data))
        return res


register_preset(
    "classifier-classic", "classifier",
    description="The classic MNIST conv net (conv-pool-conv-pool-dense-dropout), Adam 1e-4, as in the "
    "TensorFlow Deep MNIST tutorial",
    preset={"arch": "classic", "dropout": 0.5, "optimizer": "adam", "lr": 1e-4, "schedule": "constant",
            "label_smoothing": 0.0, "crop_pad": 0, "weight_decay": 0.0, "tta": "none"},
    train_defaults={"epochs": 17, "batch_size": 50, "precision": "fp32"})


ROBUST_NET = {"arch": "small", "width": 16, "hidden": 100, "optimizer": "adam", "lr": 5e-3, "momentum": 0.9,
              "schedule": "onecycle", "warmup": 0.4, "label_smoothing": 0.0, "crop_pad": 0, "weight_decay": 0.0,
              "tta": "none", "hflip": "off"}

register_preset(
    "classifier-robust", "classifier",
    description="Adversarially trained classifier: PGD-10 training (Madry et al. 2018) with eps ramped up over "
    "the first 30% of training, on Wong & Kolter's small MNIST net; eps 0.3 on MNIST (93.6% PGD-50x10 accuracy)",
    preset={**ROBUST_NET, "adv": "pgd", "adv_steps": 10, "adv_ramp": 0.3},
    # bench/robust.py: 15 epochs (6.1 min on 2 cores) give 99.1% clean, 93.6% PGD-50x10 accuracy at eps 0.3 on MNIST
    train_defaults={"epochs": 15, "batch_size": 100, "precision": "fp32"})

register_preset(
    "classifier-fgsm-rs", "classifier",
    description="FGSM adversarial training with a random start (Wong et al. 2020, \"Fast is better than free\"), "
    "their MNIST setting: small net, eps 0.3, step 1.25 eps, 10 epochs; prone to catastrophic overfitting "
    "(flagged at evaluation)",
    preset={**ROBUST_NET, "adv": "fgsm", "adv_alpha": 1.25},
    train_defaults={"epochs": 10, "batch_size": 100, "precision": "fp32"})
