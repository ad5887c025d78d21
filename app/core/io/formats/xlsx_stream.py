"""The rows of one .xlsx sheet, streamed: each long cell text held once, as UTF-8.

openpyxl's read-only mode held a long cell twice (the parser's element text and a Python
str) and its whole shared-string table as strs: 4.8x an 8 MB inline cell, 6.2-6.8x a shared
one, against issue 14's 3x (bench/xlsx_memory.py). Here:

- The workbook's own parts (content types, workbook, relationships, styles: sheet names and
  paths, date formats, the 1904 epoch) are still read by openpyxl itself (`open_book`), only
  without its shared-string table: they are small, and so the sheets, their order and the
  date formats are openpyxl's exactly.
- The shared-string table and the sheet are parsed by expat, the parser openpyxl's own
  iterparse uses (so the same XML is accepted and refused), fed a block at a time from the
  zip member. Only the elements of one <row> (or one <si>) are kept, as `Node`s that answer
  the few element calls openpyxl makes, and each row is turned into values by openpyxl's own
  `WorkSheetParser.parse_row` / `Text.from_tree`: cell types, dates, booleans, errors, rich
  text, phonetic runs, missing `r` attributes, sparse and out-of-order cells all come out as
  openpyxl gives them (tests/unit/xlsx_oracle.py compares the two over many workbooks).
- An element text past GATHER characters is gathered as UTF-8 (`Long`), never as one str: a
  long string cell becomes a longtext.LongText when the importer asks (`long_bytes`), else
  one str. Such a cell is checked by openpyxl's code with its long texts left out, and its
  value then made here, as openpyxl's would be.
- The shared-string table is one UTF-8 bytearray with end offsets (no str per string), and a
  string over SPILL bytes goes to an anonymous temporary file (gone on close, and with the
  process), read back only for the cell that uses it.
"""

from __future__ import annotations

import functools
import tempfile
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from typing import IO, Any

from app.core.errors import DataError
from app.core.io import longtext

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
ROW_TAG = f"{{{MAIN}}}row"
SI_TAG = f"{{{MAIN}}}si"
VALUE_TAG = f"{{{MAIN}}}v"
INLINE_TAG = f"{{{MAIN}}}is"
READ = 1 << 16  # bytes of a zip member handed to expat at a time
GATHER = 1 << 16  # characters of one element's text past which it is gathered as UTF-8
SPILL = 1 << 20  # bytes of one shared string past which it goes to the temporary file
EXCEL_ROWS = 1_048_576  # openpyxl's rows stop here (xlsx.rows asks for no more)
NUMERIC = ("n", "s", "b", "d")  # cell types whose <v> openpyxl converts (not kept as text)


class Long:
    """An element text past GATHER characters: its UTF-8, its length, whether all blank."""

    __slots__ = ("blank", "chars", "data")

    def __init__(self, text: str) -> None:
        self.data = bytearray(text.encode("utf-8"))
        self.chars = len(text)
        self.blank = text.isspace()

    def add(self, text: str) -> None:
        self.data += text.encode("utf-8")
        self.chars += len(text)
        self.blank = self.blank and text.isspace()


class Node:
    """One element of the row (or shared string) being read, with the element calls that
    openpyxl's readers make: tag, attrib, text (before the first child), children."""

    __slots__ = ("attrib", "children", "long", "tag", "text")

    def __init__(self, tag: str, attrib: dict[str, str]) -> None:
        self.tag = tag
        self.attrib = attrib
        self.text: str | Long | None = None
        self.children: list[Node] = []
        self.long = False  # a Long text somewhere below (or in) it

    def __iter__(self) -> Iterator[Node]:
        return iter(self.children)

    def __len__(self) -> int:
        return len(self.children)

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrib.get(key, default)

    def set(self, key: str, value: str) -> None:
        self.attrib[key] = value

    def find(self, tag: str) -> Node | None:
        return next((child for child in self.children if child.tag == tag), None)

    def findtext(self, tag: str, default: Any = None) -> Any:
        child = self.find(tag)
        if child is None:
            return default
        return child.text or ""

    def clear(self) -> None:
        """As ElementTree's clear: what openpyxl leaves of a row or a string once read."""
        self.attrib = {}
        self.text = None
        self.children = []
        self.long = False


def _fix(name: str) -> str:
    """expat's "namespace}local" as ElementTree's "{namespace}local"."""
    return "{" + name if "}" in name else name


class _Builder:
    """expat's handlers: keeps the elements of each `watched` element (at any depth, as
    openpyxl's iterparse loop sees them) and hands it to `done` at its end tag."""

    def __init__(self, watched: str, done: Callable[[Node], None]) -> None:
        self.watched = watched
        self.done = done
        self.stack: list[Node | None] = []  # None: an element outside any watched one

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _fix(name)
        stack = self.stack
        parent = stack[-1] if stack else None
        if parent is None and tag != self.watched:
            stack.append(None)
            return
        for key in attrs:
            if "}" in key:
                attrs = {_fix(key): value for key, value in attrs.items()}
                break
        node = Node(tag, attrs)
        if parent is not None:
            parent.children.append(node)
        stack.append(node)

    def end(self, _name: str) -> None:
        node = self.stack.pop()
        if node is not None and node.tag == self.watched:
            self.done(node)
            node.clear()

    def data(self, text: str) -> None:
        node = self.stack[-1] if self.stack else None
        if node is None or node.children:  # outside, or a tail (which no reader reads)
            return
        held = node.text
        if held.__class__ is Long:
            held.add(text)  # type: ignore[union-attr]
            return
        if held is not None:
            text = held + text  # type: ignore[operator]
        if len(text) <= GATHER:
            node.text = text
            return
        node.text = Long(text)  # from now on gathered as UTF-8
        for above in self.stack:
            if above is not None:
                above.long = True


def _parse(
    handle: IO[bytes], builder: _Builder, ready: deque, name: str, line: Callable[[], int | None]
) -> Iterator[Any]:
    """Feed `handle` to expat a block at a time, yielding what `builder` readied."""
    from xml.parsers import expat

    parser = expat.ParserCreate(None, "}")
    parser.buffer_text = True
    parser.buffer_size = READ
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        while True:
            block = handle.read(READ)
            parser.Parse(block, not block)  # an empty block: the end (expat's checks)
            while ready:
                yield ready.popleft()
            if not block:
                return
            del block
    except expat.ExpatError as exc:
        raise DataError(name, line(), f"malformed XML ({exc})") from None


# ---- values -------------------------------------------------------------------------------


def _localname(node: Node) -> str:
    return node.tag.rsplit("}", 1)[-1]


def _last_t(node: Node) -> Node | None:
    """The text child openpyxl's Text / RichText keep: the last one named t."""
    found = None
    for child in node.children:
        if _localname(child) == "t":
            found = child
    return found


def text_content(node: Node) -> str:
    """openpyxl's `Text.from_tree(node).content` (a string item without long texts); an
    item of one <t> and nothing else, most of them, without building openpyxl's objects."""
    from openpyxl.cell.text import Text

    children = node.children
    if not node.attrib and len(children) == 1 and _localname(children[0]) == "t":
        return children[0].text or ""  # type: ignore[return-value]
    return Text.from_tree(node).content


def content_parts(node: Node) -> list[str | Long]:
    """The pieces of openpyxl's `Text.from_tree(node).content`: the plain <t>, then each
    rich-text run's <t> (phonetic runs and fonts are no part of it)."""
    parts: list[str | Long] = []
    plain = _last_t(node)
    if plain is not None and plain.text is not None:
        parts.append(plain.text)
    for child in node.children:
        if _localname(child) == "r":
            run = _last_t(child)
            if run is not None and run.text is not None:
                parts.append(run.text)
    return [part for part in parts if part.__class__ is Long or part]


def joined(parts: list[str | Long]) -> Long:
    """The pieces as one Long (the pieces are let go of as they are copied)."""
    first = parts.pop(0)
    out = first if first.__class__ is Long else Long(first)  # type: ignore[arg-type]
    while parts:
        part = parts.pop(0)
        if part.__class__ is Long:
            out.data += part.data  # type: ignore[union-attr]
            out.chars += part.chars  # type: ignore[union-attr]
            out.blank = out.blank and part.blank  # type: ignore[union-attr]
        else:
            out.add(part)  # type: ignore[arg-type]
        del part
    return out  # type: ignore[return-value]


def drop_x005f(text: Long) -> Long:
    """openpyxl's `.replace('x005F_', '')` on a shared string, on its UTF-8 (ASCII bytes
    never occur inside a multi-byte character)."""
    count = text.data.count(b"x005F_")
    if count:
        text.data = text.data.replace(b"x005F_", b"")
        text.chars -= 6 * count
    return text


def value_of(text: Long, long_bytes: bool) -> str | longtext.LongText:
    """A gathered text as a cell value: a LongText when the importer takes one and the
    text is long enough, else its str."""
    if long_bytes and text.chars > longtext.LONG_TEXT and not text.blank:
        return longtext.LongText(text.data, text.chars)
    data, text.data = text.data, bytearray()
    with memoryview(data) as view:
        return str(view, "utf-8")


class _Shadow:
    """A node's Long texts swapped for "" while openpyxl's code checks it (the checks do not
    depend on a text's content), and put back after."""

    def __init__(self, node: Node) -> None:
        self.swapped: list[tuple[Node, Long]] = []
        stack = [node]
        while stack:
            item = stack.pop()
            if not item.long:
                continue
            if item.text.__class__ is Long:
                self.swapped.append((item, item.text))  # type: ignore[arg-type]
                item.text = ""
            stack.extend(item.children)

    def restore(self) -> None:
        for item, text in self.swapped:
            item.text = text

    def decode(self) -> None:
        """Every long text as a str (a cell openpyxl converts: a number, a date...)."""
        for item, text in self.swapped:
            item.text = bytes(text.data).decode("utf-8")
        self.swapped = []


# ---- the shared-string table --------------------------------------------------------------


class SharedStrings:
    """The shared-string table, indexed as openpyxl's list is (negative indexes too): short
    strings as one UTF-8 bytearray with their end offsets, a string over SPILL bytes in an
    anonymous temporary file. Close it (or use it as a context manager) when done."""

    def __init__(self, long_bytes: bool) -> None:
        self.long_bytes = long_bytes
        self.data = bytearray()
        self.ends = array("q")
        self.spilled: dict[int, tuple[int, int, int, bool]] = {}  # offset, size, chars, blank
        self.spill: IO[bytes] | None = None

    def __len__(self) -> int:
        return len(self.ends)

    def __enter__(self) -> SharedStrings:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()
            self.spill = None

    def add(self, text: str | Long) -> None:
        if text.__class__ is Long and len(text.data) > SPILL:  # type: ignore[union-attr]
            if self.spill is None:
                # unnamed on Linux: removed on close, and by the system if the process dies
                self.spill = tempfile.TemporaryFile(prefix="tagloop-xlsx-")  # noqa: SIM115
            spill = self.spill
            offset = spill.seek(0, 2)
            size = longtext.spill_text(text.data, spill)  # type: ignore[union-attr]
            self.spilled[len(self.ends)] = (offset, size, text.chars, text.blank)  # type: ignore[union-attr]
        elif text.__class__ is Long:
            self.data += text.data  # type: ignore[union-attr]
        else:
            self.data += text.encode("utf-8")  # type: ignore[union-attr]
        self.ends.append(len(self.data))

    def __getitem__(self, index: int) -> str | longtext.LongText:
        count = len(self.ends)
        at = index + count if index < 0 else index
        if not 0 <= at < count:
            raise IndexError(f"shared string {index:,} of a table of {count:,}")
        spilled = self.spilled.get(at)
        if spilled is not None:
            offset, size, chars, blank = spilled
            data = bytearray(size)
            self.spill.seek(offset)  # type: ignore[union-attr]
            self.spill.readinto(data)  # type: ignore[union-attr]
            text = Long("")
            text.data, text.chars, text.blank = data, chars, blank
            return value_of(text, self.long_bytes)
        start = self.ends[at - 1] if at else 0
        with memoryview(self.data) as view:
            return str(view[start : self.ends[at]], "utf-8")


def read_shared_strings(handle: IO[bytes], name: str, long_bytes: bool) -> SharedStrings:
    """openpyxl's `read_string_table`, into a SharedStrings."""
    from openpyxl.cell.text import Text

    longtext.steady_malloc()  # a spilled string's bytes go back to the system when freed
    table = SharedStrings(long_bytes)

    def done(node: Node) -> None:
        if not node.long:
            table.add(text_content(node).replace("x005F_", ""))
            return
        shadow = _Shadow(node)
        Text.from_tree(node)  # openpyxl's checks of the rest of the string
        shadow.restore()
        table.add(drop_x005f(joined(content_parts(node))))

    ready: deque = deque()
    try:
        for _ in _parse(handle, _Builder(SI_TAG, done), ready, name, lambda: None):
            pass
    except BaseException:
        table.close()
        raise
    return table


# ---- the sheet ----------------------------------------------------------------------------


@functools.cache
def _parser_class() -> type:
    """openpyxl's WorkSheetParser, its parse_cell sped up and taught long texts (made once:
    openpyxl is imported only when a workbook is read)."""
    from openpyxl.utils.cell import coordinate_to_tuple
    from openpyxl.utils.datetime import from_excel, from_ISO8601
    from openpyxl.worksheet._reader import WorkSheetParser, _cast_number

    class CellParser(WorkSheetParser):
        long_bytes = False  # long string cells as LongTexts

        def parse_cell(self, element: Any) -> dict[str, Any]:
            """openpyxl's `parse_cell` with data_only (its lines, in its order), strings
            through `text_content`; a cell holding a long text through `long_cell`."""
            if element.long:
                return self.long_cell(element)
            get = element.attrib.get
            data_type = get("t", "n")
            coordinate = get("r")
            style_id = get("s", 0)
            if style_id:
                style_id = int(style_id)
            value = None if data_type == "inlineStr" else element.findtext(VALUE_TAG) or None
            if coordinate:
                row, column = coordinate_to_tuple(coordinate)
                self.col_counter = column
            else:
                self.col_counter += 1
                row, column = self.row_counter, self.col_counter
            if value is not None:
                if data_type == "n":
                    value = _cast_number(value)
                    if style_id in self.date_formats:
                        data_type = "d"
                        try:
                            value = from_excel(
                                value, self.epoch, timedelta=style_id in self.timedelta_formats
                            )
                        except (OverflowError, ValueError):
                            data_type, value = "e", "#VALUE!"
                elif data_type == "s":
                    value = self.shared_strings[int(value)]
                elif data_type == "b":
                    value = bool(int(value))
                elif data_type == "str":
                    data_type = "s"
                elif data_type == "d":
                    value = from_ISO8601(value)
            elif data_type == "inlineStr":
                child = element.find(INLINE_TAG)
                if child is not None:
                    data_type = "s"
                    value = text_content(child)
            return {
                "row": row,
                "column": column,
                "value": value,
                "data_type": data_type,
                "style_id": style_id,
            }

        def long_cell(self, element: Node) -> dict[str, Any]:
            shadow = _Shadow(element)
            kind = element.get("t", "n")
            if kind in NUMERIC:  # a long number or index: openpyxl's way, whatever it costs
                shadow.decode()
                return WorkSheetParser.parse_cell(self, element)
            cell = WorkSheetParser.parse_cell(self, element)  # the checks, row and column
            shadow.restore()
            if kind == "inlineStr":
                child = element.find(INLINE_TAG)
                parts = content_parts(child) if child is not None else []
                if parts:
                    cell["value"] = value_of(joined(parts), self.long_bytes)
            else:
                child = element.find(VALUE_TAG)
                if child is not None and child.text.__class__ is Long:
                    cell["value"] = value_of(child.text, self.long_bytes)  # type: ignore[arg-type]
                    cell["data_type"] = "s" if kind == "str" else kind
            return cell

    return CellParser


def sheet_rows(
    handle: IO[bytes],
    name: str,
    strings: Any,
    book: Any,
    long_bytes: bool,
) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(row number, cell values) of each row openpyxl's `iter_rows(values_only=True)` gives
    for the sheet in `handle`, past its <dimension>; a row numbered past EXCEL_ROWS (which
    openpyxl left out without a word) is a DataError; the empty rows openpyxl makes up for the
    numbers a sheet skips are left out (the numbers say where they were).
    `book` is openpyxl's read-only workbook (epoch and date formats)."""
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    longtext.steady_malloc()
    parser = _parser_class()(
        None,
        strings,
        data_only=True,
        epoch=book.epoch,
        date_formats=book._date_formats,
        timedelta_formats=book._timedelta_formats,
    )
    parser.long_bytes = long_bytes
    ready: deque = deque()
    builder = _Builder(ROW_TAG, lambda node: ready.append(parser.parse_row(node)))
    counter = 1  # openpyxl's: the next row number it gives

    def line() -> int | None:  # the row being read (openpyxl's count), for messages
        return parser.row_counter if parser.row_counter > 0 else None

    try:
        for index, cells in _parse(handle, builder, ready, name, line):
            if index > EXCEL_ROWS:  # no spreadsheet program writes one: a damaged sheet
                raise DataError(
                    name, None, f"a row numbered {index:,}, past Excel's last row ({EXCEL_ROWS:,})"
                )
            if index >= counter:  # a row numbered before one already given is dropped
                counter = index + 1  # the rows in between: made up by openpyxl, empty
                box = [(index, ReadOnlyWorksheet._get_row(None, cells, 1, None, True))]
                del cells
                yield box.pop()
    except DataError:
        raise
    except Exception as exc:  # openpyxl's own checks: a bad number, index, coordinate...
        problem = f"{type(exc).__name__}: {exc}"
        if len(problem) > 200:
            problem = problem[:197] + "..."
        raise DataError(name, line(), f"a corrupt sheet row ({problem})") from None


def open_book(path: str) -> tuple[Any, str | None]:
    """openpyxl's read-only workbook without its shared-string table, and the table's
    member name (None: the workbook has none)."""
    from openpyxl.packaging.relationship import get_dependents, get_rels_path
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet
    from openpyxl.xml.constants import SHARED_STRINGS

    class Sheet(ReadOnlyWorksheet):
        def _get_size(self) -> None:
            return None

    class Reader(ExcelReader):
        """openpyxl's reader, but the table is left to read_shared_strings and a sheet's
        <dimension> is not looked for: xlsx.rows does not trust it, and openpyxl parsed a
        whole sheet to find none (its end tag of <sheetData> ends the search)."""

        strings_path: str | None = None

        def read_worksheets(self) -> None:  # openpyxl's, read-only branch
            for sheet, rel in self.parser.find_sheets():
                if rel.target not in self.valid_files:
                    continue
                if "chartsheet" in rel.Type:
                    self.read_chartsheet(sheet, rel)
                    continue
                rels_path = get_rels_path(rel.target)
                if rels_path in self.valid_files:
                    get_dependents(self.archive, rels_path)
                ws = Sheet(self.wb, sheet.name, rel.target, self.shared_strings)
                ws.sheet_state = sheet.state
                self.wb._sheets.append(ws)

        def read_strings(self) -> None:
            found = self.package.find(SHARED_STRINGS)
            self.strings_path = found.PartName[1:] if found is not None else None

    reader = Reader(path, read_only=True, data_only=True)
    try:
        reader.read()
    except BaseException:
        reader.archive.close()
        raise
    return reader.wb, reader.strings_path
