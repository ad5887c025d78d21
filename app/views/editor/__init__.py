"""The annotation editors: one per task type, plus the bulk grid, over an AnnotationSession."""

from __future__ import annotations

from app.views.editor.base import EditorBase
from app.views.editor.choice import ClassificationEditor, MultilabelEditor
from app.views.editor.session import AnnotationSession
from app.views.editor.spans import SpanEditor

EDITORS: dict[str, type[EditorBase]] = {
    "classification": ClassificationEditor,
    "multilabel": MultilabelEditor,
    "spans": SpanEditor,
}


def make_editor(session: AnnotationSession, parent=None) -> EditorBase:
    return EDITORS[session.project.task_type](session, parent)


__all__ = ["AnnotationSession", "EditorBase", "make_editor"]
