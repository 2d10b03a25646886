import pytest
import torch

from genzoo.errors import CheckpointError
from genzoo.train import checkpoint as ckpt


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "last.pt"
    ckpt.save({"w": torch.ones(3)}, path)

    def broken(f):
        f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        ckpt.atomic_write(path, broken)
    assert torch.equal(ckpt.load(path)["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_load_is_weights_only_and_reports_corruption(tmp_path):
    path = tmp_path / "c.pt"
    ckpt.save({"rng": ckpt.rng_state(), "x": [1, 2.0, "a", None]}, path)
    state = torch.load(path, weights_only=True)
    assert state["x"] == [1, 2.0, "a", None]
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="c.pt cannot be read.*corrupt"):
        ckpt.load(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        ckpt.load(tmp_path / "missing.pt")


def test_rng_state_round_trip():
    import random

    import numpy as np

    ckpt.seed_everything(5)
    state = ckpt.rng_state()
    a = (torch.rand(3), np.random.rand(2), random.random())
    torch.rand(7), np.random.rand(4), random.random()
    ckpt.set_rng_state(state)
    b = (torch.rand(3), np.random.rand(2), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
