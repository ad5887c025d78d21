"""Bounded, strict decoding of dataset files: lines for the line formats, chunks for JSON.

One rule for the whole file, not just its start: UTF-8 (with or without a BOM) or UTF-16 with
a BOM, no NUL byte anywhere, and no line (for CSV, no row) longer than the field-size limit.
A line over the limit is refused after reading at most the limit, so memory stays in
proportion to the largest accepted record, whatever the file holds.
"""

from __future__ import annotations

import codecs
import contextlib
import io
from collections.abc import Iterator
from typing import BinaryIO

from app.core.errors import DataError
from app.core.io.csvrecord import BigRecord

MB = 1 << 20
DEFAULT_MAX_FIELD = 16 * MB  # bytes: one line, row, or element of a JSON array
JSON_CHUNK = MB
LINE_CHUNK = MB
HEAD = 4096


def detect_encoding(head: bytes, name: str) -> str:
    """'utf-8-sig' or 'utf-16' from the first bytes; refuse what we cannot decode safely."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise DataError(name, 1, "the file is UTF-32; save it as UTF-8 and import again")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # Also strips a BOM that is absent: harmless. A NUL byte, anywhere, is refused by TextLines.
    return "utf-8-sig"


def check_encoding(encoding: str, name: str) -> str:
    """The codec name to decode with, for an encoding the user named; UTF-8 and UTF-16 are
    decoded by the same strict paths as when they are detected."""
    try:
        found = codecs.lookup(encoding).name
    except LookupError:
        raise DataError(
            name, None, f"unknown encoding {encoding!r} (e.g. utf-8, cp1252, latin-1)"
        ) from None
    if found in ("utf-8", "utf-8-sig"):
        return "utf-8-sig"
    if found.startswith(("utf-32", "utf_32")):
        raise DataError(name, None, "UTF-32 is not supported; save the file as UTF-8")
    try:  # bytes.decode refuses the codecs that are not text encodings (rot13, base64, zlib)
        b"a".decode(found, "ignore")  # not b"": empty input skips the check
    except (LookupError, UnicodeError):
        raise DataError(
            name, None, f"{encoding!r} is not a text encoding (e.g. utf-8, cp1252, latin-1)"
        ) from None
    return found


def size_text(size: int) -> str:
    """A byte count for messages: '16 MB', '1.5 MB', '512 bytes'."""
    if size >= MB:
        return f"{size / MB:.4g} MB"
    return f"{size:,} bytes"


def bad_bytes(name: str, line: int, exc: UnicodeDecodeError) -> DataError:
    byte = exc.object[exc.start : exc.start + 1].hex().upper()
    return DataError(
        name,
        line,
        f"not valid UTF-8 (byte 0x{byte}); the file, or this part of it, is in another "
        "encoding such as Latin-1 or Windows-1252. Save it as UTF-8 and import again, or name "
        "its encoding (--encoding cp1252, or Encoding in the import dialog)",
    )


def nul_error(name: str, line: int) -> DataError:
    return DataError(
        name,
        line,
        "a NUL byte (0x00): this is not a text file, or it mixes in binary data or UTF-16 "
        "without a byte-order mark; remove it, or save the file as UTF-8, and import again",
    )


class TextLines:
    """The decoded lines of a file, keeping their line endings, each at most `limit` bytes.

    For CSV, where a quoted field may span lines, set `multiline` and call `start_record()`
    after each row: then a whole row is held to the limit, and its first line is named.
    """

    def __init__(self, stream: BinaryIO, encoding: str, name: str, limit: int) -> None:
        self.stream = stream
        self.encoding = encoding
        self.name = name
        self.limit = max(1, int(limit))
        self.number = 0  # the line last read
        self.multiline = False
        self.keep_ends = True  # False: lines without their line ending (JSON Lines, text)
        self.record_line = 1
        self.record_size = 0
        # CSV/TSV (UTF-8): a record passing `big` bytes raises BigRecord to the csv reader's
        # caller, with its raw lines so far in `held` (app.core.io.csvrecord reads it). Set
        # before the first line is read.
        self.big = 0
        self.held: list[bytes | bytearray] = []
        # JSON Lines: a line of LINE_CHUNK bytes or more is given as its bytes (a bytearray,
        # line end stripped, not decoded) for app.core.io.jsonlong; set before reading.
        self.raw_long = False
        # Set by the importer (not the preview): a text over longtext.LONG_TEXT characters is
        # given as a longtext.LongText, its UTF-8 checked but never decoded as one str.
        self.long_bytes = False
        self.decoder: codecs.IncrementalDecoder | None = None  # of `chunks` (UTF-8)
        self._wrapper: io.TextIOWrapper | None = None

    def start_record(self) -> None:
        self.record_line = self.number + 1
        self.record_size = 0
        self.held.clear()

    def too_long(self, line: int, what: str = "line") -> DataError:
        return DataError(
            self.name,
            line,
            f"this {what} is longer than the {size_text(self.limit)} limit for one record; "
            "is it really a text file? (raise the limit with --max-field-mb)",
        )

    def _count(self, size: int) -> None:
        if self.multiline:
            self.record_size += size
            if self.record_size > self.limit:
                raise self.too_long(self.record_line, "row")

    def __iter__(self) -> Iterator[str]:
        if self.encoding == "utf-8-sig":
            return self._utf8_lines()
        return self._utf16_lines()

    def _grow(self, raw: bytes, readline) -> bytes | bytearray:
        """The rest of a line longer than LINE_CHUNK, at most limit + 1 bytes in all: it grows
        in place in a bytearray, never as a list of pieces joined at the end (which would
        double it)."""
        limit = self.limit
        buffer = bytearray(raw)
        del raw
        while len(buffer) <= limit:
            more = readline(min(LINE_CHUNK, limit + 1 - len(buffer)))
            if not more:
                break
            buffer += more
            if more[-1:] == b"\n":
                break
        return buffer

    def _utf8_lines(self) -> Iterator[str]:
        # The hot loop of every import: a short line (the common case) costs one readline, one
        # NUL scan and one decode; long lines and the BOM take the slower paths.
        readline = self.stream.readline
        limit = self.limit
        chunk = min(LINE_CHUNK, limit + 1)
        keep_ends = self.keep_ends
        held = self.held
        big = self.big if self.big < limit else 0  # a smaller limit refuses the row first
        count = self._count if self.multiline and not big else None
        raw_long = self.raw_long and not keep_ends
        start = 0
        first = self.number == 0  # a CSV reader starts again after a big record
        while True:
            raw = readline(chunk)
            if len(raw) >= LINE_CHUNK and not raw.endswith(b"\n"):
                raw = self._grow(raw, readline)
            if not raw:
                return
            self.number += 1
            if first:
                first = False
                start = 3 if raw.startswith(codecs.BOM_UTF8) else 0
            size = len(raw)
            if size > limit and not raw.endswith(b"\n"):
                raise self.too_long(self.number)
            if b"\x00" in raw:
                raise nul_error(self.name, self.number)
            if big:  # the row's size, counted here rather than by _count
                held.append(raw)
                self.record_size = record_size = self.record_size + size
                if record_size > big:
                    del raw  # held once, in `held`
                    if record_size > limit:
                        raise self.too_long(self.record_line, "row")
                    raise BigRecord(self.record_line)
            end = size
            if not keep_ends:
                while end > start and raw[end - 1] in (10, 13):  # \n, \r
                    end -= 1
            if raw_long and size >= LINE_CHUNK:
                box = [self._raw_line(raw, start, end)]
                del raw  # the caller's alone while it reads it
                start = 0
                yield box.pop()
                continue
            try:
                if start == 0 and end == size:
                    line = raw.decode("utf-8")
                else:
                    line = str(memoryview(raw)[start:end], "utf-8")  # no copy of the bytes
            except UnicodeDecodeError as exc:
                raise bad_bytes(self.name, self.number, exc) from None
            start = 0
            del raw  # before the next line is read: a long line is held once, not twice
            if count is not None:
                count(size)
            if size < LINE_CHUNK:
                yield line
            else:  # not held here while the caller works on it (it may decode a copy)
                box = [line]
                del line
                yield box.pop()

    def _raw_line(self, raw: bytes | bytearray, start: int, end: int) -> bytearray:
        """A long line's bytes without BOM and line end, trimmed in place (no copy of a
        bytearray); the generator keeps no reference to it while it is read."""
        line = raw if isinstance(raw, bytearray) else bytearray(raw)
        del raw
        del line[end:]
        del line[:start]
        return line

    def take_record(self) -> bytearray:
        """The raw lines of the record that raised BigRecord, as one bytearray (the long line
        grows in place: the short lines before it go in front)."""
        held = self.held
        last = held.pop()
        buf = last if isinstance(last, bytearray) else bytearray(last)
        del last
        if held:
            buf[0:0] = b"".join(held)
            held.clear()
        return buf

    def more(self, buf: bytearray) -> bool:
        """Append the file's next line to `buf` (a big record going on), held to the limit
        with the rest of the record; False at the end of the file."""
        readline = self.stream.readline
        added = False
        while True:
            piece = readline(LINE_CHUNK)
            if not piece:
                return added
            if not added:
                self.number += 1
                added = True
            if b"\x00" in piece:
                raise nul_error(self.name, self.number)
            self._count(len(piece))
            buf += piece
            if piece.endswith(b"\n"):
                return True

    def _text(self) -> io.TextIOWrapper:
        if self._wrapper is None:
            self._wrapper = io.TextIOWrapper(self.stream, encoding=self.encoding, newline="")  # type: ignore[arg-type]
        return self._wrapper

    def _utf16_lines(self) -> Iterator[str]:
        readline = self._text().readline
        limit = max(1, self.limit // 2)  # characters: two bytes each in UTF-16
        try:
            while True:
                line = self._utf16(readline, limit + 1)
                if not line:
                    return
                self.number += 1
                if len(line) > limit and not line.endswith(("\n", "\r")):
                    raise self.too_long(self.number)
                if "\x00" in line:
                    raise nul_error(self.name, self.number)
                self._count(2 * len(line))
                yield line if self.keep_ends else line.rstrip("\r\n")
        finally:
            self.release()

    def _utf16(self, read, size: int) -> str:
        try:
            return read(size)
        except UnicodeError as exc:  # some decoders (punycode, utf-16 without a BOM) raise
            # the base class, which has no position to report
            raise DataError(
                self.name,
                self.number + 1,
                f"not valid {self._codec_name()} here; the file is damaged, mixes encodings or "
                f"is in another encoding ({exc.reason if hasattr(exc, 'reason') else exc})",
            ) from None

    def _codec_name(self) -> str:
        return "UTF-16" if self.encoding.replace("_", "-").startswith("utf-16") else self.encoding

    def raw_read(self, size: int) -> bytes:
        """The next bytes of a UTF-8 file read by `chunks`, not decoded (a long JSON element,
        app.core.io.jsonarray): first those the decoder holds back (a character cut by the
        last chunk), then up to `size` more; NUL bytes refused, lines counted."""
        decoder = self.decoder
        held, flag = decoder.getstate() if decoder is not None else (b"", 0)
        if decoder is not None:
            decoder.setstate((b"", flag))
        raw = held + self.stream.read(size)
        at = raw.find(b"\x00")
        if at >= 0:
            raise nul_error(self.name, self.number + raw.count(b"\n", 0, at) + 1)
        self.number += raw.count(b"\n")
        return raw

    def decode_more(self, raw: bytes | bytearray) -> str:
        """Bytes given by `raw_read` and not used, decoded as `chunks` goes on (their lines
        were counted by raw_read)."""
        try:
            return self.decoder.decode(raw) if self.decoder is not None else str(raw, "utf-8")
        except UnicodeDecodeError as exc:
            line = self.number - raw.count(b"\n", exc.start) + 1
            raise bad_bytes(self.name, line, exc) from None

    def release(self) -> None:
        """Let go of the stream without closing it (it may be closed already)."""
        wrapper, self._wrapper = self._wrapper, None
        if wrapper is not None:
            with contextlib.suppress(ValueError):  # the file was closed first
                wrapper.detach()

    def chunks(self, size: int = JSON_CHUNK) -> Iterator[str]:
        """The decoded text in pieces of about `size` characters, whatever its lines (JSON)."""
        if self.encoding != "utf-8-sig":
            read = self._text().read
            try:
                while True:
                    piece = self._utf16(read, size)
                    if not piece:
                        return
                    at = piece.find("\x00")
                    if at >= 0:
                        raise nul_error(self.name, self.number + piece.count("\n", 0, at) + 1)
                    self.number += piece.count("\n")
                    yield piece
            finally:
                self.release()
        yield from self._utf8_chunks(size)

    def _utf8_chunks(self, size: int) -> Iterator[str]:
        decoder = self.decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
        read = self.stream.read
        while True:
            raw = read(size)
            at = raw.find(b"\x00")
            if at >= 0:
                raise nul_error(self.name, self.number + raw.count(b"\n", 0, at) + 1)
            try:
                piece = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:
                line = self.number + raw.count(b"\n", 0, max(0, exc.start)) + 1
                raise bad_bytes(self.name, line, exc) from None
            if piece:
                self.number += piece.count("\n")
                yield piece
            if not raw:
                return
