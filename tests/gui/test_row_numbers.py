"""One row number everywhere (issue #16): the same datapoint is "row N" in Browse, the editor,
History, Review and Adjudication (these two used to say N + 1)."""

from __future__ import annotations

import re

from app.core.annotation.browse import Query
from app.core.annotation.worklist import WorklistSpec
from app.core.quality.consensus import disagreements
from app.core.quality.review import create_review_tasks
from app.views.editor import AnnotationSession, make_editor
from app.views.quality.adjudication import AdjudicationView
from app.views.quality.history import HistoryView
from app.views.quality.review import ReviewView
from app.views.table_model import DatapointTableModel
from app.views.wording import place, plural
from app.workers.writer import Writer
from tests.gui.test_quality_views import LEAD, REVIEWER, build_team

ROW = re.compile(r"row (\d[\d,]*)")


def row_in(text: str) -> int:
    found = ROW.search(text)
    assert found, text
    return int(found.group(1).replace(",", ""))


def test_the_same_datapoint_has_the_same_row_in_every_view(qtbot, tmp_path):
    project, ids, who = build_team(tmp_path / "team.tagloop")
    try:
        target = disagreements(project)[0].datapoint_id
        expected = ids.index(target) + 1  # the record's 1-based number in the imported file

        table = DatapointTableModel(project, Query())
        position = next(r for r in range(table.rowCount()) if table.row_at(r).id == target)
        assert table.data(table.index(position, 1)) == f"team.jsonl:{expected}"

        writer = Writer()
        session = AnnotationSession(project, writer)
        editor = make_editor(session)
        qtbot.addWidget(editor)
        session.open_queue(WorklistSpec(Query()), target)
        assert row_in(editor.position_label.text()) == expected
        writer.shutdown()

        history = HistoryView(project, target)
        qtbot.addWidget(history)
        assert row_in(history.title.text()) == expected

        create_review_tasks(project, REVIEWER, datapoint_ids=[target])
        review = ReviewView(project, who[REVIEWER])
        qtbot.addWidget(review)
        assert review.item.id == target
        assert row_in(review.item_title.text()) == expected

        adjudication = AdjudicationView(project, who[LEAD])
        qtbot.addWidget(adjudication)
        adjudication.go_to(adjudication.queue.index(target))
        assert row_in(adjudication.item_title.text()) == expected
    finally:
        project.close()


def test_wording_plurals_and_places():
    assert plural(1, "step") == "1 step" and plural(2, "step") == "2 steps"
    assert plural(5574, "item") == "5,574 items"
    assert place("sms.tsv", 1234) == "sms.tsv, row 1,234"
