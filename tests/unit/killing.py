"""A child process killed outright (SIGKILL) midway through a long write: the tests of every
chunked writer (import, dataset removal, assignment, automation run) kill one the same way."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def stalled(script: str, *args: object) -> Iterator[int]:
    """Run `script` (`python -c`) with `args` in a child process until it prints "chunk" (it
    has committed a chunk of its run and holds no lock); the block runs meanwhile, given the
    child's pid; then the child is killed with SIGKILL and reaped."""
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
        yield child.pid
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


def kill_at_first_chunk(script: str, *args: object) -> int:
    """Kill a `stalled` child at once; its pid (the loader tags it left behind name it)."""
    with stalled(script, *args) as pid:
        return pid


def killed_import(arguments: str = "") -> str:
    """The script (argv: project, file) of an import that commits chunks of 5 rows and stalls
    after the first, printing "chunk", until kill_at_first_chunk kills it; `arguments` are
    more keyword arguments of import_dataset (e.g. 'annotator="Dr Killed"')."""
    extra = f", {arguments}" if arguments else ""
    return textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from app.core.io.importer import import_dataset
        from app.core.project.project import open_project
        from app.core.storage import staging

        staging.next_chunk = lambda *args, **kwargs: 5

        def stall(done, total, message):
            if message.startswith("Reading"):
                print("chunk", flush=True)
                time.sleep(600)  # until the test kills this process

        with open_project(Path(sys.argv[1])) as project:
            import_dataset(
                project, Path(sys.argv[2]), label_column="label", progress=stall{extra}
            )
        """
    )
