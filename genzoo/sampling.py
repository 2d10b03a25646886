"""What `genzoo sample` draws: plain samples, and the structured views each model family offers.

Each view takes a loaded model and the parsed options and returns (images, nrow) for a grid, where
images are floats in the model's input range. Views a model cannot offer raise a ConfigError that
says what the model supports instead.

Model capabilities the views rely on:
- `sample(n, labels=None, generator=None)`: images in `model.input_range` (every generative model);
- `conditional = True` for label-conditioned models (then `sample` takes `labels`);
- latent models: `latent_dim`, `sample_latent(n, generator)` and `decode(z, labels=None)`.
"""

from __future__ import annotations

import torch

from genzoo.errors import ConfigError


def parse_labels(text: str, n: int, num_classes: int) -> torch.Tensor:
    """'0,1,2' -> a length-n label tensor cycling through the given labels."""
    try:
        wanted = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--labels takes comma-separated integers, got {text!r}") from None
    bad = [v for v in wanted if not 0 <= v < max(num_classes, 1)]
    if not wanted or bad:
        raise ConfigError(f"--labels must be class numbers in 0..{num_classes - 1}, got {text!r}")
    return torch.tensor([wanted[i % len(wanted)] for i in range(n)])


def plain(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int | None]:
    """`--n N` samples (conditional models: `--labels`, default cycling through all classes)."""
    conditional = getattr(model, "conditional", False)
    if args.labels and not conditional:
        raise ConfigError(f"{model.name} is not conditional: it takes no --labels")
    labels = None
    if conditional:
        k = model.spec.num_classes
        labels = parse_labels(args.labels, args.n, k) if args.labels else torch.arange(args.n) % k
    with torch.no_grad():
        x = model.sample(args.n, labels=labels, generator=generator) if labels is not None else \
            model.sample(args.n, generator=generator)
    nrow = model.spec.num_classes if conditional and not args.labels and args.n % model.spec.num_classes == 0 \
        else None
    return x, nrow


def unsupported(view: str):
    def fn(model, args, generator):
        raise ConfigError(f"--{view} is not available for {model.name}")

    return fn


# Views filled in by the model families (GAN core: interpolate, arithmetic; conditional GANs:
# class_grid, attrs, codes; autoencoders: manifold, reconstruct).
VIEWS = {name: unsupported(name.replace("_", "-")) for name in
         ("interpolate", "arithmetic", "class_grid", "attrs", "codes", "manifold", "reconstruct")}
