"""Character slices of a long text kept as UTF-8 (longtext.LongText), never decoded whole.

A span format (PubTator, BRAT) checks each mention against the slice of the text its offsets
cut. Decoding a long text to a str for that held its UTF-8 and a str of up to twice its size
(mostly ASCII text with one CJK character takes two bytes a character): 3x. A `Slices` maps
character offsets to byte offsets through a checkpoint every SCAN bytes, made by one chunked
pass, and decodes only the bytes of the slice asked for.
"""

from __future__ import annotations

import codecs
from bisect import bisect_right

from app.core.io.longtext import LongText

SCAN = 1 << 16  # bytes decoded at a time while the checkpoints are made
MAX_CHAR = 4  # bytes of one UTF-8 character, at most


class Slices:
    """len() and text[start:end] of a LongText, as a str's (what checked_span reads)."""

    __slots__ = ("_bytes", "_chars", "text")

    def __init__(self, text: LongText) -> None:
        self.text = text
        self._chars: list[int] = []  # the character offset of each checkpoint
        self._bytes: list[int] = []  # and its byte offset (a character starts there)

    def __len__(self) -> int:
        return len(self.text)

    def __getitem__(self, key: slice) -> str:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("Slices takes a slice start:end")
        start, stop, _step = key.indices(len(self.text))
        if stop <= start:
            return ""
        if not self._chars:
            self._checkpoints()
        at = bisect_right(self._chars, start) - 1
        first, offset = self._chars[at], self._bytes[at]
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        with memoryview(self.text.data) as view:
            window = view[offset : offset + (stop - first) * MAX_CHAR]
            piece = decoder.decode(window, final=offset + len(window) >= len(view))
            del window
        return piece[start - first : stop - first]

    def _checkpoints(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        chars = 0
        with memoryview(self.text.data) as view:
            size = len(view)
            for offset in range(0, max(size, 1), SCAN):
                pending = len(decoder.getstate()[0])  # bytes of a character cut in two
                self._chars.append(chars)
                self._bytes.append(offset - pending)
                chars += len(
                    decoder.decode(view[offset : offset + SCAN], final=offset + SCAN >= size)
                )
