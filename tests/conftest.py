"""Shared fixtures: the real datasets in ../shared/data (skipped cleanly when absent), tiny data,
and a helper to run the `genzoo` command in a subprocess."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GENZOO_SHARED_DATA", ROOT.parent / "shared" / "data"))

# Under pytest-xdist (`-n 2`) each worker gets one core: two workers at one thread each keep both cores busy
# through the many tests bound by Python overhead or a subprocess, where one process at two threads leaves one idle.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = max(1, min(2, torch.get_num_threads()) // _WORKERS)
torch.set_num_threads(THREADS)
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
# torch.compile's on-disk kernel cache does not tell CPU kernel settings apart: kernels built under the native
# ones failed when reused under ATEN_CPU_CAPABILITY=avx2 ("tuple args required"), so each setting gets its own
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) /
                                                     f"genzoo-inductor-{torch.backends.cpu.get_cpu_capability()}"))


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test with the reason when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data not available: {p} is absent (set GENZOO_SHARED_DATA to its folder)")
    return p


@pytest.fixture
def shared_data() -> Path:
    return shared_path()


@pytest.fixture(scope="session")
def mini():
    """The embedded mnist-mini training split."""
    from genzoo.data import load

    return load("mnist-mini")


@pytest.fixture(scope="session")
def mini_test():
    from genzoo.data import load

    return load("mnist-mini", split="test")


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
    """Run `python -m genzoo ARGS` and return the completed process (text output)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    if env:
        e.update(env)
    proc = subprocess.run([sys.executable, "-m", "genzoo", *args], cwd=cwd, env=e, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"genzoo {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_cli_here(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    """`genzoo ARGS` run in this process through `genzoo.cli.main`, with the result `run_cli` gives (exit status,
    stdout, stderr; warnings printed to stderr as a fresh process prints them). It saves the interpreter and
    torch start-up (~3 s a call); tests of the process itself (signals, environment, `python -m genzoo`) use
    run_cli."""
    from genzoo.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("always")
        try:
            rc = main([str(a) for a in args])
        except SystemExit as e:  # argparse: --help, usage errors
            rc = e.code if isinstance(e.code, int) else int(e.code is not None)
    proc = subprocess.CompletedProcess(["genzoo", *args], rc, out.getvalue(), err.getvalue())
    if check and rc != 0:
        raise AssertionError(f"genzoo {' '.join(map(str, args))} failed ({rc}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def cli():
    return run_cli_here
