"""A child process killed outright (SIGKILL) midway through a long write: the tests of every
chunked writer (import, dataset removal, assignment, automation run) kill one the same way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def kill_at_first_chunk(script: str, *args: object) -> int:
    """Run `script` (`python -c`) with `args` in a child process, wait until it prints
    "chunk" (it has committed a chunk and holds no lock), kill it with SIGKILL and reap it;
    its pid (the loader tags it left behind name it)."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *(str(arg) for arg in args)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "chunk"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    return child.pid
