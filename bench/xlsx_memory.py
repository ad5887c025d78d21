"""Peak memory of importing one long xlsx cell, against the issue-14 target (peak <= 3x the
largest accepted field), which bench/import_memory.py does not measure for xlsx.

One workbook per case: a header, one cell of FIELD MB (inline string, or a shared string),
and a short row; each import runs in a fresh child (tests.fuzz.import_runner.peak_kb). Printed:
(peak - peak of importing a one-row workbook of the same kind) / field bytes in UTF-8, as
bench/import_memory.py measures every format (after a warm-up of the same format); then, as
the red team measured it first, against a one-line .txt import, which also counts loading
openpyxl, lxml and numpy (openpyxl imports it): a fixed 20 MB, 2.5x of an 8 MB field.

    nice -n 10 python bench/xlsx_memory.py            # 8 MB, ascii and cjk
    python bench/xlsx_memory.py --mb 4

Past about 10 MB this text is refused as a zip bomb (it unzips to over 200 times its size).

Figures of 2026-12-02 (red team, session 6; 8 MB, against .txt): inline 4.76 (ascii) / 4.76
(cjk), shared string 6.77 / 6.17: over the target.

Figures of 2026-12-02 (session 6, xlsx_stream; 8 MB; before -> after, the same bench run on
the red team's branch and on this one): against a one-row workbook, inline 2.11 -> 2.11
(ascii) / 2.09 -> 2.09 (cjk), shared 4.09 -> 2.30 / 3.50 -> 2.31; against .txt, inline
4.65 -> 4.64 / 4.63 -> 4.62, shared 6.63 -> 4.83 / 6.05 -> 4.83. openpyxl's parse of an
inline cell already kept one copy (expat's str, 1 byte a character for ascii); its shared
table kept every string as a str for the whole import, and a freed 8 MB block raised glibc's
mmap threshold. The streaming reader keeps the table as UTF-8, spills a long string to an
unnamed temporary file until its cell is read, and asks glibc to give large blocks back.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzz import import_runner  # noqa: E402
from tests.fuzz.import_red6 import MAIN, _workbook  # noqa: E402

VARIANTS = {"ascii": "word ", "cjk": "漢字漢字 "}


def _row(number: int, cell: str) -> str:
    return f'<row r="{number}"><c r="A{number}" {cell}</c></row>'


def workbook(text: str, shared: bool) -> bytes:
    """A workbook whose second row is `text`, inline or through the shared-string table."""
    long_cell = 't="s"><v>0</v>' if shared else f't="inlineStr"><is><t>{text}</t></is>'
    rows = (
        _row(1, 't="inlineStr"><is><t>text</t></is>')
        + _row(2, long_cell)
        + _row(3, 't="inlineStr"><is><t>second</t></is>')
    )
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet {MAIN}><sheetData>{rows}'
        "</sheetData></worksheet>"
    ).encode()
    if not shared:
        return _workbook(sheet)
    table = f'<?xml version="1.0" encoding="UTF-8"?>\n<sst {MAIN}><si><t>{text}</t></si></sst>'
    return _workbook(sheet, table.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=8, help="the long field's size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tagloop-xlsx-memory-") as tmp:
        work = Path(tmp)
        (work / "tiny.txt").write_text("one line\n", encoding="utf-8")
        base = import_runner.peak_kb(work / "tiny.txt", work)
        for variant, unit in VARIANTS.items():
            text = unit * ((args.mb << 20) // len(unit.encode()))
            size = len(text.encode())
            for shared in (False, True):
                kind = "shared" if shared else "inline"
                tiny = work / f"tiny-{kind}.xlsx"
                tiny.write_bytes(workbook(unit.strip(), shared))
                book = import_runner.peak_kb(tiny, work)  # openpyxl & co. loaded, one row
                path = work / f"{variant}-{kind}.xlsx"
                path.write_bytes(workbook(text, shared))
                peak = import_runner.peak_kb(path, work)
                print(
                    f"{path.stem:14} {args.mb} MB field: {(peak - book) * 1024 / size:.2f}x "
                    f"a one-row workbook's peak ({(peak - base) * 1024 / size:.2f}x a .txt's; "
                    f"the workbook's fixed cost {(book - base) / 1024:.1f} MB)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
