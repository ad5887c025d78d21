"""Excel workbooks (.xlsx): a tabular format (--map, --label-column, --sheet).

Read by app.core.io.formats.xlsx_stream, one row at a time: openpyxl reads the workbook's
parts (sheets, styles, the 1904 epoch), and the sheet's rows and shared strings are parsed by
expat and turned into values by openpyxl's own cell code, so the rows are those openpyxl's
read-only mode gave (tests/unit/xlsx_oracle.py), while a long cell is held once, as UTF-8 (a
LongText when the importer takes one). The first row is the header, the line in messages is
the sheet's own row number, empty rows are left out, and a blank cell is "" (a sheet
has no null: it reads as the CSV of the same sheet). Cached values are read, never
formulas. The default sheet is the first; an unknown --sheet is an error that lists the
sheets. Before anything is parsed, the zip's members are checked: a workbook that inflates
past MAX_UNPACKED, or far beyond its own size, is refused as a zip bomb, and XML with a
DOCTYPE (entity expansion) is refused, as are a value over --max-field-mb and a shared-string
table no cell could use.

The writer streams (write-only mode) one sheet: id, dataset, row, the text, the context
inputs, status, label (classification: the name; multilabel and spans: JSON) and, unless
--values final, annotations (each annotator's value, JSON). Every string cell is neutralised
as CSV's are (app.core.io.spreadsheet; not with --raw) and the sheet then carries
NEUTRALISED_COLUMN, so that a re-import restores the texts exactly.
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.fileio import atomic_writer
from app.core.io import spreadsheet
from app.core.io.decoding import size_text
from app.core.io.formats import xlsx_stream
from app.core.io.formats.annotated import (
    annotator_values,
    final_value,
    tabular_records,
)
from app.core.io.formats.base import ReadOptions, Record, WriteContext, WriteReport
from app.core.io.longtext import LongText, plain
from app.core.io.readers import check_unique_columns
from app.core.jobs import CancelCheck, Progress, check_cancel

NAME = "xlsx"
DESCRIPTION = "Excel workbook (.xlsx), one sheet (--sheet NAME; default the first)"
SUFFIXES = (".xlsx", ".xlsm")
TABULAR = True
MULTI_ANNOTATOR = True  # every annotator kept

MAX_UNPACKED = 2 << 30  # bytes once unzipped
MAX_RATIO = 200  # unzipped / zipped, past 10 MB unzipped
MAX_CELL = 32_767  # Excel's limit on the characters of one cell
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XML 1.0


def detect(path: Path, head: bytes) -> float:
    suffix = Path(path).suffix.lower() in SUFFIXES
    if head.startswith(b"PK\x03\x04"):
        return 0.95 if suffix or b"[Content_Types].xml" in head else 0.3
    return 0.4 if suffix else 0.0


def _check_zip(path: Path, max_field: int | None = None) -> None:
    name = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            unpacked = sum(member.file_size for member in members)
            packed = max(1, sum(member.compress_size for member in members))
            if unpacked > MAX_UNPACKED or (unpacked > 10 << 20 and unpacked / packed > MAX_RATIO):
                raise DataError(
                    name, None, f"unzips to {unpacked:,} bytes from {packed:,}: refused as a bomb"
                )
            for member in members:
                if member.filename.endswith((".xml", ".rels")):
                    with archive.open(member) as handle:
                        problem = prolog_problem(handle)
                    if problem:
                        raise DataError(name, None, f"{member.filename} {problem}: refused")
            problem = _shared_strings_problem(archive, members)
            if problem:
                raise DataError(name, None, problem)
            if max_field is not None:
                _check_long_values(name, archive, members, max_field)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise DataError(name, None, f"not an Excel workbook ({exc})") from None


def _check_long_values(
    name: str, archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], max_field: int
) -> None:
    """Refuse a value longer than `max_field` bytes before openpyxl reads it (red team,
    session 6: --max-field-mb did not apply to xlsx, and openpyxl holds a long cell about
    twice over while it parses it). A value is a run of bytes between two tags (its escapes
    as written, and the rest of the tag before it, count: a few bytes more); only
    members that unzip to more than `max_field` can hold one. Blocks are at most
    `max_field` long, so a run too long spans blocks: only the run at each block's end is
    carried, found by bytes.find (no regex over long runs)."""
    size = max(1, min(1 << 20, max_field))
    for member in members:
        if member.file_size <= max_field or not member.filename.endswith(".xml"):
            continue
        run = 0  # the bytes of text since the last '<'
        with archive.open(member) as handle:
            while block := handle.read(size):
                first = block.find(b"<")
                if first < 0:
                    run += len(block)
                elif run + first <= max_field:  # the run carried in ends here, short enough
                    run = len(block) - block.rindex(b"<") - 1
                else:
                    run += first
                if run > max_field:
                    raise DataError(
                        name,
                        None,
                        f"{member.filename} holds a value longer than the "
                        f"{size_text(max_field)} limit for one record (raise the limit with "
                        "--max-field-mb)",
                    )


MIN_SHARED_CELL = 16  # bytes of sheet XML that any cell using a shared string takes at least
FEW_SHARED = 50_000  # shared strings that openpyxl reads in well under a second
_SHARED_ITEM = re.compile(r"<(?:[\w.-]+:)?si[\s/>]")


def _shared_strings_problem(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> str | None:
    """A shared-string table with more strings than the rest of the workbook has room to use
    (red team, session 6: 1M unused strings, a 2.6 MB file, kept openpyxl busy 7 s and 230 MB
    before the first row; Excel keeps only the strings its cells use). Every other member
    counts as room, as a sheet may live at any path the workbook's relationships name."""
    table = next((m for m in members if m.filename.lower().endswith("sharedstrings.xml")), None)
    if table is None:
        return None
    room = max(FEW_SHARED, sum(m.file_size for m in members if m is not table) // MIN_SHARED_CELL)
    if table.file_size // MIN_SHARED_CELL <= room:  # '<si><t></t></si>' alone is 16 bytes
        return None
    count, tail = 0, ""
    with archive.open(table) as handle:
        head = handle.read(2)
        encoding = "utf-16" if head in (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<") else "utf-8"
        if head == b"<\x00":
            encoding = "utf-16-le"
        elif head == b"\x00<":
            encoding = "utf-16-be"
        decoder = codecs.getincrementaldecoder(encoding)("replace")
        block = head
        while block:
            text = tail + decoder.decode(block)
            cut = text.rfind("<")  # a tag cut at the block's end is counted with the next
            cut = len(text) if cut < 0 else cut
            count += len(_SHARED_ITEM.findall(text, 0, cut))
            tail = text[cut:]
            block = handle.read(1 << 20)
    count += len(_SHARED_ITEM.findall(tail + decoder.decode(b"", final=True)))
    if count <= room:
        return None
    return (
        f"{table.filename} lists {count:,} shared strings, more than the workbook's cells could "
        f"use (room for {room:,}): a damaged or hostile workbook; save it again from Excel"
    )


MAX_PROLOG = 1 << 20  # bytes of XML declaration, comments and whitespace before the root


def prolog_problem(handle: Any) -> str | None:
    """What is wrong with an XML member's prolog (all before its root element): a DOCTYPE
    (entities: billion laughs, XXE), or a prolog over MAX_PROLOG bytes; None when sound. The
    whole prolog is read, in any encoding XML allows: a DOCTYPE behind 5,000 spaces, or in
    UTF-16, was let through when only the first 4 KB were searched for its UTF-8 bytes."""
    raw = b""
    while True:
        block = handle.read(64 << 10)
        raw += block
        found = _scan_prolog(_as_text(raw), at_end=not block)
        if found is not None:
            return "declares a DOCTYPE" if found else None
        if not block:
            return None
        if len(raw) > MAX_PROLOG:
            return f"has over {MAX_PROLOG:,} bytes before its first element"


def _as_text(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", "replace")
    if raw[:2] == b"<\x00":
        return raw.decode("utf-16-le", "replace")
    if raw[:2] == b"\x00<":
        return raw.decode("utf-16-be", "replace")
    return raw.decode("utf-8", "replace")


def _scan_prolog(text: str, at_end: bool) -> bool | None:
    """True if the prolog holds a declaration (`<!DOCTYPE`...), False once the root element
    starts, None if `text` ends inside the prolog (read more)."""
    at, size = 0, len(text)
    while True:
        while at < size and text[at] in " \t\r\n\ufeff":
            at += 1
        if size - at < 4 and not at_end:
            return None
        if text.startswith("<?", at):
            end = text.find("?>", at + 2)
        elif text.startswith("<!--", at):
            end = text.find("-->", at + 4)
        else:
            return text.startswith("<!", at)
        if end < 0:
            return None if not at_end else False
        at = end + (2 if text[end] == "?" else 3)


def _open(path: Path, max_field: int | None = None) -> tuple[Any, str | None]:
    """openpyxl's read-only workbook, its shared strings not read (xlsx_stream.open_book)."""
    _check_zip(path, max_field)
    try:
        return xlsx_stream.open_book(str(path))
    except Exception as exc:
        raise DataError(
            str(path), None, f"not a readable workbook ({type(exc).__name__}: {exc})"
        ) from None


def _chosen(name: str, book: Any, sheet: str | None) -> Any:
    """The sheet asked for (the first by default): an unknown name lists the sheets."""
    names = book.sheetnames
    if not names:
        raise DataError(name, None, "the workbook has no sheets")
    if sheet is None:
        return book[names[0]]
    if sheet not in names:
        listed = ", ".join(repr(x) for x in names)
        raise DataError(name, None, f"no sheet {sheet!r}; the sheets are {listed}")
    return book[sheet]


def sheets(path: Path) -> list[str]:
    """The workbook's sheet names, for the import dialog's sheet choice."""
    book, _ = _open(path)
    try:
        return list(book.sheetnames)
    finally:
        book.close()


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, str) or value.__class__ is LongText:
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _header(name: str, cells: tuple[Any, ...]) -> list[str]:
    header = [
        str(plain(_cell(c))) if c is not None else f"column {i + 1}" for i, c in enumerate(cells)
    ]
    check_unique_columns(name, 1, header)
    return header


def _strings(name: str, book: Any, member: str | None, long_bytes: bool) -> Any:
    """The workbook's shared-string table (xlsx_stream.SharedStrings), or none."""
    if member is None:
        return xlsx_stream.SharedStrings(long_bytes)
    try:
        handle = book._archive.open(member)
    except (KeyError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(
            name, None, f"not a readable workbook ({type(exc).__name__}: {exc})"
        ) from None
    with handle:
        return xlsx_stream.read_shared_strings(handle, f"{name}: {member}", long_bytes)


def rows(path: Path, options: ReadOptions) -> Iterator[tuple[int, dict[str, Any]]]:
    """(sheet row number, {column: cell}) from the chosen sheet, header first.

    The <dimension> a sheet declares is not trusted: openpyxl's read-only mode stopped at its
    last row, so a file that declared A1:B3 lost its other rows without a word (red team,
    session 6). Rows are read to the end, never past Excel's last row."""
    name = str(path)
    book, member = _open(path, options.max_field)
    strings = None
    try:
        sheet = _chosen(name, book, options.sheet)
        strings = _strings(name, book, member, options.long_bytes)
        with book._archive.open(sheet._worksheet_path) as handle:
            yield from _sheet_rows(name, sheet.title, handle, strings, book, options.long_bytes)
    except (KeyError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(name, None, f"a corrupt workbook ({type(exc).__name__}: {exc})") from None
    finally:
        if strings is not None:
            strings.close()
        book.close()


def _sheet_rows(
    name: str, title: str, handle: Any, strings: Any, book: Any, long_bytes: bool
) -> Iterator[tuple[int, dict[str, Any]]]:
    lines = xlsx_stream.sheet_rows(handle, name, strings, book, long_bytes)
    first = next(lines, None)
    if first is None:
        raise DataError(name, None, f"sheet {title!r} is empty")
    # openpyxl's first row is row 1, made up empty when the sheet has no row 1
    header, restore = spreadsheet.reading(_header(name, first[1] if first[0] == 1 else ()))
    for number, cells in itertools.chain([] if first[0] == 1 else [first], lines):
        if all(c is None or c == "" for c in cells):
            continue
        # A spreadsheet has no null: a blank cell is an empty string, as in the CSV of the
        # same sheet (a blank text was refused as "null" here, skipped as empty in the CSV)
        values = ["" if c is None else _cell(c) for c in cells]
        values += [""] * (len(header) - len(values))
        del cells
        if restore is not None:
            values = [_restored(v, restore) for v in values]
        if any(v not in (None, "") for v in values[len(header) :]):
            raise DataError(name, number, "a cell to the right of the header's columns")
        row = dict(zip(header, values, strict=False))
        del values
        row.pop(spreadsheet.NEUTRALISED_COLUMN, None)
        box = [(number, row)]  # not held here while it is imported (a long text)
        del row
        yield box.pop()


def _restored(value: Any, restore: Any) -> Any:
    if isinstance(value, str):
        return restore(value)
    return value.restore(restore) if value.__class__ is LongText else value


def columns(path: Path, options: ReadOptions) -> list[str]:
    for _, row in rows(path, options):
        return list(row)
    return []


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
    yield from tabular_records(rows(path, options))


def _label_cell(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _text_cell(sheet: Any, value: str) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def write(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    from openpyxl import Workbook

    report = WriteReport()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("datapoints")
    header = ["id", "dataset", "row", context.text_key, *context.context_inputs, "status", "label"]
    if context.values != "final":
        header.append("annotations")
    neutralise = spreadsheet.neutralise if not context.raw else str
    if not context.raw:
        header.append(spreadsheet.NEUTRALISED_COLUMN)
    try:
        sheet.append([neutralise(cell) for cell in header])
        cleaned = long = 0
        for index, record in enumerate(records, 1):
            if index % 1000 == 0:
                check_cancel(cancel)
                progress(index, None, f"Writing {Path(out).name}")
            cells: list[Any] = [record.get("id"), record.get("dataset"), record.get("row")]
            cells += [record.get(context.text_key)]
            cells += [record.get(name) for name in context.context_inputs]
            cells += [record.get("status"), _label_cell(final_value(record))]
            if context.values != "final":
                mine = {str(who): v for who, v in annotator_values(record, context)}
                cells.append(json.dumps(mine, ensure_ascii=False) if mine else None)
            row = []
            for cell in cells:
                if isinstance(cell, str):
                    if _ILLEGAL.search(cell):
                        cleaned += 1
                        cell = _ILLEGAL.sub("\ufffd", cell)
                    long += len(cell) > MAX_CELL
                    cell = neutralise(cell)
                    if cell.startswith("="):  # --raw: a text, never a formula openpyxl would write
                        cell = _text_cell(sheet, cell)
                elif cell is not None and not isinstance(cell, int | float):
                    cell = json.dumps(cell, ensure_ascii=False)
                row.append(cell)
            sheet.append(row)
            report.written = index
        check_cancel(cancel)
        with atomic_writer(Path(out), "wb") as handle:
            book.save(handle)
    except BaseException:  # cancelled, disk full: end openpyxl's writer, no
        # "Exception ignored" traceback when its generator is collected later
        with contextlib.suppress(Exception):
            sheet.close()
        raise
    if cleaned:
        report.warnings.append(
            f"{cleaned} cell(s) held control characters Excel cannot store; each became U+FFFD"
        )
    if long:
        report.warnings.append(f"{long} cell(s) exceed Excel's {MAX_CELL:,} characters a cell")
    return report
