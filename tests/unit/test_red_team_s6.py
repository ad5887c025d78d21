"""Red team, session 6 (issue 14): what the fuzz corpora did not make.

- Label names: a Unicode line separator (U+2028/9) or a bidi override (U+202E...) entered a
  schema (init, schema --add-label, import --add-labels, bundles); 'café' written composed
  and decomposed became two labels that look the same; a control character was a hotkey.
- CoNLL export of a label with a space ('heart attack', or a no-break space) wrote a tag the
  CoNLL reader splits in two: the export could not be imported again.
- `schema --add-label ''` made a new schema version that changed nothing.
- xlsx: a sheet's <dimension> was trusted, so a sheet that declared A1:B3 and held 300,000
  rows imported 2 of them without a word; a shared-string table of 1M strings no cell uses
  (a 2.6 MB file) kept openpyxl busy for 7 s and 230 MB before the first row.
"""

from __future__ import annotations

import io
import json
import unicodedata
import zipfile

import pytest
from openpyxl import Workbook

from app.cli.main import main as cli
from app.core.errors import DataError, ProjectError
from app.core.io.export import export_file
from app.core.io.formats.xlsx import FEW_SHARED
from app.core.io.importer import import_dataset
from app.core.project.label_schema import LabelSpec, complete_labels
from tests.fuzz.import_red6 import MAIN, sheet
from tests.unit.test_red_team_paths import counts

NFC = unicodedata.normalize("NFC", "café")
NFD = unicodedata.normalize("NFD", "café")
BAD_NAMES = {
    "line-separator": ("a\u2028b", "line separator"),
    "paragraph-separator": ("a\u2029b", "line separator"),
    "bidi-override": ("\u202espam", "bidirectional"),
    "bidi-isolate": ("ham\u2066x\u2069", "bidirectional"),
}


@pytest.mark.parametrize("kind", sorted(BAD_NAMES))
def test_a_label_name_that_breaks_lines_or_reorders_text_is_refused_everywhere(
    make_project, tmp_path, kind
):
    name, problem = BAD_NAMES[kind]
    with pytest.raises(ProjectError, match=problem):
        complete_labels([LabelSpec("ham"), LabelSpec(name)])
    project = make_project()
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"text": "hello", "label": name}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=problem) as caught:
        import_dataset(project, data, label_column="label", add_labels=True)
    assert "in.jsonl" in str(caught.value)
    assert counts(project.path) == (0, 0)
    assert project.schema.label_names == ["ham", "spam"]


def test_ordinary_names_stay_allowed():
    """Spaces, accents, RTL scripts with their marks (U+200F), joiners and symbols."""
    names = ["heart attack", NFC, "שלום\u200f", "क्\u200dष", "=SUM(A1)", "a|b", "B-x", "O"]
    done = complete_labels([LabelSpec(name) for name in names])
    assert [label.name for label in done] == names


def test_a_label_written_with_other_code_points_is_not_a_second_label(make_project, tmp_path):
    with pytest.raises(ProjectError, match="looks the same"):
        complete_labels([LabelSpec(NFC), LabelSpec(NFD)])
    project = make_project(labels=(NFC, "other"))
    data = tmp_path / "decomposed.jsonl"
    data.write_text(json.dumps({"text": "un café", "label": NFD}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="looks the same") as caught:
        import_dataset(project, data, label_column="label", add_labels=True)
    assert "decomposed.jsonl" in str(caught.value)
    assert counts(project.path) == (0, 0)
    assert project.schema.label_names == [NFC, "other"]


def test_two_spellings_in_one_file_are_refused(make_project, tmp_path):
    project = make_project()
    data = tmp_path / "both.jsonl"
    rows = [{"text": "one", "label": NFC}, {"text": "two", "label": NFD}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(DataError, match="looks the same"):
        import_dataset(project, data, label_column="label", add_labels=True)
    assert project.schema.label_names == ["ham", "spam"]


@pytest.mark.parametrize("hotkey", ["\x01", " ", "\t", "\u2028"])
def test_a_hotkey_is_one_visible_key(hotkey):
    with pytest.raises(ProjectError, match="one visible key"):
        complete_labels([LabelSpec("ham", hotkey=hotkey)])


def heart_attack(make_project, tmp_path, label: str):
    """A spans project whose one record has a span labelled `label` (a label with a space)."""
    project = make_project("spans", (label, "D"))
    data = tmp_path / "in.jsonl"
    text = "Alice had a heart attack today."
    spans = [{"start": 12, "end": 24, "label": label}, {"start": 0, "end": 5, "label": "D"}]
    data.write_text(json.dumps({"text": text, "spans": spans, "answer": "accept"}) + "\n")
    import_dataset(project, data, fmt="prodigy")
    return project


@pytest.mark.parametrize("label", ["heart attack", "heart\u00a0attack"])
def test_a_conll_export_of_a_label_with_a_space_reads_back(make_project, tmp_path, label):
    project = heart_attack(make_project, tmp_path, label)
    out = tmp_path / "out.conll"
    report = export_file(project, out, value_source="final")
    assert any("'_'" in warning for warning in report.warnings)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert "heart B-heart_attack" in lines and "attack I-heart_attack" in lines
    again = make_project("spans", ("D",))
    import_dataset(again, out, add_labels=True)
    assert sorted(again.schema.label_names) == ["D", "heart_attack"]
    with again.engine.connect() as conn:
        (value,) = conn.exec_driver_sql("SELECT value FROM annotation").one()
    assert {(s["start"], s["end"], s["label"]) for s in json.loads(value)} == {
        (0, 5, "D"),
        (12, 24, "heart_attack"),
    }


def test_an_empty_add_label_is_an_error_not_a_new_schema_version(make_project, capsys):
    project = make_project()
    project.close()
    for spec in ("", " ", ",", ":#fff"):
        assert cli(["schema", str(project.path), "--add-label", spec]) == 1
        assert "give a label name" in capsys.readouterr().err
    assert cli(["schema", str(project.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 1


def test_init_refuses_a_line_separator_in_a_label(tmp_path, capsys):
    new = str(tmp_path / "n.tagloop")
    assert cli(["init", new, "--type", "spans", "--labels", "a\u2028b"]) == 1
    assert "line separator" in capsys.readouterr().err
    assert not (tmp_path / "n.tagloop").exists()


# -- xlsx -------------------------------------------------------------------------------


SST_TYPE = (
    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.spreadsheetml.sharedStrings+xml"/>'
)
SST_REL = (
    b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/sharedStrings" Target="sharedStrings.xml"/>'
)


def workbook_with(tmp_path, name: str, **members: bytes) -> object:
    """A workbook (text, label; one row) with members replaced by `members`, keyed by the
    member's name with '/' and '.' as '__' and '_' (xl__worksheets__sheet1_xml)."""
    book = Workbook()
    book.active.append(["text", "label"])
    book.active.append(["first", "ham"])
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as zf:
        found = {n: zf.read(n) for n in zf.namelist()}
    for key, data in members.items():
        found[key.replace("__", "/").replace("_xml", ".xml")] = data
    if "xl/sharedStrings.xml" in found:  # openpyxl writes strings inline: point at the table
        found["[Content_Types].xml"] = found["[Content_Types].xml"].replace(
            b"</Types>", SST_TYPE + b"</Types>"
        )
        found["xl/_rels/workbook.xml.rels"] = found["xl/_rels/workbook.xml.rels"].replace(
            b"</Relationships>", SST_REL + b"</Relationships>"
        )
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in found.items():
            zf.writestr(member, data)
    return path


def test_an_xlsx_sheet_is_read_past_the_dimension_it_declares(make_project, tmp_path):
    path = workbook_with(tmp_path, "short.xlsx", xl__worksheets__sheet1_xml=sheet(500, "A1:B3"))
    project = make_project()
    report = import_dataset(project, path, label_column="label")
    assert report.rows == 500
    assert counts(project.path) == (500, 500)


def test_an_xlsx_row_numbered_far_away_is_refused_not_a_hang(make_project, tmp_path):
    """Without the declared dimension, openpyxl made up every missing row up to a row's
    number; a row past Excel's last row (1,048,576) was then dropped without a word: it is a
    clear error, found without making any row up."""
    far = sheet(1, "A1:B2").replace(
        b"</sheetData>",
        b'<row r="999999999999"><c r="A999999999999" t="inlineStr"><is><t>x</t></is></c></row>'
        b"</sheetData>",
    )
    path = workbook_with(tmp_path, "far.xlsx", xl__worksheets__sheet1_xml=far)
    project = make_project()
    with pytest.raises(DataError, match=r"far\.xlsx.*999,999,999,999, past Excel's last row"):
        import_dataset(project, path, label_column="label")
    assert counts(project.path) == (0, 0)


def shared_strings(count: int, prefix: str = "") -> bytes:
    items = "".join(f"<{prefix}si><{prefix}t>s{i}</{prefix}t></{prefix}si>" for i in range(count))
    space = MAIN.replace("xmlns=", f"xmlns:{prefix[:-1]}=") if prefix else MAIN
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{prefix}sst {space} count="{count}">'
        f"{items}</{prefix}sst>"
    ).encode()


@pytest.mark.parametrize("prefix", ["", "x:"])
@pytest.mark.parametrize("utf16", [False, True])
def test_shared_strings_no_cell_could_use_are_refused(make_project, tmp_path, prefix, utf16):
    table = shared_strings(3 * FEW_SHARED, prefix)
    if utf16:
        table = table.replace(b'encoding="UTF-8"', b'encoding="UTF-16"').decode().encode("utf-16")
    path = workbook_with(tmp_path, "sst.xlsx", xl__sharedStrings_xml=table)
    project = make_project()
    with pytest.raises(DataError, match="150,000 shared strings") as caught:
        import_dataset(project, path, label_column="label")
    assert "sst.xlsx" in str(caught.value)
    assert counts(project.path) == (0, 0)


def test_shared_strings_the_cells_use_are_read(make_project, tmp_path):
    rows = 2 * FEW_SHARED
    table = shared_strings(rows)
    cells = "".join(
        f'<row r="{r}"><c r="A{r}" t="s"><v>{r - 2}</v></c></row>' for r in range(2, rows + 2)
    )
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet {MAIN}><sheetData>'
        f'<row r="1"><c r="A1" t="inlineStr"><is><t>text</t></is></c></row>{cells}'
        "</sheetData></worksheet>"
    ).encode()
    path = workbook_with(
        tmp_path, "used.xlsx", xl__sharedStrings_xml=table, xl__worksheets__sheet1_xml=body
    )
    project = make_project()
    assert import_dataset(project, path).rows == rows


def test_a_bundle_label_with_a_line_separator_is_refused(bundled, tmp_path):
    from app.core.bundle import merge_bundle, open_bundle
    from app.core.bundle.errors import BundleError
    from tests.fuzz.bundle_corpus import Case, build
    from tests.unit.bundle_helpers import dump

    project, good = bundled

    def edit(members):
        lines = members["schema_versions.jsonl"].decode("utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        labels = json.loads(rows[-1]["labels"])
        labels.append({"name": "x\u2028T9", "colour": "#000000", "hotkey": "", "description": ""})
        rows[-1]["labels"] = json.dumps(labels)
        members["schema_versions.jsonl"] = "".join(json.dumps(r) + "\n" for r in rows).encode()

    bundle = build(good, Case("ls-label", edit), tmp_path / "h.tlbundle")
    with pytest.raises(BundleError, match="line separator"):
        open_bundle(bundle, tmp_path / "opened.tagloop")
    assert not (tmp_path / "opened.tagloop").exists()
    before = dump(project.path)
    with pytest.raises(BundleError, match="line separator"):
        merge_bundle(project, bundle)
    assert dump(project.path) == before


# -- predict ------------------------------------------------------------------------------


def test_predict_never_writes_over_its_input_and_names_an_empty_one(make_project, tmp_path, capsys):
    """`predict P in.csv --output in.csv` replaced in.csv with its JSON Lines; a file of long
    blank lines ended in an IndexError."""
    import os

    from tests.fixtures_data import sms_rows, write_csv

    project = make_project()
    rows = sms_rows(60)
    path = tmp_path / "sms.csv"
    write_csv(path, [["text", "label"], *[[t, label] for t, label in rows]])
    import_dataset(project, path, label_column="label")
    project.close()
    assert cli(["train", str(project.path)]) == 0
    source = tmp_path / "new.csv"
    source.write_text("text\nwin cash now\nsee you\n", encoding="utf-8")
    os.link(source, tmp_path / "hard.csv")
    for out in (source, tmp_path / "hard.csv", tmp_path / "." / "new.csv"):
        assert cli(["predict", str(project.path), str(source), "--output", str(out)]) == 1
        assert "is the input file new.csv" in capsys.readouterr().err
    assert source.read_text(encoding="utf-8") == "text\nwin cash now\nsee you\n"
    blank = tmp_path / "blank.jsonl"
    blank.write_bytes((b" " * 5000 + b"\n") * 3)
    assert cli(["predict", str(project.path), str(blank), "--output", str(tmp_path / "o")]) == 1
    assert "blank.jsonl: the file holds no records" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["fifo.csv", "fifo.pubtator"])
def test_al_bench_refuses_a_fifo_instead_of_waiting_on_it(tmp_path, capsys, name):
    import os

    fifo = tmp_path / name
    os.mkfifo(fifo)
    assert cli(["al-bench", "--task", "spans", str(fifo)]) == 2
    assert f"{name}: cannot be read: not a regular file" in capsys.readouterr().err


def test_an_sqlite_error_of_bundle_open_names_the_new_project_file(tmp_path, capsys, monkeypatch):
    """A read-only folder as the destination of `bundle open` (seen as a non-root user) gave
    'the project file cannot be opened' without naming the file."""
    import sqlite3

    import app.core.bundle as bundle

    def refuse(*_args, **_kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(bundle, "open_bundle", refuse)
    dest = tmp_path / "locked" / "x.tagloop"
    assert cli(["bundle", "open", str(tmp_path / "b.tlbundle"), str(dest)]) == 1
    assert f"error: {dest}: the project file cannot be opened" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["\u202eroot", "a\u2028b", "x\ny"])
def test_an_annotator_name_follows_the_label_name_rule(make_project, tmp_path, name, bundled):
    from app.core.bundle import merge_bundle, open_bundle
    from app.core.bundle.errors import BundleError
    from app.core.team.assign import add_annotator
    from tests.fuzz.bundle_corpus import Case, build
    from tests.unit.bundle_helpers import dump

    project = make_project()
    with pytest.raises(ProjectError, match="the annotator name"):
        add_annotator(project, name)
    data = tmp_path / "in.csv"
    data.write_text("text,label\nhello,ham\n", encoding="utf-8")
    with pytest.raises(DataError, match="the annotator name") as caught:
        import_dataset(project, data, label_column="label", annotator=name)
    assert "in.csv" in str(caught.value)
    owner, good = bundled

    def edit(members):
        rows = [json.loads(line) for line in members["annotators.jsonl"].splitlines()]
        rows.append({**rows[-1], "uuid": "0" * 31 + "9", "name": name})
        members["annotators.jsonl"] = "".join(json.dumps(r) + "\n" for r in rows).encode()

    bundle = build(good, Case("annotator-name", edit), tmp_path / "h.tlbundle")
    with pytest.raises(BundleError, match="the annotator name"):
        open_bundle(bundle, tmp_path / "opened.tagloop")
    before = dump(owner.path)
    with pytest.raises(BundleError, match="the annotator name"):
        merge_bundle(owner, bundle)
    assert dump(owner.path) == before


def test_a_damaged_project_file_or_a_folder_gets_a_plain_message(make_project, tmp_path, capsys):
    """A project file cut short said 'database disk image is malformed' wrapped in
    SQLAlchemy's words and a web link; a folder was 'no such project file'."""
    project = make_project()
    data = tmp_path / "in.csv"
    data.write_text("text\n" + "".join(f"row {i}\n" for i in range(3000)), encoding="utf-8")
    import_dataset(project, data)
    project.close()
    whole = project.path.read_bytes()
    cut = tmp_path / "cut.tagloop"
    cut.write_bytes(whole[: len(whole) // 2])
    assert cli(["stats", str(cut)]) == 1
    err = capsys.readouterr().err
    assert f"{cut}: cannot be opened as a Tagloop project (database disk image is malformed)" in err
    assert "damaged or cut short" in err and "sqlalche.me" not in err
    folder = tmp_path / "folder.tagloop"
    folder.mkdir()
    assert cli(["stats", str(folder)]) == 1
    assert f"{folder}: is a folder, not a project file" in capsys.readouterr().err


@pytest.mark.parametrize("shared", [False, True])
def test_max_field_applies_to_an_xlsx_cell(make_project, tmp_path, shared):
    """--max-field-mb did not apply to xlsx: a cell of any size was read, and openpyxl holds
    it about twice over while it parses it."""
    text = "".join(chr(97 + (i * 7919) % 26) for i in range(300_000))
    if shared:
        cells = '<row r="2"><c r="A2" t="s"><v>0</v></c></row>'
        table = f"<sst {MAIN}><si><t>{text}</t></si></sst>".encode()
        members = {"xl__sharedStrings_xml": table}
    else:
        cells = f'<row r="2"><c r="A2" t="inlineStr"><is><t>{text}</t></is></c></row>'
        members = {}
    head = '<row r="1"><c r="A1" t="inlineStr"><is><t>text</t></is></c></row>'
    body = f"<worksheet {MAIN}><sheetData>{head}{cells}</sheetData></worksheet>".encode()
    path = workbook_with(tmp_path, "long.xlsx", xl__worksheets__sheet1_xml=body, **members)
    project = make_project()
    with pytest.raises(DataError, match="longer than the 262,144 bytes limit") as caught:
        import_dataset(project, path, max_field=256 << 10)
    assert "long.xlsx" in str(caught.value)
    assert counts(project.path) == (0, 0)
    assert import_dataset(project, path, max_field=400 << 10).rows == 1


def test_terminal_controls_in_a_file_name_are_printed_escaped(make_project, tmp_path, capsys):
    """A file named with ESC sequences cleared and recoloured the terminal of whoever ran
    the command, in an error and in a report alike."""
    project = make_project()
    project.close()
    bad = tmp_path / "ev\x1b[2J\x1b[31mil\x07.csv"
    bad.write_bytes(b"text\nab\x00c\n")
    assert cli(["import", str(project.path), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "ev\\x1b[2J\\x1b[31mil\\x07.csv, line 2: a NUL byte" in err
    bad.write_text("text\nhello\n", encoding="utf-8")
    assert cli(["import", str(project.path), str(bad)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "ev\\x1b[2J" in out
