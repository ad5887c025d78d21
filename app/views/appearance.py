"""The look the user chose: theme (light, dark, high contrast, or the operating system's) and UI
scale, both under View and both remembered in the user settings.

A theme is one `theme.Palette`: this module makes it the palette every view asks for, gives Qt
the matching `QPalette` (so standard widgets, tables and menus follow), and re-styles windows
that are already open. Those built their style sheets and rich text from the old palette, so
their colours are translated role by role to the new one; a widget that keeps colours of its own
may also offer `retheme()`, which is called afterwards.

The scale is the application font (menus, tables, dialogs, not only the editor's text) times a
factor; the point sizes written into open style sheets are scaled with it.
"""

from __future__ import annotations

import re
from dataclasses import fields

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from app.core import settings
from app.views import theme
from app.views.recolour import recolour

THEME_KEY = "ui_theme"
SCALE_KEY = "ui_scale"
SYSTEM = "system"
THEME_CHOICES = (  # (setting, menu text), in the View menu's order
    (SYSTEM, "Follow the &system"),
    ("light", "&Light"),
    ("dark", "&Dark"),
    ("high-contrast", "&High contrast"),
)
SCALES = (0.9, 1.0, 1.15, 1.3, 1.5, 1.75)
BASE_POINT_SIZE = "tagloop_base_point_size"  # the app's unscaled font size (an app property)
COLOUR = re.compile(r"#[0-9a-fA-F]{6}\b")  # every palette colour is written so
POINTS = re.compile(r"(font-size:\s*)(\d+(?:\.\d+)?)pt")


def chosen_theme() -> str:
    """The theme setting: "system" (the default), "light", "dark" or "high-contrast"."""
    value = settings.preference(THEME_KEY, SYSTEM)
    return value if value in theme.THEMES or value == SYSTEM else SYSTEM


def chosen_scale() -> float:
    """The UI scale setting (1.0 unless the user chose another)."""
    value = settings.preference(SCALE_KEY, 1.0)
    return float(value) if isinstance(value, int | float) and 0.5 <= value <= 3 else 1.0


def system_theme() -> str:
    """What the operating system asks for (Qt 6.5+ colorScheme): dark, or else light."""
    app = QGuiApplication.instance()
    if app is None:
        return "light"
    scheme = app.styleHints().colorScheme()  # type: ignore[attr-defined]
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def resolve(name: str) -> theme.Palette:
    """The palette a theme setting stands for."""
    return theme.THEMES[system_theme() if name == SYSTEM else name]


def qt_palette(colours: theme.Palette) -> QPalette:
    """The Qt palette of a theme: what Fusion paints windows, tables, menus and buttons with."""
    role = QPalette.ColorRole
    result = QPalette()
    for qt_role, value in (
        (role.Window, colours.window),
        (role.WindowText, colours.text),
        (role.Base, colours.base),
        (role.AlternateBase, colours.alternate_base),
        (role.Text, colours.text),
        (role.Button, colours.button),
        (role.ButtonText, colours.text),
        (role.BrightText, colours.danger_strong),
        (role.Highlight, colours.highlight),
        (role.HighlightedText, colours.highlight_text),
        (role.Link, colours.link),
        (role.LinkVisited, colours.link),
        (role.ToolTipBase, colours.card),
        (role.ToolTipText, colours.text),
        (role.PlaceholderText, colours.placeholder),
        (role.Mid, colours.border),
        (role.Midlight, colours.card_border),
        (role.Light, colours.base),
        (role.Dark, colours.cell_border),
        (role.Shadow, colours.text),
    ):
        result.setColor(qt_role, QColor(value))
    for qt_role in (role.WindowText, role.Text, role.ButtonText):
        result.setColor(QPalette.ColorGroup.Disabled, qt_role, QColor(colours.disabled_text))
    return result


def colour_map(old: theme.Palette, new: theme.Palette) -> dict[str, str]:
    """Each colour of the old palette, by the text a style sheet holds, to its role's new one."""
    mapping: dict[str, str] = {}
    for field in fields(theme.Palette):
        before, after = getattr(old, field.name), getattr(new, field.name)
        if isinstance(before, str) and before.lower() not in mapping:
            mapping[before.lower()] = after
    return mapping


def translate(text: str, mapping: dict[str, str]) -> str:
    """A style sheet or rich text with the old palette's colours swapped for the new ones."""
    return COLOUR.sub(lambda m: mapping.get(m.group(0).lower(), m.group(0)), text)


def apply_theme(name: str | None = None) -> theme.Palette:
    """Make a theme (the setting, unless given) the one of the palette, Qt and open windows."""
    chosen = resolve(chosen_theme() if name is None else name)
    old = theme.palette()
    theme.set_palette(chosen)
    app = QApplication.instance()
    if app is None:
        return chosen
    app.setPalette(qt_palette(chosen))  # type: ignore[attr-defined]
    app.sendPostedEvents()  # the palette reaches every widget now, not at the next event loop
    if old is not chosen:
        restyle(app.allWidgets(), colour_map(old, chosen))  # type: ignore[attr-defined]
    return chosen


def restyle(widgets: list[QWidget], mapping: dict[str, str]) -> None:
    """Re-colour open widgets: their style sheets, their rich text, then their own retheme()."""
    for widget in widgets:
        sheet = widget.styleSheet()
        if sheet:
            changed = translate(sheet, mapping)
            if changed != sheet:
                widget.setStyleSheet(changed)
        if isinstance(widget, QLabel) and widget.textFormat() != Qt.TextFormat.PlainText:
            text = widget.text()
            if "<" in text:
                widget.setText(translate(text, mapping))
        recolour(widget, mapping)  # colours put into items and text documents
    for widget in widgets:
        hook = getattr(widget, "retheme", None)
        if callable(hook):
            hook()
        widget.update()


def set_theme(name: str) -> theme.Palette:
    """The user chose a theme under View: remember it and apply it now."""
    settings.set_preference(THEME_KEY, name)
    return apply_theme(name)


def apply_scale(factor: float | None = None) -> float:
    """Scale the application font (the setting, unless given) and style sheets' point sizes.

    Open widgets are rescaled now; widgets built later (a window opened after the change, a
    style sheet set again on refresh) are scaled as Qt polishes or re-styles them, by an event
    filter that is installed only while the scale is not 100%.
    """
    factor = chosen_scale() if factor is None else factor
    app = QApplication.instance()
    if app is None:
        return factor
    base = app.property(BASE_POINT_SIZE)
    if base is None:
        base = app.font().pointSizeF()  # type: ignore[attr-defined]
        app.setProperty(BASE_POINT_SIZE, base)
    font = app.font()  # type: ignore[attr-defined]
    font.setPointSizeF(base * factor)
    app.setFont(font)  # type: ignore[attr-defined]
    app.sendPostedEvents()
    ScaleKeeper.instance().set_factor(factor)
    for widget in app.allWidgets():  # type: ignore[attr-defined]
        scale_sheet(widget, factor)
    return factor


def points(size: float) -> str:
    """A point size for rich text ("12pt" at 100%), at the scale in use: label text is not a
    style sheet, so the scale must be written into it when it is built."""
    return f"{size * ScaleKeeper.instance().factor:.1f}pt"


SCALED_SHEET = "tagloop_scaled_sheet"  # the style sheet as this module last scaled it
SCALED_BY = "tagloop_scaled_by"  # ... and the factor it was scaled by


def scale_sheet(widget: QWidget, factor: float) -> None:
    """Give a widget's style sheet the point sizes of this scale (written for 100%)."""
    sheet = widget.styleSheet()
    if "pt" not in sheet:
        return
    done = widget.property(SCALED_BY) if widget.property(SCALED_SHEET) == sheet else None
    current = float(done) if done is not None else 1.0  # a sheet set anew is at 100%
    if abs(current - factor) < 1e-6:
        return
    ratio = factor / current
    changed = POINTS.sub(lambda m: f"{m.group(1)}{float(m.group(2)) * ratio:.1f}pt", sheet)
    widget.setProperty(SCALED_SHEET, changed)
    widget.setProperty(SCALED_BY, factor)
    widget.setStyleSheet(changed)


class ScaleKeeper(QObject):
    """Scales the style sheets of widgets polished or re-styled after the scale was chosen."""

    EVENTS = (QEvent.Type.Polish, QEvent.Type.StyleChange)
    _instance: ScaleKeeper | None = None

    def __init__(self) -> None:
        super().__init__()
        self.factor = 1.0
        self.installed = False

    @classmethod
    def instance(cls) -> ScaleKeeper:
        if cls._instance is None:
            cls._instance = ScaleKeeper()
        return cls._instance

    def set_factor(self, factor: float) -> None:
        """Watch the application's widgets while the scale is not 100%."""
        self.factor = factor
        app = QApplication.instance()
        wanted = abs(factor - 1) > 1e-6
        if app is not None and wanted != self.installed:
            (app.installEventFilter if wanted else app.removeEventFilter)(self)
            self.installed = wanted

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in self.EVENTS and isinstance(watched, QWidget):
            scale_sheet(watched, self.factor)
        return False


def set_scale(factor: float) -> float:
    """The user chose a scale under View: remember it and apply it now."""
    settings.set_preference(SCALE_KEY, factor)
    return apply_scale(factor)


def follow_system() -> None:
    """While the setting is "system", switch with the operating system's light or dark mode."""
    app = QGuiApplication.instance()
    if app is None or getattr(app, "_tagloop_follows", False):
        return
    app.styleHints().colorSchemeChanged.connect(  # type: ignore[attr-defined]
        lambda _scheme: apply_theme() if chosen_theme() == SYSTEM else None
    )
    app._tagloop_follows = True  # type: ignore[attr-defined]
