"""Clipped text (issue #16 item 5): what must be read is not cut, down to a 1024x640 window."""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontMetrics

from app.views.main_window import MainWindow
from app.views.widgets.charts import HeatMap


def test_the_editor_header_shows_the_item_and_its_row_at_1024_px(qtbot, spam_project, sms_csv):
    from app.core.io.importer import import_dataset

    import_dataset(spam_project, sms_csv)
    window = MainWindow(spam_project)
    qtbot.addWidget(window)
    window.resize(1024, 640)
    window.show()
    window.show_tab("annotate")
    qtbot.waitUntil(lambda: window.session.item is not None)
    label = window.editor.position_label
    item = window.session.item
    bold = QFont(label.font())
    bold.setBold(True)  # "Item 2 of 5,074" is bold; the row after it is not
    needed = QFontMetrics(bold).horizontalAdvance("Item 2 of 5,074") + QFontMetrics(
        label.font()
    ).horizontalAdvance("  ·  row 502")
    assert label.width() >= needed  # the bold part and the row number are readable
    assert item.dataset in label.toolTip()  # the file name, if cut, is in the tooltip


def test_the_shortcut_sheet_shows_every_action_whole(qtbot, spam_project, sms_csv):
    from app.core.io.importer import import_dataset

    import_dataset(spam_project, sms_csv)
    window = MainWindow(spam_project)
    qtbot.addWidget(window)
    window.show_tab("annotate")
    window.editor.show_shortcuts()
    sheet = window.editor.sheet
    qtbot.waitExposed(sheet)
    table = sheet.table
    metrics = table.fontMetrics()
    for row in range(table.rowCount()):
        action = table.item(row, 1).text()
        assert metrics.horizontalAdvance(action) < table.columnWidth(1), action
    sheet.close()


def test_heat_map_names_get_the_room_they_need(qtbot):
    chart = HeatMap()
    qtbot.addWidget(chart)
    chart.resize(900, 400)
    names = ["Dr. Adaeze Okafor-Williams (reviewer)", "Ben"]
    chart.set_data((names, [[None, 0.5], [0.5, None]], None))
    widest = QFontMetrics(chart.font()).horizontalAdvance(names[0])
    assert chart.label_w >= min(widest + 10, 260) and chart.head_h > HeatMap.HEAD_H
    assert names[0] in chart.toolTip()
