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


# ---- autoencoder / VAE views: manifold, reconstruct, scatter -------------------------------------
def _need(model, attrs: tuple[str, ...], view: str, who: str) -> None:
    if not all(hasattr(model, a) for a in attrs):
        raise ConfigError(f"--{view} is for {who}; {model.name} has no {' / '.join(attrs)}")


def _test_images(model, args, generator: torch.Generator, n: int):
    """Up to n random images (uint8, as the model evaluates them) and labels from the run's test split."""
    from genzoo.cli import _load_split
    from genzoo.train import RunDir

    data_args = RunDir(args.run).read_config()["data"]
    data = _load_split(data_args, "test" if "test" in _splits(data_args["name"]) else "train")
    if len(data) > n:
        data = data.subset(torch.randperm(len(data), generator=generator)[:n].sort().values)
    images = model.eval_images(data) if hasattr(model, "eval_images") else data.images
    return images, data.labels, data


def _splits(name: str) -> tuple[str, ...]:
    from genzoo.data import info

    return info(name).splits


def _encode(model, images: torch.Tensor, labels: torch.Tensor | None, batch: int = 1000) -> torch.Tensor:
    cond = getattr(model, "conditional", False)
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = model.prepare(images[i:i + batch])
            out.append((model.encode(x, labels[i:i + batch]) if cond else model.encode(x)).float().cpu())
    return torch.cat(out)


def manifold(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int | None]:
    """`--steps` x `--steps` decoded images over a 2-D latent space, the coordinates evenly spaced in
    probability and mapped through the inverse Gaussian CDF, so each cell covers equal prior mass
    (Kingma & Welling 2014, fig. 4). Conditional models: the first of `--labels` (default 0)."""
    _need(model, ("decode", "latent_dim"), "manifold", "latent-variable models (vae, cvae, iwae)")
    if model.latent_dim != 2:
        raise ConfigError(f"--manifold draws a 2-D latent space, but {model.name} has latent_dim="
                          f"{model.latent_dim}; train one with --set latent_dim=2")
    n = args.steps
    if n < 2:
        raise ConfigError("--steps must be at least 2 for a manifold grid")
    v = torch.special.ndtri((torch.arange(n, dtype=torch.float64) + 0.5) / n).float()
    zy, zx = torch.meshgrid(v.flip(0), v, indexing="ij")  # rows: z2 from high to low, columns: z1 rising
    z = torch.stack([zx.flatten(), zy.flatten()], 1)  # n*n x 2
    labels = None
    if getattr(model, "conditional", False):
        label = parse_labels(args.labels or "0", 1, model.spec.num_classes)[0]
        labels = torch.full((n * n,), int(label))
    with torch.no_grad():
        return model.decode(z, labels), n


def reconstruct(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int | None]:
    """`--n` random test images (as the model sees them, e.g. binarized) in rows alternating with their
    reconstructions: row 1 originals, row 2 their reconstructions, and so on, 8 per row."""
    _need(model, ("reconstruct",), "reconstruct", "autoencoders and VAEs")
    images, labels, _ = _test_images(model, args, generator, args.n)
    x = model.prepare(images)
    with torch.no_grad():
        rec = model.reconstruct(x, labels) if getattr(model, "conditional", False) else model.reconstruct(x)
    lo, hi = model.input_range
    rec = rec.reshape(x.shape).clamp(lo, hi)
    per_row = 8
    rows = []
    for i in range(0, len(x), per_row):
        a, b = x[i:i + per_row], rec[i:i + per_row]
        pad = per_row - len(a)
        if pad:  # blank cells finish the last pair of rows
            blank = torch.full((pad, *x.shape[1:]), hi, device=x.device)
            a, b = torch.cat([a, blank]), torch.cat([b, blank])
        rows += [a, b]
    return torch.cat(rows).cpu(), per_row


def scatter(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int | None]:
    """Codes of (up to 10000) test images, coloured by class (tab10 order; legend column on the right
    shows an example per class). Codes with more than 2 dimensions are projected on their top-2
    principal components."""
    from genzoo.data.imageset import to_float
    from genzoo.models.pca import PCA
    from genzoo.report.scatter import scatter_image

    _need(model, ("encode",), "scatter", "autoencoders and VAEs")
    images, labels, data = _test_images(model, args, generator, 10_000)
    codes = _encode(model, images, labels)
    if codes.shape[1] < 2:
        raise ConfigError(f"--scatter needs codes of at least 2 dimensions; {model.name} has {codes.shape[1]}")
    points = codes if codes.shape[1] == 2 else PCA.fit(codes, 2).encode(codes)
    legend = None
    if labels is None:
        labels = torch.zeros(len(codes), dtype=torch.long)
    elif all((labels == c).any() for c in range(data.num_classes)):
        legend = data.images[[int((labels == c).nonzero()[0]) for c in range(data.num_classes)]]
    img = scatter_image(points, labels, legend=legend)
    return to_float(img[None], model.input_range), 1


VIEWS.update(manifold=manifold, reconstruct=reconstruct, scatter=scatter)
# views that work for models which cannot sample (plain autoencoders)
ENCODER_VIEWS = {"reconstruct", "scatter"}
