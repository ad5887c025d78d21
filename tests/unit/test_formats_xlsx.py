"""Excel workbooks: sheet choice, formula neutralising, exact texts, hostile workbooks (#13)."""

from __future__ import annotations

import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from app.core.errors import DataError
from app.core.io.formats import xlsx
from app.core.io.formats.base import ReadOptions
from tests.unit.format_samples import TEXTS, context, gold_spans, never, no_progress, record


def _book(path, sheets):
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)


def test_reads_the_first_sheet_by_default_and_another_on_request(tmp_path):
    path = tmp_path / "notes.xlsx"
    _book(
        path,
        {
            "Ward A": [["Note", "Label", "Bed"], ["fever", "sick", 12], [None, None, None]],
            "Ward B": [["Note", "Label"], ["fine", "well"]],
        },
    )
    (first,) = xlsx.read(path, ReadOptions("classification"))
    assert (first.line, first.context) == (2, {"Note": "fever", "Label": "sick", "Bed": "12"})
    options = ReadOptions("classification", sheet="Ward B")
    assert [r.context["Note"] for r in xlsx.read(path, options)] == ["fine"]
    assert xlsx.sheets(path) == ["Ward A", "Ward B"]


def test_an_unknown_sheet_lists_the_sheets(tmp_path):
    path = tmp_path / "notes.xlsx"
    _book(path, {"Ward A": [["text"]], "Ward B": [["text"]]})
    with pytest.raises(DataError, match="no sheet 'Ward C'; the sheets are 'Ward A', 'Ward B'"):
        list(xlsx.read(path, ReadOptions("classification", sheet="Ward C")))


def test_round_trip_neutralises_formulas_and_keeps_texts_exact(tmp_path):
    texts = [*TEXTS, '=HYPERLINK("http://x")', "'=already quoted", "+1 call"]
    spans = [*gold_spans(), [], [], []]
    records = [record(i, t, s) for i, (t, s) in enumerate(zip(texts, spans, strict=True))]
    out = tmp_path / "export.xlsx"
    report = xlsx.write(iter(records), out, context(), no_progress, never)
    assert report.written == len(texts) and not report.warnings
    assert xlsx.detect(out, out.read_bytes()[:64]) > 0.9
    sheet = load_workbook(out).active  # as a spreadsheet sees it: no formula anywhere
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert sheet["D6"].value == '\'=HYPERLINK("http://x")'
    back = [r.context for r in xlsx.read(out, ReadOptions("spans"))]
    assert [r["text"] for r in back] == texts  # CRLF, lone CR, emoji, RTL and the quote rule
    assert back[0]["label"].startswith("[{")  # JSON, parsed by the importer


def test_control_characters_become_replacement_characters_with_a_warning(tmp_path):
    out = tmp_path / "export.xlsx"
    report = xlsx.write(
        iter([record(1, "bell\x07 here", None)]), out, context(), no_progress, never
    )
    assert "U+FFFD" in report.warnings[0]
    (back,) = xlsx.read(out, ReadOptions("spans"))
    assert back.context["text"] == "bell\ufffd here"  # one character for one: offsets hold


def test_not_a_workbook_is_a_clear_error(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_bytes(b"PK\x03\x04 this is no zip")
    with pytest.raises(DataError, match="not an Excel workbook") as error:
        list(xlsx.read(path, ReadOptions("classification")))
    assert error.value.file == str(path)


def test_a_zip_bomb_is_refused_before_openpyxl_opens_it(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<a>" + b" " * 50_000_000 + b"</a>")
    with pytest.raises(DataError, match="refused as a bomb"):
        list(xlsx.read(path, ReadOptions("classification")))


def test_xml_entities_are_refused(tmp_path):
    path = tmp_path / "laughs.xlsx"
    _book(path, {"S": [["text"], ["x"]]})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("xl/evil.xml", '<!DOCTYPE l [<!ENTITY a "aaaa">]><l>&a;</l>')
    with pytest.raises(DataError, match="DOCTYPE"):
        list(xlsx.read(path, ReadOptions("classification")))
