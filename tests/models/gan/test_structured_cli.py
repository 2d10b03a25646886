"""`genzoo train/sample/eval` for InfoGAN (--codes) and BiGAN (--reconstruct), and --codes' error elsewhere."""

import json

from PIL import Image

TINY = ["arch=fc", "g_hidden=0", "d_hidden=0", "g_width=8", "d_width=8", "z_dim=4", "data.limit=64",
        "train.eval_samples=100", "train.eval_metrics=fid", "train.precision=fp32"]


def test_infogan_codes_view_and_eval(cli, tmp_path):
    run = tmp_path / "info"
    cli("train", "infogan", "--steps", "3", "--batch-size", "16", "--out", str(run), "--set", *TINY, check=True)
    r = cli("sample", str(run), "--codes", "--steps", "5", "--out", str(tmp_path / "codes.png"), check=True)
    assert "wrote" in r.stdout
    # 10 columns (the categorical code's values; the 5-step sweeps are padded); rows: 10 for the
    # categorical block, 10 for each of the 2 continuous codes, and 2 blank separator rows; 28 px upscaled 3x
    # + 2 padding
    assert Image.open(tmp_path / "codes.png").size == (10 * 86 + 2, 32 * 86 + 2)
    r = cli("eval", str(run), "--n", "200", "--metrics", "fid", check=True)
    m = json.loads((run / "metrics.json").read_text())
    assert {"code_accuracy", "q_accuracy", "q_cluster_accuracy", "fid"} <= set(m)
    assert 0 <= m["code_accuracy"] <= 1


def test_codes_view_needs_codes_and_bigan_reconstructs(cli, tmp_path):
    run = tmp_path / "bigan"
    cli("train", "bigan", "--steps", "2", "--batch-size", "16", "--out", str(run), "--set", *TINY, "z_branch=8",
        "joint_hidden=8", check=True)
    r = cli("sample", str(run), "--codes")
    assert r.returncode == 2 and "--codes sweeps latent codes (infogan); bigan has none" in r.stderr
    assert "Traceback" not in r.stderr
    cli("sample", str(run), "--reconstruct", "--n", "8", "--out", str(tmp_path / "rec.png"), check=True)
    w, h = Image.open(tmp_path / "rec.png").size  # input and output rows, labelled at the left
    assert h == 2 * 86 + 2 and 8 * 86 + 2 < w < 8 * 86 + 2 + 100
