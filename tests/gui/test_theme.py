"""The palette (app.views.theme): every role a colour, one place to switch, no stray literals."""

from __future__ import annotations

import re
from dataclasses import fields, replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.core.annotation.browse import Query
from app.views import theme
from app.views.table_model import DatapointTableModel

VIEWS = Path(theme.__file__).resolve().parent
# Every view takes its colours from the palette: a colour literal anywhere in app/views but
# theme.py itself is a stray (a hex colour, a named colour in a style sheet, a QColor of a
# fixed colour).
HEX = re.compile(r"#[0-9a-fA-F]{6}\b")
NAMED = re.compile(
    r"\b(?:color|background(?:-color)?|border(?:-[a-z]+)*)\s*:[^;}\"']*"
    r"\b(?:white|black|gr[ae]y|red|green|blue|yellow|orange|purple|silver|navy|maroon)\b"
)
FIXED = re.compile(r"QColor\(\s*[\"']|Qt\.GlobalColor|\bQt\.(?:white|black|red|green|blue|gray)\b")


def view_files() -> list[Path]:
    """Every module of app/views except the palette itself."""
    return sorted(p for p in VIEWS.rglob("*.py") if p != VIEWS / "theme.py")


def test_every_role_of_the_light_palette_is_a_colour():
    for field in fields(theme.Palette):
        value = getattr(theme.LIGHT, field.name)
        if field.type in (int, "int"):
            assert 0 <= value <= 255, field.name
        else:
            assert QColor(value).isValid(), field.name


def test_ink_reads_on_light_and_dark_label_colours():
    assert theme.text_colour_on(QColor("#FFEB3B")) == theme.LIGHT.ink_on_light
    assert theme.text_colour_on(QColor("#1A237E")) == theme.LIGHT.ink_on_dark


def test_views_follow_the_palette_in_use(qtbot, spam_project):
    from app.core.io.importer import import_dataset
    from tests.fixtures_data import sms_rows, write_csv

    path = spam_project.path.parent / "few.csv"
    write_csv(path, [["message"], *[[text] for text, _label in sms_rows(3)]])
    import_dataset(spam_project, path)
    model = DatapointTableModel(spam_project, Query())
    index = model.index(0, 3)
    light = model.data(index, Qt.ItemDataRole.ForegroundRole)
    assert light == QColor(theme.LIGHT.table_unlabeled)
    other = replace(theme.LIGHT, table_unlabeled="#123456")
    theme.set_palette(other)
    try:
        assert theme.palette() is other
        assert model.data(index, Qt.ItemDataRole.ForegroundRole) == QColor("#123456")
    finally:
        theme.set_palette(theme.LIGHT)
    assert theme.palette() is theme.LIGHT


def test_views_hold_no_colour_literal():
    stray = []
    for file in view_files():
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if HEX.search(line) or NAMED.search(line) or FIXED.search(line):
                stray.append(f"{file.relative_to(VIEWS)}:{number}: {line.strip()}")
    assert stray == []


def test_the_literal_check_sees_every_kind_of_literal():
    assert HEX.search("color: #1565C0;")
    assert NAMED.search('"#card { background: white; border: 1px solid"')
    assert NAMED.search('f"background: {colour}; color: black"')
    assert not NAMED.search("background: palette(base); border: 1px solid {colours.border}")
    assert FIXED.search('QColor("#ECEFF1")') and FIXED.search("Qt.GlobalColor.red")
    assert not FIXED.search("QColor(colours.model)")
    assert len(view_files()) > 40 and VIEWS / "theme.py" not in view_files()


def test_quality_dashboard_and_model_views_follow_the_palette_in_use():
    from app.views.dashboard.widgets import style_sheet as dashboard_style
    from app.views.quality.gold_common import verdict_colour
    from app.views.quality.history import what_colour
    from app.views.quality.widgets import decision_badge, status_colour
    from app.views.quality.widgets import style_sheet as queue_style

    assert decision_badge("reject") == ("✗ rejected", theme.LIGHT.danger)
    other = replace(theme.LIGHT, danger="#123456", card="#654321", border="#111111")
    theme.set_palette(other)
    try:
        assert decision_badge("reject") == ("✗ rejected", "#123456")
        assert status_colour("completed with issues") == "#123456"
        assert what_colour("flag") == verdict_colour(False) == "#123456"
        assert "#654321" in dashboard_style() and "#123456" in dashboard_style()
        assert "#111111" in queue_style()
    finally:
        theme.set_palette(theme.LIGHT)
    assert what_colour("flag") == theme.LIGHT.danger
