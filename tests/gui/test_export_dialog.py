"""File ▸ Export asks for its options: only completed items, and (CSV) formula protection,
on by default; unticking it writes the cells verbatim (`tagloop export --raw`)."""

from __future__ import annotations

import csv
import json

from PySide6.QtWidgets import QFileDialog

from app.core.io.importer import import_dataset
from app.core.io.spreadsheet import NEUTRALISED_COLUMN
from app.views.main_window import MainWindow
from app.workers.job import wait_for_jobs

TEXTS = ['=HYPERLINK("http://evil.example","x")', "-2+3+cmd|' /C calc'!A0", "fine"]


def _export(qtbot, project, monkeypatch, out, untick: bool):
    window = MainWindow(project)
    qtbot.addWidget(window)
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "CSV (*.csv)"))
    )
    dialog = window.export()
    assert dialog is not None
    assert dialog.safe_box.isChecked() and dialog.safe_box.isEnabled()
    if untick:
        dialog.safe_box.setChecked(False)
    dialog.accept()
    qtbot.waitUntil(out.exists, timeout=30_000)  # written atomically: there means complete
    wait_for_jobs(30.0)
    with out.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_csv_export_is_protected_by_default(qtbot, spam_project, tmp_path, monkeypatch):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS), encoding="utf-8")
    import_dataset(spam_project, source)
    safe = _export(qtbot, spam_project, monkeypatch, tmp_path / "safe.csv", untick=False)
    assert safe[0][-1] == NEUTRALISED_COLUMN
    assert [row[3] for row in safe[1:]] == ["'" + TEXTS[0], "'" + TEXTS[1], "fine"]
    raw = _export(qtbot, spam_project, monkeypatch, tmp_path / "raw.csv", untick=True)
    assert NEUTRALISED_COLUMN not in raw[0]
    assert [row[3] for row in raw[1:]] == TEXTS


def test_the_option_is_hidden_for_json_lines(qtbot, spam_project, tmp_path, monkeypatch):
    window = MainWindow(spam_project)
    qtbot.addWidget(window)
    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "JSON Lines"))
    )
    dialog = window.export()
    assert dialog is not None
    assert not dialog.safe_box.isEnabled()
    assert dialog.raw is False
    dialog.reject()
    assert not out.exists()
