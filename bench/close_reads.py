"""Task reads while a reassignment's close settle is pending (issue 14, migration 0009).

A reassignment marks the moved tasks (task.close_run_id) and, once published, every task read
counts a marked task as closed through runs.task_visible until the close settle has written
'cancelled' over them (a few seconds at 500,000). This measures what those seconds cost the
reads: on bench/_data.big_project (1M datapoints) every datapoint is assigned to two
annotators, then one's 500,000 open tasks are moved to the other with the close settle
stopped after its first step (as Cancel does), and the reads are timed (best of 5) before,
with the marks pending, and after settling them (runs.settle_pending, as the next open does):

    python bench/close_reads.py [--rows 1000000]

Measured twice on the shared two-core machine (load average ~5-6), 1M datapoints, 498,000
marks left:

    read                                     nothing pending   closes pending   settled
    runs.task_where (the probe)              0.1 ms            0.1 ms           0.1 ms
    list_annotators (team counts)            0.17 / 0.12 s     1.00 / 1.62 s    0.08 / 0.08 s
    tasked_datapoints + list_annotators      2.67 / 3.57 s     4.98 / 2.24 s    2.98 / 2.03 s

(the second read returns a million ids: the load's noise is larger than the marks' cost), and
the close settle itself: 498,000 tasks in 5.1 / 5.7 s (steps of about 0.3 s). The reads are
slower only for those seconds: while marks are left they check each task's run and mark
(the row, not only ix_task_annotator), as they do while any run is loading.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TAGLOOP_CONFIG_DIR", tempfile.mkdtemp(prefix="tagloop-bench-"))

from bench._data import OUT, big_project


def best(fn: Callable[[], object], n: int = 5) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    from app.core.project.project import open_project
    from app.core.storage import runs
    from app.core.team.assign import add_annotator, generate_tasks, list_annotators, reassign
    from app.core.team.tasks import tasked_datapoints

    path = OUT / "close_reads.tagloop"
    shutil.copyfile(big_project(args.rows), path)
    try:
        with open_project(path, sweep=False) as project:
            for name in ("ann-1", "ann-2"):
                add_annotator(project, name)
            generate_tasks(project, ["ann-1", "ann-2"], force=True)

            def probe() -> object:
                with project.engine.connect() as conn:
                    return runs.task_where(conn)

            def both() -> object:
                with project.engine.connect() as conn:
                    tasked_datapoints(conn, "label")
                return list_annotators(project)

            def line(state: str) -> None:
                print(
                    f"{state:<16} task_where {1000 * best(probe):.1f} ms, list_annotators"
                    f" {best(lambda: list_annotators(project)):.2f} s, tasked_datapoints +"
                    f" list_annotators {best(both):.2f} s",
                    flush=True,
                )

            line("nothing pending")
            messages: list[str] = []
            reassign(
                project,
                "ann-2",
                "ann-1",
                progress=lambda _d, _t, message: messages.append(message),
                cancel=lambda: "Closing moved tasks" in messages,  # after the first close step
            )
            with project.engine.connect() as conn:
                left = conn.exec_driver_sql(
                    "SELECT count(*) FROM task WHERE close_run_id IS NOT NULL"
                ).scalar()
            line(f"{left:,} marks")
            started = time.perf_counter()
            closed = runs.settle_pending(project.engine)
            print(f"close settle: {closed:,} tasks in {time.perf_counter() - started:.1f} s")
            line("settled")
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        for backup in path.parent.glob(f"{path.name}.bak-*"):
            backup.unlink()


if __name__ == "__main__":
    main()
