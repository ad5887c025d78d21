"""Browse speed on a 1M-datapoint project: count + first page for each filter, and scrolling.

Each step is what the table does when the user changes a filter or scrolls: a count of the
matching rows and the page of rows shown. Target (issue 2): every step <= 50 ms.
The project is made by bench/_data.py (real text resampled, about 35% of it labeled).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TAGLOOP_CONFIG_DIR", tempfile.mkdtemp(prefix="tagloop-bench-"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench._data import big_project

PAGE = 200


def label_some(path: Path) -> None:
    """Label ~35% of the rows once (status + labels), so label/status filters have work to do."""
    import sqlite3

    conn = sqlite3.connect(path)
    if conn.execute("SELECT count(*) FROM annotation").fetchone()[0]:
        conn.close()
        return
    with conn:
        conn.execute(
            "INSERT INTO annotator (id, uuid, name, role, created_at)"
            " VALUES (99, 'bench', 'bench', 'annotator', '')"
        )
        conn.execute(
            "INSERT INTO annotation (id, uuid, datapoint_id, annotator_id, value, status,"
            " schema_version_id, time_spent_ms, origin, created_at, updated_at)"
            " SELECT id, lower(hex(randomblob(16))), id, 99,"
            " CASE WHEN id % 7 = 0 THEN '\"spam\"' ELSE '\"ham\"' END, 'complete', 1, 0,"
            " 'human', '', '' FROM datapoint WHERE id % 3 = 0"
        )
        conn.execute(
            "INSERT INTO annotation_label (annotation_id, label, datapoint_id)"
            " SELECT id, json_extract(value, '$'), datapoint_id FROM annotation"
        )
        conn.execute("UPDATE datapoint SET status = 1 WHERE id % 3 = 0")
        conn.execute("UPDATE datapoint SET status = 2 WHERE id % 101 = 1")
        conn.execute("UPDATE datapoint SET flagged = 1 WHERE id % 997 = 5")
    conn.close()


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    from app.core.annotation.browse import Browser, Query
    from app.core.project.project import open_project

    path = big_project(args.rows)
    label_some(path)
    project = open_project(path)
    browser = Browser(project)
    steps = {
        "all": Query(),
        "status=unlabeled": Query(status="unlabeled"),
        "status=skipped": Query(status="skipped"),
        "flagged": Query(status="flagged"),
        "label=spam": Query(label="spam"),
        "search 'cancer'": Query(search="cancer"),
        "search 'call'": Query(search="call"),
        "search 'gene*'": Query(search="gene*"),
        'search "breast cancer"': Query(search='"breast cancer"'),
        "label=spam + search 'free'": Query(label="spam", search="free"),
        "sort status desc": Query(sort="status", descending=True),
        "sort dataset": Query(sort="dataset"),
    }
    print(f"project: {path.name}, {browser.count(Query()):,} datapoints")
    print(f"{'step':<32} {'count ms':>9} {'page ms':>8} {'rows':>10}")
    worst = 0.0
    for name, query in steps.items():
        result = {}
        count_ms = timed(lambda q=query, r=result: r.setdefault("n", browser.count(q)))
        page_ms = timed(lambda q=query: browser.page(q, 0, PAGE))
        worst = max(worst, count_ms + page_ms)
        print(f"{name:<32} {count_ms:9.1f} {page_ms:8.1f} {result['n']:>10,}")

    total = browser.count(Query())
    for name, query in (("scroll all", Query()), ("scroll unlabeled", Query(status="unlabeled"))):
        n = browser.count(query)
        offsets = [int(n * f) for f in (0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999)]
        times = [timed(lambda o=o, q=query: browser.page(q, o, PAGE)) for o in offsets]
        worst = max(worst, max(times))
        print(
            f"{name:<32} page at 0..99.9%: median {statistics.median(times):.1f} ms,"
            f" max {max(times):.1f} ms"
        )
    counts_ms = timed(browser.status_counts)
    print(f"{'status bar counts':<32} {counts_ms:9.1f} ms (runs off the GUI thread)")
    print(f"worst interactive step: {worst:.1f} ms (target <= 50 ms); total rows {total:,}")
    _model_scroll(project)
    project.close()


def _model_scroll(project) -> None:
    """The same through the Qt table model, as the view asks for it, if the GUI is installed."""
    try:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QApplication

        from app.views.table_model import DatapointTableModel
    except ImportError as exc:
        print(f"(Qt model not measured: {exc})")
        return
    app = QApplication.instance() or QApplication([])
    model = DatapointTableModel(project)
    times = []
    rows = model.rowCount()
    for fraction in (0.0, 0.2, 0.4, 0.6, 0.8, 0.999):
        start = int(rows * fraction)

        def show(start=start) -> None:
            for row in range(start, min(start + 40, rows)):
                for column in range(model.columnCount()):
                    model.data(model.index(row, column), Qt.ItemDataRole.DisplayRole)

        times.append(timed(show))
    print(
        f"{'Qt model: 40 visible rows':<32} median {statistics.median(times):.1f} ms,"
        f" max {max(times):.1f} ms"
    )
    del app


if __name__ == "__main__":
    main()
