"""A zlib-compressed msgpack file read forward a piece at a time, never whole.

`Inflated` decompresses a file a chunk at a time (each read of the file a `pread`, so that
several readers can walk one file at once, each at its own place: `fork` copies a reader's
zlib state, so a second reader starts where the first one is without inflating the file
again). On top of it: msgpack headers read one at a time, so that a binary payload of any
size can be skipped or read in pieces (msgpack's own Unpacker holds a bin object whole), and
any object skipped without recursion. Declared lengths are never allocated up front: a
payload is read as it arrives, and a stream that ends short of it is `Truncated`.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator
from typing import Any

IN_CHUNK = 1 << 14  # compressed bytes read from the file at a time
OUT_CHUNK = 1 << 15  # decompressed bytes made at a time


class Truncated(ValueError):
    """The stream ended inside an object."""


class Malformed(ValueError):
    """Bytes that are not msgpack (or not the type expected)."""


class Inflated:
    """The decompressed bytes of a zlib file, read forward.

    `check(total)` is called with the decompressed size so far each time it grows: it
    raises to stop a bomb. zlib.error propagates."""

    def __init__(self, fd: int, size: int, check: Callable[[int], None]) -> None:
        self.fd = fd
        self.size = size  # of the file, compressed
        self.check = check
        self.inflater = zlib.decompressobj()
        self.at = 0  # the next compressed byte to read from the file
        self.tail = b""  # compressed bytes read but not yet inflated
        self.buf = b""  # inflated bytes not yet read (from `pos`)
        self.pos = 0
        self.offset = 0  # decompressed bytes read so far
        self.total = 0  # decompressed bytes made so far

    def fork(self) -> Inflated:
        """A second reader at this one's place, from now on independent of it."""
        other = Inflated.__new__(Inflated)
        other.__dict__.update(self.__dict__)
        other.inflater = self.inflater.copy()
        return other

    def at_end(self) -> bool:
        """Whether every byte was read (False: more bytes follow, or the zlib stream is cut
        short: see `complete`)."""
        return self.pos >= len(self.buf) and not self._fill()

    @property
    def complete(self) -> bool:
        """Whether the zlib stream ended properly (not cut short)."""
        return self.inflater.eof

    def drain(self) -> None:
        """To the end of the stream, every byte inflated (and checked) and let go of."""
        while self._fill():
            self.offset += len(self.buf) - self.pos
            self.pos = len(self.buf)

    def _fill(self) -> bool:
        """More inflated bytes in `buf` (the read part dropped); False at the end."""
        inflater = self.inflater
        while not inflater.eof:
            if not self.tail:
                self.tail = os.pread(self.fd, IN_CHUNK, self.at)
                self.at += len(self.tail)
                if not self.tail:
                    return False
            out = inflater.decompress(self.tail, OUT_CHUNK)
            self.tail = inflater.unconsumed_tail
            if inflater.eof:
                self.tail = b""
            if out:
                self.total += len(out)
                self.check(self.total)
                self.buf = self.buf[self.pos :] + out if self.pos < len(self.buf) else out
                self.pos = 0
                return True
        return False

    def read(self, n: int) -> bytes:
        """Exactly the next n bytes (n small, or known to be there: it is gathered whole)."""
        end = self.pos + n
        if end <= len(self.buf):
            piece = self.buf[self.pos : end]
            self.pos = end
            self.offset += n
            return piece
        parts = []
        left = n
        while left:
            if self.pos >= len(self.buf) and not self._fill():
                raise Truncated(f"the data ends {left:,} bytes short of an object")
            piece = self.buf[self.pos : self.pos + left]
            self.pos += len(piece)
            left -= len(piece)
            parts.append(piece)
        self.offset += n
        return b"".join(parts)

    def skip(self, n: int) -> None:
        """Past the next n bytes, which are inflated and let go of a chunk at a time."""
        left = n
        while left:
            if self.pos >= len(self.buf) and not self._fill():
                raise Truncated(f"the data ends {left:,} bytes short of an object")
            step = min(left, len(self.buf) - self.pos)
            self.pos += step
            left -= step
        self.offset += n

    def byte(self) -> int:
        if self.pos >= len(self.buf) and not self._fill():
            raise Truncated("the data ends where an object was expected")
        value = self.buf[self.pos]
        self.pos += 1
        self.offset += 1
        return value

    def file_like(self) -> _FileLike:
        """This reader as a file for msgpack's Unpacker (which reads ahead of what it
        unpacks: the reader is then behind its own `offset` by what is unread)."""
        return _FileLike(self)


class _FileLike:
    def __init__(self, stream: Inflated) -> None:
        self.stream = stream

    def read(self, n: int) -> bytes:
        stream = self.stream
        if stream.pos >= len(stream.buf) and not stream._fill():
            return b""
        piece = stream.buf[stream.pos : stream.pos + n]
        stream.pos += len(piece)
        stream.offset += len(piece)
        return piece


# ---- msgpack headers -----------------------------------------------------------------------

_FIXED = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8, 0xCA: 4}
_FIXED[0xCB] = 8
_EXT_FIXED = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}  # fixext: 1 type byte + n
_SIZED = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}  # bin8-32, str8-32
_EXT_SIZED = {0xC7: 1, 0xC8: 2, 0xC9: 4}
_ARRAYS = {0xDC: 2, 0xDD: 4}
_MAPS = {0xDE: 2, 0xDF: 4}
_BIN = (0xC4, 0xC5, 0xC6)
_STR = (0xD9, 0xDA, 0xDB)


def _size(stream: Inflated, width: int) -> int:
    return int.from_bytes(stream.read(width), "big")


def map_header(stream: Inflated) -> int:
    """The number of pairs of the map that starts here."""
    first = stream.byte()
    if 0x80 <= first <= 0x8F:
        return first & 0x0F
    if first in _MAPS:
        return _size(stream, _MAPS[first])
    raise Malformed("not a map")


def array_header(stream: Inflated) -> int | None:
    """The number of items of the array that starts here; None (and past it) if it is
    nil; Malformed if it is anything else (nothing read beyond its first byte)."""
    first = stream.byte()
    if 0x90 <= first <= 0x9F:
        return first & 0x0F
    if first in _ARRAYS:
        return _size(stream, _ARRAYS[first])
    if first == 0xC0:
        return None
    _skip_from(stream, first)
    raise Malformed("not an array")


def bin_header(stream: Inflated) -> int | None:
    """The size of the bin payload that starts here; None (and past the object) if the
    object is of another type."""
    first = stream.byte()
    if first in _BIN:
        return _size(stream, _SIZED[first])
    _skip_from(stream, first)
    return None


def short_str(stream: Inflated, limit: int = 64) -> str | None:
    """A str of at most `limit` bytes (a map key); None (and past it) for anything else."""
    first = stream.byte()
    if 0xA0 <= first <= 0xBF:
        size = first & 0x1F
    elif first in _STR:
        size = _size(stream, _SIZED[first])
    else:
        _skip_from(stream, first)
        return None
    if size > limit:
        stream.skip(size)
        return None
    try:
        return stream.read(size).decode("utf-8")
    except UnicodeDecodeError:
        return None


def skip(stream: Inflated) -> None:
    """Past one object, of any depth (counted, not recursed into)."""
    _skip_from(stream, stream.byte())


def _skip_from(stream: Inflated, first: int) -> None:
    """Past the object whose first byte was `first`, items and all."""
    pending = _skip_rest(stream, first)
    while pending:
        pending -= 1
        pending += _skip_rest(stream, stream.byte())


def _skip_rest(stream: Inflated, first: int) -> int:
    """Past the object whose first byte was `first`, except its items: how many follow."""
    if first <= 0x7F or first >= 0xE0 or first in (0xC0, 0xC2, 0xC3):
        return 0
    if 0xA0 <= first <= 0xBF:
        stream.skip(first & 0x1F)
        return 0
    if 0x90 <= first <= 0x9F:
        return first & 0x0F
    if 0x80 <= first <= 0x8F:
        return 2 * (first & 0x0F)
    if first in _FIXED:
        stream.skip(_FIXED[first])
        return 0
    if first in _SIZED:
        stream.skip(_size(stream, _SIZED[first]))
        return 0
    if first in _EXT_FIXED:
        stream.skip(1 + _EXT_FIXED[first])
        return 0
    if first in _EXT_SIZED:
        stream.skip(1 + _size(stream, _EXT_SIZED[first]))
        return 0
    if first in _ARRAYS:
        return _size(stream, _ARRAYS[first])
    if first in _MAPS:
        return 2 * _size(stream, _MAPS[first])
    raise Malformed(f"byte 0x{first:02x} begins no msgpack object")


def items(stream: Inflated, count: int, unpacker: Callable[[Any], Any]) -> Iterator[Any]:
    """The `count` items of an array whose header was just read, each unpacked by msgpack's
    Unpacker (made by `unpacker(file_like)`) from a fork of `stream`, which is left where
    it was."""
    fork = stream.fork()
    unpack = unpacker(fork.file_like())
    for _ in range(count):
        yield unpack.unpack()


def skip_items(stream: Inflated, count: int, unpacker: Callable[[Any], Any]) -> None:
    """Past `count` items of an array (checked as msgpack by msgpack's own Unpacker, which
    reads a fork of `stream`; the stream then skips as many bytes)."""
    fork = stream.fork()
    unpack = unpacker(fork.file_like())
    for _ in range(count):
        unpack.skip()
    stream.skip(unpack.tell())
