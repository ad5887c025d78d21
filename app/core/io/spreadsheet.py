"""Spreadsheet formula injection: cells a spreadsheet would run, made inert, and undone.

A spreadsheet (Excel, LibreOffice Calc, Google Sheets) runs a cell that begins with `=`, `+`,
`-` or `@` as a formula (`=HYPERLINK(...)`, `=cmd|' /C calc'!A0`), and a leading tab or
carriage return can hide one. Following OWASP's CSV-injection advice, `neutralise` prefixes
such a cell with a single quote, which spreadsheets read as "this is text". Also neutralised:
NUL (OWASP ASVS 5.0, 1.2.10) and the full-width forms ＝ ＋ － ＠, which OWASP does not list:
Excel in East Asian locales reads full-width input as its ASCII form; a quote costs nothing.

The rule is invertible, so that a re-import can give back exactly what was exported: a cell is
prefixed when it starts with a trigger after any number of quotes (`=x`, `'=x`, `''=x`), and
`restore` removes one quote from a cell that starts with a quote, then any quotes, then a
trigger. So a text that really began with `'=` is exported as `''=` and comes back as `'=`.

A re-import applies `restore` only to a file that says it was neutralised: the CSV export adds
the column NEUTRALISED_COLUMN (empty cells) when it neutralises; `--raw` exports, older
exports and everyone else's files are read verbatim (`reading`).

The export writers call `neutralise` on every cell, header included: app.core.io.export for
CSV, and an xlsx writer must call it too, on every string cell (openpyxl, for one, stores any
string that starts with "=" as a formula).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

QUOTE = "'"
TRIGGERS = frozenset("=+-@\t\r\x00＝＋－＠")
NEUTRALISED_COLUMN = "tagloop:neutralised"
_FIRST = TRIGGERS | {QUOTE}  # a cell starting with anything else is never touched


def needs_quote(cell: str) -> bool:
    """Whether `cell` starts with a trigger, after any leading quotes."""
    if not cell or cell[0] not in _FIRST:
        return False
    rest = cell.lstrip(QUOTE)
    return bool(rest) and rest[0] in TRIGGERS


def neutralise(cell: str) -> str:
    """`cell` as a spreadsheet shows it as text and never runs it (see the module doc)."""
    return QUOTE + cell if needs_quote(cell) else cell


def neutralise_row(cells: Iterable[object]) -> list[str]:
    """`neutralise` over a row, as the strings csv.writer would write (None is "")."""
    row = []
    for cell in cells:
        if not isinstance(cell, str):
            cell = "" if cell is None else str(cell)
        if cell and cell[0] in _FIRST and needs_quote(cell):
            cell = QUOTE + cell
        row.append(cell)
    return row


def restore(cell: str) -> str:
    """Undo `neutralise`: `restore(neutralise(x)) == x` for every string x."""
    if cell.startswith(QUOTE) and needs_quote(cell):
        return cell[1:]
    return cell


def reading(header: list[str]) -> tuple[list[str], Callable[[str], str] | None]:
    """For a CSV/TSV being imported: its header, and the function to apply to each cell read
    from it: `restore` when the file carries NEUTRALISED_COLUMN, else None (read verbatim)."""
    if NEUTRALISED_COLUMN not in header:
        return header, None
    return [restore(column) for column in header], restore
