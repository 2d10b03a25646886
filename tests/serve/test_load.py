"""A small version of bench/serve_load.py: concurrent clients against the real server (uvicorn on a
loopback port), every answer a valid PNG of the grid's size, no failure."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.serve.conftest import NEEDS

pytest.importorskip("fastapi", reason=NEEDS)
pytest.importorskip("uvicorn", reason=NEEDS)

from genzoo.serve.app import create_app, loopback_hosts  # noqa: E402
from genzoo.serve.server import BackgroundServer  # noqa: E402

BENCH = Path(__file__).resolve().parents[2] / "bench" / "serve_load.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("serve_load", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_concurrent_grid_requests_all_succeed(served):
    bench = load_bench()
    with BackgroundServer(create_app(served[:1], allowed_hosts=loopback_hosts("127.0.0.1"))) as url:
        res = bench.run_load(url, clients=4, requests=40, n=64, size=(8 * 30 + 2, 8 * 30 + 2), deadline_s=120)
    assert res["failures"] == 0, res["failure_examples"]
    assert res["ok"] == 40 and res["p50_ms"] <= res["p95_ms"] <= res["max_ms"]


def test_check_png_finds_what_is_wrong():
    bench = load_bench()
    assert bench.check_png(b"GIF89a") == "not a PNG"
    assert bench.check_png(b"\x89PNG\r\n\x1a\n" + b"\0" * 20).startswith("does not decode")
