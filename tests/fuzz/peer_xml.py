"""Hostile files of the XML peer formats (issue #14): xlsx workbooks (a zip of XML) and BioC
XML. Cases as in tests.fuzz.peer_cases.
"""

from __future__ import annotations

import io
import random
import zipfile
from functools import partial
from typing import Any

from tests.fuzz.import_cases import mutate
from tests.fuzz.peer_cases import TEXT, Spec

SHEET = "xl/worksheets/sheet1.xml"
SHARED = "xl/sharedStrings.xml"
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + "]>\n"
)


def _workbook() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["text", "label"])
    sheet.append([TEXT, "ham"])
    sheet.append(["second", "spam"])
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


def _rezip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return sink.getvalue()


def _patched(change: dict[str, Any]) -> bytes:
    """The valid workbook with members replaced (bytes), removed (None) or added."""
    with zipfile.ZipFile(io.BytesIO(_workbook())) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    for name, data in change.items():
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data(members.get(name, b"")) if callable(data) else data
    return _rezip(members)


def _sheet_xml(rows: str, dimension: str = "A1:B3") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>{rows}</sheetData>'
        "</worksheet>"
    ).encode()


HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>text</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>label</t></is></c></row>'
)


def _row(number: int, cells: str) -> str:
    return f'<row r="{number}">{cells}</row>'


def _bomb_member(size: int) -> bytes:
    sink = io.BytesIO()
    chunk = b" " * (1 << 20)
    with (
        zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as handle,
    ):
        for _ in range(size >> 20):
            handle.write(chunk)
    return sink.getvalue()


def xlsx_cases() -> list[Spec]:
    inline = '<c r="A{n}" t="inlineStr"><is><t>{t}</t></is></c>'
    own: list[tuple[str, Any]] = [
        ("random", lambda: random.Random(7).randbytes(3000)),
        ("empty", b""),
        ("not-a-workbook-zip", lambda: _rezip({"readme.txt": b"hello"})),
        ("empty-zip", lambda: _rezip({})),
        ("zip-bomb-30mb", partial(_bomb_member, 30 << 20)),
        ("no-workbook", partial(_patched, {"xl/workbook.xml": None})),
        ("no-sheet", partial(_patched, {SHEET: None})),
        ("no-content-types", partial(_patched, {"[Content_Types].xml": None})),
        ("sheet-garbage", partial(_patched, {SHEET: b"<worksheet><sheetData><row"})),
        ("sheet-not-xml", partial(_patched, {SHEET: b"\x00\xff binary"})),
        ("workbook-garbage", partial(_patched, {"xl/workbook.xml": b"<<<"})),
        ("rels-garbage", partial(_patched, {"xl/_rels/workbook.xml.rels": b"<Rel"})),
        (
            "sheet-laughs",
            partial(_patched, {SHEET: (LAUGHS + "<worksheet>&lol9;</worksheet>").encode()}),
        ),
        (
            "sheet-laughs-late",
            partial(
                _patched,
                {
                    SHEET: (
                        "<?xml version='1.0'?>"
                        + " " * 5000
                        + LAUGHS[21:]
                        + "<worksheet><sheetData><row r='1'><c r='A1' t='inlineStr'><is>"
                        + "<t>&lol9;</t></is></c></row></sheetData></worksheet>"
                    ).encode()
                },
            ),
        ),
        (
            "sheet-xxe",
            partial(
                _patched,
                {
                    SHEET: b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><worksheet>&e;</worksheet>'
                },
            ),
        ),
        (
            "shared-out-of-range",
            partial(
                _patched,
                {SHEET: _sheet_xml(HEADER_ROW + _row(2, '<c r="A2" t="s"><v>999</v></c>'))},
            ),
        ),
        (
            "shared-negative",
            partial(
                _patched, {SHEET: _sheet_xml(HEADER_ROW + _row(2, '<c r="A2" t="s"><v>-1</v></c>'))}
            ),
        ),
        (
            "shared-not-int",
            partial(
                _patched, {SHEET: _sheet_xml(HEADER_ROW + _row(2, '<c r="A2" t="s"><v>x</v></c>'))}
            ),
        ),
        ("shared-garbage", partial(_patched, {SHARED: b"<sst><si><t>a"})),
        (
            "formula-no-value",
            partial(
                _patched,
                {
                    SHEET: _sheet_xml(
                        HEADER_ROW
                        + _row(
                            2,
                            '<c r="A2"><f>1/0</f></c>'
                            '<c r="B2" t="inlineStr"><is><t>ham</t></is></c>',
                        )
                    )
                },
            ),
        ),
        (
            "formula-error",
            partial(
                _patched,
                {
                    SHEET: _sheet_xml(
                        HEADER_ROW + _row(2, '<c r="A2" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
                    )
                },
            ),
        ),
        (
            "formula-cmd",
            partial(
                _patched,
                {
                    SHEET: _sheet_xml(
                        HEADER_ROW
                        + _row(2, '<c r="A2" t="str"><f>cmd|\' /C calc\'!A0</f><v>x</v></c>')
                    )
                },
            ),
        ),
        (
            "number-huge",
            partial(
                _patched,
                {
                    SHEET: _sheet_xml(
                        HEADER_ROW
                        + _row(
                            2, '<c r="A2"><v>1e309</v></c><c r="B2"><v>' + "9" * 5000 + "</v></c>"
                        )
                    )
                },
            ),
        ),
        (
            "number-nan",
            partial(
                _patched,
                {
                    SHEET: _sheet_xml(
                        HEADER_ROW + _row(2, '<c r="A2"><v>NaN</v></c><c r="B2" t="b"><v>7</v></c>')
                    )
                },
            ),
        ),
        (
            "date-bad",
            partial(
                _patched,
                {SHEET: _sheet_xml(HEADER_ROW + _row(2, '<c r="A2" t="d"><v>not a date</v></c>'))},
            ),
        ),
        (
            "bad-type",
            partial(
                _patched, {SHEET: _sheet_xml(HEADER_ROW + _row(2, '<c r="A2" t="zz"><v>1</v></c>'))}
            ),
        ),
        (
            "million-columns-declared",
            partial(
                _patched,
                {
                    SHEET: _sheet_xml(
                        HEADER_ROW + _row(2, inline.format(n=2, t="a")), "A1:XFD1048576"
                    )
                },
            ),
        ),
        (
            "last-column",
            partial(
                _patched,
                {
                    SHEET: _sheet_xml(
                        HEADER_ROW + _row(2, '<c r="XFD2" t="inlineStr"><is><t>x</t></is></c>')
                    )
                },
            ),
        ),
        (
            "last-row",
            partial(
                _patched,
                {SHEET: _sheet_xml(HEADER_ROW + _row(1048576, inline.format(n=1048576, t="a")))},
            ),
        ),
        (
            "far-cell-last-row",
            partial(
                _patched,
                {
                    SHEET: _sheet_xml(
                        HEADER_ROW
                        + _row(1048576, '<c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c>')
                    )
                },
            ),
        ),
        (
            "bad-cell-ref",
            partial(
                _patched,
                {
                    SHEET: _sheet_xml(
                        HEADER_ROW
                        + _row(2, '<c r="ZZZZZ99999999" t="inlineStr"><is><t>x</t></is></c>')
                    )
                },
            ),
        ),
        (
            "row-zero",
            partial(_patched, {SHEET: _sheet_xml(HEADER_ROW + _row(0, inline.format(n=0, t="a")))}),
        ),
        (
            "row-not-int",
            partial(
                _patched,
                {SHEET: _sheet_xml(HEADER_ROW + '<row r="x"><c r="A2"><v>1</v></c></row>')},
            ),
        ),
        (
            "rows-reversed",
            partial(_patched, {SHEET: _sheet_xml(_row(5, inline.format(n=5, t="a")) + HEADER_ROW)}),
        ),
        (
            "header-dup",
            partial(
                _patched,
                {
                    SHEET: _sheet_xml(
                        _row(
                            1,
                            inline.format(n=1, t="text")
                            + '<c r="B1" t="inlineStr"><is><t>text</t></is></c>',
                        )
                    )
                },
            ),
        ),
        (
            "nul-text",
            partial(
                _patched, {SHEET: _sheet_xml(HEADER_ROW + _row(2, inline.format(n=2, t="a&#0;b")))}
            ),
        ),
        (
            "surrogate-ref",
            partial(
                _patched,
                {SHEET: _sheet_xml(HEADER_ROW + _row(2, inline.format(n=2, t="a&#xD800;b")))},
            ),
        ),
        (
            "emoji-cr",
            partial(
                _patched,
                {
                    SHEET: _sheet_xml(
                        HEADER_ROW + _row(2, inline.format(n=2, t="\U0001f600\r\n&#13;x"))
                    )
                },
            ),
        ),
        (
            "long-cell",
            partial(
                _patched,
                {SHEET: _sheet_xml(HEADER_ROW + _row(2, inline.format(n=2, t="x" * 20_000_000)))},
            ),
        ),
        (
            "deep-xml",
            partial(
                _patched,
                {SHEET: b"<worksheet>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</worksheet>"},
            ),
        ),
        ("stored-no-deflate", lambda: _restored()),
    ]
    out = []
    for name, data in own:
        out.append(
            (f"xlsx-{name}.xlsx", data, "classification", {"fmt": "xlsx", "label_column": "label"})
        )
    out.append(
        ("xlsx-unknown-sheet.xlsx", _workbook, "classification", {"fmt": "xlsx", "sheet": "Nope"})
    )
    for index in range(20):
        out.append(
            (
                f"xlsx-mut{index:03d}.xlsx",
                partial(_xlsx_mutant, index),
                "classification",
                {"fmt": "xlsx", "label_column": "label"},
            )
        )
    return out


def _restored() -> bytes:
    with zipfile.ZipFile(io.BytesIO(_workbook())) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    return _rezip(members, zipfile.ZIP_STORED)


def _xlsx_mutant(index: int) -> bytes:
    """A valid workbook with one member's XML mutated (so the zip itself stays readable)."""
    rng = random.Random(f"xlsx-mut-{index}")
    member = rng.choice([SHEET, SHARED, "xl/workbook.xml", "xl/styles.xml", "[Content_Types].xml"])
    return _patched({member: lambda data: mutate(rng, data)})


# ---- BioC XML ------------------------------------------------------------------------------


def bioc_xml(passages: str, head: str = '<?xml version="1.0" encoding="UTF-8"?>\n') -> bytes:
    return (
        f"{head}<collection><source>x</source><date>2026</date><key>k</key>"
        f"<document><id>d1</id>{passages}</document></collection>"
    ).encode(errors="surrogatepass")


def _passage(offset: Any = 0, text: str = TEXT, annotations: str = "") -> str:
    return f"<passage><offset>{offset}</offset><text>{text}</text>{annotations}</passage>"


def _annotation(
    offset: Any = 0, length: Any = 5, text: str = "Alice", label: str = "D", extra: str = ""
) -> str:
    return (
        f'<annotation id="a1"><infon key="type">{label}</infon>{extra}'
        f'<location offset="{offset}" length="{length}"/><text>{text}</text></annotation>'
    )


VALID_BIOC = bioc_xml(_passage(0, TEXT, _annotation()))


def bioc_cases() -> list[Spec]:
    entity = '<!DOCTYPE collection [<!ENTITY e "Alice">]>\n'
    own: list[tuple[str, Any]] = [
        ("laughs", bioc_xml(_passage(0, "&lol9;"), LAUGHS)),
        (
            "laughs-after-comment",
            bioc_xml(
                _passage(0, "&lol9;"),
                '<?xml version="1.0"?>\n<!-- <collection> -->\n' + LAUGHS[22:],
            ),
        ),
        (
            "laughs-after-long-comment",
            bioc_xml(_passage(0, "&lol3;"), "<!--" + " " * (1 << 20) + "-->\n" + LAUGHS[22:]),
        ),
        ("entity", bioc_xml(_passage(0, "&e; met Bob"), entity)),
        (
            "xxe",
            bioc_xml(
                _passage(0, "&x;"), '<!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
            ),
        ),
        (
            "xxe-param",
            bioc_xml(
                _passage(0, "x"), '<!DOCTYPE c [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>\n'
            ),
        ),
        (
            "dtd-external",
            bioc_xml(
                _passage(0, "x"), '<!DOCTYPE collection SYSTEM "http://127.0.0.1:9/BioC.dtd">\n'
            ),
        ),
        ("dtd-local", bioc_xml(_passage(0, "x"), '<!DOCTYPE collection SYSTEM "/etc/passwd">\n')),
        ("undefined-entity", bioc_xml(_passage(0, "&nope;"))),
        ("broken", VALID_BIOC[:-40]),
        ("broken-tag", bioc_xml(_passage(0, "a <b c"))),
        ("not-bioc", b"<html><body>hi</body></html>"),
        ("no-documents", b"<collection><source/></collection>"),
        ("empty", b""),
        ("offset-negative", bioc_xml(_passage(-5))),
        ("offset-huge", bioc_xml(_passage(10**9))),
        ("offset-float", bioc_xml(_passage("1.5"))),
        ("offset-text", bioc_xml(_passage("abc"))),
        ("offset-bigint", bioc_xml(_passage("9" * 5000))),
        ("passages-overlap", bioc_xml(_passage(0) + _passage(3))),
        ("passage-no-text", bioc_xml("<passage><offset>0</offset></passage>")),
        ("passage-no-offset", bioc_xml(f"<passage><text>{TEXT}</text></passage>")),
        (
            "sentence-offsets",
            bioc_xml(
                "<passage><offset>0</offset><sentence><offset>-9</offset><text>x</text></sentence></passage>"
            ),
        ),
        ("ann-past-end", bioc_xml(_passage(0, TEXT, _annotation(20, 50)))),
        ("ann-negative-length", bioc_xml(_passage(0, TEXT, _annotation(5, -5)))),
        ("ann-float", bioc_xml(_passage(0, TEXT, _annotation("0.5", "4.5")))),
        ("ann-huge", bioc_xml(_passage(0, TEXT, _annotation(0, 2**70)))),
        (
            "ann-no-location",
            bioc_xml(
                _passage(
                    0,
                    TEXT,
                    '<annotation id="a"><infon key="type">D</infon><text>Alice</text></annotation>',
                )
            ),
        ),
        (
            "ann-two-locations",
            bioc_xml(_passage(0, TEXT, _annotation(extra='<location offset="10" length="3"/>'))),
        ),
        (
            "ann-no-type",
            bioc_xml(
                _passage(0, TEXT, _annotation(label="").replace('<infon key="type"></infon>', ""))
            ),
        ),
        ("ann-unknown-label", bioc_xml(_passage(0, TEXT, _annotation(label="NOPE")))),
        ("ann-text-wrong", bioc_xml(_passage(0, TEXT, _annotation(text="Bobby")))),
        (
            "ann-no-text",
            bioc_xml(_passage(0, TEXT, _annotation().replace("<text>Alice</text>", ""))),
        ),
        ("annotators-junk", bioc_xml('<infon key="tagloop:annotators">[1,</infon>' + _passage())),
        (
            "annotators-deep",
            bioc_xml(
                '<infon key="tagloop:annotators">'
                + "[" * 5000
                + "]" * 5000
                + "</infon>"
                + _passage()
            ),
        ),
        (
            "dup-ids",
            VALID_BIOC.replace(
                b"</collection>",
                b"<document><id>d1</id>" + _passage().encode() + b"</document></collection>",
            ),
        ),
        ("nul-ref", bioc_xml(_passage(0, "a&#0;b"))),
        ("surrogate-ref", bioc_xml(_passage(0, "a&#xD800;b"))),
        ("emoji-offsets", bioc_xml(_passage(0, "\U0001f600 Alice", _annotation(2, 5)))),
        ("cr-text", bioc_xml(_passage(0, "Alice\r\nmet&#13;", _annotation()))),
        ("deep", b"<collection>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</collection>"),
        ("utf16", VALID_BIOC.decode().replace("UTF-8", "UTF-16").encode("utf-16")),
        ("latin1-declared-utf8", bioc_xml(_passage(0, "caf\xe9")).replace("é".encode(), b"\xe9")),
        ("classification", VALID_BIOC),
    ]
    out = []
    for name, data in own:
        task = "classification" if name == "classification" else "spans"
        out.append((f"bioc-{name}.xml", data, task, {"fmt": "bioc"}))
    for index in range(25):
        rng = random.Random(f"bioc-mut-{index}")
        out.append(
            (f"bioc-mut{index:03d}.xml", partial(mutate, rng, VALID_BIOC), "spans", {"fmt": "bioc"})
        )
    return out


ALL = (xlsx_cases, bioc_cases)
