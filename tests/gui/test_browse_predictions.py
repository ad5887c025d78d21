"""Predictions in Browse (issue #16 item 15): a Model column with the label and confidence,
sortable and filterable, read a page at a time; and the model's suggestion on bulk-grid cards."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.core.annotation.browse import Browser, Query
from app.core.io.importer import import_dataset
from app.core.project import modelstore
from app.views.main_window import MainWindow
from app.views.table_model import MODEL_COLUMN, PAGE_SIZE, DatapointTableModel


@pytest.fixture
def predicted(spam_project, sms_csv):
    """The SMS project with a model version whose predictions cover every other datapoint."""
    import_dataset(spam_project, sms_csv)
    with spam_project.engine.connect() as conn:
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM datapoint ORDER BY id")]
    version = modelstore.save_version(spam_project, "test", b"", 0, {})
    rows = [
        (dp, "spam" if k % 4 == 0 else "ham", 0.5 + (k % 10) / 20, None)
        for k, dp in enumerate(ids)
        if k % 2 == 0
    ]
    modelstore.write_predictions(spam_project, version.id, rows)
    return spam_project, version.id, ids, {dp: (v, c) for dp, v, c, _s in rows}


def test_the_model_column_shows_label_and_confidence(predicted):
    project, version, ids, truth = predicted
    model = DatapointTableModel(project, Query(model_version=version))
    assert model.headerData(MODEL_COLUMN, Qt.Orientation.Horizontal, 0) == "Model"
    first = model.index(0, MODEL_COLUMN)
    label, confidence = truth[ids[0]]
    assert model.data(first) == f"{label} · {confidence:.0%}"
    assert "confidence" in model.data(first, Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(1, MODEL_COLUMN)) == ""  # not predicted
    assert model.fetches == 1  # predictions come with their page, not for the whole table


def test_sorting_by_confidence_and_filtering_by_what_the_model_says(predicted):
    project, version, _ids, truth = predicted
    browser = Browser(project)
    query = Query(model_version=version, sort="confidence", descending=True)
    rows = browser.page(query, 0, PAGE_SIZE)
    confidences = [truth[row.id][1] for row in rows if row.id in truth]
    assert confidences == sorted(confidences, reverse=True) and len(confidences) == len(truth)
    spam = Query(model_version=version, predicted="spam")
    expected = sorted(dp for dp, (v, _c) in truth.items() if v == "spam")
    assert browser.count(spam) == len(expected)
    assert [row.id for row in browser.page(spam, 0, PAGE_SIZE)] == expected
    unsure = Query(model_version=version, max_confidence=0.6)
    assert browser.count(unsure) == sum(1 for _v, c in truth.values() if c < 0.6)
    both = Query(model_version=version, predicted="ham", max_confidence=0.6, label=None)
    assert browser.count(both) == sum(1 for v, c in truth.values() if v == "ham" and c < 0.6)


def test_browse_sorts_and_filters_the_model_column_as_a_user_does(qtbot, predicted):
    project, version, _ids, truth = predicted
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.show()
    panel = window.browse
    assert panel.model_version == version and panel.prediction_filter.isEnabled()
    panel.table.sortByColumn(MODEL_COLUMN, Qt.SortOrder.DescendingOrder)
    top = panel.model.data(panel.model.index(0, MODEL_COLUMN))
    assert top.endswith(f"{max(c for _v, c in truth.values()):.0%}")
    panel.prediction_filter.setCurrentIndex(panel.prediction_filter.findText("says spam"))
    assert panel.model.rowCount() == sum(1 for v, _c in truth.values() if v == "spam")
    assert all(
        panel.model.data(panel.model.index(r, MODEL_COLUMN)).startswith("spam")
        for r in range(panel.model.rowCount())
    )


def test_an_empty_model_column_says_why_it_cannot_filter(qtbot, spam_project, sms_csv):
    import_dataset(spam_project, sms_csv)
    window = MainWindow(spam_project)
    qtbot.addWidget(window)
    assert not window.browse.prediction_filter.isEnabled()
    assert "Train" in window.browse.prediction_filter.toolTip()


def test_bulk_grid_cards_show_the_models_suggestion(qtbot, predicted):
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyleOptionViewItem

    project, version, _ids, truth = predicted
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.session.set_suggest_version(version)
    window.show_tab("grid")
    grid = window.grid
    item = grid.model.items[0]
    assert item.suggestion is not None and item.suggestion.value == truth[item.id][0]
    delegate = grid.view.itemDelegate()
    drawn: list[str] = []
    image = QImage(320, 140, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    painter.drawText = lambda *args: drawn.append(str(args[-1]))  # type: ignore[method-assign]
    option = QStyleOptionViewItem()
    option.rect = image.rect()
    delegate.paint(painter, option, grid.model.index(0))
    painter.end()
    label, confidence = truth[item.id]
    assert f"model: {label} {confidence:.0%}" in drawn


def test_a_confidence_sort_over_too_many_rows_is_refused_with_a_reason(
    qtbot, predicted, monkeypatch
):
    """Sorting by a looked-up confidence costs every row per page: over the cap the table keeps
    its order, the header's arrow goes back, and the panel says to filter first."""
    from app.views import table_model

    project, _version, ids, _truth = predicted
    monkeypatch.setattr(table_model, "MAX_CONFIDENCE_SORT", 10)
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.show()
    panel = window.browse
    panel.table.sortByColumn(MODEL_COLUMN, Qt.SortOrder.DescendingOrder)
    assert panel.model.query.sort == "id"
    assert panel.table.horizontalHeader().sortIndicatorSection() == 0
    assert panel.note.isVisible() and "filter" in panel.note.text()
    assert panel.datapoint_at(0) == ids[0]
    panel.prediction_filter.setCurrentIndex(panel.prediction_filter.findText("says spam"))
    assert not panel.note.isVisible()
