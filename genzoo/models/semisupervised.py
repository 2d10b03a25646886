"""Semi-supervised classification: an autoencoder's encoder, pretrained on all (unlabelled) images,
plus a classifier head trained on the few labelled ones; compared with the same network from scratch.

The pretraining is an ordinary autoencoder run (`genzoo train ae`); this model takes its encoder
(`--set pretrained=RUN_DIR`), adds a head on the code, and trains on whatever labelled images it is
given (`--set data.limit=100`, or a class-balanced subset from Python / bench/unsupervised.py).
With `freeze=true` only the head learns (the classic "features + classifier" recipe); otherwise
the whole network is fine-tuned from the pretrained start. `pretrained=''` trains the identical
architecture from a random start: the baseline that shows what the unlabelled data bought.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import ConfigError, field, to_dict
from genzoo.data.imageset import DataSpec
from genzoo.models.autoencoder import Autoencoder, EncoderConfig, adam_with_schedule, build_encoder
from genzoo.models.base import Model
from genzoo.nn import eval_mode
from genzoo.registry import register
from genzoo.runs import load_model

ARCH_KEYS = ("arch", "code_dim", "hidden", "width")


@dataclass
class AEClassifierConfig(EncoderConfig):
    pretrained: str = field("", "autoencoder run folder whose encoder starts this classifier ('' = from scratch)")
    freeze: bool = field(False, "train only the head on the pretrained encoder's codes")
    head_hidden: int = field(0, "hidden units of the head (0 = a linear head on the standardised code)", ge=0)
    dropout: float = field(0.0, "dropout on the code before the head", ge=0, lt=1)
    lr: float = field(1e-3, "Adam learning rate", gt=0)
    weight_decay: float = field(0.0, "Adam weight decay", ge=0)
    schedule: str = field("cosine", "cosine or constant")

    def validate(self) -> None:
        super().validate()
        if self.schedule not in ("cosine", "constant"):
            raise ConfigError(f"schedule must be cosine or constant, got {self.schedule!r}")


@register("ae-classifier", config=AEClassifierConfig, family="autoencoder",
          description="Classifier on an autoencoder's encoder: semi-supervised learning from few labels",
          train_defaults={"steps": 1000, "batch_size": 100})
class AEClassifier(Model):
    """Encoder (optionally from a pretrained autoencoder run) + classification head."""

    input_range = (0.0, 1.0)
    val_metric = "accuracy"
    val_higher_is_better = True

    def __init__(self, cfg: AEClassifierConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        cfg.validate()
        if spec.num_classes < 2:
            raise ConfigError(f"dataset {spec.name!r} has no class labels to learn")
        self.encoder = build_encoder(cfg, spec)
        # the code's dimensions can differ in scale by orders of magnitude (nothing in an autoencoder's
        # loss fixes it); standardising them lets one head learning rate suit every pretrained encoder
        head: list[nn.Module] = [nn.BatchNorm1d(cfg.code_dim), nn.Dropout(cfg.dropout)]
        if cfg.head_hidden:
            head += [nn.Linear(cfg.code_dim, cfg.head_hidden), nn.ReLU(inplace=True)]
        head.append(nn.Linear(cfg.head_hidden or cfg.code_dim, spec.num_classes))
        self.head = nn.Sequential(*head)
        self._pretrained_loaded = False

    def load_pretrained(self) -> None:
        """Copy the encoder weights of the autoencoder run `cfg.pretrained` (architectures must match)."""
        ae = load_model(self.cfg.pretrained, which="last", device=self.device)
        if not isinstance(ae, Autoencoder) or ae.binary:
            raise ConfigError(f"{self.cfg.pretrained} is a {ae.name} run; pretrained must be a real-code "
                              "autoencoder run (ae, conv-ae, linear-ae)")
        if ae.spec.shape != self.spec.shape:
            raise ConfigError(f"{self.cfg.pretrained} was trained on {ae.spec.shape} images, these are "
                              f"{self.spec.shape}; use the same dataset (and data.image_size)")
        theirs, ours = to_dict(ae.cfg), to_dict(self.cfg)
        diff = [k for k in ARCH_KEYS if theirs[k] != ours[k]]
        if diff:
            fix = " ".join(f"{k}={','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
                           for k, v in ((k, theirs[k]) for k in diff))
            raise ConfigError(f"the encoder of {self.cfg.pretrained} does not fit this classifier's "
                              f"architecture; use its settings: --set {fix}")
        self.encoder.load_state_dict(ae.encoder.state_dict())
        self._pretrained_loaded = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of images in the model's input range (what genzoo attack and genzoo viz work on)."""
        return self(x)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self(x).argmax(1)

    def configure_optimizers(self, total_steps: int) -> None:
        # only training needs the pretrained run: a finished run's checkpoint already holds the weights
        if self.cfg.pretrained and not self._pretrained_loaded:
            self.load_pretrained()
        if self.cfg.freeze:
            if not self.cfg.pretrained:
                raise ConfigError("freeze=true needs a pretrained encoder (--set pretrained=RUN_DIR)")
            self.encoder.requires_grad_(False)
        params = [p for p in self.parameters() if p.requires_grad]
        adam_with_schedule(self, params, self.cfg.lr, self.cfg.weight_decay, self.cfg.schedule, total_steps)

    def train_step(self, batch, step: int) -> dict[str, Any]:
        if batch.y is None:
            raise ConfigError("ae-classifier needs labelled training data")
        if self.cfg.freeze:
            self.encoder.eval()
        logits = self(batch.x)
        loss = F.cross_entropy(logits.float(), batch.y)
        self.optimize("net", loss)
        return {"loss": loss.detach(), "train_accuracy": (logits.detach().argmax(1) == batch.y).float().mean()}

    @torch.no_grad()
    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        if data.labels is None:
            raise ConfigError(f"cannot evaluate a classifier on {data.name!r}: it has no labels")
        with eval_mode(self):
            correct, nll = 0, 0.0
            for images, labels, _ in data.iter_ordered(batch_size):
                logits = self(self.prepare(images)).float().cpu()
                nll += float(F.cross_entropy(logits, labels, reduction="sum"))
                correct += int((logits.argmax(1) == labels).sum())
        n = len(data)
        return {"accuracy": correct / n, "loss": nll / n, "n": n}
