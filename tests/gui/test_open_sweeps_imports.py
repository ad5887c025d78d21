"""Opening a project in the window removes the rows an import killed midway left unseen, in
the background job that opens it (app.core.storage.staging), and then shows the project."""

from __future__ import annotations

import threading

from app.core.annotation.browse import Browser, Query
from app.core.io.importer import import_dataset
from app.core.storage import staging
from app.views.main_window import MainWindow


def test_the_window_sweeps_a_killed_imports_rows_off_the_gui_thread(
    qtbot, spam_project, sms_csv, monkeypatch
):
    import_dataset(spam_project, sms_csv)
    with spam_project.engine.begin() as conn:  # what a killed import leaves: a loading dataset
        conn.exec_driver_sql(
            "INSERT INTO dataset (uuid, source_name, sha256, format, mapping, row_count,"
            " duplicate_count, imported_at, state, loader) VALUES ('d' || hex(randomblob(15)),"
            " 'killed.csv', '', 'csv', '{}', 0, 0, '2026-01-01T00:00:00+00:00', 1, 'x-1-1-0')"
        )
        conn.exec_driver_sql(
            "INSERT INTO datapoint (dataset_id, row, text, status, flagged)"
            " SELECT (SELECT max(id) FROM dataset), row, text, 0, 0 FROM datapoint"
        )
    path = spam_project.path
    spam_project.close()
    threads = []
    sweep = staging.sweep_abandoned
    monkeypatch.setattr(
        staging,
        "sweep_abandoned",
        lambda engine: threads.append(threading.current_thread()) or sweep(engine),
    )
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.open_project_path(path) is True
    qtbot.waitUntil(lambda: window.project is not None, timeout=30_000)
    assert threads and threads[0] is not threading.main_thread()
    with window.project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM dataset").scalar() == 1
        assert conn.exec_driver_sql("SELECT count(*) FROM datapoint").scalar() == 60
    assert Browser(window.project).count(Query()) == 60
    window.set_project(None)
