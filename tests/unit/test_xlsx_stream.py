"""The streaming xlsx reader (app.core.io.formats.xlsx_stream) against the openpyxl-based one
it replaced (tests/unit/xlsx_oracle.py): the same rows for every workbook, long texts held
once as UTF-8, the shared-string table compact and spilled, clear errors."""

from __future__ import annotations

import warnings
from datetime import date, datetime, time, timedelta

import pytest
from openpyxl import Workbook

from app.core.errors import DataError
from app.core.io.formats import xlsx, xlsx_stream
from app.core.io.formats.base import ReadOptions
from app.core.io.longtext import LongText
from tests.unit import xlsx_books, xlsx_oracle
from tests.unit.xlsx_books import package


def _both(path, sheet=None, long_bytes=False):
    """(oracle rows, streamed rows), each a list or ("error", DataError)."""
    options = ReadOptions("classification", sheet=sheet, long_bytes=long_bytes)
    out = []
    for reader in (xlsx_oracle.rows, xlsx.rows):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.append(list(reader(path, options)))
        except DataError as exc:
            out.append(("error", type(exc)))
    return out


@pytest.mark.parametrize("seed", range(0, 160, 4))
def test_hand_written_workbooks_read_as_openpyxl_reads_them(tmp_path, seed):
    for offset in range(4):
        data, sheet = xlsx_books.random_book(seed + offset)
        path = tmp_path / f"book{seed + offset}.xlsx"
        path.write_bytes(data)
        oracle, streamed = _both(path, sheet)
        assert oracle != ("error", DataError)  # the comparison is over rows, not errors
        assert streamed == oracle


@pytest.mark.parametrize("seed", range(1000, 1040, 4))
def test_every_text_taken_as_long_and_spilled_reads_the_same(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(xlsx_stream, "GATHER", 2)  # every text past 2 characters: long_cell
    monkeypatch.setattr(xlsx_stream, "SPILL", 3)  # and every such shared string spilled
    for offset in range(4):
        data, sheet = xlsx_books.random_book(seed + offset)
        path = tmp_path / f"book{seed + offset}.xlsx"
        path.write_bytes(data)
        oracle, streamed = _both(path, sheet)
        assert streamed == oracle


def test_openpyxl_written_workbooks_read_as_openpyxl_reads_them(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.title = "First"
    sheet.append(["text", "when", "n", "flag", "other"])
    sheet.append(["fever 🙂", datetime(2024, 3, 1, 12, 30), 3.5, True, "=SUM(A1:A2)"])
    sheet.append(["漢字", date(1999, 12, 31), 10**15, False, None])
    sheet.append([None, None, None, None, None])
    sheet.append(["  spaced  ", time(7, 15), 1e-9, None, "_x000D_ kept"])
    sheet.append(["tab\tline\nbreak", timedelta(days=1, hours=2), -0.0, "TRUE", "x005F_x000D_"])
    sheet["B7"] = datetime(1900, 1, 1)
    sheet["B7"].number_format = "yyyy-mm-dd"
    sheet["C8"] = 0.25
    sheet["C8"].number_format = "[h]:mm:ss"
    book.create_sheet("Second").append(["only", "this"])
    book.epoch = datetime(1904, 1, 1)  # the 1904 date system
    path = tmp_path / "written.xlsx"
    book.save(path)
    oracle, streamed = _both(path)
    assert streamed == oracle
    assert streamed[0][1]["when"] == "2024-03-01T12:30:00"
    assert streamed[0][1]["other"] == ""  # a formula: no cached value, read as a blank cell
    assert _both(path, "Second")[1] == [] and xlsx.sheets(path) == ["First", "Second"]


def test_the_cases_openpyxl_settles_its_own_way(tmp_path):
    head = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>b</t></is></c></row>'
    )
    rows = (
        head
        + '<row r="3"><c r="B3"><v>2</v></c><c r="A3"><v>1</v></c></row>'  # cells out of order
        + '<row><c t="str"><v>no refs</v></c><c t="b"><v>1</v></c></row>'  # row 4, A and B
        + '<row r="2"><c r="A2"><v>9</v></c></row>'  # before a row already read: dropped
        + '<row r="6"><c r="A6" s="1"><v>60</v></c><c r="B6" t="e"><v>#N/A</v></c></row>'
        + '<row r="7"><c r="A7" t="inlineStr"><is><r><t>rich </t></r><r><rPr><b/></rPr>'
        '<t xml:space="preserve">run </t></r><rPh sb="0" eb="1"><t>ふ</t></rPh></is></c>'
        '<c r="B7" t="s"><v>-1</v></c></row>'  # a negative index: the last string
    )
    shared = "<si><t>first</t></si><si><t>a_x000D_b x005F_x000D_</t></si>"
    for date1904 in (False, True):
        path = tmp_path / f"cases{date1904}.xlsx"
        path.write_bytes(package([("S", rows)], shared, date1904=date1904))
        oracle, streamed = _both(path)
        assert streamed == oracle
        numbers = [number for number, _ in streamed]
        assert numbers == [3, 4, 6, 7]
        # B3 then A3: the row is as wide as its last cell, and the header's other cells blank
        assert streamed[0][1] == {"a": "1", "b": ""}
        assert streamed[1][1] == {"a": "no refs", "b": "TRUE"}
        assert streamed[2][1]["a"] == ("1904-03-01T00:00:00" if date1904 else "1900-02-28T00:00:00")
        assert streamed[3][1] == {"a": "rich run ", "b": "a_x000D_b x000D_"}


def _long_book(tmp_path, text, shared):
    cell = (
        '<c r="A2" t="s"><v>1</v></c>'
        if shared
        else f'<c r="A2" t="inlineStr"><is><t>{text}</t></is></c>'
    )
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>text</t></is></c></row>'
        f'<row r="2">{cell}</row><row r="3"><c r="A3" t="s"><v>0</v></c></row>'
    )
    table = f"<si><t>short</t></si><si><r><t>{text}</t></r><r><t>x005F_ end</t></r></si>"
    path = tmp_path / f"long{shared}.xlsx"
    path.write_bytes(package([("S", rows)], table))
    return path


@pytest.mark.parametrize("shared", [False, True])
def test_a_long_cell_is_one_longtext_of_its_utf8_or_the_same_str(tmp_path, monkeypatch, shared):
    monkeypatch.setattr(xlsx_stream, "SPILL", 1 << 16)  # the long string goes to the spill file
    text = "漢字 word " * 150_000  # over longtext.LONG_TEXT characters
    path = _long_book(tmp_path, text, shared)
    expected = text + " end" if shared else text
    oracle, streamed = _both(path)
    assert streamed == oracle and streamed[0][1]["text"] == expected
    (line, row), second = list(xlsx.rows(path, ReadOptions("classification", long_bytes=True)))
    value = row["text"]
    assert value.__class__ is LongText and value.chars == len(expected)
    assert bytes(value.data) == expected.encode("utf-8")
    assert (line, second) == (2, (3, {"text": "short"}))


def test_the_spill_file_is_closed_after_reading_and_on_error(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx_stream, "GATHER", 8)  # texts over 8 characters gathered as UTF-8
    monkeypatch.setattr(xlsx_stream, "SPILL", 10)
    opened = []
    real = xlsx_stream.tempfile.TemporaryFile

    def spy(*args, **kwargs):
        opened.append(real(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(xlsx_stream.tempfile, "TemporaryFile", spy)
    path = _long_book(tmp_path, "long enough to spill", True)
    assert [r["text"] for _, r in xlsx.rows(path, ReadOptions("classification"))] == [
        "long enough to spill end",
        "short",
    ]
    rows = (
        '<row r="1"><c t="inlineStr"><is><t>text</t></is></c></row>'
        '<row r="2"><c t="s"><v>7</v></c></row>'
    )
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(package([("S", rows)], "<si><t>a string long enough</t></si>"))
    with pytest.raises(DataError, match="line 2: a corrupt sheet row"):
        list(xlsx.rows(bad, ReadOptions("classification")))
    assert len(opened) == 2 and all(handle.closed for handle in opened)


def test_the_shared_table_is_compact_and_indexed_as_a_list():
    table = xlsx_stream.SharedStrings(long_bytes=False)
    for text in ["a", "", "漢字", "🙂 b"]:
        table.add(text)
    assert [table[i] for i in range(4)] == ["a", "", "漢字", "🙂 b"]
    assert (table[-1], table[-4], len(table)) == ("🙂 b", "a", 4)
    with pytest.raises(IndexError):
        table[4]
    with pytest.raises(IndexError):
        table[-5]
    assert bytes(table.data) == "a漢字🙂 b".encode()


@pytest.mark.parametrize(
    "rows, shared, problem",
    [
        (
            '<row r="1"><c t="inlineStr"><is><t>a</t></is></c></row><row r="2"><c><v>1</v></c>',
            None,
            "malformed XML",
        ),
        ('<row r="1"><c t="s"><v>3</v></c></row>', "<si><t>x</t></si>", "IndexError"),
        ('<row r="1"><c><v>twelve</v></c></row>', None, "ValueError"),
        ('<row r="1"><c r="A1!"><v>1</v></c></row>', None, "corrupt sheet"),
        (
            '<row r="1"><c t="inlineStr"><is><t>a</t></is></c></row>',
            "<si><t>x</si>",
            "malformed XML",
        ),
    ],
)
def test_a_damaged_sheet_or_table_is_a_clear_error(tmp_path, rows, shared, problem):
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(package([("S", rows)], shared))
    with pytest.raises(DataError, match=problem) as caught:
        list(xlsx.rows(path, ReadOptions("classification")))
    assert str(path) in str(caught.value)
    assert _both(path)[0] == ("error", DataError)  # openpyxl refused it too


def test_a_missing_shared_string_part_is_a_clear_error(tmp_path):
    import io
    import zipfile

    source = package([("S", '<row r="1"><c t="s"><v>0</v></c></row>')], "<si><t>x</t></si>")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as old, zipfile.ZipFile(out, "w") as new:
        for item in old.infolist():
            if item.filename != "xl/sharedStrings.xml":
                new.writestr(item, old.read(item))
    path = tmp_path / "nostrings.xlsx"
    path.write_bytes(out.getvalue())
    with pytest.raises(DataError, match=r"sharedStrings\.xml"):
        list(xlsx.rows(path, ReadOptions("classification")))
