"""Feature networks for the sample-quality metrics, and a cache of real-data features.

- Domain networks (the default): genzoo's own `classifier`, trained per dataset by
  scripts/build_feature_nets.py; weights in genzoo/metrics/weights/ (shipped) or
  ~/.cache/genzoo/feature-nets/ (built by the user). Features are the penultimate layer (global
  max-pool of the last conv stage, 128-d for the MNIST net; weights/README.md says why), and the
  logits give the class probabilities for the Inception-style score, class KL and conditional
  accuracy.
- Any trained genzoo classifier run (`features=RUN_DIR`), e.g. for an image folder of your own.
- Inception-v3 (standard FID, 2048-d pool features, 1008 logits) through torch-fidelity when it is
  installed and its weights file is on disk; otherwise a clear error.
- Stacked MNIST: the MNIST network applied to each channel (features concatenated, 1000-class
  log-probabilities = sums of the per-channel ones).

A network maps uint8 images (N x C x H x W) to `Features`, in batches, without gradients, in float32
outside any autocast region. `extract(..., cache=True)` keeps real-data features in memory and on
disk (~/.cache/genzoo/features/, keyed by network weights and image content).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from genzoo import registry
from genzoo.config import from_dict
from genzoo.data.imageset import DataSpec, to_float
from genzoo.errors import CheckpointError, ConfigError
from genzoo.runs import load_model


class FeaturesUnavailable(ConfigError):
    """The feature network a metric needs is not installed (weights or package missing)."""


WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
BUILD = "python scripts/build_feature_nets.py {name} --data-dir DIR"
# dataset name -> the domain network that scores it (stacked-mnist: the MNIST net, per channel)
DOMAIN = {"mnist": "mnist", "mnist-mini": "mnist", "stacked-mnist": "mnist", "fashion-mnist": "fashion-mnist",
          "cifar10": "cifar10", "cifar10-jpeg": "cifar10-jpeg",  # the JPEG copy has its own net: other pixels
          "mnist-attrs": "mnist", "mnist-mini-attrs": "mnist", "mnist-m": "mnist-m"}
# translation sets (genzoo.data.translation): their images are domain B, scored by the net of the dataset they come
# from; SOURCE_DOMAIN names the net that judges domain A (the sources), where there is one
TARGET_DOMAIN = {"fashion-edges": "fashion-mnist", "cifar10-edges": "cifar10-jpeg", "cifar10-grey": "cifar10-jpeg",
                 "mnist-to-mnistm": "mnist-m", "mnist-to-fashion": "fashion-mnist"}
SOURCE_DOMAIN = {"mnist-to-mnistm": "mnist", "mnist-to-fashion": "mnist"}
DOMAIN.update(TARGET_DOMAIN)
# captioned sets (genzoo.data.captions): the images of their base dataset, scored by its net
DOMAIN.update({"mnist-captions": "mnist", "mnist-mini-captions": "mnist", "fashion-captions": "fashion-mnist",
               "cifar10-captions": "cifar10-jpeg"})
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's converted TF weights
INCEPTION_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_FILE


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genzoo"


def weight_dirs() -> list[Path]:
    """Where domain networks are looked for, in order: the package, then the user's cache."""
    return [WEIGHTS_DIR, cache_root() / "feature-nets"]


@dataclass
class Features:
    features: torch.Tensor  # N x D float32
    logits: torch.Tensor | None = None  # N x K (class scores; log-probabilities or logits)


class FeatureNet:
    """Base: `key` names the network and its weights (for caches); `run` maps a float batch to Features."""

    key: str = ""
    description: str = ""
    num_classes: int = 0
    input_shape: tuple[int, int, int] | None = None  # (C, H, W) it was trained on; None = any size
    input_range: tuple[float, float] = (0.0, 1.0)
    device: torch.device = torch.device("cpu")

    def run(self, x: torch.Tensor) -> Features:
        raise NotImplementedError

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 batch -> float batch the network expects (resized to its input size if needed)."""
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ConfigError(f"feature networks take uint8 N x C x H x W images, got {images.dtype} "
                              f"{tuple(images.shape)}")
        if self.input_shape is not None and images.shape[1] != self.input_shape[0]:
            raise ConfigError(f"{self.description} takes {self.input_shape[0]}-channel images, got "
                              f"{images.shape[1]} channels; choose features for this data (--features)")
        x = to_float(images.to(self.device), self.input_range)
        if self.input_shape is not None and tuple(x.shape[2:]) != self.input_shape[1:]:
            x = F.interpolate(x, size=self.input_shape[1:], mode="bilinear", antialias=True, align_corners=False)
        return x

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, batch_size: int = 500) -> Features:
        feats, logits = [], []
        with torch.autocast(self.device.type, enabled=False):  # fp32 even inside a bf16 training step
            for i in range(0, len(images), batch_size):
                out = self.run(self.prepare(images[i:i + batch_size]))
                feats.append(out.features.float().cpu())
                if out.logits is not None:
                    logits.append(out.logits.float().cpu())
        return Features(torch.cat(feats), torch.cat(logits) if logits else None)

    def to(self, device: torch.device | str) -> FeatureNet:
        self.device = torch.device(device)
        return self


class ClassifierFeatures(FeatureNet):
    """A genzoo classifier: penultimate-layer features and logits from one forward pass."""

    def __init__(self, model, key: str, description: str):
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.key, self.description = key, description
        self.num_classes = model.spec.num_classes
        self.input_shape = model.spec.shape
        self.input_range = model.input_range
        # an attribute classifier (target=attrs) gives features but no class scores
        self.attrs = getattr(model.cfg, "target", "class") == "attrs"

    def run(self, x: torch.Tensor) -> Features:
        net = self.model.net
        f = net.features(x.contiguous(memory_format=torch.channels_last))  # N x D
        if self.attrs:
            return Features(f)
        return Features(f, net.head(f) * getattr(net, "scale", 1.0))  # scale: the calibrated 1/temperature

    def to(self, device):
        super().to(device)
        self.model.to(self.device)
        return self


class ChannelStack(FeatureNet):
    """A 1-channel network applied to each channel of K-channel images (stacked MNIST).

    Features: the per-channel features side by side (N x K*D). Class scores: log p(y_0, ..., y_{K-1})
    = sum_c log p(y_c | channel c), flattened with y_0 most significant (N x 10^K for digits).
    """

    def __init__(self, inner: ClassifierFeatures, channels: int = 3):
        self.inner, self.channels = inner, channels
        self.key = f"{inner.key}-x{channels}"
        self.description = f"{inner.description}, applied to each of {channels} channels"
        self.num_classes = inner.num_classes ** channels
        self.input_shape = (channels,) + inner.input_shape[1:]
        self.input_range = inner.input_range

    def run(self, x: torch.Tensor) -> Features:
        n, c, h, w = x.shape
        out = self.inner.run(x.reshape(n * c, 1, h, w))
        logp = out.logits.float().log_softmax(1).reshape(n, c, -1)  # N x C x 10
        joint = logp[:, 0]
        for i in range(1, c):  # outer sum: N x 10^i x 1 + N x 1 x 10 -> N x 10^(i+1)
            joint = (joint[:, :, None] + logp[:, i, None, :]).reshape(n, -1)
        return Features(out.features.reshape(n, -1), joint)

    def to(self, device):
        super().to(device)
        self.inner.to(device)
        return self


class InceptionFeatures(FeatureNet):
    """Inception-v3 pool features (2048-d) and unbiased logits (1008) via torch-fidelity (standard FID)."""

    key = "inception-v3-tf"
    description = "Inception-v3 (TF FID weights, via torch-fidelity)"
    num_classes = 1008

    def __init__(self, weights: Path):
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except Exception as e:  # ImportError, or torch-fidelity failing to import its own dependencies
            raise FeaturesUnavailable(f"Inception features need the torch-fidelity package ({type(e).__name__}: {e}); "
                              "install it with `pip install 'genzoo[inception]'`, or use the domain features "
                              "(the default)") from None
        self.net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                               feature_extractor_weights_path=str(weights))

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ConfigError(f"Inception features take uint8 N x 1|3 x H x W images, got {images.dtype} "
                              f"{tuple(images.shape)}")
        # torch-fidelity resizes to 299 itself and wants uint8 RGB: grey images are repeated
        return images.to(self.device).expand(-1, 3, -1, -1)

    def run(self, x: torch.Tensor) -> Features:
        feats, logits = self.net(x)
        return Features(feats, logits)

    def to(self, device):
        super().to(device)
        self.net.to(self.device)
        return self


def inception_weights() -> Path:
    """The Inception weights file ($GENZOO_INCEPTION_WEIGHTS, or torch-fidelity's place in the torch hub cache)."""
    env = os.environ.get("GENZOO_INCEPTION_WEIGHTS")
    path = Path(env).expanduser() if env else Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    if not path.is_file():
        raise FeaturesUnavailable(
            f"Inception-v3 weights not found at {path}. genzoo never downloads at evaluation time: fetch "
            f"{INCEPTION_URL} on a machine with internet, put it there (or set GENZOO_INCEPTION_WEIGHTS to "
            "its path), and install torch-fidelity (`pip install 'genzoo[inception]'`). Or use the domain "
            "features (the default).")
    return path


# ---- loading ------------------------------------------------------------------------------------
_NETS: dict[str, FeatureNet] = {}


def domain_net(name: str) -> ClassifierFeatures:
    """The shipped (or user-built) domain network `name` (mnist, fashion-mnist, cifar10, cifar10-jpeg, mnist-m)."""
    if name in _NETS:
        return _NETS[name]  # type: ignore[return-value]
    for d in weight_dirs():
        if (d / f"{name}.json").is_file() and (d / f"{name}.pt").is_file():
            net = _load_weights(d / f"{name}.json", d / f"{name}.pt")
            _NETS[name] = net
            return net
    where = " or ".join(str(d) for d in weight_dirs())
    raise FeaturesUnavailable(f"no {name} feature network: its weights ({name}.pt/.json) are in neither {where}. Build "
                      f"them from a genzoo checkout with `{BUILD.format(name=name)}` (trains a classifier, a few "
                      "minutes on a CPU), or evaluate with --features inception or --features RUN_DIR (a "
                      "trained classifier run)")


def _load_weights(record_path: Path, weights_path: Path) -> ClassifierFeatures:
    record = json.loads(record_path.read_text())
    blob = weights_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != record["sha256"]:
        raise CheckpointError(f"{weights_path} does not match the sha256 in {record_path}: the file is damaged "
                              f"or was replaced; rebuild it with `{BUILD.format(name=record['dataset'])}`")
    entry = registry.get(record["model"])
    model = registry.build(record["model"], DataSpec.from_dict(record["data_spec"]),
                           config=from_dict(entry.config_cls, record["model_config"]))
    model.load_state_dict(torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True))
    acc = record.get("test_accuracy")
    desc = f"genzoo {record['dataset']} classifier" + (f" (test accuracy {acc:.4f})" if acc else "")
    return ClassifierFeatures(model, f"{record_path.stem}-{record['sha256'][:12]}", desc)


def run_net(run_dir: str | Path) -> ClassifierFeatures:
    """A trained genzoo classifier run as the feature network."""
    model = load_model(run_dir, which="best")
    if not hasattr(model, "features") or not hasattr(getattr(model, "net", None), "head"):
        raise ConfigError(f"{run_dir} holds a {model.name} model; --features RUN_DIR needs a classifier run")
    ckpt = Path(run_dir) / "checkpoints" / ("best.pt" if (Path(run_dir) / "checkpoints/best.pt").is_file()
                                            else "last.pt")
    stamp = hashlib.sha256(f"{ckpt.resolve()}:{ckpt.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    return ClassifierFeatures(model, f"run-{stamp}", f"classifier run {run_dir}")


def resolve(features: str, dataset: str = "") -> FeatureNet:
    """The network for `features`: 'auto' (the domain network of `dataset`), a domain name, 'inception',
    or a classifier run folder."""
    if features == "auto":
        base = dataset.split(":")[0]
        if base not in DOMAIN:
            raise FeaturesUnavailable(f"no domain feature network for dataset {dataset!r} (there are: "
                              f"{', '.join(sorted(set(DOMAIN.values())))}); pass --features with one of those, "
                              "'inception', or a trained classifier run folder")
        features = "stacked-mnist" if base == "stacked-mnist" else DOMAIN[base]
    if features == "inception":
        return InceptionFeatures(inception_weights())
    if features == "stacked-mnist":
        return ChannelStack(domain_net("mnist"))
    if features in DOMAIN.values():
        net = domain_net(features)
        return net
    if Path(features).expanduser().is_dir():
        return run_net(Path(features).expanduser())
    raise ConfigError(f"unknown features {features!r}: use auto, {', '.join(sorted(set(DOMAIN.values())))}, "
                      "stacked-mnist, inception, or a classifier run folder")


# ---- the cache of real-data features ------------------------------------------------------------
_MEMORY: OrderedDict[str, Features] = OrderedDict()
MEMORY_ENTRIES = 8


def fingerprint(images: torch.Tensor) -> str:
    """Content hash of a uint8 image tensor (shape and bytes)."""
    h = hashlib.sha1(str(tuple(images.shape)).encode(), usedforsecurity=False)
    h.update(images.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:20]


def extract(net: FeatureNet, images: torch.Tensor, batch_size: int = 500, cache: bool = False) -> Features:
    """Features of uint8 `images`; with `cache`, reuse/keep them in memory and on disk."""
    if not cache:
        return net(images, batch_size)
    key = f"{net.key}-{fingerprint(images)}"
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        return _MEMORY[key]
    path = cache_root() / "features" / f"{key}.pt"
    out = None
    if path.is_file():
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
            out = Features(d["features"], d.get("logits"))
            if len(out.features) != len(images):
                out = None
        except Exception:  # a damaged cache file is recomputed, never trusted
            out = None
    if out is None:
        out = net(images, batch_size)
        _save(path, out)
    _MEMORY[key] = out
    while len(_MEMORY) > MEMORY_ENTRIES:
        _MEMORY.popitem(last=False)
    return out


def judged_accuracy(net: FeatureNet, images: torch.Tensor, labels: torch.Tensor,
                    real_images: torch.Tensor | None = None, real_labels: torch.Tensor | None = None,
                    batch_size: int = 500) -> tuple[float, float | None]:
    """How often the domain classifier `net` reads `labels` in uint8 `images` (made images: samples asked for a
    class, translations of labelled inputs), and its accuracy on real labelled images, the ceiling (None without
    them; their features are cached)."""
    pred = extract(net, images, batch_size).logits.argmax(1)
    made = float((pred == labels.to(pred.device)).float().mean())
    if real_images is None or real_labels is None:
        return made, None
    real = extract(net, real_images, batch_size, cache=True).logits.argmax(1)
    return made, float((real == real_labels.to(real.device)).float().mean())


def _save(path: Path, feats: Features) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save({"features": feats.features, "logits": feats.logits}, tmp)
        os.replace(tmp, path)
    except OSError:  # a read-only home is fine: the cache is an optimisation
        pass
