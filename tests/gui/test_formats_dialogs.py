"""The import and export dialogs list the registry's formats: a Prodigy file is previewed with
its answers and imported without a column mapping; File ▸ Export writes Label Studio JSON."""

from __future__ import annotations

import json
import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.core.io.formats.registry import NAMES
from app.views.import_dialog import ImportDialog
from app.views.main_window import MainWindow
from app.workers.job import wait_for_jobs
from tests.unit.helpers import rows


def _prodigy(path):
    lines = [
        {"text": "urgent: chest pain", "label": "spam", "answer": "reject", "_annotator_id": "a"},
        {"text": "see you at lunch", "label": "ham", "answer": "accept", "_annotator_id": "a"},
        {"text": "win a prize", "options": [], "accept": ["spam"], "answer": "accept"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_import_dialog_reads_a_peer_format(qtbot, spam_project, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    dialog = ImportDialog(spam_project, _prodigy(tmp_path / "db-out.jsonl"))
    qtbot.addWidget(dialog)
    assert [dialog.format.itemText(i) for i in range(dialog.format.count())] == list(NAMES)
    assert dialog.format.currentText() == "prodigy"
    assert not dialog.peer_note.isHidden()
    assert not dialog.label_combo.isEnabled()
    labels = [dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())]
    assert labels == ["(unlabelled)", "a: ham", "imported: spam"]  # the reject is no answer
    if os.environ.get("TAGLOOP_SCREENSHOTS"):
        dialog.grab().save(os.environ["TAGLOOP_SCREENSHOTS"] + "/import_prodigy.png")
    with qtbot.waitSignal(dialog.imported, timeout=20_000):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    found = rows(
        spam_project,
        "SELECT d.text, n.name, a.value FROM annotation a JOIN datapoint d ON d.id ="
        " a.datapoint_id JOIN annotator n ON n.id = a.annotator_id ORDER BY d.id",
    )
    assert found == [("see you at lunch", "a", '"ham"'), ("win a prize", "imported", '"spam"')]


def test_export_dialog_writes_the_chosen_format(qtbot, spam_project, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    from app.core.io.importer import import_dataset

    import_dataset(spam_project, _prodigy(tmp_path / "in.jsonl"))
    window = MainWindow(spam_project)
    qtbot.addWidget(window)
    out = tmp_path / "tasks.json"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "JSON"))
    )
    dialog = window.export()
    assert dialog is not None
    assert dialog.fmt == "labelstudio"  # from the .json name
    assert not dialog.safe_box.isEnabled()
    dialog.format_combo.setCurrentText("conll")
    assert not dialog.values_combo.isEnabled()  # CoNLL holds one value: the final one
    dialog.format_combo.setCurrentText("labelstudio")
    assert dialog.value_source is None  # every annotator's again
    if os.environ.get("TAGLOOP_SCREENSHOTS"):
        dialog.grab().save(os.environ["TAGLOOP_SCREENSHOTS"] + "/export_dialog.png")
    dialog.accept()
    qtbot.waitUntil(out.exists, timeout=30_000)
    wait_for_jobs(30.0)
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert [task["data"]["text"] for task in tasks] == [
        "urgent: chest pain",
        "see you at lunch",
        "win a prize",
    ]
    choices = [[a["result"][0]["value"]["choices"] for a in task["annotations"]] for task in tasks]
    assert choices == [[], [["ham"]], [["spam"]]]


def test_import_dialog_reads_a_cp1252_csv_when_told(qtbot, spam_project, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    path = tmp_path / "excel.csv"
    path.write_bytes("text,label\r\ncafé – naïve,ham\r\nwin £100 now,spam\r\n".encode("cp1252"))
    dialog = ImportDialog(spam_project, path)
    qtbot.addWidget(dialog)
    assert "not valid UTF-8" in dialog.error.text() and "--encoding" in dialog.error.text()
    dialog.encoding_choice.lineEdit().selectAll()
    qtbot.keyClicks(dialog.encoding_choice.lineEdit(), "cp1252")
    qtbot.keyClick(dialog.encoding_choice.lineEdit(), Qt.Key.Key_Return)
    assert dialog.error.text() == ""
    assert dialog.table.item(0, 0).text() == "café – naïve"
    with qtbot.waitSignal(dialog.imported, timeout=20_000):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    texts = rows(spam_project, "SELECT text FROM datapoint ORDER BY id")
    assert texts == [("café – naïve",), ("win £100 now",)]


def test_a_sheet_typed_for_a_workbook_is_not_sent_with_a_csv(
    qtbot, spam_project, tmp_path, monkeypatch
):
    """The sheet field shows for xlsx only; a name typed there and left behind when the format
    becomes csv is not sent (the importer refuses --sheet for a csv)."""
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    path = tmp_path / "plain.csv"
    path.write_text("text\nhello there\n", encoding="utf-8")
    dialog = ImportDialog(spam_project, path)
    qtbot.addWidget(dialog)
    assert dialog.sheet.isHidden()
    dialog.sheet.setText("Notes")
    assert dialog.chosen_sheet() is None
    with qtbot.waitSignal(dialog.imported, timeout=20_000):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert rows(spam_project, "SELECT text FROM datapoint") == [("hello there",)]
