"""Two tiny real runs, trained once per session with `genzoo train` in-process (so the report written at
the end of training is exercised too): a DCGAN with an FID evaluation, and a classifier."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from genzoo.cli import main

GAN = ["train", "dcgan", "--steps", "4", "--batch-size", "16", "--quiet", "--set", "g_width=8", "d_width=8",
       "z_dim=8", "data.limit=96", "train.log_every=1", "train.sample_every=2", "train.eval_samples=100",
       "train.eval_metrics=fid", "train.precision=fp32"]
CLF = ["train", "classifier", "--steps", "3", "--batch-size", "16", "--quiet", "--set", "width=4", "data.limit=64",
       "train.log_every=1"]


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report-runs")
    assert main([*GAN, "--out", str(root / "gan")]) == 0
    assert main([*CLF, "--out", str(root / "clf")]) == 0
    return root


@pytest.fixture
def gan_run(trained, tmp_path) -> Path:
    return Path(shutil.copytree(trained / "gan", tmp_path / "gan"))


@pytest.fixture
def clf_run(trained, tmp_path) -> Path:
    return Path(shutil.copytree(trained / "clf", tmp_path / "clf"))
