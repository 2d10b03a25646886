"""The `genzoo` command end to end (one real `python -m genzoo` process, the rest through genzoo.cli.main), including
error exits."""

import json

import pytest

from tests.conftest import run_cli, shared_path


@pytest.mark.parametrize("cmd", [[], ["train"], ["eval"], ["sample"], ["list"], ["data"], ["data", "list"],
                                 ["data", "info"], ["data", "fetch"], ["attack"], ["viz"],
                                 ["list-layers"]])
def test_help_has_examples(cli, cmd):
    r = cli(*cmd, "--help")
    assert r.returncode == 0 and "usage: genzoo" in r.stdout and "examples:" in r.stdout


def test_list(cli):
    r = cli("list", check=True)
    assert "classifier" in r.stdout
    r = cli("list", "classifier", check=True)
    assert "label_smoothing" in r.stdout and "fast|airbench|classic" in r.stdout


def test_train_eval_end_to_end(cli, tmp_path):
    out = tmp_path / "run"
    # a real `python -m genzoo` process (the other calls run genzoo.cli.main in this one)
    r = run_cli("train", "classifier", "--steps", "30", "--batch-size", "32", "--out", str(out), "--lr", "0.05",
            "--set", "width=4", "data.limit=1000", "train.log_every=10", check=True)
    assert f"run folder: {out}" in r.stdout and "evaluation took" in r.stdout
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in rows if "loss" in x] == [10, 20, 30]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_config"]["lr"] == 0.05 and cfg["data"] == {"name": "mnist-mini", "limit": 1000}
    r = cli("eval", str(out), check=True)
    assert "test_accuracy" in r.stdout and "confusion matrix" in r.stdout
    m = json.loads((out / "metrics.json").read_text())
    assert 0.1 < m["test_accuracy"] <= 1.0 and len(m["test_confusion_matrix"]) == 10
    assert 0 < m["train_eval_seconds"] < m["train_wall_seconds"]  # the one evaluation at the end, timed
    # a run folder cannot be trained into twice
    r = cli("train", "classifier", "--steps", "1", "--out", str(out))
    assert r.returncode == 2 and "--resume" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["train", "clasifier"], "unknown model 'clasifier'. Did you mean classifier"),
    (["train", "classifier", "--set", "widht=3"], "Did you mean width"),
    (["train", "classifier", "--set", "width=abc"], "width: cannot use 'abc'"),
    (["train", "classifier", "--data", "mnist", "--data-dir", "/nonexistent"], "genzoo data fetch mnist"),
    (["train", "classifier", "--data", "frey", "--data-dir", "/nonexistent"], "dataset 'frey' not found"),
    (["train", "--resume", "/nonexistent/run"], "does not exist"),
    (["eval", "/nonexistent/run"], "does not exist"),
    (["train"], "name a model"),
    (["data", "info", "cifar-100"], "unknown dataset"),
])
def test_user_errors_are_one_clear_line(cli, args, message):
    r = cli(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_unlabelled_data_for_classifier_is_a_clear_error(cli):
    root = shared_path("frey-faces")
    r = cli("train", "classifier", "--data", "frey", "--data-dir", str(root.parent), "--steps", "1")
    assert r.returncode == 2 and "at least 2 classes" in r.stderr and "Traceback" not in r.stderr


def test_corrupt_checkpoint_is_a_clear_error(cli, tmp_path):
    out = tmp_path / "run"
    cli("train", "classifier", "--steps", "2", "--batch-size", "16", "--out", str(out), "--quiet", "--set",
        "width=4", "data.limit=64", check=True)
    (out / "checkpoints" / "last.pt").write_bytes(b"garbage")
    r = cli("train", "--resume", str(out))
    assert r.returncode == 2 and "corrupt" in r.stderr and "Traceback" not in r.stderr


def test_data_commands(cli):
    r = cli("data", "list", check=True)
    assert "mnist-mini" in r.stdout and "embedded" in r.stdout
    r = cli("data", "info", "mnist-mini", check=True)
    assert "train: 10000 images 1x28x28" in r.stdout and "test: 2000 images" in r.stdout
    r = cli("data", "fetch", "mnist-mini", check=True)
    assert "embedded" in r.stdout


def test_classifier_on_colour_cifar_files(cli, tmp_path):
    from tests.data.test_formats import write_cifar

    write_cifar(tmp_path / "cifar10", n=40)
    out = tmp_path / "run"
    cli("train", "classifier", "--data", "cifar10", "--data-dir", str(tmp_path), "--steps", "3", "--batch-size",
        "20", "--out", str(out), "--quiet", "--set", "width=4", check=True)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["data_spec"]["channels"] == 3 and cfg["data_spec"]["hflip_ok"] is True
    r = cli("eval", str(out), check=True)
    assert "airplane" in r.stdout  # per-class table uses the class names from batches.meta


# the console script and `python -m genzoo` flush float32 denormals before torch's thread pool starts (x86 computes
# on them many times slower); `main`, which tests call in-process, leaves the float mode alone
_DENORMAL_SEEN = ("import sys, torch; import genzoo.cli as c; "
                  "c.main = lambda: print((torch.full((4000,), 1e-39) * 1.0).abs().max().item()) or 0; {call}")


@pytest.mark.parametrize("call", ["import runpy; runpy.run_module('genzoo', run_name='__main__')",
                                  "from importlib.metadata import entry_points; "
                                  "sys.exit(entry_points(group='console_scripts')['genzoo'].load()())"])
def test_the_command_flushes_denormals(call):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _DENORMAL_SEEN.format(call=call)], capture_output=True, text=True,
                         check=True)
    assert float(out.stdout.split()[-1]) == 0.0


def test_main_leaves_denormals_alone(capsys):
    import torch

    from genzoo.cli import main

    assert main(["list"]) == 0
    assert (torch.full((3,), 1e-39) * 1.0).min().item() > 0


@pytest.mark.parametrize("error, failed", [
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
                  "tried to allocate 720000000000 bytes. Error code 12 (Cannot allocate memory)"),
     "could not allocate 670.6 GiB"),
    (RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.19 GiB total capacity)"),
     "could not allocate 20.00 GiB"),
    (MemoryError("Unable to allocate 5.36 GiB for an array with shape (60000, 3, 100, 80)"),
     "could not allocate 5.36 GiB"),
    (MemoryError(), "an allocation failed"),
    (RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 4x5)"), None),
], ids=["cpu", "cuda", "numpy", "bare", "not-memory"])
def test_out_of_memory_is_recognised_with_its_size(error, failed):
    from genzoo.cli import _out_of_memory

    assert _out_of_memory(error) == failed


def test_other_runtime_errors_are_not_hidden(monkeypatch):
    """Only running out of memory becomes a one-line error; any other RuntimeError is a bug and keeps its
    traceback."""
    import genzoo.cli

    def broken(args):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 4x5)")

    monkeypatch.setattr(genzoo.cli, "cmd_list", broken)
    with pytest.raises(RuntimeError, match="mat1 and mat2"):
        genzoo.cli.main(["list"])


@pytest.mark.parametrize("argv, advice", [
    (["attack", "RUN"], "lower --batch-size"),
    (["viz", "RUN"], "fewer images (-n, --target, --channels)"),
    (["project", "RUN", "a.png"], "fewer --starts"),
    (["caption", "RUN", "a.png"], "smaller --beam"),
    (["data", "info", "mnist"], "use a machine with more memory"),
], ids=["attack", "viz", "project", "caption", "data"])
def test_out_of_memory_advice_fits_the_command(monkeypatch, capsys, argv, advice):
    """Each command's advice names its own size knobs; train's (model width, batch) would mislead elsewhere."""
    import genzoo.cli

    def out_of_memory(args):
        raise MemoryError("Unable to allocate 5.36 GiB for an array with shape (60000, 3, 100, 80)")

    func = {"attack": "cmd_attack", "viz": "cmd_viz", "project": "cmd_project", "caption": "cmd_caption",
            "data": "cmd_data_info"}[argv[0]]
    monkeypatch.setattr(genzoo.cli, func, out_of_memory)
    assert genzoo.cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genzoo: error: out of memory: could not allocate 5.36 GiB; ") and "\n" not in err, err
    assert advice in err and "width keys" not in err, err


@pytest.mark.parametrize("errno_name, said", [
    ("ENOSPC", "/out/grid.png: no space left on the device ("),
    ("EACCES", "/out/grid.png: permission denied; check its permissions"),
    ("EROFS", "/out/grid.png: the filesystem is read-only; choose a writable place"),
    ("EIO", "/out/grid.png: input/output error"),
])
def test_a_full_or_unwritable_disk_is_one_line(monkeypatch, capsys, errno_name, said):
    """Writes outside the atomic checkpoint path (grids, pages, caches) that the machine refuses end in one line
    naming the file; any other OSError keeps its traceback."""
    import errno
    import os

    import genzoo.cli

    def failing(args):
        code = getattr(errno, errno_name)
        raise OSError(code, os.strerror(code), "/out/grid.png")

    monkeypatch.setattr(genzoo.cli, "cmd_list", failing)
    assert genzoo.cli.main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("genzoo: error: " + said) and err.count("\n") == 1, err


def test_other_os_errors_keep_their_traceback(monkeypatch):
    import errno

    import genzoo.cli

    def failing(args):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(genzoo.cli, "cmd_list", failing)
    with pytest.raises(OSError, match="Bad file descriptor"):
        genzoo.cli.main(["list"])


def test_data_dir_with_the_embedded_default_says_it_is_unused(tmp_path, capsys):
    """`genzoo train MODEL --data-dir D` without --data trains on the embedded mnist-mini; it says so instead of
    leaving the user to believe D was read."""
    from genzoo.cli import main

    assert main(["train", "classifier", "--data-dir", str(tmp_path), "--steps", "1", "--batch-size", "8", "--quiet",
                 "--out", str(tmp_path / "run"), "--set", "width=4", "data.limit=16"]) == 0
    err = capsys.readouterr().err
    assert "note: --data-dir is unused: mnist-mini is embedded in genzoo" in err and "--data mnist" in err, err
