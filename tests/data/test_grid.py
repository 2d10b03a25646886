"""Sample grids: nearest-neighbour upscaling to a readable cell size, and row/column labels."""

from pathlib import Path

import pytest
import torch

from genzoo.data.grid import MIN_CELL, auto_scale, make_grid, save_grid


def cells(n=6, c=1, h=28, w=28, seed=0) -> torch.Tensor:
    return torch.randint(0, 256, (n, c, h, w), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_auto_scale_makes_cells_at_least_64_px():
    assert auto_scale(28, 28) == 3 and auto_scale(32, 32) == 2 and auto_scale(64, 64) == 1
    assert auto_scale(28, 20) == 4  # the smaller side counts (Frey faces)
    assert auto_scale(512, 512) == 1
    for side in (7, 28, 31, 33, 64):
        assert side * auto_scale(side, side) >= MIN_CELL > side * (auto_scale(side, side) - 1)


def test_upscaled_cells_hold_the_original_pixels_nearest_neighbour():
    x = cells(6)
    g = make_grid(x, nrow=3)  # auto: 28 px -> 84 px cells, 2 px padding
    assert g.shape == (1, 2 * (84 + 2) + 2, 3 * (84 + 2) + 2)
    for i in range(6):
        r, col = divmod(i, 3)
        top, left = 2 + r * 86, 2 + col * 86
        cell = g[:, top:top + 84, left:left + 84]
        assert torch.equal(cell, x[i].repeat_interleave(3, 1).repeat_interleave(3, 2))
        assert torch.equal(cell[:, ::3, ::3], x[i])  # every 3rd pixel is the original one
    # each 3x3 block is one original value: no interpolation
    block = g[0, 2:5, 2:5]
    assert (block == block[0, 0]).all()


def test_scale_one_and_explicit_scales():
    x = cells(4)
    assert make_grid(x, nrow=2, scale=1).shape == (1, 2 * 30 + 2, 2 * 30 + 2)  # the old size
    g = make_grid(x, nrow=2, scale=2)
    assert g.shape == (1, 2 * 58 + 2, 2 * 58 + 2)
    assert torch.equal(g[:, 2:58, 2:58], x[0].repeat_interleave(2, 1).repeat_interleave(2, 2))
    assert make_grid(cells(4, c=3, h=64, w=64), nrow=2).shape == (3, 2 * 66 + 2, 2 * 66 + 2)  # big cells stay
    floats = x.float() / 127.5 - 1  # floats in [-1, 1] are converted as before, then scaled
    assert torch.equal(make_grid(floats, nrow=2), make_grid(x, nrow=2))
    for bad in (0, -1, 1.5, "big"):
        with pytest.raises(ValueError, match="scale"):
            make_grid(x, scale=bad)


def test_row_labels_go_in_a_left_margin_and_leave_the_cells_alone():
    x = cells(6)
    plain = make_grid(x, nrow=3)
    g = make_grid(x, nrow=3, row_labels=["zero", "one"])
    margin = g.shape[2] - plain.shape[2]
    assert g.shape[1] == plain.shape[1] and margin > 10  # a left margin as wide as the longest label
    assert torch.equal(g[:, :, margin:], plain)  # the cells are untouched, just shifted right
    left = g[:, :, :margin]
    for r in range(2):  # ink in each row's band of the margin
        band = left[:, 2 + r * 86:2 + r * 86 + 84]
        assert (band < 128).any(), f"no label drawn for row {r}"


def test_column_labels_go_in_a_top_margin_for_any_channel_count():
    x = cells(6, c=3)
    plain = make_grid(x, nrow=3)
    g = make_grid(x, nrow=3, col_labels=["start", "", "end"])
    top = g.shape[1] - plain.shape[1]
    assert g.shape[2] == plain.shape[2] and top > 5
    assert torch.equal(g[:, top:], plain)
    strip = g[:, :top]
    assert (strip[:, :, 2:86] < 128).any() and (strip[:, :, 2 * 86 + 2:] < 128).any()
    assert (strip[:, :, 88:170] == 255).all()  # the blank label leaves its column's margin empty
    assert torch.equal(strip[0], strip[1]) and torch.equal(strip[1], strip[2])  # grey text in every channel


def test_long_column_labels_are_shortened_to_their_cell(tmp_path):
    g = make_grid(cells(2), nrow=2, col_labels=["a label far too long for one cell of 84 px", "b"])
    assert g.shape[2] == 2 * 86 + 2
    path = save_grid(cells(2), tmp_path / "g.png", nrow=2, scale=1, row_labels=["r"])
    assert path.is_file()


def test_captions_go_under_each_image_and_leave_the_images_untouched():
    x = cells(5, c=3)  # 28 px -> 84 px cells
    plain = make_grid(x, nrow=3)
    g = make_grid(x, nrow=3, captions=["7 (99%)", "", "3 (94%)", "panda", "gibbon"])
    cap = g.shape[1] - plain.shape[1]
    assert cap > 0 and cap % 2 == 0 and g.shape[2] == plain.shape[2]  # one strip per grid row
    strip_h = cap // 2
    for i in range(5):
        r, col = divmod(i, 3)
        top, left = 2 + r * (84 + strip_h + 2), 2 + col * 86
        assert torch.equal(g[:, top:top + 84, left:left + 84], plain[:, 2 + r * 86:2 + r * 86 + 84, left:left + 84])
        strip = g[:, top + 84:top + 84 + strip_h, left:left + 84]
        assert (strip < 128).any() == (i != 1), f"caption {i} drawn wrongly"  # the empty caption stays blank
    with pytest.raises(ValueError, match="one per image"):
        make_grid(x, captions=["too few"])


def test_a_picture_cut_short_by_a_full_disk_is_removed_and_named(tmp_path, monkeypatch):
    """PIL's write to its open file raises an OSError that names no file; write_png names it (the CLI turns it
    into one line) and removes the half-written picture."""
    import errno

    from PIL import Image

    from genzoo.data.images import write_png

    def half_then_full(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"\x89PNG\r\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", half_then_full)
    path = tmp_path / "grid.png"
    with pytest.raises(OSError) as e:
        write_png(path, torch.zeros(1, 4, 4, dtype=torch.uint8))
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(path)
    assert not path.exists()
