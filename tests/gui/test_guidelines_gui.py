"""“Guidelines changed”: the editor's banner after a schema update, the diff dialog, and the
acknowledgement that hides the banner for good.

`TAGLOOP_SCREENSHOTS=1 pytest tests/gui/test_guidelines_gui.py -k screenshot` rewrites
docs/guidelines_changed.png.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QPainter, QPen

from app.core.annotation.browse import Query
from app.core.annotation.worklist import WorklistSpec
from app.core.io.importer import import_dataset
from app.core.project.guidelines import seen_version
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project, update_schema
from app.views.editor import AnnotationSession, make_editor
from app.workers.write_job import writes_pending
from app.workers.writer import Writer
from tests.fixtures_data import sms_rows, write_csv

DOCS = Path(__file__).resolve().parents[2] / "docs"
OLD = (
    "# SMS spam\n\n"
    "**Spam**: unsolicited advertising.\n"
    "**Ham**: messages between people who know each other.\n"
    "When unsure, choose ham.\n"
)
NEW = (
    "# SMS spam\n\n"
    "**Spam**: unsolicited advertising, prize draws, or fraud.\n"
    "**Ham**: messages between people who know each other.\n"
    "Service messages from a known provider are ham.\n"
    "When unsure, flag the message (F) and choose ham.\n"
)


@pytest.fixture
def sms(tmp_path):
    project = create_project(
        tmp_path / "sms.tagloop",
        "classification",
        [LabelSpec("ham", description="A normal message"), LabelSpec("spam")],
        guidelines=OLD,
    )
    path = tmp_path / "sms.csv"
    write_csv(path, [["message"], *[[t] for t, _label in sms_rows(20)]])
    import_dataset(project, path)
    yield project
    project.close()


@pytest.fixture
def open_editor(qtbot):
    writers = []

    def open_(project):
        writer = Writer()
        writers.append(writer)
        session = AnnotationSession(project, writer)
        editor = make_editor(session)
        qtbot.addWidget(editor)
        editor.resize(1000, 620)
        editor.show()
        session.open_queue(WorklistSpec(Query()))
        # The banner looks for changes off the GUI thread (it may write): wait for that.
        qtbot.waitUntil(lambda: not writes_pending(editor.guidelines_banner), timeout=20_000)
        return session, editor

    yield open_
    for writer in writers:
        writer.shutdown()


def change_guidelines(project) -> None:
    ham, spam = project.schema.labels
    update_schema(
        project,
        labels=[
            LabelSpec("ham", ham.colour, ham.hotkey, "A normal message, or a service message"),
            LabelSpec("spam", spam.colour, spam.hotkey, spam.description),
            LabelSpec("phishing", description="Asks for credentials or money"),
        ],
        guidelines=NEW,
    )


def test_first_open_has_no_banner_and_acknowledges(qtbot, sms, open_editor):
    session, editor = open_editor(sms)
    assert not editor.guidelines_banner.isVisible()
    assert seen_version(sms, session.annotator_id) == 1


def test_banner_dialog_and_acknowledgement(qtbot, sms, open_editor):
    session, editor = open_editor(sms)  # the first open: version 1 read
    change_guidelines(sms)

    session, editor = open_editor(sms)
    banner = editor.guidelines_banner
    assert banner.isVisible()
    assert "Guidelines changed (version 2)" in banner.text.text()
    assert "label change" in banner.text.text()
    # Non-blocking: labeling goes on while the banner shows.
    first = session.item.id
    qtbot.keyClick(editor, "2")
    session.flush()
    assert session.item.id != first

    dialog = banner.show_changes()
    qtbot.waitExposed(dialog)
    shown = dialog.view.toHtml()
    assert "Version 1 → version 2" in dialog.view.toPlainText()
    assert "+Service messages from a known provider are ham." in dialog.view.toPlainText()
    assert "-When unsure, choose ham." in dialog.view.toPlainText()
    assert "Added label “phishing”" in dialog.view.toPlainText()
    assert "Label “ham”: description “A normal message”" in dialog.view.toPlainText()
    assert "#e8f5e9" in shown.lower() and "#ffebee" in shown.lower()  # green and red lines

    dialog.later_button.click()  # later: still to be read
    assert banner.isVisible()
    assert seen_version(sms, session.annotator_id) == 1

    dialog = banner.show_changes()
    with qtbot.waitSignal(banner.acknowledged):
        dialog.read_button.click()
    assert not banner.isVisible()
    assert seen_version(sms, session.annotator_id) == 2

    _session, editor = open_editor(sms)  # reopened: stays hidden
    assert not editor.guidelines_banner.isVisible()

    update_schema(sms, guidelines=NEW + "Links to prize sites are spam.\n")
    _session, editor = open_editor(sms)  # a newer version: shown again, from version 2
    assert editor.guidelines_banner.isVisible()
    assert editor.guidelines_banner.change.from_version == 2


def test_screenshot(qtbot, sms, open_editor, tmp_path):
    open_editor(sms)
    change_guidelines(sms)
    _session, editor = open_editor(sms)
    if not editor.guidelines.isVisible():
        editor.toggle_guidelines()
    dialog = editor.guidelines_banner.show_changes()
    dialog.resize(600, 400)
    qtbot.waitExposed(dialog)
    qtbot.wait(50)
    picture = editor.grab()
    painter = QPainter(picture)
    where = QPoint(picture.width() - dialog.width() - 24, picture.height() - dialog.height() - 24)
    painter.drawPixmap(where, dialog.grab())
    painter.setPen(QPen(QColor("#546E7A"), 2))
    painter.drawRect(where.x(), where.y(), dialog.width(), dialog.height())
    painter.end()
    target = (DOCS if os.environ.get("TAGLOOP_SCREENSHOTS") else tmp_path) / (
        "guidelines_changed.png"
    )
    assert picture.save(str(target))
    dialog.close()
