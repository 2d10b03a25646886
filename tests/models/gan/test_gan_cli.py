"""`genzoo train dcgan` and `genzoo sample` end to end (tiny networks, a few steps)."""

import json

import numpy as np
from PIL import Image

from genzoo.training.trainer import cpu_has_native_bf16


def test_train_then_sample_views(cli, tmp_path):
    run = tmp_path / "run"
    r = cli("train", "dcgan", "--steps", "6", "--batch-size", "16", "--out", str(run), "--lr", "1e-3",
            "--set", "g_width=8", "d_width=8", "z_dim=8", "ema=0.9", "data.limit=96", "train.sample_every=3",
            "train.log_every=3", "train.eval_samples=100", "train.eval_metrics=fid", check=True)
    assert f"samples: {run / 'samples' / 'step-0000006.png'}" in r.stdout
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-0000003.png", "step-0000006.png"]
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model_config"]["lr_g"] == cfg["model_config"]["lr_d"] == 1e-3  # --lr sets both (TTUR keys)
    # the preset's trainer default, fp32 where the CPU has no native bf16 (tests/training/test_default_precision.py)
    assert cfg["train"]["precision"] == ("bf16" if cpu_has_native_bf16() else "fp32")
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss_d" in r]
    assert {"loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"} <= set(train_rows[-1])
    assert rows[-1]["step"] == 6 and rows[-1]["test_fid"] > 0  # the final evaluation row

    r = cli("sample", str(run), "--n", "10", "--out", str(tmp_path / "grid.png"), "--out-dir", str(tmp_path / "png"),
            check=True)
    assert (tmp_path / "grid.png").is_file() and "wrote 10 images" in r.stdout
    one = np.asarray(Image.open(tmp_path / "png" / "000000.png"))
    assert one.shape == (28, 28) and len(list((tmp_path / "png").iterdir())) == 10

    cli("sample", str(run), "--interpolate", "--n", "8", "--steps", "4", "--slerp", "--out",
        str(tmp_path / "interp.png"), check=True)
    w, h = Image.open(tmp_path / "interp.png").size
    # 2 rows x 4 steps of 28 px upscaled 3x, 2 px padding; start ... end labels on top
    assert w == 4 * 86 + 2 and 2 * 86 + 2 < h < 2 * 86 + 2 + 40
    r = cli("sample", str(run), "--arithmetic", "0,1-2+3", "--n", "8", check=True)
    assert (run / "samples" / "arithmetic.png").is_file()
    r = cli("sample", str(run), "--arithmetic", "0+99", "--n", "8")
    assert r.returncode == 2 and "0..7" in r.stderr and "Traceback" not in r.stderr
    r = cli("sample", str(run), "--class-grid")
    assert r.returncode == 2 and "not available" in r.stderr
