"""Jargon explained where it appears: the plain-language line of a figure (app.core.glossary)
as a widget's tooltip and accessible description, or as a small caption under it."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QLabel, QWidget

from app.core.glossary import TERMS, explain
from app.views.theme import palette

__all__ = ["TERMS", "caption", "caption_html", "explain", "explain_on"]


def explain_on(widget: QWidget, *terms: str) -> QWidget:
    """Hovering the widget (or a screen reader on it) says what its figures mean."""
    text = explain(*terms)
    widget.setToolTip(text)
    widget.setAccessibleDescription(text)
    return widget


def caption_html(*terms: str) -> str:
    """A small grey paragraph for rich text (the model panel's figures)."""
    lines = "<br>".join(html.escape(TERMS[term]) for term in terms)
    return f"<p style='color:{palette().text_subtle}'><small>{lines}</small></p>"


def caption(*terms: str) -> QLabel:
    """A wrapped caption label under a chart or a figure."""
    label = QLabel(explain(*terms))
    label.setObjectName("caption")
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {palette().text_subtle}; font-size: 9pt;")
    return label
