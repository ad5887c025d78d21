"""Start the GUI: the QApplication, a calm style, and the main window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

from app import APP_NAME, __version__
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
    if not hasattr(app, "collector"):
        app.collector = GuiThreadCollector(app)  # type: ignore[attr-defined]
    return app  # type: ignore[return-value]


def main_gui(project_path: Path | None = None) -> int:
    app = make_application()
    window = MainWindow()
    if project_path is not None:
        window.open_project_path(Path(project_path))
    window.show()
    if os.environ.get("TAGLOOP_BENCH_READY"):
        QTimer.singleShot(0, lambda: _report_ready(window))
    code = app.exec()
    wait_for_jobs(10.0)  # let cancelled jobs roll back cleanly
    return code


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
