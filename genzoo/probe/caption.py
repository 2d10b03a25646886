"""`genzoo caption RUN IMAGE...`: a trained captioner's caption for each image file (or each image in a folder).

Images must have the run's size and channels (grey or colour): resizing or converting would silently change what
is described, so another size or mode is an error naming the file and saying what the run expects.
"""

from __future__ import annotations

from pathlib import Path

import torch

from genzoo.data.images import channels_of, decode_many, read_modes
from genzoo.errors import ConfigError
from genzoo.probe.project import image_files
from genzoo.runs import RunDir, load_model


def read_run_images(files: list[Path], spec) -> torch.Tensor:
    """uint8 N x C x H x W images that match the run's channels and size exactly (else a ConfigError naming the
    file)."""
    c, h, w = spec.shape
    modes = read_modes(files)  # a file that is no image fails here, named
    out = []
    for f, mode in zip(files, modes):
        have = channels_of([f], [mode])
        if have != c:
            kind = {1: "grey", 3: "colour"}
            raise ConfigError(f"{f} is a {kind[have]} image, but this captioner was trained on {kind.get(c, c)} "
                              f"images ({c} channel{'s' if c > 1 else ''}): convert it first")
        img = decode_many([f], c)
        if tuple(img.shape[2:]) != (h, w):
            raise ConfigError(f"{f} is {img.shape[3]}x{img.shape[2]}, but this captioner was trained on {w}x{h} "
                              f"images: resize it to {w}x{h} first")
        out.append(img)
    return torch.cat(out)


def caption_run(run_dir: str, paths: list[str], beam: int | None = None, which: str = "best",
                device: str | torch.device = "cpu") -> list[tuple[Path, str]]:
    """(file, caption) for each image; `beam` None: the run's configured beam width."""
    run = RunDir(run_dir)
    model = load_model(run.path, which=which, device=device)
    if not hasattr(model, "caption"):
        raise ConfigError(f"{run.path} is a {model.name} run, not a captioner: genzoo caption needs a run of "
                          "`genzoo train captioner`")
    if beam is not None and beam < 1:
        raise ConfigError(f"--beam is a whole number of at least 1, got {beam}")
    if not paths:
        raise ConfigError("give one or more image files or folders: genzoo caption RUN IMAGE...")
    files = image_files(paths)
    captions = model.caption(read_run_images(files, model.spec), beam)
    return list(zip(files, captions))
