"""Removing a dataset from the window, and cancelling midway (issue 14): the dataset is gone
from the list at once and stays gone, the status bar says its removal finishes the next time
the project opens, and that open finishes it."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QPushButton

from app.core.io.datasets import list_datasets
from app.core.io.datasets import remove_dataset as real_remove
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.storage import staging
from app.views.main_window import MainWindow
from tests.fixtures_data import write_csv


def test_cancelling_a_removal_leaves_the_dataset_hidden_until_the_next_open(
    qtbot, spam_project, sms_csv, tmp_path, monkeypatch
):
    import_dataset(spam_project, sms_csv)
    write_csv(tmp_path / "other.csv", [["text"]] + [[f"other {i}"] for i in range(30)])
    import_dataset(spam_project, tmp_path / "other.csv")
    monkeypatch.setattr(staging, "next_chunk", lambda *_a, **_k: 5)
    monkeypatch.setattr(staging, "FIRST_CHUNK", 5)
    first_chunk, go_on = threading.Event(), threading.Event()

    def remove_dataset(project, dataset_id, progress, cancel):
        def paused(done, total, message):
            progress(done, total, message)
            if done:
                first_chunk.set()
                go_on.wait(30)  # until the test has clicked Cancel

        return real_remove(project, dataset_id, progress=paused, cancel=cancel)

    monkeypatch.setattr("app.views.main_window.remove_dataset", remove_dataset)
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.Yes)
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda _w, _title, text: told.append(text))
    window = MainWindow()
    qtbot.addWidget(window)
    window.set_project(spam_project)
    items = window.datasets.items
    assert items.count() == 2
    items.setCurrentRow(1)  # other.csv
    remove = next(b for b in window.datasets.findChildren(QPushButton) if "Remove" in b.text())
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(first_chunk.is_set, timeout=30_000)
    (dialog,) = window.findChildren(QProgressDialog)
    qtbot.waitUntil(
        lambda: dialog.isVisible() and "next time the project opens" in dialog.labelText(),
        timeout=10_000,
    )
    dialog.grab().save(str(tmp_path / "removing.png"))
    cancel = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Cancel")
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    go_on.set()
    qtbot.waitUntil(lambda: bool(told), timeout=30_000)
    assert told == [
        "“other.csv” stays hidden, and its removal will finish the next time the project opens."
    ]
    assert items.count() == 1 and items.item(0).text().startswith("sms")
    window.grab().save(str(tmp_path / "cancelled.png"))  # looked at while writing the test
    path = spam_project.path
    with spam_project.engine.connect() as conn:
        left = conn.exec_driver_sql("SELECT count(*) FROM datapoint").scalar()
    assert 60 < left < 90  # partly removed, wholly hidden
    window.set_project(None)
    spam_project.close()
    with open_project(path) as again:  # the next open finishes the removal
        assert [s.source_name for s in again.swept] == ["other.csv"]
        assert [d.source_name for d in list_datasets(again)] == [sms_csv.name]
        with again.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM datapoint").scalar() == 60
