"""Decoding image files with Pillow into uint8 tensors (threaded; resize and center-crop).

An image whose header claims more than MAX_PIXELS pixels is refused before it is decoded: a few
kilobytes of PNG can otherwise claim gigabytes of pixels (a decompression bomb).
"""

from __future__ import annotations

import contextlib
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from genzoo.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
MAX_PIXELS = 2**24  # 4096 x 4096; training images are far smaller
GREY_MODES = ("1", "L", "LA", "La", "I", "F")  # Pillow modes without colour (plus "I;16" and kin)


def _is_grey(mode: str) -> bool:
    return mode in GREY_MODES or mode.startswith("I;")


def _check_pixels(path: Path, size: tuple[int, int]) -> None:
    w, h = size
    if w * h > MAX_PIXELS:
        raise DataError(f"{path}: its header claims {w}x{h} pixels, more than genzoo's limit of {MAX_PIXELS} "
                        "(4096x4096); the file is corrupt or a decompression bomb: remove it, or resize it first")


def _bad_image(path: Path, e: Exception) -> DataError:
    return DataError(f"{path}: cannot decode image ({type(e).__name__}: {e}); the file is corrupt, truncated or "
                     "not an image: remove or replace it")


def _to_pair(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


@contextlib.contextmanager
def pillow_quiet():
    """Pillow's warnings that genzoo answers itself, kept off stderr: its own, larger pixel limit (ours refuses
    first, as a DataError) and "Corrupt EXIF data" (`upright` keeps such an image as stored). Enter it in the
    thread that starts any decoding threads: the warnings filters are global state."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL.TiffImagePlugin")
        yield


def eight_bit(path: Path | str, im):
    """16-bit grey scaled to 8 bits (Pillow's own conversion clips: 1000 of 65535 became 255, white); 32-bit
    integer or float pixels kept only where they lie in 0..255, since their scale is unknown (float images
    within 0..1 are scaled by `decode_many`, which sees the whole set)."""
    from PIL import Image

    if im.mode.startswith("I;16"):
        return Image.fromarray((np.asarray(im, dtype=np.float32) / 257).round().astype(np.uint8))
    if im.mode in ("I", "F"):
        a = np.asarray(im)
        if a.size and not (a.min() >= 0 and a.max() <= 255):
            raise DataError(f"{path}: 32-bit {'float' if im.mode == 'F' else 'integer'} pixels from {a.min():g} to "
                            f"{a.max():g}, outside 0..255, and their scale is unknown: save the image as 8-bit (or "
                            "16-bit PNG), scaled to the range you mean")
    return im


def upright(im):
    """The image as a photo viewer shows it: a phone's JPEG stores its rotation as an EXIF tag. A damaged EXIF
    block (Pillow's parser raises several kinds of error on one) leaves the image as stored: its pixels may be
    fine."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(im)
    except Exception:
        return im


def decode(path: Path, mode: str, size: tuple[int, int] | None, crop: int | None) -> np.ndarray:
    """One image as H x W x C uint8: optional centered square crop of side `crop`, then resize. A 32-bit float
    image comes back as float32 in its own scale, which its set decides (`unit_floats`)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            _check_pixels(path, im.size)
            im = eight_bit(path, upright(im))
            floats = im.mode == "F"  # cropped and resized as floats: 8 bits would lose a 0..1 image whole
            if not floats:
                im = im.convert(mode)
            if crop:
                w, h = im.size
                c = min(crop, w, h)
                left, top = (w - c) // 2, (h - c) // 2
                im = im.crop((left, top, left + c, top + c))
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BICUBIC, reducing_gap=None)
            arr = np.asarray(im, dtype=np.float32 if floats else np.uint8)
    except FileNotFoundError:
        raise DataError(f"missing image file {path}") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        raise _bad_image(path, e) from None
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return np.repeat(arr, 3, axis=2) if mode == "RGB" and arr.shape[2] == 1 else arr


def unit_floats(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The float images of a set (float32, from `decode`) as uint8: scaled from 0..1 when every one of them lies
    in 0..1 (numpy and scientific tools save floats so), else taken as 0..255. One image cannot tell a 0..1 image
    from a dark 0..255 one; a set can."""
    floats = [a for a in arrays if a.dtype == np.float32]
    if not floats:
        return arrays
    scale = 255.0 if all(a.max() <= 1 for a in floats if a.size) else 1.0
    return [np.clip(np.rint(a * scale), 0, 255).astype(np.uint8) if a.dtype == np.float32 else a  # bicubic overshoots
            for a in arrays]


def _grey_palette(im) -> bool:
    """A palette image whose colours are all greys (GIF face sets, palette PNGs) is a grey image."""
    palette = im.getpalette()  # from the header: nothing decoded
    if not palette:
        return False
    rgb = np.asarray(palette[:len(palette) - len(palette) % 3]).reshape(-1, 3)
    return bool((rgb == rgb[:, :1]).all())


def read_modes(paths: list[Path]) -> list[str]:
    """Each image's Pillow mode, from its header alone; a DataError names the first file that is missing,
    unreadable, or over MAX_PIXELS (checked here, before any image is decoded)."""
    from PIL import Image, UnidentifiedImageError

    modes = []
    with pillow_quiet():  # Pillow's warning for an image over its limit would come before our error
        for path in paths:
            try:
                with Image.open(path) as im:
                    _check_pixels(path, im.size)
                    modes.append("L" if im.mode in ("P", "PA") and _grey_palette(im) else im.mode)
            except FileNotFoundError:
                raise DataError(f"missing image file {path}") from None
            except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
                raise _bad_image(path, e) from None
    return modes


def channels_of(paths: list[Path], modes: list[str]) -> int:
    """1 when every image is grey, 3 when every one has colour; a mix is an error naming one of each."""
    grey = next((p for p, m in zip(paths, modes) if _is_grey(m)), None)
    colour = next((p for p, m in zip(paths, modes) if not _is_grey(m)), None)
    if grey and colour:
        raise DataError(f"images mix grey and colour: {grey} is grey, {colour} is colour; convert them all to "
                        "one mode (e.g. Pillow's Image.convert('RGB') or 'L') before training")
    return 1 if grey else 3


def decode_many(paths: list[Path], channels: int | None, size: int | tuple[int, int] | None = None,
                crop: int | None = None, threads: int = 8) -> torch.Tensor:
    """Decode image files to an N x C x H x W uint8 tensor; all must end up the same size.

    `channels` 1 or 3 converts every image to grey or colour; None takes the images' own, which must agree.
    """
    if not paths:
        raise DataError("no image files to decode")
    with pillow_quiet():
        # headers first only to learn the channels (decode checks each image's size itself)
        channels = channels or channels_of(paths, read_modes(paths))
        mode = "L" if channels == 1 else "RGB"
        pair = _to_pair(size)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            arrays = unit_floats(list(pool.map(lambda p: decode(p, mode, pair, crop), paths)))
    odd = next((i for i, a in enumerate(arrays) if a.shape != arrays[0].shape), None)
    if odd is not None:
        (h0, w0), (h, w) = arrays[0].shape[:2], arrays[odd].shape[:2]
        raise DataError(f"images have different sizes: {paths[0]} is {w0}x{h0}, {paths[odd]} is {w}x{h}; pass an "
                        "image size (--set data.image_size=32, or image_size=32 in Python) to resize them all")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def write_png(path: str | Path, image: torch.Tensor) -> None:
    """Save a C x H x W uint8 tensor as PNG."""
    from PIL import Image

    arr = image.detach().cpu().permute(1, 2, 0).numpy()
    try:
        Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr).save(path)
    except OSError as e:
        Path(path).unlink(missing_ok=True)  # a half-written picture (disk full) is worse than none
        if e.filename is None:  # PIL's write to its open file names no file: name it for the message
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise
