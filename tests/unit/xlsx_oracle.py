"""The openpyxl-based xlsx reader that app.core.io.formats.xlsx used before its streaming
reader (xlsx_stream), kept as the oracle its rows are compared with (test_xlsx_stream.py).

openpyxl's read-only mode, cached values, every row to the end (its <dimension> reset), the
header and cell conversion of xlsx.rows: only the reading of the sheet differs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.io import spreadsheet
from app.core.io.formats import xlsx
from app.core.io.formats.base import ReadOptions

EXCEL_ROWS = 1_048_576


def _sheet(path: Path, sheet: str | None, max_field: int | None) -> tuple[Any, Any]:
    from openpyxl import load_workbook

    xlsx._check_zip(path, max_field)
    name = str(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise DataError(name, None, f"not a readable workbook ({exc})") from None
    names = book.sheetnames
    if not names:
        raise DataError(name, None, "the workbook has no sheets")
    if sheet is None:
        return book, book[names[0]]
    if sheet not in names:
        book.close()
        raise DataError(name, None, f"no sheet {sheet!r}")
    return book, book[sheet]


def rows(path: Path, options: ReadOptions) -> Iterator[tuple[int, dict[str, Any]]]:
    """(sheet row number, {column: cell}) as the openpyxl-based reader gave them."""
    name = str(path)
    book, sheet = _sheet(path, options.sheet, options.max_field)
    number = 1
    try:
        sheet.reset_dimensions()
        lines = sheet.iter_rows(max_row=EXCEL_ROWS, values_only=True)
        first = next(lines, None)
        if first is None:
            raise DataError(name, None, f"sheet {sheet.title!r} is empty")
        header, restore = spreadsheet.reading(xlsx._header(name, first))
        for number, cells in enumerate(lines, 2):
            if all(c is None or c == "" for c in cells):
                continue
            values = ["" if c is None else xlsx._cell(c) for c in cells]  # no null in a sheet
            values += [""] * (len(header) - len(values))
            if restore is not None:
                values = [restore(v) if isinstance(v, str) else v for v in values]
            if any(v not in (None, "") for v in values[len(header) :]):
                raise DataError(name, number, "a cell to the right of the header's columns")
            row = dict(zip(header, values, strict=False))
            row.pop(spreadsheet.NEUTRALISED_COLUMN, None)
            yield number, row
    except DataError:
        raise
    except Exception as exc:
        raise DataError(name, None, f"a corrupt sheet after its row {number:,} ({exc})") from None
    finally:
        book.close()
