"""Span snapping in the project language: selecting 胸痛 in a Japanese note (issue #13.3)."""

from __future__ import annotations

import json

from app.core.io.importer import import_dataset
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from tests.gui.test_editors import annotation_of, drag, key, open_editor, settle

__all__ = ["open_editor"]  # the fixture

NOTE = "患者は胸痛を訴えた。MRI では異常なし。"


def test_dragging_over_a_japanese_word_snaps_to_it_not_to_the_sentence(
    qtbot, tmp_path, open_editor
):
    project = create_project(
        tmp_path / "ja.tagloop", "spans", [LabelSpec("SYMPTOM")], language="ja"
    )
    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"text": NOTE}, ensure_ascii=False) + "\n", encoding="utf-8")
    import_dataset(project, path)
    session, editor = open_editor(project)
    editor.load_tokenizer()
    start = NOTE.index("胸痛")
    drag(editor.text_view, start, start + 2)
    key(qtbot, editor.text_view, "1")
    settle(session)
    (span,) = annotation_of(project, session.item.id)[0]
    assert NOTE[span["start"] : span["end"]] == "胸痛"
    start = NOTE.index("RI")
    drag(editor.text_view, start, start + 1)  # inside "MRI": grows to the word
    key(qtbot, editor.text_view, "1")
    settle(session)
    spans = annotation_of(project, session.item.id)[0]
    assert [NOTE[s["start"] : s["end"]] for s in spans] == ["胸痛", "MRI"]
    editor.grab().save(str(tmp_path / "ja-spans.png"))
    project.close()
