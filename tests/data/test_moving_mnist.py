"""Moving MNIST: the bouncing motion against hand-checked trajectories, the drawn sequences (shapes, digits inside
the frame, reversals at the walls, determinism per seed), the fixed test set, and the dataset entries."""

import pytest
import torch
from torch.testing import assert_close

import genzoo
from genzoo.data import load
from genzoo.data.imageset import DataSpec
from genzoo.data.moving_mnist import (
    EVAL_CHUNK,
    STEP,
    bouncing_sequences,
    check_sequence_spec,
    describe_sequences,
    eval_sequences,
    trajectories,
)
from genzoo.errors import DataError


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def squares(n: int = 4, side: int = 28) -> torch.Tensor:
    """White side x side squares: a digit whose every pixel shows where it is."""
    return torch.full((n, 1, side, side), 255, dtype=torch.uint8)


# ---- the motion ---------------------------------------------------------------------------------------------------
def test_trajectory_bounces_off_both_walls_by_hand():
    """Span 36 (28-px digits in 64 px), 3.6 px a frame: 30 -> 33.6 -> 37.2 folds back to 34.8, then 31.2, 27.6;
    from 2 moving at -3: 2 -> -1 folds to 1, then 4, 7."""
    pos = trajectories(torch.tensor([[30.0, 2.0]], dtype=torch.float64),
                       torch.tensor([[3.6, -3.0]], dtype=torch.float64), 5, 36.0)
    assert_close(pos[0, :, 0], torch.tensor([30.0, 33.6, 34.8, 31.2, 27.6], dtype=torch.float64))
    assert_close(pos[0, :, 1], torch.tensor([2.0, 1.0, 4.0, 7.0, 10.0], dtype=torch.float64))


def test_trajectory_stays_inside_and_keeps_its_speed():
    g = gen(0)
    start = torch.rand(200, 2, generator=g, dtype=torch.float64) * 36
    v = (torch.rand(200, 2, generator=g, dtype=torch.float64) - 0.5) * 20
    pos = trajectories(start, v, 50, 36.0)
    assert pos.min() >= 0 and pos.max() <= 36
    step = (pos[:, 1:] - pos[:, :-1]).abs()
    away = (pos[:, 1:] > 10) & (pos[:, 1:] < 26) & (pos[:, :-1] > 10) & (pos[:, :-1] < 26)  # no wall between
    assert_close(step[away], v.abs()[:, None].expand_as(step)[away])


# ---- the sequences ------------------------------------------------------------------------------------------------
def test_shapes_dtypes_and_determinism_per_seed(mini):
    digits = mini.images[:50]
    a = bouncing_sequences(digits, 6, 20, 64, gen(1))
    assert a.shape == (6, 20, 1, 64, 64) and a.dtype == torch.uint8
    assert torch.equal(a, bouncing_sequences(digits, 6, 20, 64, gen(1)))
    assert not torch.equal(a, bouncing_sequences(digits, 6, 20, 64, gen(2)))
    f = bouncing_sequences(digits.float() / 255, 6, 20, 64, gen(1))
    assert f.dtype == torch.float32 and torch.equal((f * 255).round().to(torch.uint8), a)  # the same placements
    assert bouncing_sequences(digits, 3, 7, 40, gen(0)).shape == (3, 7, 1, 40, 40)


def test_each_frame_holds_two_digits_combined_by_their_maximum(mini):
    """Two digits: every frame's pixels are at most the brighter digit's values, and its ink lies between the
    larger digit's and the sum of both."""
    seq = bouncing_sequences(mini.images[:1], 5, 10, 64, gen(3))  # one digit, drawn twice per sequence
    ink = mini.images[0].float().sum()
    total = seq.float().flatten(2).sum(2)
    assert (total >= ink - 1e-3).all() and (total <= 2 * ink + 1e-3).all()
    assert seq.max() == mini.images[0].max()


def test_digits_stay_inside_the_frame_and_turn_back_at_the_walls():
    """White squares, one per sequence: each frame holds the whole square (28 x 28 pixels lit, none cut off); its
    corner moves by the speed (3.6 px, up to flooring) and reverses only within one step of a wall."""
    seq = bouncing_sequences(squares(), 64, 60, 64, gen(4), per_sequence=1)[:, :, 0]
    assert ((seq == 255).flatten(2).sum(2) == 28 * 28).all()
    lit = seq == 255
    y = lit.any(3).float().argmax(2)  # top row of the square in each frame: n x frames
    x = lit.any(2).float().argmax(2)
    speed, span = STEP * 36, 36
    reversals = 0
    for pos in (y, x):
        d = pos[:, 1:] - pos[:, :-1]
        assert d.abs().max() <= speed + 1
        turn = (d[:, 1:] * d[:, :-1]) < 0  # the motion along this axis changed sign at frame t + 1
        at = pos[:, 1:-1][turn]
        assert ((at <= speed + 1) | (at >= span - speed - 1)).all(), at
        reversals += int(turn.sum())
    assert reversals > 64  # 60 frames at 3.6 px over a room of 36: several bounces per sequence


def test_digits_must_fit_the_frame(mini):
    with pytest.raises(DataError, match="do not fit in 20x20 frames"):
        bouncing_sequences(mini.images[:2], 1, 3, 20, gen(0))
    with pytest.raises(DataError, match="grey digit images"):
        bouncing_sequences(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), 1, 3, 20, gen(0))


# ---- the fixed test set -------------------------------------------------------------------------------------------
def test_test_set_is_fixed_and_its_prefixes_agree(mini_test):
    torch.manual_seed(123)
    a = eval_sequences(mini_test, EVAL_CHUNK + 30)
    torch.manual_seed(456)  # the global RNG plays no part
    assert torch.equal(a, eval_sequences(mini_test, EVAL_CHUNK + 30))
    assert torch.equal(a[:40], eval_sequences(mini_test, 40))
    assert torch.equal(a[90:125], eval_sequences(mini_test, 35, start=90))  # across a chunk boundary
    assert a.shape == (EVAL_CHUNK + 30, 20, 1, 64, 64)
    assert eval_sequences(mini_test, 0).shape == (0, 20, 1, 64, 64)


# ---- the datasets -------------------------------------------------------------------------------------------------
def test_moving_mnist_mini_holds_the_digits_and_says_it_is_a_sequence_set(mini):
    data = load("moving-mnist-mini")
    assert data.name == "moving-mnist-mini" and torch.equal(data.images, mini.images)
    assert torch.equal(data.labels, mini.labels)
    check_sequence_spec(data.spec, "frame-predictor")
    small = load("moving-mnist-mini", image_size=14)  # smaller digits keep the name
    check_sequence_spec(small.spec, "frame-predictor")
    with pytest.raises(DataError, match="needs a sequence dataset: use moving-mnist"):
        check_sequence_spec(mini.spec, "frame-predictor")
    with pytest.raises(DataError, match="grey"):
        check_sequence_spec(DataSpec(3, 28, 28, name="moving-mnist"), "frame-predictor")
    lines = describe_sequences(data)
    assert "bouncing in 64x64 frames, 20 frames" in lines[0] and "pixel mean" in lines[1]


def test_data_info_describes_the_sequences(cli):
    res = cli("data", "info", "moving-mnist-mini", check=True)
    assert "Srivastava" in res.stdout and "sequences: 2 of these digits bouncing in 64x64 frames" in res.stdout


def test_other_models_refuse_a_video_set_and_name_its_digits():
    """A GAN built on moving-mnist would learn the still digits the videos are made of, without saying so."""
    data = load("moving-mnist-mini")
    for model in ("dcgan", "vae", "classifier"):
        with pytest.raises(DataError, match="moving-mnist-mini is a video dataset that only frame-predictor reads; "
                                            "this model learns from single images: use --data mnist-mini"):
            genzoo.build(model, data.spec)
    assert genzoo.build("frame-predictor", data.spec, size=32, downsample=1).name == "frame-predictor"
