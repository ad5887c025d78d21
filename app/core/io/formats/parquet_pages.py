"""A Parquet column chunk of long texts read page by page, its values views of the pages.

Arrow's reader holds a long cell about three times over while it reads it (the compressed
page, the page unpacked, Arrow's copy of the dictionary and then the dense array built from
it): 3.1-3.4x the text's size, which is the whole of issue 14's budget. Here a flat string
column whose chunk has a page over BIG_PAGE (a value of about a megabyte or more: writers cut
pages at 1 MB) is read by Python instead: each page is read, unpacked by Arrow's own codec
(pyarrow.Codec) and let go of in its packed form, and each value is a memoryview of the
unpacked page. A long text is then held once (once and the packed page while it unpacks).

Only what Arrow and the other common writers (parquet-mr, DuckDB, Polars) write for such a
column is read here: PLAIN and dictionary (PLAIN_DICTIONARY, RLE_DICTIONARY) values, RLE
definition levels, data pages v1 and v2, no compression, Snappy, gzip, Brotli and ZSTD.
Any other chunk is read by Arrow as before (`plan` leaves it out).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Iterator
from typing import Any

from app.core.errors import DataError

BIG_PAGE = 2 << 20  # bytes of a page, unpacked: past it, the chunk is read here
MAX_PAGE = 1 << 30  # bytes of a page, unpacked: past it, refused as a bomb
HEADER_READ = 1 << 12  # bytes read ahead for a page header
MAX_HEADER = 1 << 20  # bytes of a page header (its statistics): past it, Arrow reads the chunk
MAX_PAGES = 10_000  # pages of a chunk: past it, Arrow reads the chunk (a Python loop a page)
MAX_DEPTH = 16  # nesting of a page header's structs
CODECS = {
    "UNCOMPRESSED": None,
    "SNAPPY": "snappy",
    "GZIP": "gzip",
    "BROTLI": "brotli",
    "ZSTD": "zstd",
}
READABLE = {"PLAIN", "PLAIN_DICTIONARY", "RLE_DICTIONARY", "RLE"}
DATA_PAGE, INDEX_PAGE, DICTIONARY_PAGE, DATA_PAGE_V2 = 0, 1, 2, 3
PLAIN, PLAIN_DICTIONARY, RLE, RLE_DICTIONARY = 0, 2, 3, 8


class Corrupt(ValueError):
    """The bytes of a chunk are not what its metadata says."""


class _Input:
    """Bytes of the file from a position on, for the Thrift decoder: read ahead in pieces."""

    def __init__(self, handle: Any, offset: int) -> None:
        self.handle = handle
        handle.seek(offset)
        self.buf = b""
        self.pos = 0
        self.used = 0  # bytes consumed before buf

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.buf):
            if self.used + self.pos + count > MAX_HEADER:
                raise Corrupt("a page header of over 1 MB")
            more = self.handle.read(max(HEADER_READ, count - (len(self.buf) - self.pos)))
            self.used += self.pos
            self.buf = self.buf[self.pos :] + more
            self.pos = 0
            if count > len(self.buf):
                raise Corrupt("the file ends inside a page header")
        found = self.buf[self.pos : self.pos + count]
        self.pos += count
        return found

    def byte(self) -> int:
        return self.take(1)[0]

    def varint(self) -> int:
        value = shift = 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift > 63:
                raise Corrupt("a varint of over 64 bits")

    def zigzag(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)

    def end(self) -> int:
        """The file position just after what was consumed."""
        return self.handle.tell() - (len(self.buf) - self.pos)


def _value(src: _Input, kind: int, depth: int) -> Any:
    """One value of Thrift compact type `kind` (structs as {field id: value})."""
    if kind in (1, 2):  # a bool in a list (in a struct, the type says it)
        return src.byte() == 1
    if kind == 3:
        return src.byte()
    if kind in (4, 5, 6):
        return src.zigzag()
    if kind == 7:
        return src.take(8)
    if kind == 8:
        return src.take(src.varint())
    if kind in (9, 10):
        head = src.byte()
        size, item = head >> 4, head & 0x0F
        if size == 15:
            size = src.varint()
        return [_value(src, item, depth + 1) for _ in range(size)]
    if kind == 11:
        size = src.varint()
        if not size:
            return {}
        types = src.byte()
        return {
            _value(src, types >> 4, depth + 1): _value(src, types & 0x0F, depth + 1)
            for _ in range(size)
        }
    if kind == 12:
        return _struct(src, depth + 1)
    raise Corrupt(f"an unknown Thrift type {kind}")


def _struct(src: _Input, depth: int = 0) -> dict[int, Any]:
    if depth > MAX_DEPTH:
        raise Corrupt("a page header nested too deeply")
    fields: dict[int, Any] = {}
    last = 0
    while True:
        head = src.byte()
        if head == 0:
            return fields
        delta, kind = head >> 4, head & 0x0F
        last = last + delta if delta else src.zigzag()
        fields[last] = (kind == 1) if kind in (1, 2) else _value(src, kind, depth)


def _header(src: _Input) -> dict[int, Any]:
    header = _struct(src)
    for key in (1, 2, 3):
        if not isinstance(header.get(key), int) or header[key] < 0:
            raise Corrupt("a page header without its type or sizes")
    return header


def _start(chunk: Any) -> int:
    data = chunk.data_page_offset
    if chunk.has_dictionary_page and chunk.dictionary_page_offset:
        return min(chunk.dictionary_page_offset, data)
    return data


def plan(handle: Any, meta: Any, arrow_schema: Any, group: int) -> list[str]:
    """The columns of row group `group` to read here: flat string columns with a page over
    BIG_PAGE, in a form this module reads (any doubt: Arrow reads it)."""
    import pyarrow as pa

    found = []
    row_group = meta.row_group(group)
    for index in range(row_group.num_columns):
        chunk = row_group.column(index)
        name = chunk.path_in_schema
        column = meta.schema.column(index)
        at = arrow_schema.get_field_index(name)  # -1: not a top-level name, or twice
        field = arrow_schema.field(at) if at >= 0 else None
        if (
            field is None
            or not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type))
            or chunk.physical_type != "BYTE_ARRAY"
            or column.max_repetition_level != 0
            or column.max_definition_level > 1
            or chunk.compression not in CODECS
            or not set(chunk.encodings) <= READABLE
            or chunk.total_uncompressed_size <= BIG_PAGE
        ):
            continue
        try:
            if _has_big_page(handle, chunk):
                found.append(name)
        except Corrupt:
            continue  # Arrow reads it, and says what is wrong
    return found


def _has_big_page(handle: Any, chunk: Any) -> bool:
    """Whether a page of the chunk unpacks to more than BIG_PAGE bytes (headers read only)."""
    offset, end = _start(chunk), _start(chunk) + chunk.total_compressed_size
    big = False
    for _ in range(MAX_PAGES):
        if offset >= end:
            return big
        src = _Input(handle, offset)
        header = _header(src)
        big = big or header[2] > BIG_PAGE
        offset = src.end() + header[3]
    return False  # too many pages to read one by one


def values(
    path: str, chunk: Any, max_def: int, rows: int, fail: Callable[[str], DataError]
) -> Iterator[memoryview | None]:
    """The chunk's `rows` values in row order: a memoryview of its UTF-8 in the unpacked
    page, or None for a null. `fail(problem)` is the error of a corrupt chunk."""
    import pyarrow as pa

    codec = CODECS[chunk.compression]
    unpack = pa.Codec(codec) if codec else None
    dictionary: list[memoryview] = []
    given = 0
    with open(path, "rb", buffering=0) as raw:
        handle = io.BufferedReader(raw, HEADER_READ)
        offset, end = _start(chunk), _start(chunk) + chunk.total_compressed_size
        try:
            while given < rows:
                if offset >= end:
                    raise Corrupt(f"{given:,} values where the row group has {rows:,} rows")
                src = _Input(handle, offset)
                header = _header(src)
                kind, size, packed = header[1], header[2], header[3]
                offset = src.end() + packed
                if offset > end or size > min(chunk.total_uncompressed_size, MAX_PAGE):
                    raise Corrupt("a page runs past its column chunk")
                handle.seek(src.end())
                page = handle.read(packed)
                if len(page) != packed:
                    raise Corrupt("the file ends inside a page")
                if kind == DICTIONARY_PAGE:
                    count = _field(header, 7, 1)
                    page = _unpacked(unpack, page, size)
                    dictionary = _plain(page, 0, count)
                    del page
                elif kind in (DATA_PAGE, DATA_PAGE_V2):
                    found = _data_page(header, page, unpack, size, max_def, dictionary)
                    del page
                    if given + len(found) > rows:
                        raise Corrupt(f"more values than the row group's {rows:,} rows")
                    given += len(found)
                    found.reverse()
                    while found:  # popped: a value is held by its row alone once given
                        yield found.pop()
                else:
                    del page  # an index page: nothing for us
        except Corrupt as exc:
            raise fail(f"a corrupt Parquet page ({exc})") from None
        except (OSError, ValueError, pa.ArrowException) as exc:  # a codec's error
            raise fail(f"a corrupt Parquet page ({exc})") from None


def _field(header: dict[int, Any], struct_id: int, field_id: int) -> int:
    inner = header.get(struct_id)
    value = inner.get(field_id) if isinstance(inner, dict) else None
    if not isinstance(value, int) or value < 0:
        raise Corrupt("a page header without its value count")
    return value


def _unpacked(unpack: Any, page: bytes | memoryview, size: int) -> memoryview:
    """A view of the page's bytes unpacked (Arrow's buffer: the packed ones can go), as
    unsigned bytes (a view of an Arrow buffer gives signed ones)."""
    if unpack is None:
        if len(page) != size:
            raise Corrupt("an uncompressed page whose sizes differ")
        return memoryview(page).cast("B")
    return memoryview(unpack.decompress(page, decompressed_size=size)).cast("B")


def _data_page(
    header: dict[int, Any],
    page: bytes,
    unpack: Any,
    size: int,
    max_def: int,
    dictionary: list[memoryview],
) -> list[memoryview | None]:
    """The values of one data page (v1 or v2), None for each null."""
    if header[1] == DATA_PAGE:
        count, encoding = _field(header, 5, 1), _field(header, 5, 2)
        data = _unpacked(unpack, page, size)
        pos = 0
        if max_def:
            if _field(header, 5, 3) != RLE:
                raise Corrupt("definition levels that are not RLE")
            (length,) = struct.unpack_from("<I", data, 0)
            levels = _hybrid(data[4 : 4 + length], 1, count)
            pos = 4 + length
        else:
            levels = None
    else:
        count, encoding = _field(header, 8, 1), _field(header, 8, 4)
        level_bytes, rep_bytes = _field(header, 8, 5), _field(header, 8, 6)
        if rep_bytes:
            raise Corrupt("repetition levels in a flat column")
        packed = header[8].get(7, True) is not False
        if level_bytes > min(len(page), size):
            raise Corrupt("definition levels longer than their page")
        whole = memoryview(page)  # the levels are never packed, the values may be
        levels = _hybrid(whole[:level_bytes], 1, count) if max_def else None
        data = _unpacked(unpack if packed else None, whole[level_bytes:], size - level_bytes)
        del whole
        pos = 0
    present = count if levels is None else sum(levels)
    if encoding == PLAIN:
        found: list[Any] = _plain(data, pos, present)
    elif encoding in (PLAIN_DICTIONARY, RLE_DICTIONARY):
        width = data[pos] if pos < len(data) else 0
        if width > 32:
            raise Corrupt(f"dictionary indexes of {width} bits")
        indexes = _hybrid(data[pos + 1 :], width, present)
        if any(i >= len(dictionary) for i in indexes):
            raise Corrupt("a dictionary index past the dictionary")
        found = [dictionary[i] for i in indexes]
    else:
        raise Corrupt(f"values in encoding {encoding}")
    del data
    if levels is None:
        return found
    found.reverse()
    return [found.pop() if level else None for level in levels]


def _plain(data: memoryview, pos: int, count: int) -> list[memoryview]:
    """`count` PLAIN byte arrays from data[pos:] (each its 4-byte length, then its bytes)."""
    found = []
    size = len(data)
    for _ in range(count):
        if pos + 4 > size:
            raise Corrupt("a page ends inside its values")
        (length,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if pos + length > size:
            raise Corrupt("a value runs past the end of its page")
        found.append(data[pos : pos + length])
        pos += length
    return found


def _hybrid(data: memoryview, width: int, count: int) -> list[int]:
    """`count` values of the RLE / bit-packed hybrid encoding, `width` bits each."""
    found: list[int] = []
    pos = 0
    size = len(data)
    step = (width + 7) // 8
    mask = (1 << width) - 1
    while len(found) < count:
        header = shift = 0
        while True:
            if pos >= size:
                raise Corrupt("levels or indexes cut short")
            byte = data[pos]
            pos += 1
            header |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
            if shift > 35:
                raise Corrupt("a run header of over 32 bits")
        if header & 1:  # bit-packed groups of 8 values
            groups = header >> 1
            if pos + groups * width > size:
                raise Corrupt("bit-packed values cut short")
            for _ in range(groups):
                word = int.from_bytes(data[pos : pos + width], "little")
                pos += width
                found.extend((word >> (i * width)) & mask for i in range(8))
        else:
            run = header >> 1
            if pos + step > size:
                raise Corrupt("a run cut short")
            value = int.from_bytes(data[pos : pos + step], "little")
            pos += step
            found.extend([value] * min(run, count - len(found)))
    del found[count:]
    return found
