"""Label saves during a long import in another process (issue 14, lock contention).

A child process imports a labelled CSV of N rows (default 500,000 real texts with a label
column). The import commits in short chunks (about 0.4 s of write lock each) under a dataset
that stays unseen until its last short transaction publishes it (app.core.storage.visibility);
before issue 14 it held the lock for its whole insert (23 s here, longer than the 10 s busy
timeout). Meanwhile this process makes label saves through the real commands
(SetAnnotations.apply, as the editor's writer does), one every --every seconds, until --saves
are done. Prints how many failed, whether any was lost, and the waits (the longest is what a
user would feel), and the import's chunks: how many, and the longest gap between two of them
(an upper bound of how long one chunk held the lock). Target: no save fails during a 500k-row
import, and no save waits much over a second.

    python bench/lock_contention.py [--rows 500000] [--saves 1000] [--every 0.03]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TAGLOOP_CONFIG_DIR", tempfile.mkdtemp(prefix="tagloop-bench-"))

from bench._data import labelled_csv  # noqa: E402

IMPORT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from app.core.io.importer import import_dataset
    from app.core.project.project import open_project
    gaps, last = [], [None]

    def chunk(done, total, message):
        # Reported between chunks: the gap between two reports bounds one chunk's lock time.
        if message.startswith("Reading"):
            now = time.perf_counter()
            if last[0] is not None:
                gaps.append(now - last[0])
            last[0] = now

    with open_project(Path(sys.argv[1])) as project:
        print("start", time.time(), flush=True)
        report = import_dataset(project, Path(sys.argv[2]), label_column="label", progress=chunk)
        print("committed", time.time(), report.rows, flush=True)
    print("chunks", time.time(), len(gaps) + 1, max(gaps, default=0.0), flush=True)
    print("done", time.time(), flush=True)
    """
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--saves", type=int, default=1000)
    parser.add_argument("--every", type=float, default=0.03, help="seconds between saves")
    args = parser.parse_args()

    from app.core.annotation.commands import AnnotationState, SetAnnotations
    from app.core.io.importer import import_dataset
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project

    source = labelled_csv(args.rows)
    work = Path(tempfile.mkdtemp(prefix="tagloop-lock-"))
    first = work / "first.txt"
    first.write_text("".join(f"item {i} to label\n" for i in range(args.saves)), "utf-8")
    project = create_project(
        work / "p.tagloop", "classification", [LabelSpec("ham"), LabelSpec("spam")]
    )
    import_dataset(project, first)
    me = project.local_annotator_id

    child = subprocess.Popen(
        [sys.executable, "-c", IMPORT, str(project.path), str(source)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    events: dict[str, float] = {}

    chunks: list[str] = []

    def read_child() -> None:
        for line in child.stdout:
            name, at, *rest = line.split()
            events[name] = float(at)
            if name == "chunks":
                chunks.extend(rest)

    reader = threading.Thread(target=read_child, daemon=True)
    reader.start()
    while "start" not in events and child.poll() is None:
        time.sleep(0.01)

    waits: list[float] = []
    failures: list[str] = []
    during = 0
    for i in range(args.saves):
        state = AnnotationState("spam" if i % 2 else "ham", "complete", 100)
        started = time.time()
        try:
            SetAnnotations(me, ((i + 1, state),)).apply(project)
        except Exception as exc:  # counted and shown: the target is none
            failures.append(f"{type(exc).__name__}: {exc}")
        ended = time.time()
        waits.append(ended - started)
        if "committed" not in events or started < events["committed"]:
            during += 1
        time.sleep(args.every)
    saves_ended = time.time()
    child.wait(timeout=3600)
    reader.join(timeout=10)

    conn = sqlite3.connect(project.path)
    saved = conn.execute(
        "SELECT count(*) FROM annotation WHERE annotator_id = ? AND status = 'complete'", (me,)
    ).fetchone()[0]
    imported = conn.execute("SELECT count(*) FROM datapoint").fetchone()[0] - args.saves
    conn.close()
    project.close()

    import_s = events.get("committed", float("nan")) - events.get("start", float("nan"))
    ordered = sorted(waits)
    print(f"import in another process: {imported:,} rows, committed in {import_s:.1f} s")
    print(
        f"label saves: {len(waits):,} ({during:,} began before the import committed),"
        f" over {saves_ended - events.get('start', saves_ended):.1f} s"
    )
    print(
        f"failed saves: {len(failures)}; saved {saved:,} of {args.saves:,}"
        f" (lost: {args.saves - len(failures) - saved})"
    )
    print(
        f"wait per save: median {statistics.median(ordered) * 1000:.1f} ms,"
        f" p99 {ordered[int(len(ordered) * 0.99) - 1] * 1000:.1f} ms,"
        f" longest {ordered[-1]:.2f} s; saves that waited over 1 s:"
        f" {sum(w > 1 for w in ordered)}"
    )
    if chunks:
        print(
            f"import chunks: {int(chunks[0]):,}, longest gap between two: {float(chunks[1]):.2f} s"
        )
    for failure in failures[:5]:
        print("  ", failure)
    return 1 if failures or saved != args.saves else 0


if __name__ == "__main__":
    raise SystemExit(main())
