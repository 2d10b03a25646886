"""Metric tests write their feature cache to a temporary folder, never to ~/.cache."""

import pytest
import torch

from genzoo.data.imageset import ImageSet, to_float


@pytest.fixture(scope="session", autouse=True)
def feature_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("xdg-cache")
        mp.setenv("XDG_CACHE_HOME", str(root))
        yield root / "genzoo"


class StandIn(torch.nn.Module):
    """A generative model whose samples are known: it 'samples' images of an ImageSet (optionally only
    some classes, or of the requested labels when `conditional`), or uniform noise when data is None."""

    input_range = (-1.0, 1.0)
    name = "stand-in"

    def __init__(self, data: ImageSet | None, classes: tuple[int, ...] | None = None, conditional: bool = False):
        super().__init__()
        self.data, self.conditional = data, conditional
        self.spec = data.spec if data is not None else None
        keep = torch.arange(len(data)) if data is not None else None
        if classes is not None:
            keep = torch.cat([(data.labels == c).nonzero().flatten() for c in classes])
        self.keep = keep

    def sample(self, n, labels=None, generator=None):
        if self.data is None:
            return torch.rand(n, 1, 28, 28, generator=generator) * 2 - 1
        if labels is None:
            idx = self.keep[torch.randint(len(self.keep), (n,), generator=generator)]
        else:  # a random image of each requested class
            by_class = [(self.data.labels == c).nonzero().flatten() for c in range(self.data.num_classes)]
            idx = torch.stack([by_class[c][torch.randint(len(by_class[c]), (1,), generator=generator)[0]]
                               for c in labels.tolist()])
        return to_float(self.data.images[idx], self.input_range)


@pytest.fixture
def stand_in():
    return StandIn
