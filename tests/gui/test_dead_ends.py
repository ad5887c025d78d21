"""No dead ends (issue #16 item 7): an empty project offers an import and takes a dropped file,
its Annotate tab does not count "0 of 1", and Export bundle does not offer a model it lacks."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from app.views.import_dialog import ImportDialog
from app.views.main_window import MainWindow
from app.views.team.bundles import ExportBundleDialog, gui_message


def open_window(qtbot, project) -> MainWindow:
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.show()
    return window


def import_dialogs(window: MainWindow) -> list[ImportDialog]:
    return [dialog for dialog in window.findChildren(ImportDialog) if dialog.isVisible()]


def test_an_empty_project_offers_import_and_the_button_opens_it(
    qtbot, spam_project, sms_csv, monkeypatch
):
    window = open_window(qtbot, spam_project)
    panel = window.browse
    assert panel.pages.currentWidget() is panel.empty and panel.empty.isVisible()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(sms_csv), ""))
    qtbot.mouseClick(panel.empty.button, Qt.MouseButton.LeftButton)
    dialogs = import_dialogs(window)
    assert len(dialogs) == 1 and dialogs[0].path == sms_csv
    dialogs[0].close()


def test_a_file_dropped_on_the_window_opens_the_import(qtbot, spam_project, sms_csv):
    window = open_window(qtbot, spam_project)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(sms_csv))])
    where = QPointF(window.width() / 2, window.height() / 2)
    actions = Qt.DropAction.CopyAction
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(where.toPoint(), actions, mime, buttons, keys)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(where, actions, mime, buttons, keys))
    dialogs = import_dialogs(window)
    assert len(dialogs) == 1
    assert dialogs[0].path == sms_csv
    dialogs[0].close()


def test_the_table_comes_back_once_there_is_data(qtbot, spam_project, sms_csv):
    from app.core.io.importer import import_dataset

    window = open_window(qtbot, spam_project)
    import_dataset(spam_project, sms_csv)
    window.refresh()
    assert window.browse.pages.currentWidget() is window.browse.table
    window.browse.search.setText("no such word anywhere")
    window.browse.apply_filters()
    assert window.browse.pages.currentWidget() is window.browse.table  # a filter, not emptiness


def test_the_annotate_tab_of_an_empty_project_counts_nothing(qtbot, spam_project):
    window = open_window(qtbot, spam_project)
    window.show_tab("annotate")
    assert window.editor.progress.text() == "No items yet"
    assert "of 1" not in window.editor.progress.text()


def test_export_bundle_offers_no_model_it_lacks_and_speaks_gui(qtbot, spam_project):
    dialog = ExportBundleDialog(spam_project)
    qtbot.addWidget(dialog)
    assert not dialog.with_model.isEnabled() and not dialog.with_model.isChecked()
    assert "train" in dialog.with_model.toolTip().lower()
    dialog.problem("--with-model: this project has no trained model yet")
    assert "--" not in dialog.message.text()
    assert dialog.message.text() == "This project has no trained model yet"
    assert gui_message("a.tlbundle: --with-model: none") == "a.tlbundle: none"
