"""The one way results travel from a worker thread back to the GUI thread.

Why it exists: a Qt object used or deleted from a thread Qt does not know about crashes the
app at random, so worker threads never touch Qt. They only put plain Python items on a
thread-safe queue (`QueueDrain.queue`), and a short timer on the GUI thread hands everything
queued since its last tick over as signals, in the order it was put.
Job (a background core function) and Writer (the serialized database writer) both report
through this.
"""

from __future__ import annotations

import queue
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal


class QueueDrain(QObject):
    """A thread-safe queue that a GUI-thread timer empties, item by item, into signals."""

    arrived = Signal(object)  # one item, in the order the worker threads put them
    drained = Signal()  # the queue was found empty: the end of one drain

    def __init__(self, interval_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Worker threads get this queue itself, never the QObject.
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.drain)

    @property
    def active(self) -> bool:
        """Whether the timer is draining the queue."""
        return self._timer.isActive()

    def start(self) -> None:
        """Drain on every tick from now on (GUI thread only)."""
        if not self._timer.isActive():
            self._timer.start()

    def stop(self) -> None:
        """No more ticks (GUI thread only); items still queued wait for the next drain()."""
        self._timer.stop()

    def drain(self) -> None:
        """Hand over everything queued so far, now (GUI thread only).

        One item at a time, straight from the queue: a receiver that opens a modal dialog
        runs a nested event loop whose ticks go on with the next items, in order."""
        # The owner may drop its last reference in a receiver (a finished Job leaves its
        # registry): keep it, and so this child, alive until the drain is over.
        owner = self.parent()  # noqa: F841
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            self.arrived.emit(item)
        self.drained.emit()
