"""The history view: an item's lineage (a label, a change, a review decision, an
adjudication) as a timeline table.

`TAGLOOP_SCREENSHOTS=1 pytest tests/gui/test_history_view.py` rewrites docs/history.png.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import text

from app.core.annotation.commands import AddComment, AnnotationState, SetAnnotations
from app.core.io.importer import import_dataset
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project, update_schema
from app.core.quality.consensus import adjudicate
from app.core.quality.review import review
from app.core.team.assign import add_annotator
from app.views.quality.history import COLUMNS, HistoryView
from tests.fixtures_data import sms_rows
from tests.unit.helpers import next_millisecond

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _project(tmp_path):
    project = create_project(
        tmp_path / "h.tagloop",
        "classification",
        [LabelSpec("ham"), LabelSpec("spam")],
        guidelines="Spam: unsolicited commercial or fraudulent messages.",
    )
    source = tmp_path / "h.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for body, _label in sms_rows(5):
            handle.write(json.dumps({"text": body}) + "\n")
    import_dataset(project, source)
    amira = add_annotator(project, "Dr. Amira Haddad").id
    ben = add_annotator(project, "Ben Okafor").id
    add_annotator(project, "Rita Alvarez", "reviewer")
    add_annotator(project, "Sam Lindqvist", "manager")
    SetAnnotations(amira, ((1, AnnotationState("ham", "complete")),)).apply(project)
    SetAnnotations(ben, ((1, AnnotationState("spam", "complete")),)).apply(project)
    # the view tells each event's schema version by time (millisecond stamps): v2 begins in a
    # millisecond of its own, after the two labels and before the change
    next_millisecond()
    update_schema(project, guidelines="Spam: also prize draws and premium-rate numbers.")
    next_millisecond()
    SetAnnotations(amira, ((1, AnnotationState("spam", "complete")),)).apply(project)
    AddComment(1, ben, "premium-rate number: spam under v2").apply(project)
    with project.engine.connect() as conn:
        ben_uuid = conn.execute(
            text("SELECT uuid FROM annotation WHERE annotator_id = :w"), {"w": ben}
        ).scalar()
    review(project, "Rita Alvarez", ben_uuid, "approve")
    adjudicate(project, 1, "Sam Lindqvist", "spam")
    return project


def _cells(view, column):
    return [view.table.item(r, column).text() for r in range(view.table.rowCount())]


def test_history_lists_label_change_and_review(qtbot, tmp_path):
    project = _project(tmp_path)
    try:
        view = HistoryView(project, 1)
        qtbot.addWidget(view)
        assert view.table.columnCount() == len(COLUMNS)
        whats = _cells(view, 2)
        who = _cells(view, 1)
        values = _cells(view, 3)
        assert whats[:3] == ["label", "label", "change"]
        assert who[0] == "Dr. Amira Haddad" and who[2] == "Dr. Amira Haddad"
        assert values[2].startswith("ham → spam")
        assert "review" in whats and "adjudication" in whats and "comment" in whats
        review_row = whats.index("review")
        assert who[review_row] == "Rita Alvarez" and values[review_row].startswith("approve")
        assert _cells(view, 4)[:3] == ["v1", "v1", "v2"]
        assert "Item 1" in view.title.text()
        if os.environ.get("TAGLOOP_SCREENSHOTS"):
            view.resize(980, 420)
            view.show()
            qtbot.waitExposed(view)
            view.grab().save(str(DOCS / "history.png"))
    finally:
        project.close()


def test_history_of_a_missing_item_is_empty(qtbot, tmp_path):
    project = _project(tmp_path)
    try:
        view = HistoryView(project, 9999)
        qtbot.addWidget(view)
        assert view.table.rowCount() == 0 and "9999" in view.excerpt.text()
    finally:
        project.close()
