"""Moving MNIST (Srivastava, Mansimov & Salakhutdinov 2015, "Unsupervised Learning of Video Representations using
LSTMs", Sec. 3.2): sequences of frames in which two MNIST digits bounce inside a square.

The construction: each digit (28 x 28) starts at a uniformly random position inside the 64 x 64 frame, moves in a
uniformly random direction at a constant speed (a tenth of the room it has per frame: 3.6 px in 64 x 64), and
bounces off the edges; a frame is the digits' images combined by the pixel-wise maximum. The authors' script moves
the digit by one step, clamps it to the wall and reverses the velocity, which drops the overshoot; here the motion
is the exact elastic bounce (the straight line folded back at the walls, `trajectories`), and positions are
floored to whole pixels as theirs are.

A sequence set is too large to store (10,000 test sequences of 20 frames are 820 MB), so the datasets here hold the
digits and the sequences are drawn from them:

    moving-mnist        the MNIST digits of the split (1 x 28 x 28, labels kept)
    moving-mnist-mini   the same from the embedded mnist-mini digits (no files needed; for tests and trials)

`bouncing_sequences(digits, n, frames, size, generator)` draws n new sequences (training: a fresh batch every step
from the batch's digits); `eval_sequences(data, n)` is the fixed evaluation set, drawn with a fixed seed from the
split's digits in chunks of EVAL_CHUNK, so its first k sequences are the same for every n >= k. Models that
predict frames check with `check_sequence_spec` that they were given one of these sets (`SEQUENCE_SETS`); every
other model refuses them when built (`genzoo.models.base.Model`), naming the digit set to use instead.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from genzoo.data.catalog import DATASETS, Request, derived_dataset
from genzoo.data.imageset import DataSpec, ImageSet
from genzoo.errors import DataError

FRAMES = 20  # frames per sequence (Srivastava et al.: 10 given, 10 to predict)
SIZE = 64  # frame side in pixels
DIGITS = 2  # digits per sequence
STEP = 0.1  # distance per frame, as a fraction of the room a digit has to move (size - digit side)
EVAL_SEED = 2015  # the fixed evaluation sequences: chunk c is drawn with seed EVAL_SEED + c
EVAL_CHUNK = 100  # sequences per seeded chunk of the evaluation set
SEQUENCE_SETS = {"moving-mnist": "mnist", "moving-mnist-mini": "mnist-mini"}  # name -> the digit set it is made of


def trajectories(start: torch.Tensor, velocity: torch.Tensor, frames: int, span: float) -> torch.Tensor:
    """Positions of points bouncing elastically between 0 and `span`: `start` and `velocity` (..., D), in pixels and
    pixels per frame -> (..., frames, D), frame t at p0 + v t folded back into [0, span] at each wall (a triangle
    wave of period 2 span)."""
    t = torch.arange(frames, dtype=start.dtype, device=start.device)
    p = start[..., None, :] + velocity[..., None, :] * t[:, None]
    if span <= 0:
        return torch.zeros_like(p)
    q = torch.remainder(p, 2 * span)
    return torch.where(q > span, 2 * span - q, q)


def _check_digits(digits: torch.Tensor, size: int) -> None:
    if digits.dim() != 4 or digits.shape[1] != 1 or len(digits) == 0:
        raise DataError(f"bouncing sequences are made of grey digit images N x 1 x H x W, got {tuple(digits.shape)}")
    if max(digits.shape[2:]) > size:
        raise DataError(f"digits of {digits.shape[3]}x{digits.shape[2]} do not fit in {size}x{size} frames: use "
                        "larger frames or smaller digits (--set data.image_size=N)")


def bouncing_sequences(digits: torch.Tensor, n: int, frames: int = FRAMES, size: int = SIZE,
                       generator: torch.Generator | None = None, per_sequence: int = DIGITS) -> torch.Tensor:
    """n sequences of `per_sequence` digits bouncing in size x size frames: n x frames x 1 x size x size, in the
    dtype (uint8 or float) and on the device of `digits` (N x 1 x h x w).

    For each sequence and digit slot, drawn from `generator` (CPU) in this order: the digit (uniform over `digits`,
    with replacement), its direction (an angle uniform in [0, 2 pi)) and its start (uniform in the frame); the
    speed is STEP of the room (size - h). Vectorised: one scatter per digit slot, none per sequence."""
    _check_digits(digits, size)
    h, w = digits.shape[2:]
    idx = torch.randint(len(digits), (n, per_sequence), generator=generator)
    theta = torch.rand(n, per_sequence, generator=generator, dtype=torch.float64) * (2 * math.pi)
    room = torch.tensor([size - h, size - w], dtype=torch.float64)
    start = torch.rand(n, per_sequence, 2, generator=generator, dtype=torch.float64) * room
    velocity = STEP * room * torch.stack([torch.sin(theta), torch.cos(theta)], -1)  # (y, x) per frame
    pos = torch.stack([trajectories(start[..., i:i + 1], velocity[..., i:i + 1], frames, float(room[i]))[..., 0]
                       for i in range(2)], -1).floor().long()  # n x k x frames x 2, top-left corners
    dev = digits.device
    pos, idx = pos.to(dev), idx.to(dev)
    seq = torch.arange(n, device=dev)[:, None, None, None]
    t = torch.arange(frames, device=dev)[None, :, None, None]
    out = torch.zeros(n, frames, size, size, dtype=digits.dtype, device=dev)
    for j in range(per_sequence):  # each digit on its own canvas, then the pixel-wise maximum
        rows = pos[:, j, :, 0, None, None] + torch.arange(h, device=dev)[:, None]  # n x frames x h x 1
        cols = pos[:, j, :, 1, None, None] + torch.arange(w, device=dev)  # n x frames x 1 x w
        layer = torch.zeros_like(out)
        layer[seq, t, rows, cols] = digits[idx[:, j], 0][:, None].expand(n, frames, h, w)
        out = torch.maximum(out, layer)
    return out[:, :, None]


def eval_sequences(data: ImageSet | torch.Tensor, n: int, frames: int = FRAMES, size: int = SIZE,
                   start: int = 0) -> torch.Tensor:
    """Sequences start .. start + n - 1 of the fixed evaluation set of `data`'s digits (uint8, n x frames x 1 x size
    x size): chunk c (sequences c * EVAL_CHUNK ...) drawn by `bouncing_sequences` with seed EVAL_SEED + c, so the
    same sequences on every call, and the first k the same for every n >= k."""
    digits = data.images if isinstance(data, ImageSet) else data
    if n <= 0:
        _check_digits(digits, size)
        return digits.new_zeros((0, frames, 1, size, size))
    first, last = start // EVAL_CHUNK, (start + n - 1) // EVAL_CHUNK
    chunks = [bouncing_sequences(digits, EVAL_CHUNK, frames, size, torch.Generator().manual_seed(EVAL_SEED + c))
              for c in range(first, last + 1)]
    return torch.cat(chunks)[start - first * EVAL_CHUNK:][:n]


# ---- the datasets ------------------------------------------------------------------------------------------------
def is_sequence_set(name: str) -> bool:
    return name in SEQUENCE_SETS


def check_sequence_spec(spec: DataSpec, model: str) -> None:
    """A clear error, before training, for data a frame predictor cannot learn from."""
    if not is_sequence_set(spec.name):
        raise DataError(f"{model} predicts the next frames of videos and needs a sequence dataset: use "
                        f"{' or '.join(SEQUENCE_SETS)} ({spec.name or 'this dataset'} holds single images)")
    if spec.channels != 1:
        raise DataError(f"{model}: {spec.name}'s digits must be grey (1 channel), got {spec.channels}")


def describe_sequences(data: ImageSet, frames: int = FRAMES, size: int = SIZE, shown: int = EVAL_CHUNK) -> list[str]:
    """Lines for `genzoo data info`: what the sequences are and a few figures of the first evaluation chunk."""
    seqs = eval_sequences(data, min(shown, EVAL_CHUNK), frames, size).float() / 255
    moved = (seqs[:, 1:] - seqs[:, :-1]).pow(2).mean()
    return [f"sequences: {DIGITS} of these digits bouncing in {size}x{size} frames, {frames} frames each, made on "
            f"the fly (training: new ones every step; evaluation: the fixed set drawn with seed {EVAL_SEED}+chunk)",
            f"first {len(seqs)} evaluation sequences: pixel mean {seqs.mean() * 255:.1f}, mean squared change "
            f"between consecutive frames {moved:.4f} (on [0, 1])"]


def _digits(base: ImageSet, req: Request) -> ImageSet:
    return dataclasses.replace(base, name=req.name)


for _name, _base in SEQUENCE_SETS.items():
    derived_dataset(
        _name, f"Moving MNIST (Srivastava et al. 2015) from {_base}: sequences of {FRAMES} frames {SIZE}x{SIZE} in "
        f"which {DIGITS} digits bounce, drawn on the fly from the digits this set holds (those of {_base}'s split, "
        "1x28x28, labels kept); the evaluation sequences are fixed (genzoo.data.moving_mnist). For frame-predictor",
        base=_base, shape=(1, 28, 28), num_classes=10, license=DATASETS[_base].license,
        class_names=DATASETS[_base].class_names)(_digits)
