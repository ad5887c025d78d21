"""Red team (issue 14): hostile peer and spreadsheet files the fuzz corpora did not make.

- xlsx: a DOCTYPE (internal entities, or XXE with SYSTEM file://) behind 5,000 bytes of
  whitespace or a comment, or in a UTF-16 sheet, passed the 4 KB UTF-8 search and its
  entities were expanded into the imported text; the whole prolog is now read.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook

from app.core.errors import DataError
from app.core.io.formats.xlsx import MAX_PROLOG, prolog_problem
from app.core.io.importer import import_dataset
from tests.unit.test_red_team_paths import counts

SHEET = "xl/worksheets/sheet1.xml"
LAUGHS = (
    '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
)
XXE = '<!DOCTYPE worksheet [<!ENTITY d SYSTEM "file:///etc/hostname">]>'


def workbook(tmp_path, name: str, prolog: str, utf16: bool = False):
    """A workbook whose sheet XML starts with `prolog` and whose first text is `&d;` when
    the prolog declares it."""
    book = Workbook()
    book.active.append(["text", "label"])
    book.active.append(["hello", "ham"])
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    sheet = members[SHEET].decode("utf-8")
    if "ENTITY d" in prolog:
        sheet = sheet.replace(">hello<", ">&d;<")
    sheet = prolog + sheet
    if utf16:
        members[SHEET] = sheet.replace(
            'version="1.0"?>', 'version="1.0" encoding="UTF-16"?>', 1
        ).encode("utf-16")
    else:
        members[SHEET] = sheet.encode("utf-8")
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for member, data in members.items():
            out.writestr(member, data)
    return path


@pytest.mark.parametrize(
    "prolog, utf16",
    [
        ('<?xml version="1.0"?>' + " " * 5000 + LAUGHS, False),
        ('<?xml version="1.0"?><!--' + "c" * 6000 + "-->" + LAUGHS, False),
        ('<?xml version="1.0"?>' + " " * 5000 + XXE, False),
        ('<?xml version="1.0"?>' + LAUGHS, True),
        ('<?xml version="1.0"?>' + XXE, True),
        ('<?xml version="1.0"?><?pi ' + "p" * 70_000 + "?>" + LAUGHS, False),
    ],
    ids=["spaces", "comment", "xxe-spaces", "utf16", "xxe-utf16", "long-pi"],
)
def test_a_doctype_anywhere_in_the_prolog_is_refused(make_project, tmp_path, prolog, utf16):
    project = make_project()
    path = workbook(tmp_path, "evil.xlsx", prolog, utf16)
    with pytest.raises(DataError, match="declares a DOCTYPE") as caught:
        import_dataset(project, path, label_column="label")
    assert caught.value.file == str(path)
    assert counts(project.path) == (0, 0)


def test_a_long_comment_before_the_root_is_read_through(make_project, tmp_path):
    project = make_project()
    path = workbook(tmp_path, "fine.xlsx", '<?xml version="1.0"?><!--' + "c" * 100_000 + "-->")
    report = import_dataset(project, path, label_column="label")
    assert report.rows == 1


def test_a_prolog_over_the_cap_is_refused():
    handle = io.BytesIO(b"<?xml version='1.0'?>" + b" " * (2 * MAX_PROLOG) + b"<a/>")
    assert "before its first element" in prolog_problem(handle)
    assert prolog_problem(io.BytesIO(b"<a/>")) is None
    assert prolog_problem(io.BytesIO(b"")) is None
    assert prolog_problem(io.BytesIO(b"<!-- unclosed")) is None


@pytest.mark.parametrize("label", ["a\tb", "c\nd", "g\rh", "x 0 5\theart\nT9\tD", "\x1b[31m"])
def test_a_label_with_control_characters_never_enters_a_schema(make_project, tmp_path, label):
    """A tab or a line break in a label corrupted the CoNLL, PubTator and BRAT exports; a
    crafted one added a line of its own to a BRAT .ann file."""
    import json

    from app.core.errors import ProjectError
    from app.core.project.label_schema import LabelSpec, complete_labels

    project = make_project("spans", ("D",))
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"text": "heart attack", "label": [[0, 5, label]]}) + "\n")
    with pytest.raises(DataError, match="control characters"):
        import_dataset(project, data, label_column="label", add_labels=True)
    assert counts(project.path) == (0, 0)
    with pytest.raises(ProjectError, match="control characters"):
        complete_labels([LabelSpec("D"), LabelSpec(label)])


def test_a_bundle_label_with_control_characters_is_refused(bundled, tmp_path):
    import json

    from app.core.bundle import open_bundle
    from app.core.bundle.errors import BundleError
    from tests.fuzz.bundle_corpus import Case, build

    _project, good = bundled

    def edit(members):
        lines = members["schema_versions.jsonl"].decode("utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        for row in rows:
            labels = json.loads(row["labels"])
            labels.append(
                {"name": "x\ty\nT9", "colour": "#000000", "hotkey": "", "description": ""}
            )
            row["labels"] = json.dumps(labels)
        members["schema_versions.jsonl"] = "".join(json.dumps(r) + "\n" for r in rows).encode()

    bundle = build(good, Case("ctrl-label", edit), tmp_path / "h.tlbundle")
    with pytest.raises(BundleError, match="control characters"):
        open_bundle(bundle, tmp_path / "opened.tagloop")
    assert not (tmp_path / "opened.tagloop").exists()
