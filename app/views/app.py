"""Start the GUI: the QApplication, a calm style, and the main window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import QApplication

from app import APP_NAME, __version__
from app.core.resources import resource_path
from app.views import appearance
from app.views.gc_guard import GuiThreadCollector
from app.views.main_window import MainWindow
from app.workers.job import wait_for_jobs


def make_application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setStyle("Fusion")
    font = QFont(app.font())
    font.setPointSize(max(font.pointSize(), 10))
    app.setFont(font)
    appearance.apply_theme()  # the user's theme, or the operating system's light or dark
    appearance.apply_scale()
    appearance.follow_system()
    app.setWindowIcon(app_icon())
    if not hasattr(app, "collector"):
        app.collector = GuiThreadCollector(app)  # type: ignore[attr-defined]
    return app  # type: ignore[return-value]


def app_icon() -> QIcon:
    """The app's icon (PNG sizes, so no SVG plugin is needed); empty if it is not installed."""
    icon = QIcon()
    for size in (16, 32, 48, 64, 128, 256):
        try:
            icon.addFile(str(resource_path(f"icons/tagloop-{size}.png")))
        except FileNotFoundError:
            continue
    return icon


def main_gui(project_path: Path | None = None, screenshot: Path | None = None) -> int:
    app = make_application()
    window = MainWindow()
    bundle = project_path if project_path and Path(project_path).suffix == ".tlbundle" else None
    if project_path is not None and bundle is None:
        window.open_project_path(Path(project_path))
    window.show()
    if bundle is not None:  # a double-clicked bundle: ask where to open it as a project
        window.open_bundle(Path(bundle))
        project_path = None
    if os.environ.get("TAGLOOP_BENCH_READY"):
        QTimer.singleShot(0, lambda: _report_ready(window))
    if screenshot is not None:
        QTimer.singleShot(
            0, lambda: _screenshot_and_quit(window, Path(screenshot), project_path is not None, 100)
        )
    code = app.exec()
    finish(window)
    return code


def finish(window: MainWindow) -> None:
    """After the event loop: let cancelled jobs roll back cleanly; but once the user closed
    anyway, wait for nothing (a write still waiting for another program's lock runs on a
    daemon thread and is never committed: SQLite rolls it back), so the process ends now."""
    if not window.guard.closed_anyway:
        wait_for_jobs(10.0)


def _screenshot_and_quit(window: MainWindow, path: Path, wait: bool, tries: int) -> None:
    """For `tagloop gui --screenshot` (the frozen build's smoke test): once the project's first
    page is shown, save the window to `path` and quit; exit code 1 if that fails."""
    if wait and window.browse.model is None:  # the project is still opening
        if tries > 0:
            QTimer.singleShot(100, lambda: _screenshot_and_quit(window, path, wait, tries - 1))
        else:
            print("tagloop: error: the project did not open", flush=True)
            QApplication.exit(1)
        return
    window.repaint()
    saved = window.grab().save(str(path))
    print(f"screenshot: {path}" if saved else f"tagloop: error: cannot write {path}", flush=True)
    QApplication.exit(0 if saved else 1)


def _report_ready(window: MainWindow) -> None:
    """For bench/startup.py: say when the first page is painted, optionally scroll, then quit."""
    import resource

    window.repaint()
    mode = os.environ.get("TAGLOOP_BENCH_READY")
    if mode == "scroll" and window.browse.model is not None:
        bar = window.browse.table.verticalScrollBar()
        for step in range(0, 101):
            bar.setValue(bar.maximum() * step // 100)
            window.browse.table.repaint()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = window.browse.model.rowCount() if window.browse.model else 0
    print(f"ready: {rows:,} rows shown, peak RSS {rss:.0f} MB", flush=True)
    QApplication.quit()
