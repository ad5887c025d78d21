"""Editor latency on a 1M-datapoint project, driven with QTest key events (offscreen).

Prints:
- opening the annotation queue over 1M datapoints;
- p50/p95/p99 from a label keypress to the next item painted, over N label-and-advance
  steps (target p95 <= 16 ms), and the time until each step's write has committed;
- the time to open a 50,000-character document in the span editor (target <= 100 ms);
- the time to label 500 selected cards in the bulk grid, keypress to committed (<= 200 ms).

Usage: python bench/editor_latency.py [--rows 1000000] [--steps 1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _data import OUT, big_project, real_texts


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def wait_painted(app, view, since: float, limit: float = 5.0) -> float:
    """Process events until the text view paints after `since`; the paint's time."""
    deadline = time.perf_counter() + limit
    while view.last_paint <= since and time.perf_counter() < deadline:
        app.processEvents()
    return view.last_paint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    os.environ["TAGLOOP_CONFIG_DIR"] = tempfile.mkdtemp(prefix="tagloop-bench-")

    from PySide6.QtCore import QItemSelection, QItemSelectionModel
    from PySide6.QtTest import QTest

    from app.core.annotation.worklist import WorklistSpec
    from app.core.io.importer import import_dataset
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project, open_project
    from app.views.app import make_application
    from app.views.editor import AnnotationSession, make_editor
    from app.views.editor.grid import BulkGrid
    from app.workers.writer import Writer

    app = make_application()
    source = big_project(args.rows)
    path = OUT / f"editor_{args.rows}.tagloop"
    # Labeling must not change the project other benches use; the backup API copies a
    # consistent snapshot, WAL included.
    path.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    project = open_project(path)
    writer = Writer()
    session = AnnotationSession(project, writer)
    editor = make_editor(session)
    view = editor.text_view
    view.last_paint = 0.0
    view.painted.connect(lambda at: setattr(view, "last_paint", at))
    editor.resize(1200, 760)
    editor.show()
    app.processEvents()

    started = time.perf_counter()
    session.open_queue(WorklistSpec())
    wait_painted(app, view, started)
    opened = time.perf_counter() - started
    print(f"open the unlabeled queue over {len(session):,} datapoints: {opened * 1000:.0f} ms")

    latencies, commits = [], []
    for step in range(args.steps):
        before = session.item.id
        pressed = time.perf_counter()
        QTest.keyClick(editor, "1" if step % 3 else "2")
        painted = wait_painted(app, view, pressed)
        if session.item.id == before:
            raise SystemExit(f"step {step}: the editor did not advance")
        latencies.append((painted - pressed) * 1000)
        if step % 100 == 0:  # how long until the label is on disk, now and then
            writer.flush()
            commits.append((time.perf_counter() - pressed) * 1000)
    writer.flush()
    app.processEvents()
    labeled = session.labeled
    print(
        f"label and advance, {args.steps:,} steps: keypress to next item painted"
        f" p50 {percentile(latencies, 50):.1f} ms, p95 {percentile(latencies, 95):.1f} ms,"
        f" p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms (target p95 <= 16)"
    )
    print(
        f"  keypress to committed (sampled): median {statistics.median(commits):.1f} ms;"
        f" labeled now {labeled:,}"
    )

    # Bulk: 500 selected cards, one keypress, one transaction.
    grid = BulkGrid(session)
    grid.resize(1200, 760)
    grid.show()
    while grid.model.rowCount() < 500 and grid.model.canFetchMore():
        grid.model.fetchMore()
    selection = QItemSelection(grid.model.index(0), grid.model.index(499))
    grid.view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.Select)
    app.processEvents()
    pressed = time.perf_counter()
    QTest.keyClick(grid.view, "2")
    writer.flush()
    app.processEvents()
    bulk = (time.perf_counter() - pressed) * 1000
    print(f"bulk label 500 selected items, keypress to committed: {bulk:.0f} ms (target <= 200)")
    grid.close()
    editor.close()
    writer.shutdown()
    project.close()
    path.unlink()

    # A 50,000-character document in the span editor.
    texts = real_texts()
    document, i = [], 0
    while sum(map(len, document)) < 50_000:
        document.append(texts[i % len(texts)])
        i += 1
    body = " ".join(document)[:50_000]
    folder = Path(tempfile.mkdtemp(prefix="tagloop-span-"))
    spans_project = create_project(
        folder / "long.tagloop", "spans", [LabelSpec("Disease"), LabelSpec("Gene")]
    )
    (folder / "long.txt").write_text(body.replace("\n", " ") + "\nshort one\n", "utf-8")
    import_dataset(spans_project, folder / "long.txt")
    writer = Writer()
    session = AnnotationSession(spans_project, writer)
    editor = make_editor(session)
    view = editor.text_view
    view.last_paint = 0.0
    view.painted.connect(lambda at: setattr(view, "last_paint", at))
    editor.resize(1200, 760)
    editor.show()
    session.open_queue(WorklistSpec())
    session.go(1)
    wait_painted(app, view, 0)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        session.go(0)  # the 50k document (cached after the first read, like a prefetch)
        wait_painted(app, view, started)
        timings.append((time.perf_counter() - started) * 1000)
        session.go(1)
        wait_painted(app, view, time.perf_counter())
    print(
        f"open a {len(body):,}-character document in the span editor: first"
        f" {timings[0]:.0f} ms, median {statistics.median(timings):.0f} ms (target <= 100)"
    )
    session.go(0)
    wait_painted(app, view, 0)
    view.verticalScrollBar().setValue(view.verticalScrollBar().maximum() * 4 // 5)
    started = time.perf_counter()
    view.select(40_000, 40_010)
    QTest.keyClick(view, "1")
    wait_painted(app, view, started)
    print(f"  tag a span near the end: {(time.perf_counter() - started) * 1000:.0f} ms")
    editor.close()
    writer.shutdown()
    spans_project.close()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
