"""The main window's menu bar: every action, with its text and shortcut, and what it calls.

Split out of main_window.py so that the window reads as a composition of its parts, and so that
the menus read as one table per menu. The actions call the window's public verbs (new_project,
import_dataset, show_review...); the window enables them as projects open and close, and puts
the open session's undo and redo into the Edit menu.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoStack
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from app import APP_NAME, __version__
from app.core import settings
from app.views import appearance

if TYPE_CHECKING:
    from app.views.main_window import MainWindow

Shortcut = QKeySequence.StandardKey | str | None
# (key, text, shortcut, slot): one row per action of a menu, in the order shown.
Row = tuple[str, str, Shortcut, Callable[[], object]]

# Actions that need an open project: all but New, Open, Open recent, Open bundle, Quit, About.
PROJECT_ACTIONS = (
    "import",
    "export",
    "browse",
    "annotate",
    "grid",
    "annotate_filter",
    "history",
    "train",
    "model",
    "suspicious",
    "automate",
    "bundle_export",
    "bundle_return",
    "bundle_merge",
    "team",
    "dashboard",
    "review",
    "adjudicate",
    "gold",
)


@dataclass
class Menus:
    """The actions by key, and the menus that change while the window runs."""

    actions: dict[str, QAction]
    edit_menu: QMenu
    recent_menu: QMenu
    auto_advance: QAction

    def set_project_open(self, is_open: bool) -> None:
        """Enable the actions that need a project, or disable them when none is open."""
        for key in PROJECT_ACTIONS:
            self.actions[key].setEnabled(is_open)

    def show_undo(self, stack: QUndoStack, parent: QWidget) -> None:
        """Undo and redo of a session's stack, in the Edit menu."""
        self.edit_menu.clear()
        undo = stack.createUndoAction(parent, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = stack.createRedoAction(parent, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.edit_menu.addAction(undo)
        self.edit_menu.addAction(redo)

    def clear_undo(self) -> None:
        """No session, nothing to undo: an empty Edit menu."""
        self.edit_menu.clear()


def build_menus(window: MainWindow) -> Menus:
    """Fill the window's menu bar: File, Edit, Annotate, Model, Team, View and Help."""
    bar = window.menuBar()
    actions: dict[str, QAction] = {}

    def add(menu: QMenu, rows: Sequence[Row]) -> None:
        for key, text, shortcut, slot in rows:
            action = QAction(text, window)
            if shortcut is not None:
                action.setShortcut(shortcut)
            # triggered(bool) would hand `checked` to a verb's first optional argument
            # (import_dataset(path=False)): the verbs are called with no arguments.
            action.triggered.connect(lambda _checked=False, slot=slot: slot())
            menu.addAction(action)
            actions[key] = action

    file_menu = bar.addMenu("&File")
    add(
        file_menu,
        (
            ("new", "&New project…", QKeySequence.StandardKey.New, window.new_project),
            ("open", "&Open project…", QKeySequence.StandardKey.Open, window.choose_project),
        ),
    )
    recent_menu = file_menu.addMenu("Open &recent")
    recent_menu.aboutToShow.connect(lambda: _fill_recent(recent_menu, window.open_project_path))
    add(
        file_menu,
        (
            ("import", "&Import dataset…", "Ctrl+I", window.import_dataset),
            ("export", "&Export…", "Ctrl+E", window.export),
        ),
    )
    file_menu.addSeparator()
    add(
        file_menu,
        (
            ("bundle_export", "Export &bundle…", "Ctrl+Shift+B", window.export_bundle),
            ("bundle_open", "Open b&undle…", "Ctrl+Shift+O", window.open_bundle),
            ("bundle_return", "&Return work…", "Ctrl+Shift+R", window.return_work),
            ("bundle_merge", "&Merge work…", "Ctrl+Shift+M", window.merge_work),
        ),
    )
    file_menu.addSeparator()
    add(file_menu, (("quit", "&Quit", QKeySequence.StandardKey.Quit, window.close),))
    edit_menu = bar.addMenu("&Edit")
    annotate_menu = bar.addMenu("&Annotate")
    add(
        annotate_menu,
        (
            ("browse", "&Browse the table", "Ctrl+1", lambda: window.show_tab("browse")),
            ("annotate", "&Annotate", "Ctrl+2", lambda: window.show_tab("annotate")),
            ("grid", "Bulk &grid", "Ctrl+3", lambda: window.show_tab("grid")),
            (
                "annotate_filter",
                "Annotate the &table's items",
                "Ctrl+Return",
                window.annotate_table,
            ),
            ("history", "Item &history…", "Ctrl+H", window.show_history),
        ),
    )
    model_menu = bar.addMenu("&Model")
    add(
        model_menu,
        (
            ("train", "&Train now", "Ctrl+T", window.train_model),
            ("model", "Show the &model…", "Ctrl+M", window.show_model),
            ("suspicious", "Review &suspicious labels…", "Ctrl+Shift+S", window.show_suspicious),
            ("automate", "&Automate…", None, lambda: _automate(window)),
        ),
    )
    model_menu.addSeparator()
    model_menu.addAction(_show_early_action(window))
    add(
        bar.addMenu("&Team"),
        (
            ("team", "&Annotators and assignments…", None, window.show_team),
            ("review", "&Review work…", "Ctrl+Shift+V", window.show_review),
            ("adjudicate", "&Adjudicate disagreements…", "Ctrl+Shift+J", window.show_adjudication),
            ("gold", "&Gold items and qualification…", "Ctrl+Shift+G", window.show_gold),
            ("dashboard", "&Dashboard…", "Ctrl+Shift+D", window.show_dashboard),
        ),
    )
    auto_advance = QAction("&Move on after a label (classification)", window)
    auto_advance.setCheckable(True)
    auto_advance.setChecked(bool(settings.preference("editor_auto_advance", True)))
    auto_advance.toggled.connect(window.set_auto_advance)
    annotate_menu.addSeparator()
    annotate_menu.addAction(auto_advance)
    _view_menu(bar.addMenu("&View"), window, actions)
    add(bar.addMenu("&Help"), (("about", "&About Tagloop", None, lambda: _about(window)),))
    return Menus(actions, edit_menu, recent_menu, auto_advance)


def _show_early_action(window: MainWindow) -> QAction:
    """The "show suggestions early" switch: a model below the quality bar still suggests,
    each suggestion marked as early and low-confidence (issue #17)."""
    from app.ml import policy

    action = QAction("Show suggestions &early (below the quality bar)", window)
    action.setCheckable(True)
    action.setChecked(policy.show_early())

    def toggled(on: bool) -> None:
        policy.set_show_early(on)
        if window.controller is not None:
            window.controller.refresh()

    action.toggled.connect(toggled)
    return action


def _view_menu(menu: QMenu, window: QWidget, actions: dict[str, QAction]) -> None:
    """Theme and UI scale: one checked choice each, applied at once and remembered."""
    themes = menu.addMenu("&Theme")
    group = QActionGroup(window)
    current = appearance.chosen_theme()
    for name, text in appearance.THEME_CHOICES:
        action = themes.addAction(text)
        action.setCheckable(True)
        action.setChecked(name == current)
        action.triggered.connect(lambda _c=False, n=name: appearance.set_theme(n))
        group.addAction(action)
        actions[f"theme_{name}"] = action
    scales = menu.addMenu("UI &scale")
    group = QActionGroup(window)
    chosen = appearance.chosen_scale()
    for factor in appearance.SCALES:
        action = scales.addAction(f"{factor:.0%}")
        action.setCheckable(True)
        action.setChecked(abs(factor - chosen) < 0.01)
        action.triggered.connect(lambda _c=False, f=factor: appearance.set_scale(f))
        group.addAction(action)
        actions[f"scale_{round(factor * 100)}"] = action
    menu.addSeparator()
    for key, text, shortcut, step in (
        ("scale_up", "&Larger", "Ctrl+Alt+=", 1),
        ("scale_down", "S&maller", "Ctrl+Alt+-", -1),
    ):
        action = menu.addAction(text)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _c=False, s=step: _step_scale(actions, s))
        actions[key] = action


def _step_scale(actions: dict[str, QAction], step: int) -> None:
    """One scale larger or smaller, as if chosen in the UI scale menu."""
    chosen = appearance.chosen_scale()
    nearest = min(range(len(appearance.SCALES)), key=lambda i: abs(appearance.SCALES[i] - chosen))
    index = max(0, min(len(appearance.SCALES) - 1, nearest + step))
    actions[f"scale_{round(appearance.SCALES[index] * 100)}"].trigger()


def _automate(window: MainWindow) -> None:
    """Model ▸ Automate… (issue 12): the dialog is imported when first opened."""
    from app.views.model.automate_dialog import show_automate

    show_automate(window)


def _fill_recent(menu: QMenu, open_path: Callable[[Path], bool]) -> None:
    """The recent projects, each a click away (filled each time the submenu opens)."""
    menu.clear()
    for path in settings.recent_projects():
        action = menu.addAction(str(path))
        action.triggered.connect(lambda _c=False, p=path: open_path(p))
    menu.setEnabled(True)


def _about(parent: QWidget) -> None:
    QMessageBox.about(
        parent,
        "About Tagloop",
        f"{APP_NAME} {__version__}\nOffline text annotation. Your data never leaves this machine.",
    )
