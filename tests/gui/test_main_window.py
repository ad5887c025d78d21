"""The main window, driven as a user would: filters, search, sorting, import, export."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.core.annotation.browse import Browser, Query
from app.core.io.importer import import_dataset
from app.views.import_dialog import ImportDialog
from app.views.main_window import MainWindow
from app.views.table_model import PAGE_SIZE, DatapointTableModel
from app.workers.job import wait_for_jobs


def _window(qtbot, project) -> MainWindow:
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.show()
    return window


def test_empty_state_without_project(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.stack.currentIndex() == 0
    assert not window.menus.actions["import"].isEnabled()


def test_import_dialog_maps_columns_and_imports(qtbot, spam_project, sms_csv, monkeypatch):
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    window = _window(qtbot, spam_project)
    dialog = ImportDialog(spam_project, sms_csv, window)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 50  # live preview of the first 50 records
    assert dialog.input_combos["text"].currentText() == "message"  # the lone text column
    assert dialog.label_combo.currentText() == "label"
    dialog.imported.connect(lambda _r: window._after_import())
    with qtbot.waitSignal(dialog.imported, timeout=20_000):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.report is not None and dialog.report.rows == 60
    assert window.browse.model.rowCount() == 60
    qtbot.waitUntil(lambda: "60 datapoints" in window.counts_label.text(), timeout=10_000)
    assert "labeled 60" in window.counts_label.text()
    assert window.datasets.items.count() == 1


def test_import_dialog_shows_error_and_imports_nothing(qtbot, spam_project, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text('text\n"ok"\n"never closed\nmore\n', encoding="utf-8")
    dialog = ImportDialog(spam_project, bad)
    qtbot.addWidget(dialog)
    assert "bad.csv, line 3" in dialog.error.text()  # the preview already finds it
    assert "never closed" in dialog.error.text()
    assert not dialog.import_button.isEnabled()
    assert Browser(spam_project).count(Query()) == 0


def test_error_past_the_preview_is_reported_by_the_import(qtbot, spam_project, tmp_path):
    from tests.fixtures_data import sms_rows, write_csv

    path = tmp_path / "late.csv"
    write_csv(path, [["text"], *[[text] for text, _ in sms_rows(80)]])
    with path.open("a", encoding="utf-8") as handle:
        handle.write("one,two\n")  # line 82: two fields under a one-column header
    dialog = ImportDialog(spam_project, path)
    qtbot.addWidget(dialog)
    assert dialog.import_button.isEnabled() and not dialog.error.text()
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "late.csv, line 82" in dialog.error.text(), timeout=10_000)
    assert "2 fields" in dialog.error.text()
    assert Browser(spam_project).count(Query()) == 0
    assert dialog.import_button.isEnabled()  # the user can fix the file and try again


def test_unknown_label_can_be_added_from_the_dialog(qtbot, spam_project, tmp_path, monkeypatch):
    path = tmp_path / "labels.csv"
    path.write_text("text,label\nhello there,ham\nbuy now,promo\n", encoding="utf-8")
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    asked = []

    def answer_yes(*args, **kwargs):
        asked.append(args[2])
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer_yes)
    dialog = ImportDialog(spam_project, path)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.imported, timeout=20_000):
        dialog.start_import()
    assert "promo" in asked[0] and "line 3" in asked[0]
    assert spam_project.schema.label_names == ["ham", "spam", "promo"]
    assert spam_project.schema.version == 2
    assert Browser(spam_project).count(Query(label="promo")) == 1


def test_filters_search_and_sort(qtbot, spam_project, sms_csv):
    import_dataset(spam_project, sms_csv, mapping={"message": "text"}, label_column="label")
    window = _window(qtbot, spam_project)
    total = window.browse.model.rowCount()
    assert total == 60
    spam = Browser(spam_project).count(Query(label="spam"))
    window.browse.label_filter.setCurrentIndex(window.browse.label_filter.findData("spam"))
    assert window.browse.model.rowCount() == spam > 0
    assert all(
        window.browse.model.data(window.browse.model.index(r, 4)) == "spam"
        for r in range(window.browse.model.rowCount())
    )
    window.browse.label_filter.setCurrentIndex(0)
    window.browse.status_filter.setCurrentIndex(window.browse.status_filter.findData("unlabeled"))
    assert window.browse.model.rowCount() == 0
    window.browse.status_filter.setCurrentIndex(0)
    qtbot.keyClicks(window.browse.search, "free")
    qtbot.waitUntil(lambda: window.browse.model.rowCount() < total, timeout=5_000)
    expected = Browser(spam_project).count(Query(search="free"))
    assert window.browse.model.rowCount() == expected > 0
    assert "showing" in window.showing_label.text()
    window.browse.search.clear()
    qtbot.waitUntil(lambda: window.browse.model.rowCount() == total, timeout=5_000)
    # sort by # descending through the header, as a click on it would
    window.browse.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert window.browse.model.data(window.browse.model.index(0, 0)) == 60
    window.browse.table.sortByColumn(2, Qt.SortOrder.AscendingOrder)  # text: not sortable, ignored
    assert window.browse.model.query.sort == "id"


def test_model_fetches_only_the_pages_it_shows(qtbot, spam_project, tmp_path):
    path = tmp_path / "many.txt"
    path.write_text("\n".join(f"message number {i}" for i in range(5_000)), encoding="utf-8")
    import_dataset(spam_project, path)
    model = DatapointTableModel(spam_project)
    assert model.rowCount() == 5_000
    assert model.fetches == 0
    assert model.data(model.index(4_999, 2)) == "message number 4999"
    assert model.data(model.index(4_998, 2)) == "message number 4998"
    assert model.fetches == 1  # one page, not 25
    model.data(model.index(0, 0))
    assert model.fetches == 2
    assert len(model._pages) <= 20 and PAGE_SIZE < 5_000


def test_export_runs_in_background(qtbot, spam_project, sms_csv, tmp_path):
    import_dataset(spam_project, sms_csv, mapping={"message": "text"}, label_column="label")
    window = _window(qtbot, spam_project)
    out = tmp_path / "out.jsonl"
    job = window.start_export(out, only_completed=True)
    with qtbot.waitSignal(job.finished, timeout=20_000):
        pass
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 60
    assert json.loads(lines[0])["label"] in ("ham", "spam")


def test_cancelled_import_leaves_nothing(qtbot, spam_project, tmp_path):
    from app.workers.job import Job
    from tests.fixtures_data import sms_rows, write_csv

    rows = sms_rows(200)
    path = tmp_path / "big.csv"
    write_csv(path, [["text"], *[[f"{text} #{i}"] for i in range(300) for text, _ in rows[:200]]])
    job = Job(import_dataset, spam_project, path)
    job.progress.connect(lambda *_: job.cancel())
    with qtbot.waitSignal(job.cancelled, timeout=30_000):
        job.start()
    wait_for_jobs(10.0)
    assert Browser(spam_project).count(Query()) == 0
    from app.core.io.datasets import list_datasets

    assert list_datasets(spam_project) == []


def test_job_failure_surfaces_the_message(qtbot, spam_project, tmp_path):
    from app.workers.job import Job

    job = Job(import_dataset, spam_project, tmp_path / "missing.csv")
    with qtbot.waitSignal(job.failed, timeout=10_000) as blocker:
        job.start()
    assert "missing.csv" in blocker.args[0]


def test_opening_a_project_finishes_its_search_index_in_background(qtbot, spam_project, sms_csv):
    from app.core.storage import fts

    import_dataset(spam_project, sms_csv, label_column="label", index=False)
    assert fts.pending_count(spam_project) == 60
    window = _window(qtbot, spam_project)
    qtbot.waitUntil(lambda: fts.pending_count(spam_project) == 0, timeout=20_000)
    qtbot.waitUntil(lambda: window.indexing_label.text() == "", timeout=5_000)
    window.browse.search.setText("free")
    window.browse.apply_filters()
    assert 0 < window.browse.model.rowCount() < 60


def test_team_menu_opens_review_adjudication_and_dashboard(qtbot, spam_project):
    window = _window(qtbot, spam_project)
    for key in ("team", "review", "adjudicate", "dashboard"):
        assert window.menus.actions[key].isEnabled()
    review = window.show_review()
    qtbot.addWidget(review)
    adjudication = window.show_adjudication()
    qtbot.addWidget(adjudication)
    dashboard = window.show_dashboard()
    qtbot.addWidget(dashboard)
    assert review.isVisible() and adjudication.isVisible() and dashboard.isVisible()
    qtbot.waitUntil(lambda: dashboard.report is not None, timeout=20_000)
    for dialog in (review, adjudication, dashboard):
        dialog.close()


def test_item_history_opens_for_the_table_row_and_the_editor_item(qtbot, spam_project, sms_csv):
    import_dataset(spam_project, sms_csv)  # unlabeled: the editor's queue has items
    window = _window(qtbot, spam_project)
    window.browse.table.selectRow(2)
    dialog = window.show_history()
    qtbot.addWidget(dialog)
    assert dialog.datapoint_id == window.browse.model.row_at(2).id
    window.show_tab("annotate")
    dialog = window.show_history()
    qtbot.addWidget(dialog)
    assert dialog.datapoint_id == window.session.item.id


def test_gold_window_offers_the_selected_table_rows(qtbot, spam_project, sms_csv):
    import_dataset(spam_project, sms_csv, label_column="label")
    window = _window(qtbot, spam_project)
    window.browse.table.selectRow(1)
    dialog = window.show_gold()
    qtbot.addWidget(dialog)
    assert dialog.datapoint_ids == [window.browse.model.row_at(1).id]


MENUS = {  # (text, shortcut) of every action, "-" for a separator, in the order shown
    "&File": [
        ("&New project…", "Ctrl+N"),
        ("&Open project…", "Ctrl+O"),
        ("Open &recent", ""),
        ("&Import dataset…", "Ctrl+I"),
        ("&Export…", "Ctrl+E"),
        "-",
        ("Export &bundle…", "Ctrl+Shift+B"),
        ("Open b&undle…", "Ctrl+Shift+O"),
        ("&Return work…", "Ctrl+Shift+R"),
        ("&Merge work…", "Ctrl+Shift+M"),
        "-",
        ("&Quit", ""),
    ],
    "&Edit": [],
    "&Annotate": [
        ("&Browse the table", "Ctrl+1"),
        ("&Annotate", "Ctrl+2"),
        ("Bulk &grid", "Ctrl+3"),
        ("Annotate the &table's items", "Ctrl+Return"),
        ("Item &history…", "Ctrl+H"),
        "-",
        ("&Move on after a label (classification)", ""),
    ],
    "&Model": [
        ("&Train now", "Ctrl+T"),
        ("Show the &model…", "Ctrl+M"),
        ("Review &suspicious labels…", "Ctrl+Shift+S"),
        ("&Automate…", ""),
        "-",
        ("Show suggestions &early (below the quality bar)", ""),
    ],
    "&Team": [
        ("&Annotators and assignments…", ""),
        ("&Review work…", "Ctrl+Shift+V"),
        ("&Adjudicate disagreements…", "Ctrl+Shift+J"),
        ("&Gold items and qualification…", "Ctrl+Shift+G"),
        ("&Dashboard…", "Ctrl+Shift+D"),
    ],
    "&View": [
        ("&Theme", ""),
        ("UI &scale", ""),
        "-",
        ("&Larger", "Ctrl+Alt+="),
        ("S&maller", "Ctrl+Alt+-"),
    ],
    "&Help": [("&About Tagloop", "")],
}


def _menu_bar(window: MainWindow) -> dict[str, list]:
    return {
        entry.text(): [
            "-" if action.isSeparator() else (action.text(), action.shortcut().toString())
            for action in entry.menu().actions()
        ]
        for entry in window.menuBar().actions()
    }


def test_menus_keep_their_texts_shortcuts_and_order(qtbot, spam_project):
    empty = MainWindow()
    qtbot.addWidget(empty)
    assert _menu_bar(empty) == MENUS
    assert empty.menus.actions["open"].isEnabled() and empty.menus.actions["about"].isEnabled()
    window = _window(qtbot, spam_project)
    assert [a.text() for a in window.menus.edit_menu.actions()] == ["&Undo", "&Redo"]
    assert all(window.menus.actions[key].isEnabled() for key in ("import", "team", "gold"))
    window.set_project(None)
    assert window.menus.edit_menu.actions() == []
    assert not window.menus.actions["team"].isEnabled()


def test_a_dataset_is_removed_from_the_datasets_panel(qtbot, spam_project, sms_csv, monkeypatch):
    import_dataset(spam_project, sms_csv, mapping={"message": "text"}, label_column="label")
    asked = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes,
    )
    window = _window(qtbot, spam_project)
    assert window.datasets.current() is None
    window.datasets.remove_requested.emit()  # nothing chosen: nothing asked
    assert asked == []
    window.datasets.items.setCurrentRow(0)
    _dataset_id, name = window.datasets.current()
    assert name == "sms.csv"
    window.datasets.remove_requested.emit()
    assert "sms.csv" in asked[0]
    qtbot.waitUntil(lambda: window.browse.model.rowCount() == 0, timeout=20_000)
    assert window.datasets.items.count() == 0


def test_annotating_an_empty_table_opens_an_empty_queue(qtbot, spam_project):
    window = _window(qtbot, spam_project)
    assert window.browse.datapoint_at(0) is None and window.browse.current_row() is None
    window.annotate_table()
    window.annotate_table(0)
    assert window.tabs.currentWidget() is window.editor
    assert window.session.item is None


def test_menu_actions_call_their_verbs_without_qts_checked_flag(
    qtbot, spam_project, sms_csv, monkeypatch
):
    """File ▸ Import dataset… asks for a file and opens the import dialog on it (a menu
    action's `checked` argument must not arrive as the verb's path)."""
    from PySide6.QtWidgets import QFileDialog

    asked = []

    def choose(*args, **kwargs):
        asked.append(args[1])
        return str(sms_csv), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(choose))
    window = _window(qtbot, spam_project)
    window.menus.actions["import"].trigger()
    assert asked == ["Import dataset"]
    dialogs = window.findChildren(ImportDialog)
    assert len(dialogs) == 1 and dialogs[0].path == sms_csv
