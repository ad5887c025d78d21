"""Guards against a broken Qt binding: the editors emit signals on every keypress."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    changed = Signal(object)


def test_emitting_signals_keeps_refcounts_balanced():
    # PySide6 6.12.0 returned a borrowed bool from emit(); on Python 3.11 each call took one
    # reference from False, and a long annotation session aborted the interpreter.
    emitter = _Emitter()
    seen = []
    emitter.changed.connect(seen.append)
    before = sys.getrefcount(False), sys.getrefcount(True)
    for i in range(2000):
        emitter.changed.emit(i)
    assert len(seen) == 2000
    assert (sys.getrefcount(False), sys.getrefcount(True)) == before
