"""Accessibility (issue #16 item 14): what a screen reader is told, and the keyboard path.

Every interactive widget of every top-level view has a name a screen reader can say (its own
text, an accessible name, or a label that is its buddy); every menu action can be reached from
the keyboard (a mnemonic in each menu title and action, or a shortcut)."""

from __future__ import annotations

from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QTextEdit,
    QWidget,
)

from app.views.main_window import MainWindow

INTERACTIVE = (
    QAbstractButton,
    QComboBox,
    QLineEdit,
    QAbstractItemView,
    QAbstractSpinBox,
    QAbstractSlider,
    QTextEdit,
    QPlainTextEdit,
)


def ancestors(widget: QWidget) -> list[QWidget]:
    found, up = [], widget.parentWidget()
    while up is not None:
        found.append(up)
        up = up.parentWidget()
    return found


def spoken_name(widget: QWidget) -> str:
    interface = QAccessible.queryAccessibleInterface(widget)
    return interface.text(QAccessible.Text.Name).strip() if interface is not None else ""


def unnamed(view: QWidget) -> list[str]:
    """Interactive widgets of a view (shown or not) that a screen reader cannot name."""
    found = []
    for widget in view.findChildren(QWidget):
        if widget.window() is not view or not isinstance(widget, INTERACTIVE):
            continue  # another window's (a dialog parented to this one) or not interactive
        if isinstance(widget, QScrollBar | QHeaderView) or widget.objectName().startswith("qt_"):
            continue  # parts a view names itself: scroll bars, headers, Qt's own pieces
        if any(isinstance(up, QComboBox) for up in ancestors(widget)):
            continue  # a combo box's popup list or line edit: the combo is named
        if isinstance(widget.parentWidget(), QLineEdit):
            continue  # a named field's clear button
        if not spoken_name(widget):
            found.append(
                f"{type(view).__name__}: {type(widget).__name__} {widget.objectName()!r}"
                f" in {type(widget.parent()).__name__}"
            )
    return found


def open_views(qtbot, project, sms_csv) -> tuple[MainWindow, list[QWidget]]:
    from app.core.io.importer import import_dataset

    import_dataset(project, sms_csv, label_column="label")
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.show()
    window.show_tab("annotate")
    window.show_tab("grid")
    window.browse.table.selectRow(0)
    views = [
        window,
        window.show_dashboard(),
        window.show_review(),
        window.show_adjudication(),
        window.show_gold(),
        window.show_team(),
        window.show_history(),
        window.export_bundle(),
    ]
    return window, [view for view in views if view is not None]


def test_every_interactive_widget_has_a_spoken_name(qtbot, spam_project, sms_csv):
    _window, views = open_views(qtbot, spam_project, sms_csv)
    missing = [problem for view in views for problem in unnamed(view)]
    assert missing == [], "\n".join(missing)


def test_every_menu_action_has_a_keyboard_path(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    unreachable = []
    for entry in window.menuBar().actions():
        assert "&" in entry.text(), entry.text()
        for action in entry.menu().actions():
            if action.isSeparator():
                continue
            if "&" not in action.text() and action.shortcut().isEmpty():
                unreachable.append(f"{entry.text()} › {action.text()}")
    assert unreachable == []
