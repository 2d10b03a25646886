"""`genzoo train|sample|eval` for the conditional GANs end to end (tiny networks, a few steps)."""

import json

from PIL import Image

TRAIN = ("--steps", "6", "--batch-size", "16", "--set", "g_width=8", "d_width=8", "z_dim=8", "data.limit=96",
         "train.eval_samples=100", "train.eval_metrics=fid")


def error(r, *words):
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def test_class_conditional_views_and_eval(cli, tmp_path):
    run = tmp_path / "run"
    cli("train", "cdcgan", "--out", str(run), *TRAIN, check=True)
    r = cli("sample", str(run), "--labels", "0,1,2", "--n", "6", "--out-dir", str(tmp_path / "png"), check=True)
    assert "wrote 6 images" in r.stdout
    cli("sample", str(run), "--class-grid", "--n", "20", "--out", str(tmp_path / "grid.png"), check=True)
    w, h = Image.open(tmp_path / "grid.png").size  # 10 classes x 2 styles, 84 px cells, class names at the left
    assert h == 10 * 86 + 2 and 2 * 86 + 2 < w < 2 * 86 + 2 + 60
    cli("sample", str(run), "--class-grid", "--labels", "3,5", "--n", "8", "--out", str(tmp_path / "g2.png"),
        check=True)
    w, h = Image.open(tmp_path / "g2.png").size
    assert h == 2 * 86 + 2 and 4 * 86 + 2 < w < 4 * 86 + 2 + 60
    error(cli("sample", str(run), "--labels", "12"), "0..9")
    error(cli("sample", str(run), "--attrs", "even=1"), "not conditioned on attributes")
    cli("eval", str(run), "--n", "200", "--metrics", "fid,cacc,cfid", check=True)
    m = json.loads((run / "metrics.json").read_text())
    assert 0 <= m["cond_accuracy"] <= 1 and len(m["cond_accuracy_per_class"]) == 10
    assert len(m["fid_per_class"]) == 10 and m["fid_class_mean"] > 0


def test_attribute_views_and_eval(cli, tmp_path):
    run = tmp_path / "attr"
    cli("train", "attr-gan", "--data", "mnist-mini-attrs", "--out", str(run), *TRAIN, check=True)
    r = cli("sample", str(run), "--attrs", "even=1,closed_loop=0", "--n", "8", check=True)
    assert (run / "samples" / "attrs.png").is_file() and "attrs.png" in r.stdout
    error(cli("sample", str(run), "--attrs", "Smiling=1"), "unknown attribute 'Smiling'",
          "even, at_least_5, closed_loop")
    error(cli("sample", str(run), "--attrs", "even=2"), "NAME=0 or NAME=1")
    error(cli("sample", str(run), "--class-grid"), "not class-conditional", "--attrs")
    error(cli("sample", str(run), "--labels", "1"), "use --attrs")
    cli("eval", str(run), "--n", "200", "--metrics", "fid", check=True)
    m = json.loads((run / "metrics.json").read_text())
    assert 0 <= m["attr_accuracy"] <= 1 and set(m["attr_accuracy_per_attr"]) == {"even", "at_least_5", "closed_loop"}
    assert m["fid"] > 0 and 0 <= m["attr_exact"] <= m["attr_accuracy"]
