"""kill -9 training runs of every model family at random moments, resume them, check they end bit-identical.

For each family (dcgan with EMA, wgan-gp with its critic steps, vae, conv-ae, cdcgan, infogan) one
uninterrupted reference run, then victim chains (trials): each run is killed -9 up to --per-trial times
(mid-step, between steps, inside a checkpoint write, on a timer, before the first checkpoint: a random mix,
random moments), resumed with `genzoo train --resume` after each kill, and finally resumed to the end; its
final checkpoint (networks, EMA, optimizers, schedulers, RNG states, counters) and metrics.jsonl must equal
the reference's bit for bit, with no temp file left. The kills and checks are those of
tests/training/test_kill_resume.py (tests/training/killchain.py), with more kills.

Usage (from a genzoo checkout):

    python scripts/kill_resume.py                      # 10 kills per family
    python scripts/kill_resume.py --kills 3 --families vae,dcgan --seed 1

Prints a table and writes JSON (default bench/results/kill_resume.json).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.training import killchain as kc  # noqa: E402  (the test's helpers: one copy of the kill machinery)


def kinds_for(rng: random.Random, n: int) -> list[str]:
    """n kinds of kill: each of write, mid_step, between, timer before any repeats, `early` sometimes first."""
    base = ["write", "mid_step", "between", "timer"]
    rng.shuffle(base)
    kinds = (base * (n // len(base) + 1))[:n]
    if rng.random() < 0.3:
        kinds[0] = "early"
    return kinds


def run_family(family: str, kills: int, per_trial: int, rng: random.Random, work: Path) -> dict:
    t0 = time.monotonic()
    ref_dir = work / f"{family}-reference"
    ref = kc.reference(family, ref_dir)
    trials, done, problems = [], 0, []
    while done < kills:
        n = min(per_trial, kills - done)
        out = work / f"{family}-trial{len(trials)}"
        res = kc.chain(family, out, kinds_for(rng, n), rng)
        if not trials:  # the reference ran alongside the first chain
            stdout, stderr = ref.communicate(timeout=600)
            if ref.returncode != 0:
                raise SystemExit(f"{family}: the reference run failed:\n{stdout}\n{stderr}")
        diff = kc.differences(ref_dir, out)
        same_log = kc.log_rows(out) == kc.log_rows(ref_dir)
        left = kc.leftovers(out)
        if diff or not same_log or left:
            problems.append({"trial": len(trials), "differences": diff[:20], "same_log": same_log, "leftovers": left})
        trials.append({"kills": res.kills, "kills_in_write": res.kills_in_write, "resumes": res.resumes,
                       "restarts": res.restarts, "from_scratch": res.from_scratch, "late_timers": res.late_timers,
                       "landed": res.landed, "identical": not diff and same_log and not left,
                       "seconds": round(res.seconds, 1)})
        done += max(res.kills, 1)
    return {"family": family, "trials": len(trials), "kills": sum(t["kills"] for t in trials),
            "kills_in_write": sum(t["kills_in_write"] for t in trials),
            "resumes": sum(t["resumes"] for t in trials), "identical": not problems,
            "seconds": round(time.monotonic() - t0, 1), "problems": problems, "runs": trials}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=10, help="kills per family")
    p.add_argument("--per-trial", type=int, default=4, help="kills per run before it may finish")
    p.add_argument("--families", default=",".join(kc.FAMILIES), help="comma-separated")
    p.add_argument("--seed", type=int, default=None, help="seed of the kill moments (default: random, printed)")
    p.add_argument("--out", default=str(ROOT / "bench/results/kill_resume.json"))
    p.add_argument("--keep", metavar="DIR", help="keep the run folders here (default: a temp folder, removed)")
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = sorted(set(families) - set(kc.FAMILIES))
    if unknown:
        p.error(f"unknown families {unknown}; choose from {list(kc.FAMILIES)}")
    print(f"kill -9 / resume: {args.kills} kills per family, seed {seed}, {kc.STEPS} steps per run, "
          f"checkpoint every {kc.CHECKPOINT_EVERY}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kill-resume-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for family in families:
            rows.append(run_family(family, args.kills, args.per_trial, random.Random(f"{seed}-{family}"), work))
            r = rows[-1]
            print(f"  {family}: {r['kills']} kills, identical: {'yes' if r['identical'] else 'NO'}", flush=True)
    header = (f"{'family':<10} {'trials':>6} {'kills':>6} {'in write':>9} {'resumes':>8} {'identical':>10} "
              f"{'seconds':>8}")
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['family']:<10} {r['trials']:>6} {r['kills']:>6} {r['kills_in_write']:>9} {r['resumes']:>8} "
              f"{'yes' if r['identical'] else 'NO':>10} {r['seconds']:>8.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"seed": seed, "kills_per_family": args.kills, "steps": kc.STEPS, "checkpoint_every": kc.CHECKPOINT_EVERY,
              "families": rows, "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
              "command": " ".join(sys.argv)}
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
