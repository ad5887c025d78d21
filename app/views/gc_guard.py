"""Python's garbage collector runs only on the GUI thread.

Automatic collection runs on whichever thread happens to allocate when a threshold is
crossed: a writer or job thread, then, could free a Qt object caught in a reference cycle,
and a QObject destroyed off its thread leaves its timers registered; the next timer event
goes to freed memory (a segfault seen in the GUI tests). So automatic collection is switched
off and this object collects on the GUI thread, generation by generation, as the automatic
collector would (the well-known recipe of PyQt applications such as calibre).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        young, middle, old = gc.get_count()
        if young > self.threshold[0]:
            gc.collect(0)
            if middle > self.threshold[1]:
                gc.collect(1)
                if old > self.threshold[2]:
                    gc.collect(2)

    def stop(self) -> None:
        """Back to automatic collection (tests that end their Qt part)."""
        self.timer.stop()
        gc.enable()
