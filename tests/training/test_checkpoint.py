import errno
import hashlib
import io
import os
import random

import pytest
import torch

from genzoo import checkpoint as ckpt
from genzoo.errors import CheckpointError


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "last.pt"
    ckpt.save({"w": torch.ones(3)}, path)

    def broken(f):
        f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(CheckpointError, match=r"could not write .*last.pt: disk full.*keeps its previous version"):
        ckpt.atomic_write(path, broken)
    assert torch.equal(ckpt.load(path)["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_enospc_mid_write_names_the_file_and_the_free_space(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    ckpt.save({"w": torch.ones(3)}, path)
    before = path.read_bytes()

    def disk_fills_up(f, data):
        f.write(bytes(data[:100]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ckpt, "_write_bytes", disk_fills_up)
    with pytest.raises(CheckpointError) as e:
        ckpt.save({"w": torch.zeros(1000)}, path, then="continue with `genzoo train --resume RUN`")
    msg = str(e.value)
    assert str(path) in msg and "no space left on the device" in msg and "MiB free" in msg
    assert "Free some space, then continue with `genzoo train --resume RUN`." in msg and "\n" not in msg
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_file_size_limit_is_explained(tmp_path, monkeypatch):
    def too_big(f, data):
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))

    monkeypatch.setattr(ckpt, "_write_bytes", too_big)
    with pytest.raises(CheckpointError, match=r"new.pt: file too large.*ulimit -f.*new.pt was not written"):
        ckpt.save({"w": torch.ones(3)}, tmp_path / "new.pt")
    assert list(tmp_path.iterdir()) == []


def test_load_is_weights_only_and_reports_corruption(tmp_path):
    path = tmp_path / "c.pt"
    ckpt.save({"rng": ckpt.rng_state(), "x": [1, 2.0, "a", None]}, path)
    assert ckpt.load(path)["x"] == [1, 2.0, "a", None]
    outer = torch.load(path, weights_only=True)  # the file itself is weights-only data too
    assert outer["genzoo_checkpoint"] == 2 and outer["payload"].dtype == torch.uint8
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="c.pt cannot be read.*corrupt"):
        ckpt.load(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        ckpt.load(tmp_path / "missing.pt")


def test_checkpoints_written_before_the_checksum_still_load(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"format": 1, "w": torch.arange(4.0)}, path)
    assert torch.equal(ckpt.load(path)["w"], torch.arange(4.0))


def _flip(data: bytes, i: int, bit: int) -> bytes:
    bad = bytearray(data)
    bad[i] ^= 1 << bit
    return bytes(bad)


def test_every_flipped_bit_is_caught_or_harmless(tmp_path):
    # torch.load alone loads most flipped bits silently as other numbers; the checksum must catch them
    path = tmp_path / "last.pt"
    state = {"w": torch.randn(64, generator=torch.Generator().manual_seed(0)), "step": 7}
    ckpt.save(state, path)
    good = path.read_bytes()
    inner = torch.load(path, weights_only=True)["payload"].numpy().tobytes()
    start = good.find(inner)  # the serialised state is stored verbatim inside the file
    assert start > 0
    rng = random.Random(0)
    for n in range(200):
        # half the flips anywhere, half inside the serialised state (its pickle, tensor bytes, zip records)
        i = rng.randrange(len(good)) if n % 2 else start + rng.randrange(len(inner))
        path.write_bytes(_flip(good, i, rng.randrange(8)))
        try:
            loaded = ckpt.load(path)
        except CheckpointError as e:
            assert any(w in str(e) for w in ("damaged", "cannot be read", "not loaded")), e
            assert n % 2 or "checksum mismatch" in str(e), e
            continue
        # a flip in bytes the content does not depend on (zip padding, ...) may load: then unchanged
        assert n % 2 and loaded["step"] == 7 and torch.equal(loaded["w"], state["w"]), f"byte {i} was missed"


def test_checksum_mismatch_message(tmp_path):
    path = tmp_path / "last.pt"
    ckpt.save({"w": torch.zeros(256)}, path)
    outer = torch.load(path, weights_only=True)
    outer["payload"][-40] ^= 4  # inside the tensor data of the payload
    torch.save(outer, path)
    with pytest.raises(CheckpointError, match=r"last.pt is damaged \(checksum mismatch\).*retrain"):
        ckpt.load(path)


class _Code:
    """A pickle that runs a command when loaded without weights_only."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_holding_code_is_refused_unrun(tmp_path):
    marker = tmp_path / "code-ran"
    bare = tmp_path / "bare.pt"
    torch.save({"training_state": _Code(marker)}, bare)
    with pytest.raises(CheckpointError, match=r"bare.pt refers to \S*system, .*not loaded.*could run code"):
        ckpt.load(bare)
    # the same code inside a well-formed envelope with a correct checksum
    buf = io.BytesIO()
    torch.save({"training_state": _Code(marker)}, buf)
    data = buf.getvalue()
    wrapped = tmp_path / "wrapped.pt"
    torch.save({"genzoo_checkpoint": 2, "sha256": hashlib.sha256(data).hexdigest(),
                "payload": torch.frombuffer(bytearray(data), dtype=torch.uint8)}, wrapped)
    with pytest.raises(CheckpointError, match="wrapped.pt refers to .*system.*not loaded"):
        ckpt.load(wrapped)
    assert not marker.exists()


def test_rng_state_round_trip():
    import numpy as np

    ckpt.seed_everything(5)
    state = ckpt.rng_state()
    a = (torch.rand(3), np.random.rand(2), random.random())
    torch.rand(7), np.random.rand(4), random.random()
    ckpt.set_rng_state(state)
    b = (torch.rand(3), np.random.rand(2), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_remove_temp_files_of_cut_short_writes(tmp_path):
    for name in (".last.pt.a1.tmp", ".metrics.json.b2.tmp", ".report.html.c3.tmp", "last.pt", "notes.tmp"):
        (tmp_path / name).write_bytes(b"x")
    ckpt.remove_temp_files(tmp_path, ("metrics.json",))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".last.pt.a1.tmp", ".report.html.c3.tmp", "last.pt",
                                                          "notes.tmp"]
    ckpt.remove_temp_files(tmp_path)  # every temp file of an atomic write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "notes.tmp"]


def test_concurrent_metrics_updates_lose_nothing(tmp_path):
    """`genzoo eval` and the trainer may both update metrics.json: every figure of both must survive."""
    import threading

    from genzoo.runs import RunDir

    run = RunDir(tmp_path)

    def writer(name):
        for i in range(40):
            RunDir(tmp_path).update_metrics({f"{name}_{i}": i})

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("train", "eval")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    figures = run.read_metrics()
    assert len(figures) == 80 and figures["eval_39"] == 39 and figures["train_0"] == 0


def test_lock_holder_alive_reads_the_pid_runlock_writes(tmp_path):
    import subprocess
    import sys

    from genzoo.runs import RunLock, lock_holder_alive

    assert not lock_holder_alive(tmp_path)  # no lock file
    with RunLock(tmp_path):
        assert not lock_holder_alive(tmp_path)  # held by this very process: it is not training now
    (tmp_path / ".lock").write_text(f"{os.getppid()}\n")
    assert lock_holder_alive(tmp_path)  # a live process's pid
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / ".lock").write_text(done.stdout)
    assert not lock_holder_alive(tmp_path)  # the file outlives its process
    (tmp_path / ".lock").write_text("garbage\n")
    assert not lock_holder_alive(tmp_path)


@pytest.mark.parametrize("where", ["notes.txt", "notes.txt/run"])
def test_a_run_folder_where_a_file_stands_is_a_clear_error(tmp_path, where):
    """The Python API's guard (the CLI checks --out before loading data): a file at or above the run folder."""
    from genzoo.runs import RunLock

    (tmp_path / "notes.txt").write_text("mine\n")
    with pytest.raises(CheckpointError, match="choose another --out") as e:
        RunLock(tmp_path / where).acquire()
    expected = "is a file, not a folder" if where == "notes.txt" else "cannot be written (Not a directory)"
    assert expected in str(e.value)
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
