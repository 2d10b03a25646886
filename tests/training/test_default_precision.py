"""A model's default bf16 falls back to fp32 on a CPU without native bf16 (where oneDNN emulates bf16 products, ~10x
slower than fp32); the user's own --precision is kept either way."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from genzoo.cli import main

TINY_DCGAN = ["train", "dcgan", "--data", "mnist-mini", "--steps", "1", "--batch-size", "8", "--quiet", "--set",
              "g_width=8", "d_width=8", "z_dim=8", "data.limit=64", "train.eval_samples=100",
              "train.eval_metrics=fid"]


def test_no_native_bf16_with_avx2_kernels():
    """ATEN_CPU_CAPABILITY=avx2 gives torch's AVX2 kernels, as on an AVX2-only CPU: no native bf16 then."""
    code = "from genzoo.training.trainer import cpu_has_native_bf16 as f; print(f())"
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "ATEN_CPU_CAPABILITY": "avx2"},
                       capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


@pytest.mark.parametrize("native,args,expected", [
    (False, [], "fp32"),
    (True, [], "bf16"),
    (False, ["--precision", "bf16"], "bf16"),
    (False, ["--set", "train.precision=bf16"], "bf16"),
    (True, ["--precision", "fp32"], "fp32"),
])
def test_a_models_bf16_default_becomes_fp32_without_native_bf16(monkeypatch, tmp_path, capsys, native, args,
                                                                 expected):
    import genzoo.training.trainer as trainer

    monkeypatch.setattr(trainer, "cpu_has_native_bf16", lambda: native)
    assert main([*TINY_DCGAN, *args, "--out", str(tmp_path / "run")]) == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["train"]
    assert saved["precision"] == expected
    said = "precision: fp32, not dcgan's default bf16: this CPU has no native bf16" in capsys.readouterr().out
    assert said == (not native and not args)
