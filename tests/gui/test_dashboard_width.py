"""The dashboard fits a 1024x768 screen (a #16 leftover): the summary tiles wrap into two
rows instead of widening the board, and neither the consensus tiles nor the gold table are
squeezed for it; at 1440x900 the tiles stay in one row."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QApplication, QScrollArea

from app.views.dashboard.window import DashboardView
from tests.gui import test_dashboard_quality as quality

shop = quality.shop  # a fixture: a team project with gold, reviews and consensus (8 tiles)
SHOTS = Path(os.environ.get("TAGLOOP_SHOTS", "/tmp/tagloop-shots"))


def _at(view: DashboardView, width: int, height: int) -> QScrollArea:
    view.resize(width, height)
    for _ in range(3):
        QApplication.processEvents()
    return view.findChild(QScrollArea)


def _rows(view: DashboardView) -> int:
    shown = [tile for tile in view.tile_frames.values() if tile.isVisible()]
    return len({tile.y() for tile in shown})


def test_the_dashboard_fits_1024_without_squeezing_consensus_or_gold(qtbot, shop):
    view = DashboardView(shop)
    qtbot.addWidget(view)
    view.show()
    with qtbot.waitSignal(view.report_ready, timeout=60_000):
        pass
    assert all(view.tile_frames[key].isVisible() for key in ("rejections", "alerts"))
    assert view.minimumSizeHint().width() <= 1024

    scroll = _at(view, 1024, 768)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert view.grab().save(str(SHOTS / "dashboard_1024.png"))
    board = scroll.widget()
    assert board.minimumSizeHint().width() <= scroll.viewport().width()
    assert not scroll.horizontalScrollBar().isVisible()  # no sideways scrolling at 1024
    assert _rows(view) == 2
    for key, tile in view.tile_frames.items():  # every tile's caption and figure whole
        if tile.isVisible():
            caption = view.tile_labels[key + "_name"]
            assert caption.width() >= caption.sizeHint().width(), key
    for name, value in view.consensus_card.values.items():  # not squeezed: one-line captions
        caption = view.consensus_card.frames[name].name
        assert caption.width() >= caption.sizeHint().width(), name
        assert caption.height() <= 2 * caption.fontMetrics().height(), name
        assert value.width() >= value.sizeHint().width()
    table = view.gold_card.table
    names = [table.item(row, 0).text() for row in range(table.rowCount())]
    widest = max(table.fontMetrics().horizontalAdvance(name) for name in names)
    assert table.columnWidth(0) >= widest  # "Dr. Amira Haddad" whole, not elided
    assert table.horizontalHeaderItem(2).toolTip()  # the short headers say what they mean

    scroll = _at(view, 1440, 900)
    assert view.grab().save(str(SHOTS / "dashboard_1440.png"))
    assert not scroll.horizontalScrollBar().isVisible()
    assert _rows(view) == 1
