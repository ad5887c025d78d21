"""Workbooks written as XML by hand, the way tools other than openpyxl write them: inline and
shared strings (rich text, phonetic runs), numbers, dates under builtin and custom formats,
the 1904 epoch, booleans, errors, formulas with cached values, sparse rows and cells."""

from __future__ import annotations

import io
import random
import zipfile
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"

# cellXfs: 0 general, 1 builtin date (14), 2 custom date, 3 custom number, 4 time (21),
# 5 a duration ([h]:mm:ss), 6 builtin datetime (22), 7 custom text format
STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{MAIN}">'
    '<numFmts count="4"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/>'
    '<numFmt numFmtId="165" formatCode="0.000"/><numFmt numFmtId="166" formatCode="[h]:mm:ss"/>'
    '<numFmt numFmtId="167" formatCode="@"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="8"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="21" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="167" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def package(
    sheets: list[tuple[str, str]],
    shared: str | None = None,
    date1904: bool = False,
    absolute: bool = False,
    styles: bool = True,
) -> bytes:
    """An .xlsx of `sheets` ((name, the <sheetData> rows' XML)), `shared` (the <si> items'
    XML), sheet targets absolute ("/xl/worksheets/...") or relative."""
    members: dict[str, str] = {}
    overrides = [
        f'<Override PartName="/xl/workbook.xml" ContentType="{CT}.sheet.main+xml"/>',
    ]
    rels = []
    entries = []
    for index, (title, rows) in enumerate(sheets, 1):
        part = f"worksheets/sheet{index}.xml"
        members[f"xl/{part}"] = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{MAIN}" xmlns:r="{RELS}"><sheetData>{rows}</sheetData>'
            "</worksheet>"
        )
        overrides.append(f'<Override PartName="/xl/{part}" ContentType="{CT}.worksheet+xml"/>')
        target = f"/xl/{part}" if absolute else part
        rels.append(f'<Relationship Id="rId{index}" Type="{RELS}/worksheet" Target="{target}"/>')
        entries.append(f'<sheet name="{escape(title)}" sheetId="{index}" r:id="rId{index}"/>')
    if shared is not None:
        members["xl/sharedStrings.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{MAIN}">'
            f"{shared}</sst>"
        )
        overrides.append(
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{CT}.sharedStrings+xml"/>'
        )
        rels.append(
            f'<Relationship Id="rId90" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        )
    if styles:
        members["xl/styles.xml"] = STYLES
        overrides.append(f'<Override PartName="/xl/styles.xml" ContentType="{CT}.styles+xml"/>')
        rels.append(f'<Relationship Id="rId91" Type="{RELS}/styles" Target="styles.xml"/>')
    pr = '<workbookPr date1904="1"/>' if date1904 else "<workbookPr/>"
    members["xl/workbook.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}">{pr}<sheets>{"".join(entries)}</sheets>'
        "</workbook>"
    )
    members["xl/_rels/workbook.xml.rels"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{PKG}">{"".join(rels)}</Relationships>'
    )
    members["_rels/.rels"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PKG}">'
        f'<Relationship Id="rId1" Type="{RELS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    members["[Content_Types].xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f"{''.join(overrides)}</Types>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text.encode("utf-8"))
    return out.getvalue()


WORDS = [
    "fever",
    "ham",
    " spaced ",
    "漢字テキスト",
    "emoji 🙂🎉",
    "=SUM(A1)",
    "'quoted",
    "line\nbreak",
    "tab\there",
    "_x000D_ escaped",
    "a x005F_x000D_ b",
    "&lt;not a tag&gt;",
    "Ünïcödé",
    "",
    "   ",
    "TRUE",
    "12",
]
NUMBERS = ["0", "1", "-7", "3.5", "1E+20", "1.5e-7", "42.0", "123456789012", "0.1", "-0.0"]
DATES = ["1", "59", "60", "61", "45000.5", "0.25", "2958465", "100.999999"]
ERRORS = ["#N/A", "#DIV/0!", "#VALUE!", "#REF!"]


def _text(rng: random.Random) -> str:
    word = rng.choice(WORDS)
    return escape(word).replace("\n", "&#10;")


def _t(text: str, rng: random.Random) -> str:
    space = ' xml:space="preserve"' if rng.random() < 0.5 else ""
    return f"<t{space}>{text}</t>"


def string_item(rng: random.Random) -> str:
    """The inside of an <si> or <is>: plain, rich-text runs, phonetic runs."""
    kind = rng.random()
    if kind < 0.5:
        return _t(_text(rng), rng)
    runs = "".join(
        (
            '<r><rPr><b/><sz val="11"/><color rgb="FFFF0000"/><rFont val="Calibri"/></rPr>'
            if rng.random() < 0.5
            else "<r>"
        )
        + _t(_text(rng), rng)
        + "</r>"
        for _ in range(rng.randint(1, 3))
    )
    plain = _t(_text(rng), rng) if kind < 0.7 else ""
    phonetic = (
        '<rPh sb="0" eb="1"><t>かな</t></rPh><phoneticPr fontId="1" type="noConversion"/>'
        if kind > 0.85
        else ""
    )
    return plain + runs + phonetic


def cell(rng: random.Random, ref: str | None, shared: int) -> str:
    """One <c> of a random type (a shared string index below `shared`)."""
    r = f' r="{ref}"' if ref else ""
    kind = rng.randrange(12)
    if kind == 0 and shared:
        return f'<c{r} t="s"><v>{rng.randrange(shared)}</v></c>'
    if kind == 1:
        return f'<c{r} t="inlineStr"><is>{string_item(rng)}</is></c>'
    if kind == 2:
        return f"<c{r}><v>{rng.choice(NUMBERS)}</v></c>"
    if kind == 3:
        return f'<c{r} s="{rng.choice([1, 2, 4, 5, 6])}"><v>{rng.choice(DATES)}</v></c>'
    if kind == 4:
        return f'<c{r} s="3"><v>{rng.choice(NUMBERS)}</v></c>'
    if kind == 5:
        return f'<c{r} t="b"><v>{rng.choice("01")}</v></c>'
    if kind == 6:
        return f'<c{r} t="e"><v>{rng.choice(ERRORS)}</v></c>'
    if kind == 7:
        return f'<c{r} t="str"><f>CONCAT("a","b")</f><v>{_text(rng)}</v></c>'
    if kind == 8:
        return f"<c{r}><f>1+1</f><v>{rng.choice(NUMBERS)}</v></c>"
    if kind == 9:
        return f'<c{r} t="d"><v>2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:30:00</v></c>'
    if kind == 10:
        return f'<c{r} s="{rng.choice([0, 7])}"/>'
    return f'<c{r} t="inlineStr"><is><t/></is></c>'


def _column(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def sheet(rng: random.Random, shared: int, width: int = 4, height: int = 12) -> str:
    """Rows of random cells: a text header, then sparse rows (missing r attributes, gaps,
    rows out of order now and then, cells out of order)."""
    head = "".join(
        f'<c r="{_column(i)}1" t="inlineStr"><is><t>col{i}</t></is></c>'
        for i in range(1, width + 1)
    )
    rows = [f'<row r="1">{head}</row>']
    number = 1
    for _ in range(height):
        step = rng.choice([1, 1, 1, 2, 5])
        number += step
        at = number if rng.random() > 0.05 else max(1, number - 3)  # out of order
        refs = rng.random() < 0.8
        columns = sorted(rng.sample(range(1, width + 1), rng.randint(0, width)))
        if rng.random() < 0.05:
            columns.reverse()
        cells = "".join(cell(rng, f"{_column(c)}{at}" if refs else None, shared) for c in columns)
        r = f' r="{at}"' if refs or rng.random() < 0.5 else ""
        rows.append(f"<row{r}>{cells}</row>")
    return "".join(rows)


def random_book(seed: int) -> tuple[bytes, str | None]:
    """A random hand-written workbook and a sheet to read (None: the first)."""
    rng = random.Random(seed)
    count = rng.randint(0, 6)
    shared = "".join(f"<si>{string_item(rng)}</si>" for _ in range(count)) if count else None
    names = ["Data", "Ward B", "漢字"][: rng.randint(1, 3)]
    sheets = [(name, sheet(rng, count)) for name in names]
    chosen = rng.choice(names) if rng.random() < 0.5 else None
    data = package(sheets, shared, date1904=rng.random() < 0.3, absolute=rng.random() < 0.5)
    return data, chosen
