"""Import cases of session 6's red team: what the corpora did not make. Each was imported when
it should not have been, or lost rows without a word, or took seconds before the first row:

- label names that break lines (U+2028/9) or reorder the text shown (bidi controls), and one
  label written with two sets of code points (NFC and NFD) in one file, under --add-labels;
- CoNLL tags whose label holds a space (the reader splits them: refused, naming the line);
- xlsx: a sheet that declares a smaller <dimension> than it holds (every row must land), a
  row numbered past Excel's last row, a shared-string table no cell could use, and a cell
  (inline or shared) longer than --max-field-mb, which xlsx did not apply.

(name, bytes or a function making them, task type, import_dataset options), as
import_cases.hostile() gives them; EXPECTED says how each must end ("refused", or "N rows":
the runner's detail of an import). tests/fuzz/test_import_red6.py runs them all.
"""

from __future__ import annotations

import io
import json
import unicodedata
import zipfile
from functools import partial
from typing import Any

ADD = {"label_column": "label", "add_labels": True}
MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
LABELS = {
    "ls": "a\u2028b",
    "ps": "a\u2029b",
    "rlo": "\u202espam",
    "lri": "ham\u2066x\u2069",
    "lre": "\u202aham",
}


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def _workbook(sheet: bytes | None = None, shared: bytes | None = None) -> bytes:
    """openpyxl's workbook (text, label; one row) with the sheet XML and a shared-string
    table (with its content type and relationship) put in."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["text", "label"])
    book.active.append(["first", "ham"])
    sink = io.BytesIO()
    book.save(sink)
    with zipfile.ZipFile(io.BytesIO(sink.getvalue())) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if sheet is not None:
        members["xl/worksheets/sheet1.xml"] = sheet
    if shared is not None:
        members["xl/sharedStrings.xml"] = shared
        members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
            b"</Types>",
            b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxml'
            b'formats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        )
        members["xl/_rels/workbook.xml.rels"] = members["xl/_rels/workbook.xml.rels"].replace(
            b"</Relationships>",
            b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/'
            b'2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def sheet(rows: int, dimension: str, extra: str = "") -> bytes:
    """Header and `rows` rows of inline strings, under a declared <dimension> (then `extra`)."""
    cells = "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>text {r}</t></is></c>'
        f'<c r="B{r}" t="inlineStr"><is><t>ham</t></is></c></row>'
        for r in range(2, rows + 2)
    )
    head = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>text</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>label</t></is></c></row>'
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet {MAIN}><dimension ref="{dimension}"/>'
        f"<sheetData>{head}{cells}{extra}</sheetData></worksheet>"
    ).encode()


def _unused_strings(count: int, utf16: bool = False) -> bytes:
    items = "".join(f"<si><t>s{i}</t></si>" for i in range(count))
    encoding = "UTF-16" if utf16 else "UTF-8"
    xml = f'<?xml version="1.0" encoding="{encoding}"?>\n<sst {MAIN}>{items}</sst>'
    return xml.encode("utf-16" if utf16 else "utf-8")


def _far_row(number: str) -> str:
    return f'<row r="{number}"><c t="inlineStr"><is><t>far</t></is></c></row>'


def cases() -> list[tuple[str, Any, str, dict]]:
    out: list[tuple[str, Any, str, dict]] = []
    for name, label in LABELS.items():
        for fmt in ("jsonl", "csv"):
            if fmt == "jsonl":
                data = _jsonl([{"text": "hello", "label": label}])
            else:
                data = f"text,label\nhello,{label}\n".encode()
            out.append((f"red6-label-{name}.{fmt}", data, "classification", ADD))
    nfc, nfd = (unicodedata.normalize(form, "café") for form in ("NFC", "NFD"))
    both = _jsonl([{"text": "one", "label": nfc}, {"text": "two", "label": nfd}])
    out.append(("red6-label-nfc-nfd.jsonl", both, "classification", ADD))
    out.append(("red6-label-nfc-nfd-multi.jsonl", both, "multilabel", ADD))
    conll = b"Alice B-heart attack\nwas O\n\n"
    out.append(("red6-conll-label-space.conll", conll, "spans", {"add_labels": True}))
    dim = partial(_workbook, sheet(300, "A1:B3"))
    out.append(("red6-xlsx-dimension-short.xlsx", dim, "classification", {"label_column": "label"}))
    far = partial(_workbook, sheet(2, "A1:B3", _far_row("999999999999")))
    out.append(("red6-xlsx-row-far.xlsx", far, "classification", {"label_column": "label"}))
    long_text = "".join(chr(97 + (i * 7919) % 26) for i in range(200_000))  # 200 KB, varied
    small = {"max_field": 64 << 10}
    long_inline = partial(_workbook, sheet(1, "A1:B2").replace(b"text 2", long_text.encode()))
    out.append(("red6-xlsx-long-inline.xlsx", long_inline, "classification", small))
    cell = '<row r="2"><c r="A2" t="s"><v>0</v></c></row>'
    head = '<row r="1"><c r="A1" t="inlineStr"><is><t>text</t></is></c></row>'
    shared_sheet = (
        f'<?xml version="1.0"?>\n<worksheet {MAIN}><sheetData>{head}{cell}</sheetData></worksheet>'
    )
    table = f'<?xml version="1.0"?>\n<sst {MAIN}><si><t>{long_text}</t></si></sst>'
    long_shared = partial(_workbook, shared_sheet.encode(), table.encode())
    out.append(("red6-xlsx-long-shared.xlsx", long_shared, "classification", small))
    for name, utf16 in (("", False), ("-utf16", True)):
        shared = partial(_workbook, None, _unused_strings(200_000, utf16))
        out.append((f"red6-xlsx-unused-strings{name}.xlsx", shared, "classification", {}))
    return out


EXPECTED = {
    **{name: "refused" for name, _data, _task, options in cases() if options is ADD},
    "red6-conll-label-space.conll": "refused",
    "red6-xlsx-dimension-short.xlsx": "300 rows",
    "red6-xlsx-row-far.xlsx": "refused",
    "red6-xlsx-unused-strings.xlsx": "refused",
    "red6-xlsx-unused-strings-utf16.xlsx": "refused",
    "red6-xlsx-long-inline.xlsx": "refused",
    "red6-xlsx-long-shared.xlsx": "refused",
}
