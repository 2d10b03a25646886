"""Tiny trained runs for the explorer's tests, trained once per session (a few steps each, seconds)."""

from __future__ import annotations

import pytest

import genzoo
from genzoo.training import TrainConfig, Trainer

NEEDS = "genzoo serve needs the `serve` extra: pip install -e '.[serve]'"

# name -> (model, config overrides): an unconditional GAN, a class-conditional GAN, a 2-D latent VAE
# (manifold, encoder), InfoGAN (latent codes)
TINY = {
    "dcgan": ("dcgan", {"g_width": 8, "d_width": 8}),
    "cgan": ("cgan", {"g_width": 16, "d_width": 16}),
    "vae2d": ("vae", {"latent_dim": 2, "hidden": (32,)}),
    "infogan": ("infogan", {"g_width": 8, "d_width": 8, "q_hidden": 16}),
}


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> dict:
    """{name: run folder} for TINY, each trained for 4 steps of 16 images of mnist-mini."""
    root = tmp_path_factory.mktemp("serve-runs")
    data = genzoo.load_data("mnist-mini", limit=256)
    out = {}
    for name, (model_name, overrides) in TINY.items():
        model = genzoo.build(model_name, data.spec, seed=0, **overrides)
        cfg = TrainConfig(steps=4, batch_size=16, progress=False, log_every=2, tensorboard=False)
        Trainer(model, data, cfg, run_dir=root / name, log=lambda *a, **k: None).fit()
        out[name] = root / name
    return out


@pytest.fixture(scope="session")
def served(tiny_runs):
    """The loaded runs, in TINY's order (index 0: dcgan, 1: cgan, 2: vae2d, 3: infogan)."""
    from genzoo.serve.app import load_runs

    return load_runs([tiny_runs[name] for name in TINY])


@pytest.fixture(scope="session")
def client(served):
    from fastapi.testclient import TestClient

    from genzoo.serve.app import create_app

    with TestClient(create_app(served), raise_server_exceptions=False) as c:
        yield c
