"""What `genzoo sample` draws: plain samples, and the structured views each model family offers.

Each view takes a loaded model and the parsed options and returns (images, nrow) for a grid, where
images are floats in the model's input range, or (images, nrow, captions) with a text under each image.
Views a model cannot offer raise a ConfigError that says what the model supports instead.

Model capabilities the views rely on:
- `sample(n, labels=None, generator=None)`: images in `model.input_range` (every generative model);
- `conditional = True` for label-conditioned models (then `sample` takes `labels`);
- latent models: `latent_dim`, `sample_latent(n, generator)` and `decode(z, labels=None)`.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genzoo.data import info
from genzoo.data.images import IMAGE_SUFFIXES, decode_many
from genzoo.data.imageset import to_float, to_uint8
from genzoo.errors import ConfigError
from genzoo.models.frame_predictor import prediction_grid, save_gif
from genzoo.models.pca import PCA
from genzoo.report.scatter import scatter_image
from genzoo.runs import RunDir, load_model, load_split


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
        hint = " (it is conditioned on attributes: use --attrs NAME=1,...)" if hasattr(model, "sample_attrs") else ""
        raise ConfigError(f"{model.name} is not conditional: it takes no --labels{hint}")
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


# ---- latent-space views (any model with sample_latent/decode: GANs, VAEs) -------------------------
def _latent_model(model, view: str) -> None:
    if not (callable(getattr(model, "sample_latent", None)) and callable(getattr(model, "decode", None))):
        raise ConfigError(f"--{view} needs a model with a latent space; {model.name} has none")


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of z0 and z1 (N x D) at fractions t (T,): N x T x D.

    White 2016, "Sampling Generative Networks": under a Gaussian prior, points on the great circle
    keep the norm typical of prior samples, where the straight line passes near the origin.
    """
    cos = torch.nn.functional.cosine_similarity(z0, z1, dim=1).clamp(-1.0, 1.0)[:, None, None]
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    t = t[None, :, None]
    w0 = torch.where(sin > 1e-6, torch.sin((1 - t) * omega) / sin.clamp(min=1e-6), 1 - t)
    w1 = torch.where(sin > 1e-6, torch.sin(t * omega) / sin.clamp(min=1e-6), t)
    return w0 * z0[:, None] + w1 * z1[:, None]


def interpolate(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """n // steps rows, each walking from one random latent to another in `steps` images."""
    _latent_model(model, "interpolate")
    if args.steps < 2:
        raise ConfigError("--interpolate needs --steps of at least 2")
    rows = max(1, args.n // args.steps)
    z0, z1 = model.sample_latent(rows, generator), model.sample_latent(rows, generator)
    t = torch.linspace(0.0, 1.0, args.steps, device=z0.device)
    if args.slerp:
        z = slerp(z0, z1, t)
    else:
        z = torch.lerp(z0[:, None], z1[:, None], t[None, :, None])  # rows x steps x D
    labels = None
    if getattr(model, "conditional", False):  # one class per row
        k = model.spec.num_classes
        per_row = parse_labels(args.labels, rows, k) if args.labels else torch.arange(rows) % k
        labels = per_row.repeat_interleave(args.steps)
    with torch.no_grad():
        return model.decode(z.reshape(rows * args.steps, -1), labels), args.steps


POOL = 1000  # samples searched for each class with --arithmetic and --classifier
GROUP = 3  # samples averaged per class, as in DCGAN (Radford et al. 2016, Sec. 6.3.2)


def parse_arithmetic(spec: str) -> list[tuple[int, list[int]]]:
    """'3,17,42-5,9+21' -> [(+1, [3, 17, 42]), (-1, [5, 9]), (+1, [21])]."""
    import re

    text = spec.replace(" ", "")
    parts = re.findall(r"([+-]?)([^+-]+)", text)
    if not parts or "".join(sign + body for sign, body in parts) != text:
        raise ConfigError(f"--arithmetic: cannot read {spec!r}; write groups joined by + and -, e.g. '3,17,42-5,9+21'")
    try:
        return [(-1 if sign == "-" else 1, [int(v) for v in body.split(",") if v]) for sign, body in parts]
    except ValueError:
        raise ConfigError(f"--arithmetic: groups are comma-separated numbers, got {spec!r}") from None


def _class_groups(model, args, terms, generator) -> list[torch.Tensor]:
    """For each term (one class label), the latents of the GROUP samples a classifier is surest of."""
    import torch.nn.functional as F

    clf = load_model(args.classifier, which="best", device=model.device)
    k = clf.spec.num_classes
    if not hasattr(clf, "predict") or k < 2:
        raise ConfigError(f"--classifier {args.classifier} is not a classifier run")
    if any(len(ids) != 1 or not 0 <= ids[0] < k for _, ids in terms):
        raise ConfigError(f"with --classifier each --arithmetic term is one class number in 0..{k - 1}, e.g. '7-1+4'")
    z = model.sample_latent(POOL, generator)
    with torch.no_grad():
        x = to_float(to_uint8(model.decode(z), model.input_range), clf.input_range)  # as saved images
        if x.shape[1:] != clf.spec.shape:
            if x.shape[1] != clf.spec.channels:
                raise ConfigError(f"the classifier takes {clf.spec.channels}-channel images, the model makes "
                                  f"{x.shape[1]}-channel ones")
            x = F.interpolate(x, size=clf.spec.shape[1:], mode="bilinear", antialias=True, align_corners=False)
        probs = torch.cat([F.softmax(clf(x[i:i + 500]).float(), 1) for i in range(0, POOL, 500)])
    groups = []
    for _, (c,) in terms:
        score = torch.where(probs.argmax(1) == c, probs[:, c], torch.full_like(probs[:, c], -1.0))
        best = score.topk(GROUP).indices
        if score[best].min() < 0:
            raise ConfigError(f"fewer than {GROUP} of {POOL} samples look like class {c} to the classifier; "
                              "train the model longer or pick another class")
        groups.append(z[best])
    return groups


def arithmetic(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """Latent vector arithmetic (Radford et al. 2016, Sec. 6.3.2): average the latents of each group of
    samples, combine the averages with + and -, decode.

    Groups are indices into the `--n` samples that `genzoo sample RUN --n N --seed S` draws (same seed),
    or, with `--classifier RUN`, class numbers: each class is represented by the 3 samples the classifier
    is surest of. Grid: one row per group (its samples, then the decoded average), and a last row with
    the result and variations of it (uniform noise of +-0.25 added to the latent, as in the paper).
    """
    _latent_model(model, "arithmetic")
    if getattr(model, "conditional", False):
        raise ConfigError("--arithmetic is for unconditional latent models")
    terms = parse_arithmetic(args.arithmetic)
    if args.classifier:
        groups = _class_groups(model, args, terms, generator)
    else:
        z = model.sample_latent(args.n, generator)
        bad = [i for _, ids in terms for i in ids if not 0 <= i < args.n]
        if bad:
            raise ConfigError(f"--arithmetic: sample numbers must be in 0..{args.n - 1} (the --n samples of "
                              f"`genzoo sample RUN --n {args.n} --seed {args.seed}`), got {bad}")
        groups = [z[ids] for _, ids in terms]
    means = [g.mean(0) for g in groups]
    result = sum(sign * m for (sign, _), m in zip(terms, means))
    nrow = max(len(g) for g in groups) + 1
    noise = (torch.rand(nrow - 1, result.shape[0], generator=generator) * 0.5 - 0.25).to(result.device)
    with torch.no_grad():
        rows = [torch.cat([model.decode(g), model.decode(m[None])]) for g, m in zip(groups, means)]
        rows.append(model.decode(torch.cat([result[None], result[None] + noise])))
    blank = torch.full_like(rows[0][:1], model.input_range[0])
    # pad each group row so that its average sits in the last column
    padded = [torch.cat([r[:-1], blank.expand(nrow - len(r), *r.shape[1:]), r[-1:]]) for r in rows[:-1]]
    return torch.cat([*padded, rows[-1]]), nrow


# ---- conditional views: class grid, attributes -----------------------------------------------
def class_grid(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """One row per class (or per `--labels` entry), `--n` // rows columns; column j uses the same latent
    in every row, so a column shows one style across the classes."""
    if not getattr(model, "conditional", False):
        hint = " (it is conditioned on attributes: use --attrs)" if hasattr(model, "sample_attrs") else ""
        raise ConfigError(f"--class-grid is not available for {model.name}: it is not class-conditional{hint}")
    _latent_model(model, "class-grid")
    k = model.spec.num_classes
    rows = parse_labels(args.labels, len(args.labels.split(",")), k) if args.labels else torch.arange(k)
    cols = max(1, args.n // len(rows))
    z = model.sample_latent(cols, generator)  # cols x D, shared by every row
    with torch.no_grad():
        return model.decode(z.repeat(len(rows), 1), rows.repeat_interleave(cols)), cols


def parse_attrs(text: str, names: tuple[str, ...]) -> dict[str, int]:
    """'Smiling=1,Male=0' -> {'Smiling': 1, 'Male': 0}, checking names and 0/1 values."""
    out = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or value.strip() not in ("0", "1"):
            raise ConfigError(f"--attrs takes NAME=0 or NAME=1 pairs joined by commas, e.g. "
                              f"{names[0]}=1,{names[-1]}=0; got {part!r}")
        if name not in names:
            raise ConfigError(f"--attrs: unknown attribute {name!r}; this model is conditioned on "
                              f"{', '.join(names)}")
        out[name] = int(value)
    if not out:
        raise ConfigError(f"--attrs needs at least one NAME=0|1 pair; attributes: {', '.join(names)}")
    return out


def attrs(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int | None]:
    """`--n` samples with the given attributes (`--attrs Smiling=1,Male=0`); attributes left out are drawn
    from the training data's joint attribute distribution given the ones set (attr-gan `sample_attrs`)."""
    if not hasattr(model, "sample_attrs"):
        raise ConfigError(f"--attrs is not available for {model.name}: it is not conditioned on attributes "
                          "(attr-gan is)")
    rows = model.sample_attrs(args.n, parse_attrs(args.attrs, model.attr_names), generator)
    with torch.no_grad():
        return model.sample(args.n, labels=rows, generator=generator), None


def codes(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """Latent-code sweeps (InfoGAN, Chen et al. 2016, Fig. 2): one block per code, blocks separated by a
    blank row. Categorical code j: rows are fixed noise draws, columns its values. Continuous code j:
    rows are the values of the first categorical code (noise fixed), columns `--steps` values from -2
    to 2 (beyond the prior's [-1, 1], as the paper's figure); the other continuous codes stay 0 and the
    other categorical codes at value 0."""
    if not callable(getattr(model, "latent_with_codes", None)):
        raise ConfigError(f"--codes sweeps latent codes (infogan); {model.name} has none")
    if args.steps < 2:
        raise ConfigError("--codes needs --steps of at least 2")
    n_cat, k, n_cont = model.code_layout
    ncol = max(k if n_cat else 0, args.steps if n_cont else 0)
    rows = k if n_cat else 8
    blocks = []
    for j in range(n_cat):  # rows x k: noise per row, code j = column
        noise = model.sample_noise(rows, generator).repeat_interleave(k, 0)
        cat = torch.zeros(rows * k, n_cat, dtype=torch.long)
        cat[:, j] = torch.arange(k).repeat(rows)
        blocks.append((model.latent_with_codes(noise, cat, torch.zeros(rows * k, n_cont)), k))
    values = torch.linspace(-2.0, 2.0, args.steps)
    for j in range(n_cont):  # rows x steps: categorical value per row, code j = column
        noise = model.sample_noise(1, generator).expand(rows * args.steps, -1)
        cat = torch.zeros(rows * args.steps, n_cat, dtype=torch.long)
        if n_cat:
            cat[:, 0] = torch.arange(rows).repeat_interleave(args.steps)
        cont = torch.zeros(rows * args.steps, n_cont)
        cont[:, j] = values.repeat(rows)
        blocks.append((model.latent_with_codes(noise, cat, cont), args.steps))
    blank = None
    out = []
    with torch.no_grad():
        for z, width in blocks:
            x = model.decode(z)  # rows*width x C x H x W
            if blank is None:
                blank = torch.full_like(x[:1], model.input_range[1])
            x = x.reshape(rows, width, *x.shape[1:])
            if width < ncol:  # pad short blocks to the grid width
                x = torch.cat([x, blank[None].expand(rows, ncol - width, *x.shape[2:])], 1)
            out += [x.flatten(0, 1), blank.expand(ncol, *x.shape[2:])]
    return torch.cat(out[:-1]).cpu(), ncol


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
    data_args = RunDir(args.run).read_config()["data"]
    data = load_split(data_args, "test" if "test" in _splits(data_args["name"]) else "train")
    if len(data) > n:
        data = data.subset(torch.randperm(len(data), generator=generator)[:n].sort().values)
    images = model.eval_images(data) if hasattr(model, "eval_images") else data.images
    return images, data.labels, data


def _splits(name: str) -> tuple[str, ...]:
    return info(name).splits


def encode_images(model, images: torch.Tensor, labels: torch.Tensor | None, batch: int = 1000) -> torch.Tensor:
    """Codes of uint8 images (N x code dim, float32 on the CPU) in batches, with the labels conditional
    models need; used by the --scatter view and by `genzoo serve`."""
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
    _need(model, ("encode",), "scatter", "autoencoders and VAEs")
    images, labels, data = _test_images(model, args, generator, 10_000)
    codes = encode_images(model, images, labels)
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


# ---- retrieval view: a query image and what each ranker retrieves for it -------------------------------
def query_files(path: str) -> list[Path]:
    """The image file `path`, or the images in the folder `path` (sorted by name)."""
    p = Path(path)
    if not p.is_dir():
        return [p]
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ConfigError(f"--query folder {p} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def read_query_images(path: str, spec, channels: int | None = None, what: str = "query") -> torch.Tensor:
    """uint8 N x C x H x W images from a file or folder, in `channels` (default the run's); an image of another
    size than the run's is an error naming it (resizing would silently change what is asked)."""
    files = query_files(path)
    images = decode_many(files, channels or spec.channels)
    if tuple(images.shape[2:]) != tuple(spec.shape[1:]):
        (h, w), (hh, ww) = images.shape[2:], spec.shape[1:]
        raise ConfigError(f"{what} image {files[0]} is {w}x{h}, but this run's model works on {ww}x{hh} images: "
                          f"resize it to {ww}x{hh} first")
    return images


def query(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int | None, list[str]]:
    """For each `--query` image, a row per ranker: the query, then its `--top` retrieved database images, each
    captioned with its class."""
    _need(model, ("rank",), "query", "retrieval models (irgan)")
    images = read_query_images(args.query, model.spec)
    ranked = model.rank(images, args.top)
    db, db_labels = model.db_images.cpu(), model.db_labels.cpu()
    rows = [torch.cat([images[i:i + 1], db[top[i]]]) for i in range(len(images)) for top in ranked.values()]
    captions = [text for i in range(len(images)) for top in ranked.values()
                for text in ["query", *(class_name(model, int(c)) for c in db_labels[top[i]])]]
    return to_float(torch.cat(rows), model.input_range), args.top + 1, captions


def filters(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int | None]:
    """The weights of the first `--n` hidden units as images (RBMs), each scaled to its own range."""
    _need(model, ("filters",), "filters", "RBMs")
    lo, hi = model.input_range
    return model.filters(args.n).cpu() * (hi - lo) + lo, 10


LEVELS_PER_ROW = 8  # --levels: samples side by side; more wrap into further blocks of rows


def levels(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """`--n` samples at every scale of a pyramid model (lapgan), each upscaled to the data size, in blocks of
    LEVELS_PER_ROW columns with a row per scale, coarse to fine (the last row is the sample itself)."""
    _need(model, ("sample_levels",), "levels", "pyramid models (lapgan)")
    with torch.no_grad():
        scales = model.sample_levels(args.n, generator=generator)
    per_row = min(args.n, LEVELS_PER_ROW)
    return column_blocks(scales, per_row, model.input_range[1]).cpu(), per_row


def column_blocks(rows: list[torch.Tensor], per_row: int, blank: float) -> torch.Tensor:
    """Equally long rows of images laid out `per_row` columns wide: a block of all rows per `per_row` images, the
    last block finished with blank cells (value `blank`)."""
    out = []
    for i in range(0, len(rows[0]), per_row):
        for x in rows:
            block = x[i:i + per_row]
            if len(block) < per_row:
                block = torch.cat([block, block.new_full((per_row - len(block), *block.shape[1:]), blank)])
            out.append(block)
    return torch.cat(out)


def translations(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """Translation models: `--input PATH` (an image or a folder) or `--n` random test images of the run's data,
    in blocks of up to 8 columns with rows input, output and (paired test data) target; `--reverse` translates
    B -> A (cyclegan)."""
    _need(model, ("translate_uint8",), "input", "translation models (pix2pix, cyclegan)")
    direction = "ba" if args.reverse else "ab"
    model.generator(direction)  # a clear error for a direction the model lacks
    if args.input:
        channels = model.spec.source_channels if direction == "ab" else model.spec.channels
        inputs, targets = read_query_images(args.input, model.spec, channels, what="--input"), None
    else:
        _, _, data = _test_images(model, args, generator, args.n)
        inputs, targets = (data.sources, data.images) if direction == "ab" else (data.images, data.sources)
        targets = targets if data.paired else None
    outputs = model.translate_uint8(inputs, direction)
    rows = [t for t in (inputs, outputs, targets) if t is not None]
    per_row = min(len(inputs), LEVELS_PER_ROW)
    grid = model.rows_to_grid(rows).split(len(inputs))  # float rows in the model's range, in common channels
    return column_blocks(list(grid), per_row, model.input_range[1]), per_row


def text_to_image(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int | None]:
    """Text-to-image models (text-gan): `--text CAPTION` gives `--n` samples for it; several `--text`, a row per
    caption with `--n` // captions columns, column j the same latent in every row; two `--text` with
    `--interpolate`, a row per `--steps` step from the first caption's text embedding to the second's (GAN-INT's
    interpolation, Reed et al. 2016, Sec. 4.3), columns sharing a latent. A word outside the model's vocabulary
    raises a DataError that lists it."""
    if not callable(getattr(model, "embed_text", None)):
        raise ConfigError(f"--text is for text-to-image models (text-gan); {model.name} takes no text")
    if args.labels:
        raise ConfigError(f"{model.name} is conditioned on captions, not class labels: give --text without --labels")
    texts = list(args.text)
    if args.interpolate:
        if len(texts) != 2:
            raise ConfigError("--interpolate with --text walks from one caption to another: give --text twice")
        if args.steps < 2:
            raise ConfigError("--interpolate needs --steps of at least 2")
        a, b = model.embed_text(texts)
        t = torch.linspace(0.0, 1.0, args.steps, device=a.device)[:, None]
        rows = torch.lerp(a[None], b[None], t)  # steps x D
    elif len(texts) == 1:
        with torch.no_grad():
            return model.sample(args.n, generator=generator, text=texts[0]), None
    else:
        rows = model.embed_text(texts)  # captions x D
    cols = max(1, args.n // len(rows))
    z = model.sample_latent(cols, generator)  # shared by every row
    with torch.no_grad():
        return model.decode(z.repeat(len(rows), 1), rows.repeat_interleave(cols, 0)), cols


VIEWS.update(interpolate=interpolate, arithmetic=arithmetic, manifold=manifold, reconstruct=reconstruct,
             scatter=scatter, class_grid=class_grid, attrs=attrs, codes=codes, query=query, filters=filters,
             levels=levels, input=translations, text=text_to_image)
# views that work for models which cannot sample (plain autoencoders, retrieval models)
ENCODER_VIEWS = {"reconstruct", "scatter", "query", "input"}


# ---- frame prediction: test sequences and the model's continuation, also as an animated GIF ---------------------
FRAME_SEQUENCES = 8  # --frames: at most this many sequences, two rows each


def frames(model, args, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """Frame predictors (frame-predictor): the first min(`--n`, 8) fixed test sequences of the run's data, for each
    a row of the truth (context, then future) above a row of the prediction; the same as an animated GIF beside the
    grid (`--out` with the suffix .gif, by default RUN/samples/frames.gif)."""
    _need(model, ("predict_frames",), "frames", "frame predictors (frame-predictor)")
    data_args = RunDir(args.run).read_config()["data"]
    data = load_split(data_args, "test" if "test" in _splits(data_args["name"]) else "train")
    seq, pred = model.strip(data, min(args.n, FRAME_SEQUENCES))
    gif = Path(args.out).with_suffix(".gif") if args.out else RunDir(args.run).samples / "frames.gif"
    print(f"wrote {save_gif(seq, pred, gif)}")
    grid, nrow, _ = prediction_grid(seq, pred)
    return to_float(grid, model.input_range), nrow


VIEWS["frames"] = frames
ENCODER_VIEWS.add("frames")


# ---- grid labels: what the rows and columns of each view's grid show ---------------------------------
def class_name(model, c: int) -> str:
    names = model.spec.class_names
    return str(names[c]) if 0 <= c < len(names) else str(c)


def grid_labels(view: str | None, model, args) -> tuple[list[str] | None, list[str] | None]:
    """(row labels, column labels) for the grid of `view` (None: plain samples), as the view laid it out:
    class rows (class grid, conditional interpolation), class columns (plain conditional samples),
    interpolation fractions, arithmetic operands and result, inputs and reconstructions, manifold
    coordinates. None where a view has nothing to say."""
    conditional = getattr(model, "conditional", False)
    k = model.spec.num_classes
    if view is None:
        if conditional and not args.labels and args.n % max(k, 1) == 0:
            return None, [class_name(model, c) for c in range(k)]
        return None, None
    if view == "interpolate":
        rows = max(1, args.n // args.steps)
        cols = [f"t={t:.2g}" for t in torch.linspace(0.0, 1.0, args.steps).tolist()]
        cols[0], cols[-1] = "start", "end"
        if conditional:
            per_row = parse_labels(args.labels, rows, k) if args.labels else torch.arange(rows) % k
            return [class_name(model, int(c)) for c in per_row], cols
        return None, cols
    if view == "arithmetic":
        terms = parse_arithmetic(args.arithmetic)
        what = (lambda ids: f"class {ids[0]}") if args.classifier else (lambda ids: ",".join(map(str, ids)))
        rows = [f"{'+' if sign > 0 else '-'} {what(ids)}" for sign, ids in terms]
        nrow = max(GROUP if args.classifier else len(ids) for _, ids in terms) + 1
        return [*rows, "= result, noisy"], [""] * (nrow - 1) + ["mean"]
    if view == "class_grid":
        rows = parse_labels(args.labels, len(args.labels.split(",")), k) if args.labels else torch.arange(k)
        return [class_name(model, int(c)) for c in rows], None
    if view == "reconstruct":
        return ["input", "output"] * math.ceil(args.n / 8), None
    if view == "input":
        paired = not args.input and not args.reverse and model.spec.paired
        names = ["input", "output"] + (["target"] if paired else [])
        n = len(query_files(args.input)) if args.input else args.n
        return names * math.ceil(n / min(n, LEVELS_PER_ROW)), None
    if view == "text":
        if args.interpolate and len(args.text) == 2:
            fractions = [f"t={t:.2g}" for t in torch.linspace(0.0, 1.0, args.steps).tolist()]
            return [args.text[0], *fractions[1:-1], args.text[1]], None
        return (list(args.text) if len(args.text) > 1 else None), None
    if view == "frames":
        c = model.cfg
        return ["truth", "predicted"] * min(args.n, FRAME_SEQUENCES), \
            [str(i) for i in range(1, c.context + 1)] + [f"+{k}" for k in range(1, c.horizon + 1)]
    if view == "levels":
        return [f"{h}x{w}" for h, w in model.sizes] * math.ceil(args.n / min(args.n, LEVELS_PER_ROW)), None
    if view == "query":
        names = [model.RANKER_NAMES[r] for r in model.RANKERS]
        return names * len(query_files(args.query)), ["query", *map(str, range(1, args.top + 1))]
    if view == "manifold":
        v = torch.special.ndtri((torch.arange(args.steps, dtype=torch.float64) + 0.5) / args.steps).tolist()
        return [f"z2 {x:+.2f}" for x in reversed(v)], [f"z1 {x:+.2f}" for x in v]
    return None, None

