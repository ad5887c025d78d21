"""Indexing text for search waits out a busy database like every short writer: another
process holding the write lock (a long import or merge) longer than SQLite's own busy wait
delays the index, and never fails it."""

from __future__ import annotations

import threading

from sqlalchemy import event

from app.core.io.importer import import_dataset
from app.core.storage import fts, retry
from tests.unit.helpers import rows
from tests.unit.lock_holder import held_lock


def test_index_pending_waits_for_a_lock_held_longer_than_the_busy_wait(
    make_project, tmp_path, monkeypatch
):
    project = make_project()
    source = tmp_path / "texts.txt"
    source.write_text("".join(f"text number {i}\n" for i in range(500)), encoding="utf-8")
    import_dataset(project, source, index=False)
    assert fts.pending_count(project) == 500
    # SQLite's own wait is cut to 50 ms (a 25 s import outlasts the app's 10 s): only retries
    # can carry the index through the held lock.
    monkeypatch.setattr(retry, "ATTEMPT_WAIT", 0.05)
    event.listen(
        project.engine, "connect", lambda conn, _record: conn.execute("PRAGMA busy_timeout=50")
    )
    project.engine.dispose()
    outcome: dict[str, object] = {}
    progress: list[int] = []

    def index() -> None:
        try:
            outcome["indexed"] = fts.index_pending(
                project, progress=lambda done, _t, _m: progress.append(done), chunk=120
            )
        except Exception as exc:  # reported to the test, which fails on it
            outcome["error"] = exc

    with held_lock(project.path) as lock:
        worker = threading.Thread(target=index)
        worker.start()
        worker.join(timeout=1.0)  # a while under the lock (the old code failed in 50 ms)
        assert lock.held
        assert "error" not in outcome, outcome.get("error")
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert outcome == {"indexed": 500}
    assert progress[-1] == 500
    assert fts.pending_count(project) == 0
    assert (
        rows(project, "SELECT count(*) FROM datapoint_fts WHERE datapoint_fts MATCH 'number'")[0][0]
        == 500
    )
