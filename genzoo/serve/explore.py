"""What the web explorer draws: pure functions from a loaded model and validated parameters to images.

Every function here takes parameters the app has already checked against `LIMITS` and the model's
`Capabilities` (ranges, counts, class numbers); the views of `genzoo sample` (genzoo/sampling.py) are
reused where one fits. Images come back as float tensors in the model's input range (N x C x H x W);
`png` turns them into the bytes the app sends.

Latent directions (the sliders): by default the principal directions of G's *output*, mapped back to
the latent space as in GANSpace (Härkönen et al. 2020, "GANSpace: Discovering Interpretable GAN
Controls", Sec. 2 for BigGAN's z): draw 512 latents z (seed 0), decode them, take the top principal
components of the images (PCA of the flattened outputs), and regress z on the images' coordinates
along those components; each regression column is the latent direction that moves the output along
one principal component, so the first slider changes the image the most. Raw latent dimensions carry
no meaning of their own in a GAN (the prior is isotropic: any rotation of z is as good), which is why
they are only the second choice (`basis=raw`). A slider value is in standard deviations of the prior
along its direction (measured on the same 512 latents), so -3..3 covers the prior's bulk for either basis.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace
from typing import Any

import torch

from genzoo import sampling
from genzoo.data.grid import make_grid
from genzoo.data.images import MAX_PIXELS, eight_bit, pillow_quiet, upright
from genzoo.errors import GenzooError


class RequestError(GenzooError):
    """A request the explorer cannot serve (a parameter this model does not take, a bad upload); the app
    answers `{"error": message}` with `status`."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """Bounds of every request parameter (the app declares them on its routes)."""

    seed: int = 2**31 - 1  # seeds 0..seed
    grid: int = 256  # images in one grid
    steps: int = 16  # images in one interpolation
    manifold: int = 30  # cells per side of the manifold map
    directions: int = 8  # latent sliders
    offset: float = 3.0  # a slider moves z by at most this many prior standard deviations
    code: float = 3.0  # InfoGAN continuous codes: prior U(-1, 1); the --codes view sweeps -2..2
    latent: float = 100.0  # |value| of a latent a client sends back (codes of uploaded images)
    upload_bytes: int = 2 * 1024 * 1024  # bytes of one uploaded image
    upload_pixels: int = MAX_PIXELS  # pixels an uploaded image's header may claim (4096 x 4096)
    prob: float = 0.001  # manifold coordinates are probabilities in [prob, 1 - prob]


LIMITS = Limits()
DIRECTION_SAMPLES = 512  # latents decoded to find the principal directions
UPLOAD_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # decoders an upload may reach


@dataclass
class Capabilities:
    """What the explorer can show for one model (sent to the page as JSON)."""

    model: str
    image: tuple[int, int, int]  # C, H, W
    sample: bool  # a sample grid from a seed
    latent_dim: int = 0  # width of the decoder's input (0: no latent space)
    free_dim: int = 0  # leading latent entries the direction sliders move (InfoGAN: the noise, not the codes)
    directions: int = 0  # number of sliders
    classes: list[str] | None = None  # class-conditional: the class names
    attributes: list[str] | None = None  # attribute-conditional (attr-gan): the attribute names
    codes: dict[str, int] | None = None  # InfoGAN: categorical codes, values of each, continuous codes
    manifold: bool = False  # a 2-D latent to move through
    encode: bool = False  # uploaded images can be encoded and morphed
    limits: dict[str, Any] = field(default_factory=lambda: asdict(LIMITS))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _latent(model) -> bool:
    return callable(getattr(model, "sample_latent", None)) and callable(getattr(model, "decode", None))


@torch.no_grad()
def capabilities(model) -> Capabilities:
    """Probe a loaded model for what the explorer can offer; a RequestError when it offers nothing."""
    c, h, w = model.spec.shape
    caps = Capabilities(model=model.name, image=(c, h, w), sample=model.can_sample())
    if getattr(model, "conditional", False):
        names = list(model.spec.class_names) or [str(i) for i in range(model.spec.num_classes)]
        caps.classes = names[:model.spec.num_classes]
    if hasattr(model, "sample_attrs"):
        caps.attributes = list(model.attr_names)
    if _latent(model):
        caps.latent_dim = int(model.sample_latent(1, torch.Generator().manual_seed(0)).shape[1])
        caps.free_dim = int(model.cfg.z_dim if hasattr(model, "latent_with_codes") else model.latent_dim)
        caps.directions = min(LIMITS.directions, caps.free_dim)
        caps.manifold = caps.latent_dim == 2 and getattr(model, "latent_dim", 0) == 2
    if hasattr(model, "latent_with_codes"):
        n_cat, k, n_cont = model.code_layout
        caps.codes = {"categorical": n_cat, "values": k, "continuous": n_cont}
    if callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None)):
        z = sampling.encode_images(model, torch.zeros(1, c, h, w, dtype=torch.uint8), _labels(model, 0, 1))
        width = caps.latent_dim or z.shape[1]  # what decode takes (autoencoders: their code)
        if z.dim() == 2 and z.shape[1] == width:  # (aae-semi's code lacks the categorical part decode needs)
            caps.encode, caps.latent_dim = True, width
    if not (caps.sample or caps.encode):
        raise RequestError(f"{model.name} is not a generative model or an autoencoder: there is nothing to explore")
    return caps


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _labels(model, label: int | None, n: int) -> torch.Tensor | None:
    """n copies of `label` for a class-conditional model (class 0 when None); None for the others."""
    if not getattr(model, "conditional", False):
        return None
    return torch.full((n,), 0 if label is None else label, dtype=torch.long)


def _attr_rows(model, attrs: list[int] | None, n: int, g: torch.Generator) -> torch.Tensor | None:
    """n copies of one attribute row for attr-gan: the given 0/1 values, or a row drawn from the training
    joint; None for other models."""
    if not hasattr(model, "sample_attrs"):
        return None
    row = model.sample_attrs(1, generator=g) if attrs is None else torch.tensor([attrs], dtype=torch.float32)
    return row.expand(n, -1)


def _condition(model, label: int | None, attrs: list[int] | None, n: int, g: torch.Generator):
    rows = _attr_rows(model, attrs, n, g)
    return rows if rows is not None else _labels(model, label, n)


# ---- the sample grid ------------------------------------------------------------------------------
@torch.no_grad()
def grid(model, seed: int, n: int, label: int | None = None, attrs: list[int] | None = None
         ) -> tuple[torch.Tensor, int | None]:
    """`genzoo sample RUN --n N --seed SEED` (conditional: classes cycling in rows, or all `label`;
    attr-gan: the given attributes, or rows drawn from the training joint)."""
    g = generator(seed)
    if attrs is not None and hasattr(model, "sample_attrs"):
        return model.sample(n, labels=_attr_rows(model, attrs, n, g), generator=g), None
    args = SimpleNamespace(n=n, labels=None if label is None else str(label))
    return sampling.plain(model, args, g)


# ---- latent sliders --------------------------------------------------------------------------------
@torch.no_grad()
def principal_directions(model, caps: Capabilities, n: int = DIRECTION_SAMPLES) -> torch.Tensor:
    """k x free_dim latent directions, each scaled to one prior standard deviation along it (see the module
    docstring: GANSpace's regression of z on the PCA coordinates of G's outputs). Deterministic (seed 0)."""
    k, free = caps.directions, caps.free_dim
    z = model.sample_latent(n, generator(0)).float().cpu()
    x = model.decode(z.to(model.device)).float().cpu().flatten(1).double()
    x -= x.mean(0)
    gram = x @ x.T  # n x n: its eigenvectors are the PCA coordinates' directions (n < pixels)
    values, vectors = torch.linalg.eigh(gram)  # ascending
    coords = vectors[:, -k:].flip(1) * values[-k:].flip(0).clamp(min=0).sqrt()  # n x k, first = largest
    target = z[:, :free].double()
    target = target - target.mean(0)
    b = torch.linalg.lstsq(coords, target).solution  # k x free: z ~ coords @ b
    d = b / b.norm(dim=1, keepdim=True).clamp(min=1e-12)
    sign = torch.sign(d.gather(1, d.abs().argmax(1, keepdim=True)))  # canonical sign: largest entry positive
    d = d * sign
    sd = (target @ d.T).std(0)  # prior standard deviation along each direction
    return (d * sd[:, None]).float()


@torch.no_grad()
def raw_directions(model, caps: Capabilities, n: int = DIRECTION_SAMPLES) -> torch.Tensor:
    """The first k latent dimensions, each scaled to its prior standard deviation."""
    z = model.sample_latent(n, generator(0)).float().cpu()[:, :caps.free_dim]
    d = torch.zeros(caps.directions, caps.free_dim)
    d[range(caps.directions), range(caps.directions)] = z[:, :caps.directions].std(0)
    return d


def directions(model, caps: Capabilities, basis: str) -> torch.Tensor:
    return principal_directions(model, caps) if basis == "pca" else raw_directions(model, caps)


@torch.no_grad()
def explore(model, caps: Capabilities, dirs: torch.Tensor, seed: int, offsets: list[float],
            label: int | None = None, attrs: list[int] | None = None, cat: list[int] | None = None,
            cont: list[float] | None = None) -> torch.Tensor:
    """One image: the latent of sample `seed` (InfoGAN: with the given codes), moved by `offsets` along
    the first len(offsets) directions, decoded for `label` / `attrs`."""
    g = generator(seed)
    z = model.sample_latent(1, g).float().cpu()
    if caps.codes is not None and (cat is not None or cont is not None):
        own_cat, own_cont = model.split_codes(z)
        cat_t = torch.tensor([cat]) if cat is not None else own_cat.cpu()
        cont_t = torch.tensor([cont], dtype=torch.float32) if cont is not None else own_cont.cpu()
        z = model.latent_with_codes(z[:, :caps.free_dim].to(model.device), cat_t, cont_t).float().cpu()
    if offsets:
        z[:, :caps.free_dim] += torch.tensor(offsets, dtype=torch.float32) @ dirs[:len(offsets)]
    return model.decode(z.to(model.device), _condition(model, label, attrs, 1, g))


# ---- 2-D latent manifold ----------------------------------------------------------------------------
@torch.no_grad()
def manifold_map(model, steps: int, label: int | None = None) -> tuple[torch.Tensor, int]:
    """`genzoo sample RUN --manifold --steps N`: the decoded grid over the prior's quantiles."""
    args = SimpleNamespace(steps=steps, labels=None if label is None else str(label))
    return sampling.manifold(model, args, generator(0))


@torch.no_grad()
def manifold_point(model, u: float, v: float, label: int | None = None) -> torch.Tensor:
    """The image at prior quantiles (u, v) of the 2-D latent (u along z1 rising left to right, v along z2
    rising bottom to top, as on the map)."""
    z = torch.special.ndtri(torch.tensor([[u, v]], dtype=torch.float64)).float()
    return model.decode(z.to(model.device), _labels(model, label, 1))


# ---- interpolation and morphing ---------------------------------------------------------------------
def _path(model, z0: torch.Tensor, z1: torch.Tensor, steps: int, spherical: bool) -> torch.Tensor:
    """`steps` latents from z0 to z1 (1 x D each; straight or on the great circle), on the model's device."""
    t = torch.linspace(0.0, 1.0, steps)
    z = sampling.slerp(z0, z1, t)[0] if spherical else torch.lerp(z0, z1, t[:, None])
    return z.to(model.device)


@torch.no_grad()
def interpolate(model, seed_a: int, seed_b: int, steps: int, spherical: bool = False, label: int | None = None,
                attrs: list[int] | None = None) -> torch.Tensor:
    """`steps` images from sample `seed_a` to sample `seed_b` (the samples `explore` starts from)."""
    z0 = model.sample_latent(1, generator(seed_a)).float().cpu()
    z1 = model.sample_latent(1, generator(seed_b)).float().cpu()
    condition = _condition(model, label, attrs, steps, generator(seed_a))
    return model.decode(_path(model, z0, z1, steps, spherical), condition)


@torch.no_grad()
def morph(model, a: list[float], b: list[float], steps: int, spherical: bool = False,
          label: int | None = None) -> torch.Tensor:
    """`steps` images between two latents (codes of uploaded images from `encode`)."""
    z0, z1 = torch.tensor([a], dtype=torch.float32), torch.tensor([b], dtype=torch.float32)
    return model.decode(_path(model, z0, z1, steps, spherical), _labels(model, label, steps))


@torch.no_grad()
def encode(model, image: torch.Tensor, label: int | None = None) -> list[float]:
    """The latent code of one uint8 image (1 x C x H x W) as the model reads it."""
    return sampling.encode_images(model, image, _labels(model, label, 1))[0].tolist()


def read_upload(data: bytes, shape: tuple[int, int, int], invert: bool = False) -> torch.Tensor:
    """An uploaded image file -> 1 x C x H x W uint8 in the model's shape: grey or colour, the largest
    centred crop of the model's aspect ratio, resized. The header is checked before any pixel is decoded."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > LIMITS.upload_bytes:
        raise RequestError(f"the upload has {len(data)} bytes; the limit is {LIMITS.upload_bytes}", 413)
    if not data:
        raise RequestError("the upload is empty: send the bytes of a PNG or JPEG image")
    c, h, w = shape
    try:
        with pillow_quiet():
            with Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS) as im:
                iw, ih = im.size
                if iw * ih > LIMITS.upload_pixels:
                    raise RequestError(f"the uploaded image claims {iw}x{ih} pixels; the limit is "
                                       f"{LIMITS.upload_pixels} (4096x4096)", 413)
                # upright (a phone's EXIF rotation), 8-bit (PNG/JPEG/... are never 32-bit)
                im = eight_bit("the upload", upright(im)).convert("L" if c == 1 else "RGB")
                iw, ih = im.size
                side = min(iw / w, ih / h)  # largest crop of the model's aspect ratio
                cw, ch = max(1, round(w * side)), max(1, round(h * side))
                left, top = (iw - cw) // 2, (ih - ch) // 2
                im = im.resize((w, h), Image.BICUBIC, box=(left, top, left + cw, top + ch))
                if invert:
                    im = ImageOps.invert(im)
                pixels = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
    except RequestError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        raise RequestError(f"the upload is not an image genzoo can read ({', '.join(UPLOAD_FORMATS)}): "
                           f"{type(e).__name__}") from None
    return pixels.reshape(h, w, c).permute(2, 0, 1)[None].contiguous()


# ---- PNG -------------------------------------------------------------------------------------------
def png(images: torch.Tensor, value_range: tuple[float, float], nrow: int | None = None, padding: int = 2) -> bytes:
    """PNG bytes of one image (padding 0 for a single image) or a grid of them (`nrow` per row, default
    square-ish)."""
    from PIL import Image

    if images.shape[0] == 1:
        padding = 0
    # at the model's own size (scale 1): the page enlarges images itself, without smoothing
    tile = make_grid(images.detach().float().cpu(), nrow=nrow, padding=padding, value_range=value_range, scale=1)
    arr = tile.permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr).save(buf, format="PNG")
    return buf.getvalue()
