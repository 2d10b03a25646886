import pytest
import torch

from genzoo.data.augment import alternating_hflip, random_crop, random_cutout, random_hflip
from genzoo.data.imageset import ImageSet, to_float, to_uint8
from genzoo.errors import DataError


def tiny(n=50, c=1, size=4):
    x = torch.arange(n * c * size * size, dtype=torch.int64).remainder(256).to(torch.uint8)
    return ImageSet(x.reshape(n, c, size, size), torch.arange(n) % 5, name="tiny")


def test_batches_cover_each_image_once_per_epoch():
    d = tiny(50)
    seen = torch.cat([y for _, y, *_ in d.batches(10, seed=3, epoch=0)])
    assert sorted(seen.tolist()) == sorted(d.labels.tolist())  # 5 full batches = all 50
    idx_epoch0 = [x[:, 0, 0, 0].tolist() for x, *_ in d.batches(10, seed=3, epoch=0)]
    idx_again = [x[:, 0, 0, 0].tolist() for x, *_ in d.batches(10, seed=3, epoch=0)]
    idx_epoch1 = [x[:, 0, 0, 0].tolist() for x, *_ in d.batches(10, seed=3, epoch=1)]
    assert idx_epoch0 == idx_again and idx_epoch0 != idx_epoch1


def test_batches_with_index_name_each_image_by_its_place_in_the_set():
    d = ImageSet(torch.arange(40, dtype=torch.uint8).reshape(40, 1, 1, 1), torch.arange(40) % 4)
    for rank in (0, 1):
        plain = list(d.batches(5, seed=2, epoch=1, rank=rank, world_size=2))
        indexed = list(d.batches(5, seed=2, epoch=1, rank=rank, world_size=2, with_index=True))
        assert len(plain) == len(indexed) == 4
        for (x, y, *_), (x2, y2, _, _, _, index) in zip(plain, indexed):
            assert torch.equal(x, x2) and torch.equal(y, y2)
            assert torch.equal(x.flatten().long(), index) and torch.equal(d.labels[index], y)


def test_batches_resume_midway_and_drop_last():
    d = tiny(53)
    full = [y.tolist() for _, y, *_ in d.batches(10, seed=1, epoch=2)]
    assert len(full) == 5  # 53 // 10, the incomplete batch is dropped
    assert [y.tolist() for _, y, *_ in d.batches(10, seed=1, epoch=2, start=3)] == full[3:]


def test_shards_are_disjoint():
    d = ImageSet(torch.zeros(40, 1, 2, 2, dtype=torch.uint8), torch.arange(40))
    a = torch.cat([y for _, y, *_ in d.batches(5, seed=0, rank=0, world_size=2)])
    b = torch.cat([y for _, y, *_ in d.batches(5, seed=0, rank=1, world_size=2)])
    assert len(set(a.tolist()) & set(b.tolist())) == 0 and len(a) == len(b) == 20


def test_validation_of_shapes():
    with pytest.raises(DataError, match="uint8"):
        ImageSet(torch.zeros(3, 1, 4, 4))
    with pytest.raises(DataError, match="1 or 3 channels"):
        ImageSet(torch.zeros(3, 4, 4, 2, dtype=torch.uint8))
    with pytest.raises(DataError, match="labels of shape"):
        ImageSet(torch.zeros(3, 1, 4, 4, dtype=torch.uint8), torch.zeros(4))
    with pytest.raises(DataError, match="lower --batch-size"):
        tiny(5).steps_per_epoch(10)


def test_split_and_per_class():
    d = ImageSet(torch.zeros(50, 1, 2, 2, dtype=torch.uint8), torch.arange(50))
    rest, held = d.split(0.2, seed=0)
    assert len(rest) == 40 and len(held) == 10
    assert sorted(rest.labels.tolist() + held.labels.tolist()) == list(range(50))
    bal = tiny(50).per_class(3)
    assert bal.labels.bincount().tolist() == [3] * 5


def test_float_conversion_round_trip():
    x = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    for rng in [(-1.0, 1.0), (0.0, 1.0)]:
        f = to_float(x, rng)
        assert f.min() == rng[0] and f.max() == rng[1]
        assert torch.equal(to_uint8(f, rng), x)


def test_random_crop_is_a_translation():
    x = torch.arange(2 * 36, dtype=torch.float32).reshape(2, 1, 6, 6) + 1
    torch.manual_seed(0)
    out = random_crop(x, 2)
    assert out.shape == x.shape
    for i in range(2):
        padded = torch.nn.functional.pad(x[i], (2, 2, 2, 2))
        matches = [(dy, dx) for dy in range(5) for dx in range(5)
                   if torch.equal(padded[:, dy:dy + 6, dx:dx + 6], out[i])]
        assert len(matches) == 1
    # over many draws all 25 offsets appear (uniform random translation)
    y = random_crop(torch.ones(2000, 1, 3, 3), 1)
    assert y.sum((1, 2, 3)).unique().numel() >= 3


def test_reflect_crop_is_a_translation_of_the_mirrored_image_for_uint8_too():
    x = torch.randint(0, 256, (8, 3, 6, 5), dtype=torch.uint8)
    torch.manual_seed(1)
    out = random_crop(x, 2, mode="reflect")
    padded = torch.nn.functional.pad(x.float(), (2, 2, 2, 2), mode="reflect")  # torch's own reflection, floats only
    offsets = set()
    for i in range(8):
        matches = [(dy, dx) for dy in range(5) for dx in range(5)
                   if torch.equal(padded[i, :, dy:dy + 6, dx:dx + 5], out[i].float())]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert out.dtype == torch.uint8 and len(offsets) > 1
    torch.manual_seed(1)  # the same draws as the black border: only what fills the border differs
    black = random_crop(x, 2)
    inner = (black != 0).all(1)
    assert torch.equal(black.permute(0, 2, 3, 1)[inner], out.permute(0, 2, 3, 1)[inner])
    with pytest.raises(ValueError, match="larger"):
        random_crop(x, 5, mode="reflect")


def test_alternating_hflip_flips_a_fixed_even_half_and_swaps_it_every_epoch():
    x = torch.arange(4.0).reshape(1, 1, 1, 4).repeat(1000, 1, 1, 1)
    index = torch.arange(1000)
    flipped = [alternating_hflip(x, index, epoch)[:, 0, 0, 0] == 3 for epoch in range(4)]
    assert torch.equal(flipped[0], ~flipped[1]) and torch.equal(flipped[0], flipped[2])  # every image both ways
    assert torch.equal(flipped[1], flipped[3])
    for block in flipped[0].view(10, 100).float():  # an even split within any run of consecutive indices
        assert 0.4 <= block.mean() <= 0.6
    # the decision is the image's, whatever batch it comes in and in whatever order
    perm = torch.randperm(1000)
    assert torch.equal(alternating_hflip(x[perm], index[perm], 0)[:, 0, 0, 0] == 3, flipped[0][perm])


def test_random_hflip():
    x = torch.arange(4.0).reshape(1, 1, 1, 4).repeat(1000, 1, 1, 1)
    out = random_hflip(x)
    flipped = (out[:, 0, 0, 0] == 3).float().mean()
    assert 0.4 < flipped < 0.6
    assert torch.equal(out[out[:, 0, 0, 0] == 3][0, 0, 0], torch.tensor([3.0, 2, 1, 0]))


def test_random_cutout_blanks_one_square_per_image():
    x = torch.arange(1.0, 1 + 400 * 64).reshape(400, 1, 8, 8)  # every pixel differs from the fill 0
    torch.manual_seed(0)
    out = random_cutout(x, 4, fill=0.0)
    cut = out == 0
    kept = ~cut
    assert torch.equal(out[kept], x[kept])  # the rest is untouched
    for i in range(len(x)):
        rows, cols = cut[i, 0].any(1).nonzero()[:, 0], cut[i, 0].any(0).nonzero()[:, 0]
        # one axis-aligned block (a square of side 4, cut where it crosses the border)
        assert cut[i, 0].sum() == len(rows) * len(cols) and 1 <= len(rows) <= 4 and 1 <= len(cols) <= 4
        assert rows.max() - rows.min() + 1 == len(rows) and cols.max() - cols.min() + 1 == len(cols)
    sizes = cut.sum((1, 2, 3))
    assert (sizes == 16).float().mean() > 0.3 and sizes.min() < 16  # whole squares inside, clipped ones at the border
    # every pixel gets cut sometimes: the centre is uniform over the image
    assert cut.any(0).all()
    # gradients flow to the kept pixels only
    x.requires_grad_(True)
    torch.manual_seed(1)
    y = random_cutout(x, 4, fill=-1.0)
    y.sum().backward()
    assert torch.equal(x.grad, (y != -1).float())


def test_random_cutout_inside_keeps_the_whole_square_in_the_image_in_the_given_colour():
    x = torch.full((2000, 3, 8, 8), 255, dtype=torch.uint8)
    colour = torch.tensor([10, 20, 30], dtype=torch.uint8).view(1, 3, 1, 1)
    torch.manual_seed(0)
    out = random_cutout(x, 3, fill=colour, inside=True)
    cut = (out != 255).all(1)  # N x H x W
    assert torch.equal(cut.sum((1, 2)), torch.full((2000,), 9))  # never cut by the border
    assert torch.equal(out.permute(0, 2, 3, 1)[cut], colour.view(1, 3).expand(9 * 2000, 3))
    assert torch.equal(out.permute(0, 2, 3, 1)[~cut], x.permute(0, 2, 3, 1)[~cut])
    corner = torch.stack([cut.any(2).int().argmax(1), cut.any(1).int().argmax(1)], 1)  # top-left of each square
    assert corner.min() == 0 and corner.max() == 8 - 3  # every placement, from one edge to the other
    assert cut.any(0).all()
    # a square larger than the image covers all of it
    assert (random_cutout(x[:4], 12, fill=0.0, inside=True) == 0).all()


def translation_set(n=40, paired=True):
    """Targets tagged with their index in pixel (0, 0), sources with index + 100 (3-channel targets, 1-channel
    sources), so a batch shows which source came with which target."""
    targets = torch.zeros(n, 3, 4, 4, dtype=torch.uint8)
    targets[:, :, 0, 0] = torch.arange(n, dtype=torch.uint8)[:, None]
    sources = torch.zeros(n, 1, 4, 4, dtype=torch.uint8)
    sources[:, 0, 0, 0] = torch.arange(n, dtype=torch.uint8) + 100
    return ImageSet(targets, torch.arange(n) % 4, sources=sources, source_labels=torch.arange(n) % 2,
                    paired=paired, name="pairs")


def test_paired_sources_come_with_their_targets_and_unpaired_in_an_order_of_their_own():
    paired, unpaired = translation_set(paired=True), translation_set(paired=False)
    for x, _, _, src, _ in paired.batches(8, seed=2, epoch=1):
        assert (src[:, 0, 0, 0] - 100).tolist() == x[:, 0, 0, 0].tolist()
    batches = list(unpaired.batches(8, seed=2, epoch=1))
    matches = sum(int((src[:, 0, 0, 0] - 100 == x[:, 0, 0, 0]).sum()) for x, _, _, src, _ in batches)
    assert matches < 8  # of 40: random orders agree on about 1
    seen = torch.cat([src[:, 0, 0, 0] for _, _, _, src, _ in batches]) - 100
    assert sorted(seen.tolist()) == list(range(40))  # each source once per epoch
    assert [s.tolist() for _, _, _, s, _ in unpaired.batches(8, seed=2, epoch=1, start=2)] == \
        [s.tolist() for _, _, _, s, _ in batches[2:]]  # resumable midway
    assert paired.spec.source_channels == 1 and paired.spec.paired and not unpaired.spec.paired


def test_subsets_keep_sources_with_their_targets():
    d = translation_set().subset(torch.tensor([3, 7]))
    assert d.sources[:, 0, 0, 0].tolist() == [103, 107] and d.source_labels.tolist() == [1, 1]
    assert d.split(0.5, seed=0)[1].sources.shape == (1, 1, 4, 4)


def test_sources_must_match_the_targets():
    targets = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(DataError, match="same height and width"):
        ImageSet(targets, sources=torch.zeros(4, 1, 4, 4, dtype=torch.uint8))
    with pytest.raises(DataError, match="as many sources"):
        ImageSet(targets, sources=torch.zeros(3, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(DataError, match="without source images"):
        ImageSet(targets, paired=True)
