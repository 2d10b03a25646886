"""kill -9 at random moments (mid-step, between steps, inside a checkpoint write, on a timer, before the
first checkpoint), then `--resume`, ends bit-identical to an uninterrupted run with the same seed, for each
model family. scripts/kill_resume.py runs the same chains with ten kills per family."""

import random

import pytest

from tests.training import killchain as kc

# the kinds of kill each family's chain gets, in order (moments drawn by a seeded RNG); every family has
# one inside a checkpoint write, and together they cover every kind
PLANS = {
    "dcgan": ["early", "write", "timer"],
    "wgan-gp": ["mid_step", "write", "between"],
    "vae": ["between", "timer", "write"],
    "conv-ae": ["write", "mid_step", "timer"],
    "cdcgan": ["early", "between", "write"],
    "infogan": ["timer", "write", "mid_step"],
}


@pytest.mark.parametrize("family", list(PLANS))
def test_kill_9_anywhere_then_resume_is_bit_identical(family, tmp_path):
    assert set(PLANS) == set(kc.FAMILIES)
    ref = kc.reference(family, tmp_path / "reference")  # runs alongside the victim chain
    try:
        res = kc.chain(family, tmp_path / "killed", PLANS[family], random.Random(f"kill-resume-{family}"))
    finally:
        out, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, out + err
    assert res.kills == 3, res.landed  # every planned kill landed...
    assert res.kills_in_write >= 1 and any(k["kind"] == "write" and k["in_write"] for k in res.landed), res.landed
    if "early" in PLANS[family]:  # ...the early one before the first checkpoint: resumed from step 0
        assert res.from_scratch >= 1, res.landed
    assert res.resumes + res.restarts == 3  # a kill before config.json was written: the first command again
    # every tensor of the final state (networks, EMA, optimizers, schedulers, RNGs, counters) is identical
    assert kc.differences(tmp_path / "reference", tmp_path / "killed") == [], res.landed
    # the log holds each row once, with the same values (the partial averages are in the checkpoint too)
    rows = kc.log_rows(tmp_path / "killed")
    assert rows == kc.log_rows(tmp_path / "reference")
    steps = [r["step"] for r in rows if "loss" in r or any(k.startswith("loss_") for k in r)]
    assert steps == list(range(kc.LOG_EVERY, kc.STEPS + 1, kc.LOG_EVERY))
    # no temp file of a cut-short write is left, and checkpoints/ holds checkpoints only
    assert kc.leftovers(tmp_path / "killed") == []
