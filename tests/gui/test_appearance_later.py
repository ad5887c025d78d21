"""Issue #16, second round: a theme switch re-colours what open views built into items and text
documents, and a UI scale chosen earlier reaches windows opened afterwards."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel

from app.views import appearance, theme
from app.views.main_window import MainWindow
from app.views.quality.history import what_colour
from tests.gui.test_editors import settle


@pytest.fixture(autouse=True)
def _light_again(qapp):
    """The palette, Qt palette, font and scale are the application's: put them back."""
    qt_palette, font = QPalette(qapp.palette()), qapp.font()
    yield
    theme.set_palette(theme.LIGHT)
    qapp.setPalette(qt_palette)
    qapp.setFont(font)
    qapp.setProperty(appearance.BASE_POINT_SIZE, None)
    appearance.ScaleKeeper.instance().set_factor(1.0)


@pytest.fixture
def window(qtbot, spam_project, sms_csv):
    from app.core.io.importer import import_dataset

    import_dataset(spam_project, sms_csv, label_column="label")
    window = MainWindow(spam_project)
    qtbot.addWidget(window)
    window.resize(1024, 640)
    window.show()
    return window


def document_colours(document) -> set[str]:
    """Every foreground colour set explicitly in a text document."""
    found = set()
    block = document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            brush = it.fragment().charFormat().foreground()
            if brush.style() != Qt.BrushStyle.NoBrush:
                found.add(brush.color().name())
            it += 1
        block = block.next()
    return found


def test_dark_theme_recolours_the_open_editor_documents_and_list_items(qtbot, window):
    window.annotate_table(0)
    editor = window.editor
    qtbot.keyClick(editor, "1")  # one answer: a row in the recent answers
    settle(window.session)
    editor.text_view.highlight(["a"])
    window.tabs.setCurrentWidget(window.browse)
    window.browse.table.selectRow(0)
    history = window.show_history()
    assert theme.LIGHT.text_secondary.lower() in document_colours(editor.context_view.document())

    window.menus.actions["theme_dark"].trigger()

    # the editor's context document: the dark palette's ink, none of the light one's
    colours = document_colours(editor.context_view.document())
    assert theme.DARK.text_secondary.lower() in colours
    assert theme.LIGHT.text_secondary.lower() not in colours
    # the find bar's marks
    marks = editor.text_view.extraSelections()
    assert marks and all(
        m.format.background().color() == QColor(theme.DARK.search_highlight) for m in marks
    )
    # the recent answers beside the editor
    texts = [
        label.text() for label in editor.recent.findChildren(QLabel) if "<span" in label.text()
    ]
    assert texts and all(theme.LIGHT.text_secondary not in t for t in texts)
    assert any(theme.DARK.text_secondary in t for t in texts)
    # the history's table items
    what = history.table.item(0, 2)
    assert what.foreground().color() == QColor(what_colour(what.text()))
    assert what_colour(what.text()) in vars(theme.DARK).values()
    # Browse asks the palette as it paints
    model = window.browse.table.model()
    status = model.data(model.index(0, 3), Qt.ItemDataRole.ForegroundRole)
    assert status == QColor(theme.DARK.table_status(model.index(0, 3).data()))


def test_a_window_opened_after_the_scale_change_is_scaled(qtbot, window):
    base = QApplication.font().pointSizeF()
    window.menus.actions["scale_150"].trigger()
    dashboard = window.show_dashboard()  # opened after the change
    assert dashboard.font().pointSizeF() == pytest.approx(base * 1.5)
    assert "font-size: 16.5pt" in dashboard.styleSheet()  # its 11pt headings
    heading = next(w for w in dashboard.findChildren(QLabel) if w.objectName() == "heading")
    assert heading.font().pointSizeF() == pytest.approx(16.5)
    review = window.show_review()  # another, with sheets of its own
    assert "font-size: 12pt" not in review.styleSheet()
    window.menus.actions["scale_100"].trigger()
    assert "font-size: 11.0pt" in dashboard.styleSheet()
    assert heading.font().pointSizeF() == pytest.approx(11)
