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
# Views whose colours all come from the palette; the others adopt it one by one, then join.
ADOPTED = (
    "main_window.py",
    "menus.py",
    "browse_panel.py",
    "table_model.py",
    "import_dialog.py",
    "new_project_wizard.py",
    "app.py",
    "editor",
    "team",
)
HEX = re.compile(r"#[0-9a-fA-F]{6}\b")


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


def test_adopted_views_hold_no_colour_literal():
    stray = []
    for name in ADOPTED:
        path = VIEWS / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                if HEX.search(line):
                    stray.append(f"{file.relative_to(VIEWS)}:{number}: {line.strip()}")
    assert stray == []
