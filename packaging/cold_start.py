"""Start-up of the frozen GUI to a usable window on the 1M-row project (target <= 1.5 s).

    python packaging/cold_start.py [DIST] [--rows 1000000] [--runs 5]

Like bench/startup.py, but runs DIST/tagloop (the frozen build) instead of `python -m app`.
"Cold" runs first evict every file of the build and the project from the OS page cache
(posix_fadvise DONTNEED: no root needed, and it leaves other programs' cache alone), as after
a reboot; "warm" runs are a second start. The app prints one line when its window has
painted the first page of rows (TAGLOOP_BENCH_READY), then quits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_S = 1.5


def evict(paths: list[Path]) -> None:
    """Drop these files' pages from the page cache, so the next start reads them from disk."""
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def run_once(binary: Path, project: Path, config: str) -> tuple[float, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": config,
        "XDG_CONFIG_HOME": config,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "TAGLOOP_BENCH_READY": "1",
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(binary), "gui", str(project)], stdout=subprocess.PIPE, text=True, env=env
    )
    line = proc.stdout.readline() if proc.stdout else ""
    elapsed = time.perf_counter() - started
    proc.wait(timeout=120)
    if not line.startswith("ready"):
        raise SystemExit(f"the frozen app did not report a usable window (exit {proc.returncode})")
    return elapsed, line.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dist", nargs="?", default=ROOT / "dist" / "tagloop", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("TAGLOOP_CONFIG_DIR", tempfile.mkdtemp(prefix="tagloop-bench-"))
    from bench._data import big_project

    project = big_project(args.rows)
    binary = args.dist.resolve() / "tagloop"
    files = [p for p in args.dist.rglob("*") if p.is_file()] + [project]
    config = tempfile.mkdtemp(prefix="tagloop-cold-")
    results: dict[str, list[float]] = {"cold": [], "warm": []}
    line = ""
    for _ in range(args.runs):
        evict(files)
        results["cold"].append(run_once(binary, project, config)[0])
        elapsed, line = run_once(binary, project, config)
        results["warm"].append(elapsed)
    print(f"frozen build: {binary}; project: {project.name} ({args.rows:,} rows)")
    for kind, times in results.items():
        print(
            f"  {kind} start to usable window: median {statistics.median(times):.2f} s,"
            f" max {max(times):.2f} s over {args.runs} runs (target <= {TARGET_S} s)"
        )
    print(f"  app reported: {line}")


if __name__ == "__main__":
    main()
