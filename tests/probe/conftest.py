"""Tiny trained runs for `genzoo attack` and `genzoo viz`: made once per session, copied into each test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from genzoo.cli import main


def _main(*argv: str) -> None:
    assert main(list(argv)) == 0, argv


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Path:
    """runs/clf: a classifier of about 90% test accuracy on mnist-mini; runs/gan: a 2-step DCGAN."""
    root = tmp_path_factory.mktemp("probe-runs")
    _main("train", "classifier", "--steps", "120", "--batch-size", "64", "--set", "width=8", "data.limit=3000",
          "tta=none", "--out", str(root / "clf"), "--quiet")
    _main("train", "dcgan", "--steps", "2", "--batch-size", "16", "--set", "g_width=8", "d_width=8", "z_dim=8",
          "data.limit=64", "train.eval_samples=100", "train.eval_metrics=fid", "--out", str(root / "gan"), "--quiet")
    return root


@pytest.fixture
def runs(trained, tmp_path) -> Path:
    shutil.copytree(trained, tmp_path / "runs")
    return tmp_path / "runs"
