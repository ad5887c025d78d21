"""spaCy's DocBin read one document at a time, never whole (the reader of formats/spacy.py).

spaCy's own DocBin.from_bytes holds the whole msgpack and then every Doc (its token table is
8 bytes an attribute a token, about 20 times the text): 61 times the largest text. Here:

1. `open_docbin` walks the decompressed msgpack once, in any key order. The small fields are
   kept (attrs; lengths, 4 bytes a document; the strings as a `StringTable`). Each big one
   (tokens, spaces, and the per-document lists cats, flags, span_groups, user_data) is only
   skipped, and a fork of the decompressor is kept where it starts (a copy of zlib's state:
   nothing is inflated twice). The walk checks the arrays against each other (spaCy does
   not): ORTH among the attrs, the lengths adding up to the token rows and the spaces, one
   list item a document; and the size (a bomb is refused while it inflates).
2. `documents` then reads the forks in step, a document at a time, its token rows a chunk at
   a time: each row's ORTH hash is looked up in the table and the text built as UTF-8 with
   numpy (the bytes of each token's string, then its space). Entities are found from the
   ENT_IOB/ENT_TYPE columns as `Doc.ents` does; span groups from their bytes as
   `SpanGroups.from_bytes` does. What spaCy would refuse while building the Doc (an unknown
   string, an empty token, an ENT_IOB past B, a head outside the document, an I without a
   B when the entities are asked for) is a `Corrupt` naming the problem.
"""

from __future__ import annotations

import functools
import os
import struct
import zlib
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy

from app.core.errors import DataError
from app.core.io.formats import msgpack_stream as mp
from app.core.io.formats.spacy_strings import Corrupt, StringTable

__all__ = ["Corrupt", "Layout", "StringTable", "TooLong", "documents", "open_docbin"]

# spaCy's attribute ids (spacy.attrs), fixed across spaCy 3; checked by the tests
ORTH, HEAD, DEP, SPACY, ENT_IOB, ENT_TYPE, MORPH = 65, 79, 76, 81, 77, 78, 453
MAX_KEYS = 1000  # of the DocBin's map: spaCy writes 10
MAX_ATTRS = 256  # columns of the token table: spaCy's attributes number under 100
CHUNK_BYTES = 1 << 17  # token-table bytes read at a time
PRESIZE_BYTES = 1 << 22  # a document with a bigger token table is measured before it is built
GATHER_BYTES = 1 << 19  # text built with numpy at a time (its index takes 8 bytes a byte)
ITEM_BYTES = 100 << 20  # one item of a per-document list (msgpack's own default cap)
STRINGS_BATCH = 1 << 12  # strings unpacked at a time (as Python objects: kept few)
LISTS = ("cats", "flags", "span_groups", "user_data")
_SPAN = struct.Struct(">QQQllll")


class TooLong(ValueError):
    """A document's text over the field limit (`number`: the document)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit
        self.number = 0


def _problem(exc: BaseException) -> str:
    problem = f"{type(exc).__name__}: {exc}"
    return problem if len(problem) <= 200 else problem[:197] + "..."


def _decoder_hook() -> Any:
    """The object hook srsly's msgpack_loads uses (numpy arrays), built once: srsly builds
    it for every call, from its registry, about 1 ms each."""
    from srsly.msgpack import msgpack_decoders

    hook = None
    for decoder in msgpack_decoders.get_all().values():
        hook = functools.partial(decoder, chain=hook)
    return hook


def _unpacker(hook: Any, use_list: bool) -> Callable[[Any], Any]:
    from srsly.msgpack import _Unpacker

    return lambda file_like: _Unpacker(
        file_like,
        raw=False,
        use_list=use_list,
        object_hook=hook,
        read_size=1 << 14,
        max_buffer_size=ITEM_BYTES,
    )


@dataclass
class Layout:
    """Where a DocBin's fields are: what `open_docbin` found."""

    fd: int
    attrs: list[int]
    lengths: numpy.ndarray
    strings: StringTable
    tokens: mp.Inflated
    spaces: mp.Inflated
    lists: dict[str, mp.Inflated | None]  # None: not in the file (spaCy's default)
    hook: Any = None

    def close(self) -> None:
        os.close(self.fd)


def open_docbin(path: str, check: Callable[[int], None]) -> Layout:
    """The layout of the DocBin at `path`, checked. Corrupt (or zlib.error) if it is not one;
    `check` is called with the decompressed size as it grows (and raises to stop a bomb)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        stream = mp.Inflated(fd, os.fstat(fd).st_size, check)
        try:
            return _walk(fd, stream)
        except (DataError, zlib.error):
            raise
        except Exception as exc:
            stream.drain()  # a bomb is still a bomb, whatever else is wrong with it
            if isinstance(exc, Corrupt | mp.Malformed | mp.Truncated):
                raise Corrupt(str(exc)) from None
            raise Corrupt(_problem(exc)) from None
    except BaseException:
        os.close(fd)
        raise


def _walk(fd: int, stream: mp.Inflated) -> Layout:
    hook = _decoder_hook()
    lists_of = _unpacker(hook, use_list=True)
    try:
        pairs = mp.map_header(stream)
    except mp.Malformed:
        raise Corrupt("its content is not a map") from None
    if pairs > MAX_KEYS:
        raise Corrupt(f"its map has {pairs:,} keys")
    found: dict[str, Any] = {}
    bins: dict[str, tuple[mp.Inflated, int] | None] = {}
    lists: dict[str, tuple[mp.Inflated, int] | None] = {}
    for _ in range(pairs):
        key = mp.short_str(stream)
        if key in ("tokens", "spaces", "lengths"):
            size = mp.bin_header(stream)
            if size is None:
                bins[key] = None
            elif key == "lengths":  # 4 bytes a document: kept
                found[key] = stream.read(size)
                bins[key] = (stream, size)
            else:
                bins[key] = (stream.fork(), size)
                stream.skip(size)
        elif key in LISTS:
            try:
                count = mp.array_header(stream)
            except mp.Malformed:
                lists[key] = None
                continue
            if count is None:
                lists[key] = None
                continue
            documents = found.get("lengths")
            if documents is not None and len(documents) % 4 == 0 and count != len(documents) // 4:
                raise Corrupt(f"its {key} do not match its {len(documents) // 4:,} documents")
            lists[key] = (stream.fork(), count)
            mp.skip_items(stream, count, lists_of)
        elif key == "attrs":
            found[key] = _small(stream, hook)
        elif key == "strings":
            found[key] = _strings(stream, hook)
        else:
            mp.skip(stream)
    if not stream.at_end():
        raise Corrupt("data follows its map")
    if not stream.complete:
        raise Corrupt("its zlib data is cut short")
    return _layout(fd, found, bins, lists, hook)


def _small(stream: mp.Inflated, hook: Any) -> Any:
    """The object here, unpacked (from a fork; the stream skips it)."""
    fork = stream.fork()
    unpacker = _unpacker(hook, use_list=True)(fork.file_like())
    value = unpacker.unpack()
    stream.skip(unpacker.tell())
    return value


def _strings(stream: mp.Inflated, hook: Any) -> StringTable | None:
    try:
        count = mp.array_header(stream)
    except mp.Malformed:
        return None
    if count is None:
        return None
    table = StringTable()
    fork = stream.fork()
    unpacker = _unpacker(hook, use_list=True)(fork.file_like())
    unpack = unpacker.unpack
    left = count
    while left:  # a batch at a time, each string once (a string repeated costs nothing)
        batch = [unpack() for _ in range(min(left, STRINGS_BATCH))]
        left -= len(batch)
        texts = list(dict.fromkeys(batch))
        if not all(text.__class__ is str for text in texts):
            raise Corrupt("its strings are not all text")
        table.add(texts)
    stream.skip(unpacker.tell())
    table.freeze()
    return table


def _layout(
    fd: int,
    found: dict[str, Any],
    bins: dict[str, tuple[mp.Inflated, int] | None],
    lists: dict[str, tuple[mp.Inflated, int] | None],
    hook: Any,
) -> Layout:
    """The layout, once the arrays are checked against each other."""
    attrs = found.get("attrs")
    if not isinstance(attrs, list) or ORTH not in attrs:
        raise Corrupt("its attributes do not include the token text (ORTH)")
    if len(attrs) > MAX_ATTRS or not all(isinstance(a, int) and 0 <= a < 1 << 63 for a in attrs):
        raise Corrupt("its attributes are not spaCy's")
    for key in ("lengths", "tokens", "spaces"):
        if bins.get(key) is None:
            raise Corrupt(f"its {key} array is missing or not binary")
    tokens, spaces = bins["tokens"], bins["spaces"]
    assert tokens is not None and spaces is not None
    if len(found["lengths"]) % 4 or tokens[1] % (8 * len(attrs)):
        raise Corrupt("its lengths or token array has a partial element")
    counts = numpy.frombuffer(found["lengths"], dtype=numpy.int32)
    if (counts < 0).any():
        raise Corrupt("a document length is negative")
    total = int(counts.sum(dtype="int64"))
    rows = tokens[1] // (8 * len(attrs))
    if total != rows or spaces[1] != rows:
        raise Corrupt(
            f"its document lengths add up to {total:,} tokens, but it holds {rows:,} token"
            f" rows and {spaces[1]:,} spaces"
        )
    streams: dict[str, mp.Inflated | None] = {}
    for key in LISTS:
        if key not in lists and key != "cats":
            streams[key] = None
            continue
        where = lists.get(key)
        if where is None or where[1] != len(counts):
            raise Corrupt(f"its {key} do not match its {len(counts):,} documents")
        streams[key] = where[0]
    strings = found.get("strings")
    if strings is None:
        raise Corrupt("its strings are missing or not a list")
    return Layout(fd, attrs, counts, strings, tokens[0], spaces[0], streams, hook)


@dataclass
class Document:
    """One document of a DocBin, as much as a Record needs."""

    number: int
    data: bytearray  # the text, UTF-8
    chars: int
    tagged: bool  # spaCy's doc.has_annotation("ENT_IOB"): a token with an entity tag
    ents: array = field(default_factory=lambda: array("Q"))  # start, end, label hash
    ents_problem: str | None = None  # spaCy's doc.ents would raise this
    spans: dict[Any, list[tuple[int, int, int]]] = field(default_factory=dict)
    cats: Any = None
    user_data: Any = None  # the msgpack bytes of doc.user_data, or None


def documents(layout: Layout, want_ents: bool, limit: int) -> Iterator[Document]:
    """The documents in order. Corrupt (its `number` the document's) for one spaCy would
    refuse; TooLong for a text over `limit` bytes."""
    count = len(layout.lengths)
    unpacker = _unpacker(layout.hook, use_list=True)
    items = {
        key: None if stream is None else mp.items(stream, count, unpacker)
        for key, stream in layout.lists.items()
    }
    columns = _Columns(layout.attrs)
    for number, rows in enumerate(layout.lengths.tolist(), 1):
        try:
            yield _document(layout, columns, items, rows, want_ents, limit, number)
        except (Corrupt, TooLong) as exc:
            exc.number = number
            raise
        except Exception as exc:
            error = Corrupt(_problem(exc))
            error.number = number
            raise error from None


def _document(
    layout: Layout,
    columns: _Columns,
    items: dict[str, Iterator[Any] | None],
    rows: int,
    want_ents: bool,
    limit: int,
    number: int,
) -> Document:
    def item(key: str, default: Any) -> Any:
        found = items[key]
        return default if found is None else next(found)

    cats, flags = item("cats", None), item("flags", {})
    groups, user_data = item("span_groups", b""), item("user_data", None)
    doc = _Builder(layout, columns, rows, want_ents, limit).build(
        bool(flags.get("has_unknown_spaces"))
    )
    doc.number, doc.cats, doc.user_data = number, cats, user_data
    doc.spans = _span_groups(groups, layout.hook)
    return doc


class _Columns:
    """Which columns of the token table spaCy's Doc.from_array reads, and how."""

    def __init__(self, attrs: list[int]) -> None:
        self.width = len(attrs)
        self.orth = attrs.index(ORTH)

        def last(attr: int) -> int | None:
            found = [i for i, a in enumerate(attrs) if a == attr]
            return found[-1] if found else None

        self.iob = [i for i, a in enumerate(attrs) if a == ENT_IOB]
        self.ent_type = last(ENT_TYPE)
        self.spacy = last(SPACY)
        self.head = attrs.index(HEAD) if HEAD in attrs else None
        self.morph = [i for i, a in enumerate(attrs) if a == MORPH]


class _Builder:
    """One document's text and entities, from its token rows read a chunk at a time."""

    def __init__(
        self, layout: Layout, columns: _Columns, rows: int, want_ents: bool, limit: int
    ) -> None:
        self.layout = layout
        self.columns = columns
        self.rows = rows
        self.want_ents = want_ents
        self.limit = limit
        self.text = _Text()
        self.data = bytearray()
        self.chars = 0  # characters so far
        self.tagged = False
        self.ents = array("Q")
        self.problem: str | None = None
        self.open = False  # an entity runs on from the chunk before
        self.pending: tuple[int, int] | None = None  # its start char, label
        self.last_end = 0  # the end char of the last token of the chunk before

    def build(self, unknown_spaces: bool) -> Document:
        if 8 * self.columns.width * self.rows > PRESIZE_BYTES:
            # a long text: its size first (from forks of the streams), so that its bytes are
            # laid once where they go, never copied by a bytearray that grows
            size = 0
            tokens, spaces = self.layout.tokens.fork(), self.layout.spaces.fork()
            for table, space, _ in self._chunks(tokens, spaces, unknown_spaces):
                size += int(self.layout.strings.sizes[self._orth(table)].sum())
                size += int(space.sum())
                if size > self.limit:
                    raise TooLong(self.limit)
            self.text = _Text(size)
        chunks = self._chunks(self.layout.tokens, self.layout.spaces, unknown_spaces)
        for table, space, first in chunks:
            self._chunk(table, space, first)
        self.data = self.text.done()
        if self.pending is not None:
            start, label = self.pending
            self.ents.extend((start, self.last_end, label))
        return Document(
            0, self.data, self.chars, self.tagged or not self.rows, self.ents, self.problem
        )

    def _chunks(
        self, tokens: mp.Inflated, spaces: mp.Inflated, unknown_spaces: bool
    ) -> Iterator[tuple[numpy.ndarray, numpy.ndarray, int]]:
        """(token rows, whether each has a space after it, the first row's number) of the
        document, a chunk at a time."""
        columns = self.columns
        step = max(1, CHUNK_BYTES // (8 * columns.width))
        done = 0
        while done < self.rows:
            count = min(step, self.rows - done)
            raw = tokens.read(8 * columns.width * count)
            table = numpy.frombuffer(raw, numpy.uint64).reshape(count, columns.width)
            spaced = spaces.read(count)
            if unknown_spaces:
                space = numpy.ones(count, bool)
            else:
                space = numpy.frombuffer(spaced, numpy.uint8) != 0
            if columns.spacy is not None:  # from_array sets token.spacy (a C int) last
                space = (table[:, columns.spacy] & numpy.uint64(0xFFFFFFFF)) != 0
            yield table, space, done
            done += count

    def _orth(self, table: numpy.ndarray) -> numpy.ndarray:
        """The string table's index of each row's text."""
        orth = table[:, self.columns.orth]
        if not orth.all():
            raise Corrupt("a token is an empty string")
        return self.layout.strings.index(orth)

    def _chunk(self, table: numpy.ndarray, space: numpy.ndarray, first: int) -> None:
        columns, strings = self.columns, self.layout.strings
        self._check(table, first)  # first: a lookup may add to the table and move indices
        at = self._orth(table)
        sizes = strings.sizes[at]
        spaced = space.astype(numpy.int64)
        pieces = sizes + spaced
        size = int(pieces.sum())
        if self.text.size + size > self.limit:
            raise TooLong(self.limit)
        _gather(self.text, strings, at, sizes, pieces, space, size)
        lengths = strings.chars[at]
        widths = lengths + spaced
        if self.want_ents and self.problem is None and columns.iob:
            starts = numpy.cumsum(widths) - widths + self.chars
            self._entities(table, starts, starts + lengths, first)
        elif columns.iob and not self.tagged:
            self.tagged = bool(table[:, columns.iob[-1]].any())
        self.chars += int(widths.sum())
        self.last_end = self.chars - int(spaced[-1])

    def _check(self, table: numpy.ndarray, first: int) -> None:
        """What Doc.from_array refuses: an ENT_IOB past B, a head outside the document, a
        morphology string that is not in the table."""
        columns = self.columns
        for col in columns.iob:
            if (table[:, col] >= 4).any():
                value = int(table[:, col].max())
                raise Corrupt(f"an entity tag (ENT_IOB) of {value}, not 0 to 3")
        if columns.head is not None:
            heads = table[:, columns.head].astype(numpy.uint32).view(numpy.int32)
            where = heads.astype(numpy.int64) + numpy.arange(first, first + len(table))
            if ((where < 0) | (where >= self.rows)).any():
                raise Corrupt("a token's head is outside its document")
        for col in columns.morph:
            morph = table[:, col]
            morph = morph[morph != 0]
            if len(morph):
                self.layout.strings.index(numpy.unique(morph))

    def _entities(
        self, table: numpy.ndarray, starts: numpy.ndarray, ends: numpy.ndarray, first: int
    ) -> None:
        """Doc.ents' walk over the tags, vectorised: a B with a type opens an entity, an I
        continues one (an I with none open: spaCy raises E093), anything else closes it."""
        iob = table[:, self.columns.iob[-1]]
        kind = (
            table[:, self.columns.ent_type]
            if self.columns.ent_type is not None
            else numpy.zeros(len(table), numpy.uint64)
        )
        self.tagged = self.tagged or bool(iob.any())
        inside = iob == 1
        opens = (iob == 3) & (kind != 0)
        count = len(iob)
        where = numpy.arange(count)
        last_out = numpy.maximum.accumulate(numpy.where(inside, -1, where))  # last non-I
        before = numpy.empty(count, bool)  # an entity is open before the token
        before[0] = self.open
        if count > 1:
            previous = last_out[:-1]
            before[1:] = numpy.where(previous >= 0, opens[numpy.maximum(previous, 0)], self.open)
        stray = inside & ~before
        if stray.any():
            token = first + int(numpy.flatnonzero(stray)[0])
            self.problem = f"token {token} has an entity's I tag with no entity open (E093)"
            return
        self.open = bool(opens[last_out[-1]]) if last_out[-1] >= 0 else self.open
        closers = numpy.flatnonzero(~inside)
        if self.pending is not None:
            if len(closers):
                end = int(closers[0])
                close = self.last_end if end == 0 else int(ends[end - 1])
                self.ents.extend((self.pending[0], close, self.pending[1]))
                self.pending = None
            else:
                return
        begins = numpy.flatnonzero(opens)
        if not len(begins):
            return
        after = numpy.searchsorted(closers, begins, side="right")
        for begin, k in zip(begins.tolist(), after.tolist(), strict=True):
            label = int(kind[begin])
            if k < len(closers):
                self.ents.extend((int(starts[begin]), int(ends[closers[k] - 1]), label))
            else:
                self.pending = (int(starts[begin]), label)


class _Text:
    """A document's UTF-8 as it is built: a bytearray that grows, or one of the size the
    text will have, filled in place."""

    def __init__(self, size: int | None = None) -> None:
        self.data = bytearray(size or 0)
        self.fixed = size is not None
        self.size = 0  # bytes written

    def add(self, piece: memoryview | bytes) -> None:
        count = len(piece) if piece.__class__ is bytes else piece.nbytes  # type: ignore[union-attr]
        if self.fixed:
            self.data[self.size : self.size + count] = piece
        else:
            self.data += piece
        self.size += count

    def done(self) -> bytearray:
        if self.fixed and self.size != len(self.data):
            raise Corrupt("its text changed between two reads")  # cannot: the same rows
        return self.data


def _gather(
    data: _Text,
    strings: StringTable,
    at: numpy.ndarray,
    sizes: numpy.ndarray,
    pieces: numpy.ndarray,
    space: numpy.ndarray,
    size: int,
) -> None:
    """The UTF-8 of a chunk of tokens added to `data`: each token's string, then a space
    where it has one."""
    if size > GATHER_BYTES:  # long tokens: copied one by one (an index a byte is 8 bytes)
        blob = strings.blob
        for start, length, spaced in zip(
            strings.starts[at].tolist(), sizes.tolist(), space.tolist(), strict=True
        ):
            data.add(memoryview(blob[start : start + length]))
            if spaced:
                data.add(b" ")
        return
    offsets = numpy.cumsum(pieces) - pieces  # where each token's bytes go in the chunk
    source = numpy.arange(size, dtype=numpy.int64) - numpy.repeat(
        offsets - strings.starts[at], pieces
    )
    out = strings.blob[source]  # a space's byte lands one past its string: set below
    out[(offsets + sizes)[space]] = 0x20
    data.add(memoryview(out))


def _span_groups(raw: Any, hook: Any) -> dict[Any, list[tuple[int, int, int]]]:
    """doc.spans as SpanGroups.from_bytes reads it: {key: [(label hash, start char, end
    char)]}, in either of its layouts (a list of groups named by their name, or a map of
    group bytes to their keys)."""
    from spacy.tokens._dict_proxies import SpanGroups
    from srsly.msgpack import _unpackb

    if not raw or raw == SpanGroups._EMPTY_BYTES:
        return {}
    msg = _unpackb(raw, raw=False, use_list=True, object_hook=hook)
    groups: dict[Any, list[tuple[int, int, int]]] = {}
    if isinstance(msg, list):
        for value in msg:
            name, spans = _span_group(value, hook)
            groups[name] = spans
    else:
        for value, keys in msg.items():
            _, spans = _span_group(value, hook)
            groups[keys[0]] = spans
            for key in keys[1:]:
                groups[key] = list(spans)
    return groups


def _span_group(raw: Any, hook: Any) -> tuple[Any, list[tuple[int, int, int]]]:
    from srsly.msgpack import _unpackb

    msg = _unpackb(raw, raw=False, use_list=True, object_hook=hook)
    name = msg["name"]
    dict(msg["attrs"])
    spans = []
    for data in msg["spans"]:
        _, _, label, _, _, start_char, end_char = _SPAN.unpack(data)
        spans.append((label, start_char, end_char))
    return name, spans
