"""`genzoo report RUN --watch [SECONDS]`: rewrite the report every SECONDS while the run trains.

While the run trains the page carries a meta refresh, so an open browser tab follows it. The loop ends when
the run is no longer training (it recorded its end, or the process holding its lock is gone) or on Ctrl-C;
either way a last report without the refresh is written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from genzoo.report.page import write_report
from genzoo.report.rundata import read_run


def watch(run_dir: str | os.PathLike, seconds: float, out: str | os.PathLike | None = None,
          log: Callable[[str], None] = print, sleep: Callable[[float], None] = time.sleep) -> Path:
    """Write the report every `seconds` while the run trains; returns the path of the last one."""
    announced = False
    try:
        while read_run(run_dir).running:
            path = write_report(run_dir, out, refresh=seconds)
            if not announced:
                log(f"watching {run_dir}: {path} is rewritten every {seconds:g} s while it trains (Ctrl-C stops)")
                announced = True
            sleep(seconds)
    except KeyboardInterrupt:
        log("stopped watching")
    path = write_report(run_dir, out)
    log(f"run {read_run(run_dir).status}; wrote {path}")
    return path
