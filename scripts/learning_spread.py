"""Measure the spread of every learning test's figures over seeds and CPU kernel settings.

A learning test (marked `@pytest.mark.learning`) reports the figures it asserts on through
`tests.learning.record`. This script runs `pytest -m learning` once per (kernel setting, seed) with
GENZOO_LEARNING_SEED and GENZOO_LEARNING_RECORD set, then prints, per test and figure, the range over
all runs and per setting, and writes bench/results/learning_spread.json. Each threshold in the tests is
set with a clear margin from these ranges, and its comment quotes them.

Kernel settings (PyTorch picks its vectorised kernels by CPU; these force a narrower set so one machine
shows what another CPU type would compute):
  native   whatever this CPU offers (AVX-512 here, AMX on recent Xeons)
  avx2     ATen, oneDNN and MKL limited to AVX2 (as on an AVX2-only machine; CI re-runs the learning
           tests under this setting)
  default  ATen without vector kernels, oneDNN/MKL limited to SSE4 (the most different sums)

    python scripts/learning_spread.py --seeds 0 1 2 3 4 --settings native avx2 default

Each run uses pytest-xdist workers at one thread each, as the README's test command does (`-n auto`; pass
`-- -n 0` for one process at two threads, the setting before 2026-12-03).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SETTINGS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "default": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
                "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
}


def run_once(setting: str, seed: int, record: Path, extra: list[str]) -> dict:
    env = {**os.environ, **SETTINGS[setting], "GENZOO_LEARNING_SEED": str(seed),
           "GENZOO_LEARNING_RECORD": str(record), "GENZOO_LEARNING_SETTING": setting}
    t = time.time()
    # as the README's test command runs them: pytest-xdist workers at one thread each (tests/conftest.py)
    workers = [] if any(a.startswith(("-n", "--numprocesses")) for a in extra) else ["-n", "auto"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "learning", "-q", "-p", "no:cacheprovider",
                           "-W", "ignore", *workers, *extra], cwd=ROOT, env=env, capture_output=True, text=True)
    tail = [ln for ln in proc.stdout.splitlines() if " passed" in ln or " failed" in ln or " error" in ln][-1:] or [""]
    failed = [ln.split(" ")[1] for ln in proc.stdout.splitlines() if ln.startswith("FAILED ")]
    return {"setting": setting, "seed": seed, "returncode": proc.returncode, "summary": tail[0],
            "failed": failed, "seconds": round(time.time() - t, 1)}


def summarise(rows: list[dict]) -> dict:
    """{test: {figure: {"all": [min, max, mean], setting: [min, max]}}}"""
    values: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in rows:
        for k, v in r["figures"].items():
            values[r["test"]][k][r["setting"]].append(v)
    out: dict = {}
    for test, figs in sorted(values.items()):
        out[test] = {}
        for k, per in figs.items():
            every = [v for vs in per.values() for v in vs]
            entry = {"all": [min(every), max(every), sum(every) / len(every)], "n": len(every)}
            entry.update({s: [min(vs), max(vs)] for s, vs in per.items()})
            out[test][k] = entry
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--records", default=str(RESULTS / "learning_spread"),
                   help="folder keeping one JSON-lines file per (setting, seed) run; runs already there are reused")
    p.add_argument("--rerun", action="store_true", help="run again even where a record exists")
    p.add_argument("--out", default=str(RESULTS / "learning_spread.json"))
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments (e.g. a test file to narrow the run)")
    args = p.parse_args()
    records = Path(args.records)
    records.mkdir(parents=True, exist_ok=True)
    runs, rows = [], []
    for setting in args.settings:
        for seed in args.seeds:
            record = records / f"{setting}-seed{seed}.jsonl"
            if args.rerun or not record.is_file():
                fresh = record.with_suffix(".partial")
                fresh.unlink(missing_ok=True)
                run = run_once(setting, seed, fresh, args.pytest_args)
                runs.append(run)
                print(f"{setting:<8} seed {seed}: {run['summary']} ({run['seconds']} s)"
                      + (f"  failed: {', '.join(run['failed'])}" if run["failed"] else ""), flush=True)
                if fresh.is_file():
                    merge(fresh, record)
            if record.is_file():
                rows += [{**json.loads(line), "setting": setting} for line in record.read_text().splitlines()]
    table = summarise(rows)
    print(f"\n{'test / figure':<78} {'min':>9} {'max':>9}  per setting")
    for test, figs in table.items():
        print(test.replace("tests/", ""))
        for k, e in figs.items():
            per = "  ".join(f"{s} {v[0]:.4g}..{v[1]:.4g}" for s, v in e.items() if s not in ("all", "n"))
            print(f"    {k:<74} {e['all'][0]:>9.4g} {e['all'][1]:>9.4g}  {per}")
    Path(args.out).write_text(json.dumps({"runs": runs, "spread": table}, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 0


def merge(fresh: Path, record: Path) -> None:
    """Newer figures of a test replace older ones in `record` (a narrowed re-run keeps the rest)."""
    new = [json.loads(line) for line in fresh.read_text().splitlines()]
    tests = {r["test"] for r in new}
    old = [json.loads(line) for line in record.read_text().splitlines()] if record.is_file() else []
    kept = [r for r in old if r["test"] not in tests] + new
    record.write_text("".join(json.dumps(r) + "\n" for r in kept))
    fresh.unlink()


if __name__ == "__main__":
    raise SystemExit(main())
