"""`python -m app` is the same as the `tagloop` command, and this is the frozen app's entry.

In the frozen build (packaging/tagloop.spec) the same executable also runs the spawned worker
processes (app/workers/process.py): freeze_support() turns such a start into the worker.
"""

import importlib
import multiprocessing
import sys

from app.cli.main import main
from app.core.offline import deny_network, skip_ipv6_probe

if __name__ == "__main__":
    skip_ipv6_probe()  # before a worker starts, so a worker is quiet and watched too
    deny_network()
    multiprocessing.freeze_support()
    if sys.argv[1:2] == ["--self-check"] and getattr(sys, "frozen", False):
        # packaging/frozen_check.py, shipped only inside the frozen build
        raise SystemExit(importlib.import_module("frozen_check").main(sys.argv[2:]))
    raise SystemExit(main())
