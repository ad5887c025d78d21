"""Garbage with Qt objects in it is collected on the GUI thread, never on a worker thread."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject

from app.views.app import make_application
from app.views.gc_guard import GuiThreadCollector


class Holder:
    """A reference cycle holding a QObject: only the cycle collector can free it."""

    def __init__(self) -> None:
        self.me = self
        self.qobject = QObject()


def test_worker_allocations_never_collect_qt_objects(qapp):
    collector = GuiThreadCollector()
    try:
        assert not gc.isenabled()
        freed_on: list[str] = []
        holder = Holder()
        weakref.finalize(holder, lambda: freed_on.append(threading.current_thread().name))
        del holder

        def churn() -> None:  # would cross every automatic threshold many times over
            for _ in range(200_000):
                x: list = []
                x.append(x)

        worker = threading.Thread(target=churn, name="worker")
        worker.start()
        worker.join()
        assert freed_on == []
        collector.threshold = (0, 0, 0)  # due now
        collector.check()
        assert freed_on == [threading.main_thread().name]
    finally:
        collector.stop()
    assert gc.isenabled()


def test_the_app_installs_the_collector(qapp):
    app = make_application()
    try:
        assert isinstance(app.collector, GuiThreadCollector)
        assert app.collector.timer.isActive()
        assert not gc.isenabled()
    finally:  # the other tests manage collection themselves (tests/gui/conftest.py)
        app.collector.stop()
        app.collector.deleteLater()
        del app.collector
