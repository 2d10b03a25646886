import os
import sys

from genzoo.cli import run
from genzoo.training.distributed import from_env

status = run()
if from_env().enabled:
    # a data-parallel worker (torchrun) leaves without interpreter finalization: tearing down with gloo's
    # threads alive aborted about 1 run in 4 after training had finished ('terminate called without an
    # active exception', torch 2.13); its files are all written and closed by now
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
raise SystemExit(status)
