"""Python string offsets versus Qt document positions.

Span offsets are Python indices (code points). Qt counts UTF-16 code units, so every
character outside the Basic Multilingual Plane (most emoji) takes two positions there, and
QTextDocument turns "\\r\\n" into a single paragraph break. The display text therefore maps
each "\\r" to one character of its own, and positions are converted with a sorted list of
the astral characters: O(log n), and O(1) for the common text without any.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right


class TextOffsets:
    def __init__(self, text: str) -> None:
        self.text = text
        # "\r\n" -> " \n" and a lone "\r" -> "\n": same length, no collapsed characters.
        self.display = text.replace("\r\n", " \n").replace("\r", "\n")
        self._astral = (
            [i for i, ch in enumerate(text) if ord(ch) > 0xFFFF] if not text.isascii() else []
        )
        # Qt position of each astral character, for the reverse direction.
        self._astral_qt = [i + n for n, i in enumerate(self._astral)]

    def to_qt(self, index: int) -> int:
        """The Qt position of a Python index."""
        return index + bisect_left(self._astral, index) if self._astral else index

    def to_py(self, position: int) -> int:
        """The Python index of a Qt position (the middle of a surrogate pair rounds down)."""
        if not self._astral:
            return position
        n = bisect_right(self._astral_qt, position - 1)
        # A position just after the high surrogate of astral character n-1 lies inside it.
        if n and position == self._astral_qt[n - 1] + 1:
            return self._astral[n - 1]
        return position - n

    @property
    def qt_length(self) -> int:
        return len(self.text) + len(self._astral)
