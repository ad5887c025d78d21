"""Themes and UI scale (app.views.appearance): chosen under View, applied to every open view at
once, remembered in the user settings, and following the operating system by default."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.core import settings
from app.views import appearance, theme
from app.views.main_window import MainWindow

WINDOW = QPalette.ColorRole.Window
BASE = QPalette.ColorRole.Base
TEXT = QPalette.ColorRole.WindowText


@pytest.fixture(autouse=True)
def _light_again(qapp):
    """The palette, Qt palette and font are the application's: put them back after each test."""
    qt_palette, font = QPalette(qapp.palette()), qapp.font()
    yield
    theme.set_palette(theme.LIGHT)
    qapp.setPalette(qt_palette)
    qapp.setFont(font)
    qapp.setProperty(appearance.BASE_POINT_SIZE, None)


def open_views(qtbot, project, sms_csv):
    """The main window on a project with data, and every top-level view a menu opens."""
    from app.core.io.importer import import_dataset

    import_dataset(project, sms_csv, label_column="label")
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.show()
    views = [
        window,
        window.show_dashboard(),
        window.show_review(),
        window.show_adjudication(),
        window.show_gold(),
        window.show_team(),
    ]
    window.browse.table.selectRow(0)
    views.append(window.show_history())
    return window, [view for view in views if view is not None]


def test_every_palette_role_is_a_colour_in_every_theme():
    for name, colours in theme.THEMES.items():
        for field in theme.Palette.__dataclass_fields__:
            value = getattr(colours, field)
            if isinstance(value, str):
                # #RRGGBB everywhere: open style sheets are re-coloured by these strings
                assert QColor(value).isValid() and appearance.COLOUR.fullmatch(value), (name, field)
    assert theme.DARK.text != theme.LIGHT.text and theme.HIGH_CONTRAST.base == "#000000"


def test_switching_theme_changes_the_palette_of_every_top_level_view(qtbot, spam_project, sms_csv):
    window, views = open_views(qtbot, spam_project, sms_csv)
    assert len(views) == 7
    dashboard = views[1]
    assert theme.LIGHT.card in dashboard.styleSheet()
    window.menus.actions["theme_dark"].trigger()
    assert theme.palette() is theme.DARK
    for view in views:
        assert view.palette().color(WINDOW) == QColor(theme.DARK.window), type(view).__name__
        assert view.palette().color(TEXT) == QColor(theme.DARK.text), type(view).__name__
    # the dashboard's cards follow (no light board inside a dark window)
    assert theme.DARK.card in dashboard.styleSheet()
    assert theme.LIGHT.board not in dashboard.styleSheet()
    assert window.browse.table.palette().color(BASE) == QColor(theme.DARK.base)
    window.menus.actions["theme_high-contrast"].trigger()
    for view in views:
        assert view.palette().color(WINDOW) == QColor(theme.HIGH_CONTRAST.window)
    assert settings.preference(appearance.THEME_KEY) == "high-contrast"
    window.menus.actions["theme_light"].trigger()
    assert views[3].palette().color(BASE) == QColor(theme.LIGHT.base)
    assert theme.LIGHT.card in dashboard.styleSheet()


def test_the_theme_follows_the_system_unless_chosen(qtbot, qapp, monkeypatch):
    assert appearance.chosen_theme() == appearance.SYSTEM
    monkeypatch.setattr(appearance, "system_theme", lambda: "dark")
    assert appearance.apply_theme() is theme.DARK
    settings.set_preference(appearance.THEME_KEY, "light")
    assert appearance.apply_theme() is theme.LIGHT
    settings.set_preference(appearance.THEME_KEY, "no such theme")
    assert appearance.chosen_theme() == appearance.SYSTEM


def test_the_view_menu_remembers_the_theme_for_the_next_window(qtbot):
    first = MainWindow()
    qtbot.addWidget(first)
    first.menus.actions["theme_dark"].trigger()
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.menus.actions["theme_dark"].isChecked()
    assert not second.menus.actions["theme_system"].isChecked()


def test_ui_scale_grows_menus_tables_and_dialogs_and_is_saved(qtbot, spam_project, sms_csv):
    window, views = open_views(qtbot, spam_project, sms_csv)
    before = QApplication.font().pointSizeF()
    table_before = window.browse.table.font().pointSizeF()
    review = views[2]
    sheet_before = review.styleSheet()
    window.menus.actions["scale_150"].trigger()
    assert QApplication.font().pointSizeF() == pytest.approx(before * 1.5)
    assert window.browse.table.font().pointSizeF() == pytest.approx(table_before * 1.5)
    assert window.menuBar().font().pointSizeF() == pytest.approx(before * 1.5)
    assert review.font().pointSizeF() == pytest.approx(before * 1.5)
    assert review.styleSheet() != sheet_before  # its headings' point sizes grew too
    assert settings.preference(appearance.SCALE_KEY) == 1.5
    window.menus.actions["scale_down"].trigger()
    assert settings.preference(appearance.SCALE_KEY) == 1.3
    window.menus.actions["scale_100"].trigger()
    assert QApplication.font().pointSizeF() == pytest.approx(before)


def test_big_dialogs_fit_the_screen(qtbot, spam_project, sms_csv):
    """Gold (1440x900 wanted) and the dashboard (1320x940) open no larger than the screen."""
    window, views = open_views(qtbot, spam_project, sms_csv)
    free = window.screen().availableGeometry()
    for view in views[1:6]:
        # as small as the screen, unless the layout cannot shrink that far...
        hint = view.minimumSizeHint()
        assert view.width() <= max(free.width(), hint.width()), view
        assert view.height() <= max(free.height(), hint.height()), view
        # ...which it always can on a 1366x768 laptop (less its task bar)
        assert hint.width() <= 1366 and hint.height() <= 720, (type(view).__name__, hint)
