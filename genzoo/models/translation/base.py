"""What every image-to-image translation model shares: translating, evaluating, and the grids that show it.

A translator learns G: A -> B from a translation set (`ImageSet.sources` in domain A, `images` in domain B; see
genzoo.data.imageset) and, where it has one (CycleGAN), F: B -> A. It does not sample from noise, so instead of
`sample` it offers `translate(x, direction)`; `genzoo sample RUN` shows test inputs, outputs and targets, and
`genzoo sample RUN --input PATH` translates the user's images.

Evaluation (`evaluate`, on the first `eval_options.n` test pairs):
- paired data (the target is known): L1 (mean absolute error on [0, 1]), PSNR (dB) and SSIM against the target;
- every set: FID / KID / precision-recall of the outputs against the real target images, in the feature space of
  the target domain's classifier; and the semantic score of the CycleGAN paper's FCN score (Sec. 5.1.1), here
  with a classifier: how often the target domain's classifier recovers the source image's label from the
  translation (`semantic_accuracy`), beside that classifier's accuracy on real target images (`real_accuracy`,
  the ceiling).
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import torch

from genzoo.data.imageset import DataSpec, ImageSet, to_uint8
from genzoo.errors import ConfigError, DataError
from genzoo.metrics import EvalOptions, evaluate_images, features
from genzoo.metrics.similarity import psnr, ssim
from genzoo.models.base import Model
from genzoo.nn import eval_mode

TRANSLATION_SETS = "fashion-edges, cifar10-edges, cifar10-grey (paired), mnist-to-mnistm, mnist-to-fashion " \
                   "(unpaired), or pairs:DIR_A,DIR_B / unpaired:DIR_A,DIR_B for your own folders"
GRID_COLUMNS = 8  # test images side by side in the grids; rows: input, output, (target)


def check_translation_spec(spec: DataSpec, model: str, paired: bool) -> None:
    """A clear error, before training, for data a translator cannot learn from."""
    if not spec.source_channels:
        raise DataError(f"{model} learns to translate images of one domain into another and needs a translation "
                        f"dataset ({spec.name or 'this dataset'} has no source images): use {TRANSLATION_SETS}")
    if paired and not spec.paired:
        raise DataError(f"{model} learns from paired images and {spec.name} is unpaired: use cyclegan for unpaired "
                        "data, or a paired set (fashion-edges, cifar10-edges, cifar10-grey, pairs:DIR_A,DIR_B)")


class Translator(Model):
    """Base of the translation models: `generator_ab` maps sources (A) to targets (B)."""

    evaluates_outputs: ClassVar[bool] = True
    directions: ClassVar[tuple[str, ...]] = ("ab",)

    def __init__(self, cfg: Any, spec: DataSpec):
        super().__init__(cfg, spec)
        self.source_shape = (spec.source_channels, spec.height, spec.width)

    # ---- translating -------------------------------------------------------------------------
    def generator(self, direction: str) -> torch.nn.Module:
        if direction not in self.directions:
            raise ConfigError(f"{self.name} translates {' and '.join(self.directions)}, not {direction!r}")
        return getattr(self, f"generator_{direction}")

    def translate(self, x: torch.Tensor, direction: str = "ab") -> torch.Tensor:
        """Images of the input domain (floats in the model's range, N x C x H x W) -> the other domain."""
        want = self.source_shape if direction == "ab" else self.spec.shape
        if tuple(x.shape[1:]) != tuple(want):
            raise ConfigError(f"{self.name} translates {'x'.join(map(str, want))} images ({direction}), got "
                              f"{'x'.join(map(str, x.shape[1:]))}")
        return self.generator(direction)(x.to(self.device))

    @torch.no_grad()
    def translate_uint8(self, images: torch.Tensor, direction: str = "ab", batch_size: int = 500) -> torch.Tensor:
        """uint8 images in -> uint8 translations out (what saving them as PNG keeps), in eval mode."""
        out = []
        with eval_mode(self):
            for i in range(0, len(images), batch_size):
                y = self.translate(self.prepare(images[i:i + batch_size]), direction)
                if not torch.isfinite(y).all():
                    raise ConfigError(f"{self.name} produced NaN/inf images; the model has diverged")
                out.append(to_uint8(y, self.input_range).cpu())
        return torch.cat(out) if out else images.new_zeros((0, *images.shape[1:]))

    # ---- grids -------------------------------------------------------------------------------
    def translation_grid(self, data: ImageSet, n: int = GRID_COLUMNS) -> tuple[torch.Tensor, int, list[str]]:
        """The first n pairs of `data`: rows of inputs, outputs and (paired data) targets, as floats in the
        model's range with 3 channels where either domain has 3; returns (images, columns, row labels)."""
        n = min(n, len(data))
        src, tgt = data.sources[:n], data.images[:n]
        rows, labels = [src, self.translate_uint8(src)], ["input", "output"]
        if data.paired:
            rows, labels = rows + [tgt], labels + ["target"]
        return self.rows_to_grid(rows), n, labels

    def rows_to_grid(self, rows: list[torch.Tensor]) -> torch.Tensor:
        """uint8 rows of equal length (1- or 3-channel) -> one float batch, grey rows repeated to colour."""
        channels = max(r.shape[1] for r in rows)
        return torch.cat([self.prepare(r.expand(-1, channels, -1, -1)) for r in rows]).cpu()

    # ---- evaluation ---------------------------------------------------------------------------
    def evaluate(self, data: ImageSet, batch_size: int = 1000) -> dict[str, Any]:
        if data.sources is None:
            raise DataError(f"{self.name} is evaluated on a translation set, and {data.name} has no source images")
        opts = getattr(self, "eval_options", None) or EvalOptions()
        data = data.take(opts.n)
        out = self.translate_uint8(data.sources, "ab", min(batch_size, 500))
        figures = self.output_figures(out, data, opts)
        if data.paired:
            figures.update(paired_figures(out, data.images))
        return {**figures, **self.more_figures(data, out, opts, min(batch_size, 500))}

    def more_figures(self, data: ImageSet, out: torch.Tensor, opts: EvalOptions, batch_size: int) -> dict[str, Any]:
        """Figures a model adds to `evaluate` on the same test pairs, given their A -> B translations `out`
        (CycleGAN: the reverse direction and the cycles); none by default."""
        return {}

    def output_figures(self, out: torch.Tensor, real: ImageSet, opts: EvalOptions, labels: torch.Tensor | None = None,
                       suffix: str = "") -> dict[str, Any]:
        """`translation_figures` of translations `out`, on this model's device."""
        return translation_figures(out, real, opts, labels, suffix, self.device)


def translation_figures(out: torch.Tensor, real: ImageSet, opts: EvalOptions, labels: torch.Tensor | None = None,
                        suffix: str = "", device: torch.device | str = "cpu") -> dict[str, Any]:
    """Sample-quality metrics of uint8 translations `out` against the real images of their domain, and the semantic
    score: the domain classifier's accuracy on `out` against `labels` (default: the sources'). A function of the
    images alone, so that any translator's outputs (bench/translation_peers.py: reference scripts') score alike."""
    labels = real.source_labels if labels is None else labels
    try:
        net = features.resolve(opts.features, real.name)
    except (features.FeaturesUnavailable, ConfigError) as e:
        if opts.strict:
            raise
        warnings.warn(f"sample-quality metrics skipped: {e}", stacklevel=2)
        return {}
    res = evaluate_images(out, real, metrics=opts.metrics, features=opts.features, batch_size=opts.batch_size,
                          device=device)
    figures = {k: v for k, v in res.items() if k not in ("n", "n_real", "features")}
    if labels is not None and net.num_classes:
        made, ceiling = features.judged_accuracy(net.to(device), out, labels, real.images, real.labels,
                                                 opts.batch_size)
        figures["semantic_accuracy"] = made
        if ceiling is not None:
            figures["real_accuracy"] = ceiling
    figures["features"] = net.description
    return {f"{k}{suffix}": v for k, v in figures.items()}


def source_domain(name: str) -> str:
    """The dataset whose feature network judges domain A of translation set `name` ('' when none does)."""
    return getattr(features, "SOURCE_DOMAIN", {}).get(name, "")


def paired_figures(out: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """L1 (on [0, 1]), PSNR (dB, on [0, 1]) and SSIM of uint8 translations against their uint8 targets."""
    x, y = out.double() / 255, target.double() / 255
    return {"l1": float((x - y).abs().mean()), "psnr": float(psnr(x, y, 1.0).clamp(max=100).mean()),
            "ssim": float(ssim(x, y, 1.0).mean())}
