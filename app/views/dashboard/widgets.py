"""The dashboard's building blocks: the card every panel is drawn on, figure tiles, tables of
text, and the style sheet, in the views' palette (`app.views.theme`); the charts on the cards
draw in the report's colours (`app.core.report.svg.PALETTE`), so they match the HTML report.

Split out of the dashboard window so that each panel module (summary, work, agreement,
quality, issues) builds on the same few pieces and the window is only layout and wiring.
"""

from __future__ import annotations

from string import Template

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.report.sections import ProjectReport
from app.views.theme import palette


def style_sheet() -> str:
    """The dashboard's style sheet (the object names below), in the palette in use: the board,
    cards and boxes are the window's; only the charts draw in the report's colours."""
    colours = palette()
    return Template("""
#board { background: ${board}; }
#card { background: ${card}; border: 1px solid ${card_border}; border-radius: 8px; }
#heading { font-weight: 600; font-size: 11pt; color: ${text}; }
#note { color: ${muted}; }
#tile { background: ${card}; border: 1px solid ${card_border}; border-radius: 8px; }
#tileValue { font-size: 16pt; font-weight: 600; color: ${text}; }
#tileName { color: ${muted}; }
#tile[bad="true"] { background: ${alert_background}; border-color: ${alert_border}; }
#tile[bad="true"] #tileValue { color: ${danger}; }
#mini { background: ${board}; border-radius: 6px; }
#miniValue { font-size: 14pt; font-weight: 600; color: ${text}; }
#mini[bad="true"] { background: ${alert_background}; }
#mini[bad="true"] #miniValue { color: ${danger}; }
#alert { background: ${alert_background}; color: ${danger_strong};
  border-left: 4px solid ${danger}; border-radius: 4px; padding: 6px 10px; }
#ok { background: ${success_background}; color: ${success};
  border-left: 4px solid ${success_border}; border-radius: 4px; padding: 5px 10px; }
#badge { background: ${danger}; color: ${ink_on_dark}; border-radius: 9px; padding: 1px 9px;
  font-weight: 600; }
#subheading { font-weight: 600; color: ${text}; margin-top: 6px; }
""").substitute(vars(colours))


def make_table(headers: list[str], stretch: int) -> QTableWidget:
    """A read-only table of text; column `stretch` takes the spare width."""
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setAccessibleName("Table: " + ", ".join(headers))  # what a screen reader announces
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    for column in range(len(headers)):
        header.setSectionResizeMode(
            column,
            QHeaderView.ResizeMode.Stretch
            if column == stretch
            else QHeaderView.ResizeMode.ResizeToContents,
        )
    return table


def fill_table(table: QTableWidget, rows: list[tuple[str, ...]], numeric: tuple[int, ...]) -> None:
    """Put rows of text in a table (each cell's full text as its tooltip), sized to at most
    about ten rows."""
    table.setRowCount(len(rows))
    for row, cells in enumerate(rows):
        for column, value in enumerate(cells):
            item = QTableWidgetItem(value)
            item.setToolTip(value)
            if column in numeric:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(row, column, item)
    rows_shown = min(10, max(2, len(rows)))
    table.setFixedHeight(
        table.horizontalHeader().sizeHint().height()
        + table.verticalHeader().defaultSectionSize() * rows_shown
        + 2 * table.frameWidth()
    )


def plain_label(name: str = "") -> QLabel:
    """A label that shows user text as text, never as rich text."""
    label = QLabel("")
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    if name:
        label.setObjectName(name)
    return label


def subheading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("subheading")
    return label


def column(*parts: QWidget | int, spacing: int | None = None) -> QWidget:
    """Widgets stacked in a column without margins; an int is a fixed gap."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    if spacing is not None:
        layout.setSpacing(spacing)
    for part in parts:
        if isinstance(part, int):
            layout.addSpacing(part)
        else:
            layout.addWidget(part)
    return box


def set_bad(widget: QWidget, bad: bool) -> None:
    """Switch a tile's warning look (a dynamic property the style sheet matches)."""
    if widget.property("bad") != bad:
        widget.setProperty("bad", bad)
        widget.style().unpolish(widget)
        widget.style().polish(widget)
        for child in widget.findChildren(QLabel):
            child.style().unpolish(child)
            child.style().polish(child)


class Tile(QFrame):
    """A figure and its name: a summary tile ("tile") or a smaller one in a card ("mini")."""

    def __init__(self, kind: str = "tile", name: str = "") -> None:
        super().__init__()
        self.setObjectName(kind)
        self.value = QLabel("…")
        self.value.setObjectName(f"{kind}Value")
        self.name = QLabel(name)
        layout = QVBoxLayout(self)
        layout.setSpacing(0)
        layout.addWidget(self.value)
        layout.addWidget(self.name)
        if kind == "tile":
            self.name.setObjectName("tileName")
            layout.setContentsMargins(14, 8, 14, 8)
        else:
            self.name.setObjectName("note")
            self.name.setWordWrap(True)
            layout.setContentsMargins(10, 6, 10, 6)
            layout.addStretch(1)


class Card(QFrame):
    """A white panel with a title, a note and a body: the base of every dashboard panel,
    each of which shows its part of the report in `show_report`."""

    def __init__(self, title: str, note: str, extra: QWidget | None = None) -> None:
        super().__init__()
        self.setObjectName("card")
        self.note = QLabel(note)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setObjectName("note")
        self.note.setWordWrap(True)
        heading = QLabel(title)
        heading.setObjectName("heading")
        top = QHBoxLayout()
        top.addWidget(heading, 1)
        if extra is not None:
            top.addWidget(extra)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(16, 12, 16, 14)
        self._layout.setSpacing(6)
        self._layout.addLayout(top)
        self._layout.addWidget(self.note)

    def show_report(self, report: ProjectReport) -> None:  # pragma: no cover - panels show
        raise NotImplementedError

    def set_body(self, body: QWidget) -> None:
        """Put the card's chart or box under its note (once)."""
        self._layout.addWidget(body)
        self._layout.addStretch(1)


class MiniTiles(QWidget):
    """A row of small tiles, one per name, for a card's figures side by side: `values` holds
    each figure's label, `frames` its tile (to mark it bad), `grid` room for rows below."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(8)
        self.values: dict[str, QLabel] = {}
        self.frames: dict[str, Tile] = {}
        for k, name in enumerate(names):
            tile = Tile("mini", name)
            self.values[name], self.frames[name] = tile.value, tile
            self.grid.addWidget(tile, 0, k)
