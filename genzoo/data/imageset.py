"""`ImageSet`: a whole dataset as uint8 NCHW tensors in memory, with labels and attributes.

Batching draws shuffled index slices from a seeded permutation per epoch, so there is no per-sample
Python work and the data order of any step can be recomputed from (seed, epoch, position) alone,
which is what makes resume exact. Conversion to float happens in one place, `to_float`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from genzoo.errors import DataError

# what to do when a model that learns from class labels gets data without (enough) classes
USE_LABELLED_DATA = "use a labelled dataset (e.g. mnist, cifar10) or an image folder with one subfolder per class"


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data: image shape, classes, attributes."""

    channels: int
    height: int
    width: int
    num_classes: int = 0
    class_names: tuple[str, ...] = ()
    attr_names: tuple[str, ...] = ()
    name: str = ""
    hflip_ok: bool = False  # is a horizontal flip label-preserving (clothes, objects, faces; not digits)
    # translation data (see ImageSet.sources): the input domain's channels (0: not a translation set), and whether
    # each input is its target's pair
    source_channels: int = 0
    paired: bool = False
    # captioned data (see ImageSet.captions): the words, and the length in ids of a stored caption
    vocab: tuple[str, ...] = ()
    caption_length: int = 0

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DataSpec:
        d = dict(d)
        d["class_names"] = tuple(d.get("class_names", ()))
        d["attr_names"] = tuple(d.get("attr_names", ()))
        d["vocab"] = tuple(d.get("vocab", ()))
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in dataclasses.fields(cls)}})


@dataclass
class Batch:
    """One training batch: float images on the model's device, optional labels and attributes."""

    x: torch.Tensor
    y: torch.Tensor | None = None
    attrs: torch.Tensor | None = None
    src: torch.Tensor | None = None  # translation data: the input-domain images (floats, as x)
    text: torch.Tensor | None = None  # captioned data: one caption per image, B x L int64 ids (genzoo.data.text)

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device, memory_format=torch.contiguous_format) -> Batch:
        def mv(t):
            return None if t is None else t.to(device, non_blocking=True)

        x = self.x.to(device, non_blocking=True)
        if memory_format is not torch.contiguous_format and x.dim() == 4:
            x = x.contiguous(memory_format=memory_format)
        return Batch(x, mv(self.y), mv(self.attrs), mv(self.src), mv(self.text))


def to_float(x: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """uint8 [0, 255] -> float32 in `value_range` (the one place where images become floats)."""
    lo, hi = value_range
    return x.to(torch.float32).mul_((hi - lo) / 255.0).add_(lo)


def from_unit(x01: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """Float images in [0, 1] (where attack budgets are measured) -> the same images in `value_range`."""
    lo, hi = value_range
    return x01 * (hi - lo) + lo


def to_unit(x: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """Float images in `value_range` -> the same images in [0, 1] (the inverse of `from_unit`)."""
    lo, hi = value_range
    return (x - lo) / (hi - lo)


def to_uint8(x: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """float in `value_range` -> uint8 [0, 255], clamped and rounded."""
    lo, hi = value_range
    return ((x.detach().float() - lo) * (255.0 / (hi - lo))).round_().clamp_(0, 255).to(torch.uint8)


@dataclass
class ImageSet:
    """Images (uint8, N x C x H x W), labels (int64 or None), attributes (N x A in {0,1} or None).

    A translation set (pix2pix, CycleGAN) also holds `sources`, images of the input domain A (uint8,
    N x Cs x H x W, the same height and width), with their own labels: `images` is the output domain B. Paired:
    `sources[i]` is the input whose translation is `images[i]`; unpaired: the two domains are independent
    collections (a batch draws each in its own order) that happen to be stored with equal counts.

    A captioned set (text-to-image, captioning) also holds `captions`, K descriptions of each image as token ids
    (N x K x L int64: words, `<eos>`, then `<pad>` = 0) in the words of `vocab` (see genzoo.data.text).
    """

    images: torch.Tensor
    labels: torch.Tensor | None = None
    attrs: torch.Tensor | None = None
    attr_names: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    name: str = ""
    hflip_ok: bool = False
    num_classes: int = field(default=-1)
    sources: torch.Tensor | None = None
    source_labels: torch.Tensor | None = None
    paired: bool = False
    captions: torch.Tensor | None = None
    vocab: tuple[str, ...] = ()

    def __post_init__(self):
        x = self.images
        if not isinstance(x, torch.Tensor) or x.dtype != torch.uint8 or x.dim() != 4:
            raise DataError(
                f"ImageSet {self.name!r}: images must be a uint8 tensor of shape N x C x H x W, got "
                f"{getattr(x, 'dtype', type(x))} {tuple(getattr(x, 'shape', ()))}")
        if x.shape[1] not in (1, 3):
            raise DataError(f"ImageSet {self.name!r}: expected 1 or 3 channels, got {x.shape[1]} "
                            "(images must be N x C x H x W)")
        n = x.shape[0]
        if self.labels is not None:
            self.labels = torch.as_tensor(self.labels, dtype=torch.int64)
            if self.labels.shape != (n,):
                raise DataError(f"ImageSet {self.name!r}: {n} images but labels of shape "
                                f"{tuple(self.labels.shape)}")
        if self.attrs is not None:
            if self.attrs.dim() != 2 or self.attrs.shape[0] != n:
                raise DataError(f"ImageSet {self.name!r}: {n} images but attributes of shape "
                                f"{tuple(self.attrs.shape)}")
            if self.attr_names and len(self.attr_names) != self.attrs.shape[1]:
                raise DataError(f"ImageSet {self.name!r}: {self.attrs.shape[1]} attribute columns but "
                                f"{len(self.attr_names)} names")
        self._check_sources()
        self._check_captions()
        self.class_names = tuple(self.class_names)
        self.attr_names = tuple(self.attr_names)
        if self.num_classes < 0:
            if self.class_names:
                self.num_classes = len(self.class_names)
            elif self.labels is not None and n:
                self.num_classes = int(self.labels.max()) + 1
            else:
                self.num_classes = 0

    def _check_sources(self) -> None:
        s, n = self.sources, len(self.images)
        if s is None:
            if self.source_labels is not None or self.paired:
                raise DataError(f"ImageSet {self.name!r}: source labels or paired=True without source images")
            return
        if not isinstance(s, torch.Tensor) or s.dtype != torch.uint8 or s.dim() != 4 or s.shape[1] not in (1, 3):
            raise DataError(f"ImageSet {self.name!r}: sources must be a uint8 tensor of shape N x C x H x W with 1 or "
                            f"3 channels, got {getattr(s, 'dtype', type(s))} {tuple(getattr(s, 'shape', ()))}")
        if s.shape[0] != n or s.shape[2:] != self.images.shape[2:]:
            raise DataError(f"ImageSet {self.name!r}: {n} target images of {tuple(self.images.shape[1:])} but sources "
                            f"of shape {tuple(s.shape)}: translation data needs as many sources as targets, of "
                            "the same height and width")
        if self.source_labels is not None:
            self.source_labels = torch.as_tensor(self.source_labels, dtype=torch.int64)
            if self.source_labels.shape != (n,):
                raise DataError(f"ImageSet {self.name!r}: {n} sources but source labels of shape "
                                f"{tuple(self.source_labels.shape)}")

    def _check_captions(self) -> None:
        c, n = self.captions, len(self.images)
        self.vocab = tuple(self.vocab)
        if c is None:
            return
        if not isinstance(c, torch.Tensor) or c.dtype != torch.int64 or c.dim() != 3 or c.shape[0] != n \
                or c.shape[1] < 1 or c.shape[2] < 2:
            raise DataError(f"ImageSet {self.name!r}: captions must be an int64 tensor of shape N x K x L (K "
                            f"captions of L ids for each of the {n} images), got {getattr(c, 'dtype', type(c))} "
                            f"{tuple(getattr(c, 'shape', ()))}")
        if n and (int(c.min()) < 0 or int(c.max()) >= len(self.vocab)):
            raise DataError(f"ImageSet {self.name!r}: caption ids outside the vocabulary of {len(self.vocab)} words")

    # ---- basic facts -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def spec(self) -> DataSpec:
        c, h, w = self.shape
        sc = 0 if self.sources is None else self.sources.shape[1]
        length = 0 if self.captions is None else self.captions.shape[2]
        return DataSpec(c, h, w, self.num_classes, self.class_names, self.attr_names, self.name, self.hflip_ok,
                        sc, self.paired, self.vocab, length)

    def __repr__(self) -> str:
        c, h, w = self.shape
        extra = f", {self.num_classes} classes" if self.labels is not None else ""
        extra += f", {len(self.attr_names)} attributes" if self.attrs is not None else ""
        if self.sources is not None:
            extra += f", {'paired' if self.paired else 'unpaired'} with {self.sources.shape[1]}-channel sources"
        if self.captions is not None:
            extra += f", {self.captions.shape[1]} captions each in {len(self.vocab)} words"
        return f"ImageSet({self.name!r}, {len(self)} images {c}x{h}x{w}{extra})"

    # ---- subsets -----------------------------------------------------------------------------
    def subset(self, index: torch.Tensor | slice | list[int]) -> ImageSet:
        """A new ImageSet holding the rows in `index` (tensor of indices, list, or slice)."""
        if isinstance(index, list):
            index = torch.as_tensor(index, dtype=torch.int64)

        def pick(t):
            return None if t is None else t[index]

        return dataclasses.replace(self, images=self.images[index], labels=pick(self.labels),
                                   attrs=pick(self.attrs), sources=pick(self.sources),
                                   source_labels=pick(self.source_labels), captions=pick(self.captions))

    def take(self, n: int) -> ImageSet:
        return self.subset(slice(0, min(n, len(self))))

    def split(self, holdout: float | int, seed: int = 0) -> tuple[ImageSet, ImageSet]:
        """Random split into (rest, holdout); `holdout` is a fraction (< 1) or a count."""
        n = len(self)
        k = int(round(holdout * n)) if isinstance(holdout, float) and holdout < 1 else int(holdout)
        if not 0 < k < n:
            raise DataError(f"cannot hold out {holdout} of {n} images")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        return self.subset(perm[k:].sort().values), self.subset(perm[:k].sort().values)

    def per_class(self, n_per_class: int, seed: int = 0) -> ImageSet:
        """A class-balanced random subset with `n_per_class` images of each class."""
        if self.labels is None:
            raise DataError(f"{self.name}: per-class subsets need labels")
        g = torch.Generator().manual_seed(seed)
        picks = []
        for c in range(self.num_classes):
            idx = (self.labels == c).nonzero().flatten()
            picks.append(idx[torch.randperm(len(idx), generator=g)[:n_per_class]])
        return self.subset(torch.cat(picks).sort().values)

    # ---- batching ----------------------------------------------------------------------------
    def steps_per_epoch(self, batch_size: int, world_size: int = 1) -> int:
        per_rank = len(self) // world_size
        steps = per_rank // batch_size
        if steps == 0:
            raise DataError(f"{self.name}: {len(self)} images are too few for batch size {batch_size}"
                            f"{f' x {world_size} processes' if world_size > 1 else ''}; lower --batch-size")
        return steps

    def epoch_order(self, seed: int, epoch: int) -> torch.Tensor:
        """The shuffled order of epoch `epoch`: a pure function of (seed, epoch)."""
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        return torch.randperm(len(self), generator=g)

    def batches(self, batch_size: int, seed: int = 0, epoch: int = 0, start: int = 0,
                rank: int = 0, world_size: int = 1, with_index: bool = False) -> Iterator[tuple[torch.Tensor, ...]]:
        """Yield (images uint8, labels | None, attrs | None, sources uint8 | None, captions | None) for one epoch,
        from batch `start` on; captions: one of each image's K captions (B x L ids), picked at random per epoch.
        With `with_index` a sixth item follows: the images' indices in this set (for augmentations that are a
        function of the image and the epoch, such as airbench's alternating flip).

        Incomplete final batches are dropped (fixed steps per epoch keeps resume arithmetic exact and
        batchnorm away from tiny batches). With `world_size` > 1 each rank gets a disjoint shard. Unpaired
        sources come in an order of their own (also a pure function of seed and epoch).
        """
        order = self.epoch_order(seed, epoch)
        src_order = order if self.paired else self.epoch_order(seed + 7919, epoch)
        text = None
        if self.captions is not None:  # which caption of each image this epoch shows: also a pure function
            g = torch.Generator().manual_seed(seed * 1_000_003 + epoch + 104_729)
            pick = torch.randint(self.captions.shape[1], (len(self),), generator=g)
            text = self.captions[torch.arange(len(self)), pick]
        if world_size > 1:
            order, src_order = order[rank::world_size], src_order[rank::world_size]
        steps = self.steps_per_epoch(batch_size, world_size)
        for i in range(start, steps):
            sl = slice(i * batch_size, (i + 1) * batch_size)
            idx = order[sl]
            batch = (self.images[idx],
                     None if self.labels is None else self.labels[idx],
                     None if self.attrs is None else self.attrs[idx],
                     None if self.sources is None else self.sources[src_order[sl]],
                     None if text is None else text[idx])
            yield (*batch, idx) if with_index else batch

    def iter_ordered(self, batch_size: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """All images in stored order (for evaluation), last batch possibly smaller."""
        for i in range(0, len(self), batch_size):
            sl = slice(i, i + batch_size)
            yield (self.images[sl],
                   None if self.labels is None else self.labels[sl],
                   None if self.attrs is None else self.attrs[sl])
