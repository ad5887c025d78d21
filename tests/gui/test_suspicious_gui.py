"""Suspicious labels driven by the keyboard (plain K, C and F, which the table's type-ahead
search used to take) and suspicious spans shown as words rather than offsets."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import text

from app.core.io.importer import import_dataset
from app.core.project import modelstore
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.core.quality.suspicious import kept_labels
from app.views.quality.suspicious import SuspiciousView
from app.workers.write_job import writes_pending
from tests.gui.test_model_gui import editor_on, one, settle, spam, store_version  # noqa: F401


def _ids(project) -> list[int]:
    with project.engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT id FROM datapoint ORDER BY id"))]


def test_plain_k_c_f_keep_change_and_flag(qtbot, spam, editor_on):  # noqa: F811
    ids = _ids(spam)
    session, _editor, _controller = editor_on(spam)
    for dp in ids[:3]:
        session.show_datapoint(dp)
        session.set_state("ham", "complete", "label")
    settle(session)
    store_version(spam, 0.9, {dp: ("spam", 0.9, 0.0) for dp in ids[:3]})
    view = SuspiciousView(session)
    qtbot.addWidget(view)
    view.show()
    view.table.setFocus()
    assert view.table.rowCount() == 3
    first, second, third = (row[0] for row in view.rows)
    qtbot.keyClick(view.table, Qt.Key.Key_K)  # keep: saved off the GUI thread
    qtbot.waitUntil(lambda: not writes_pending(view), timeout=20_000)
    assert view.table.rowCount() == 2
    qtbot.keyClick(view.table, Qt.Key.Key_C)  # change to the model's answer
    qtbot.keyClick(view.table, Qt.Key.Key_F)  # flag
    settle(session)
    assert view.table.rowCount() == 0
    assert first in kept_labels(spam)
    value = one(spam, "SELECT value FROM annotation WHERE datapoint_id = :d", d=second)[0]
    assert json.loads(value) == "spam"
    assert one(spam, "SELECT flagged FROM datapoint WHERE id = :d", d=third)[0] == 1


TEXT = "Colorectal cancer is common. HNPCC is an inherited cancer syndrome."


@pytest.fixture
def span_project(tmp_path):
    project = create_project(
        tmp_path / "spans.tagloop", "spans", [LabelSpec("Disease"), LabelSpec("Modifier")]
    )
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"text": TEXT}) + "\n", "utf-8")
    import_dataset(project, path)
    yield project
    project.close()


def test_suspicious_spans_read_as_sentences_and_labels(
    qtbot,
    span_project,
    editor_on,  # noqa: F811
    tmp_path,
):
    (dp,) = _ids(span_project)
    session, _editor, _controller = editor_on(span_project)
    session.show_datapoint(dp)
    given = [
        {"start": 0, "end": 17, "label": "Disease"},
        {"start": 29, "end": 34, "label": "Modifier"},
    ]
    session.set_state(given, "complete", "label")
    settle(session)
    model = [
        {"start": 0, "end": 17, "label": "Modifier"},  # wrong label
        {"start": 29, "end": 34, "label": "Modifier"},  # agrees
        {"start": 41, "end": 66, "label": "Disease"},  # missing from the label
    ]
    modelstore.save_version(span_project, "test-fixed", b"", 1, {"suspicious": [[dp, 0.8, model]]})
    view = SuspiciousView(session)
    qtbot.addWidget(view)
    view.show()
    assert view.table.rowCount() == 1
    cells = [view.table.item(0, c).text() for c in range(3)]
    assert cells[0] == "⟦Colorectal cancer⟧ is common."
    assert cells[1] == "Disease “Colorectal cancer”"
    assert cells[2].startswith("wrong label:") and "Modifier" in cells[2]
    assert "(+1 more)" in cells[2]
    assert "0-17" not in " ".join(cells)  # no raw offsets
    details = view.details.toPlainText()
    assert "missing span" in details and "inherited cancer syndrome" in details
    view.resize(1024, 640)
    view.grab().save(str(tmp_path / "suspicious_spans.png"))
