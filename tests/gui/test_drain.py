"""The shared queue-drain of Job and Writer: worker threads put, the GUI thread receives."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject

from app.workers.drain import QueueDrain


def test_items_from_a_worker_thread_arrive_in_order_then_drained(qapp):
    owner = QObject()
    drain = QueueDrain(5, owner)
    seen: list[object] = []
    drain.arrived.connect(seen.append)
    drain.drained.connect(lambda: seen.append("drained"))

    def work() -> None:  # no Qt here: only the queue
        for i in range(3):
            drain.queue.put(i)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert seen == []  # nothing is delivered off the GUI thread
    drain.drain()
    assert seen == [0, 1, 2, "drained"]


def test_a_receiver_that_drains_again_keeps_the_order(qapp):
    """A modal dialog in a receiver runs the drain again from a nested event loop."""
    owner = QObject()
    drain = QueueDrain(5, owner)
    seen: list[object] = []

    def receive(item: object) -> None:
        seen.append(item)
        if item == 0:
            drain.drain()

    drain.arrived.connect(receive)
    for i in range(3):
        drain.queue.put(i)
    drain.drain()
    assert seen == [0, 1, 2]


def test_the_timer_runs_only_between_start_and_stop(qapp, qtbot):
    owner = QObject()
    drain = QueueDrain(5, owner)
    seen: list[object] = []
    drain.arrived.connect(seen.append)
    assert not drain.active
    drain.start()
    drain.start()  # starting twice is harmless
    assert drain.active
    drain.queue.put("x")
    qtbot.waitUntil(lambda: seen == ["x"])
    drain.stop()
    assert not drain.active
