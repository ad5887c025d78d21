"""Red team (issue 14): the small files a command reads (guidelines, gold answers, the item ids
of a qualification set) and the passphrase, when they are hostile. Each ended in a traceback
(UnicodeDecodeError, AttributeError, UnicodeEncodeError) or waited forever on a FIFO; each is
now a clear error naming the file and the line."""

from __future__ import annotations

import os

import pytest

from app.cli.main import main as cli
from app.core.bundle import crypto, export_project_bundle, inspect_bundle
from app.core.bundle.errors import BundleError
from tests.unit.test_red_team_paths import rescued


def hostile_files(tmp_path):
    latin = tmp_path / "latin.md"
    latin.write_bytes(b"id,label\ncaf\xe9,x\n")
    nul = tmp_path / "nul.md"
    nul.write_bytes(b"id,label\nab\x00c,x\n")
    fifo = tmp_path / "fifo.md"
    os.mkfifo(fifo)
    return {"latin": (latin, "line 2"), "nul": (nul, "line 2"), "fifo": (fifo, "not a regular")}


@pytest.mark.parametrize("kind", ["latin", "nul", "fifo"])
@pytest.mark.parametrize(
    "command",
    [
        [
            "init",
            "{dir}/new.tagloop",
            "--type",
            "classification",
            "--labels",
            "a,b",
            "--guidelines",
            "{file}",
        ],
        ["schema", "{project}", "--guidelines", "{file}"],
        ["gold", "{project}", "--mark", "{file}"],
        ["qualify", "{project}", "--create", "q", "--items", "{file}", "--pass", "0.5"],
    ],
    ids=["init", "schema", "gold", "qualify"],
)
def test_a_hostile_small_file_is_a_clear_error(make_project, tmp_path, capsys, kind, command):
    project = make_project()
    project.close()
    path, where = hostile_files(tmp_path)[kind]
    argv = [part.format(dir=tmp_path, file=path, project=project.path) for part in command]
    with rescued(tmp_path / "fifo.md"):
        assert cli(argv) == 1
    err = capsys.readouterr().err
    assert f"tagloop: error: {path}" in err and where in err and "Traceback" not in err
    assert not (tmp_path / "new.tagloop").exists()


def test_a_short_row_of_gold_answers_is_no_traceback(make_project, tmp_path, capsys):
    project = make_project()
    project.close()
    answers = tmp_path / "answers.csv"
    answers.write_text("id,label\nnot-a-datapoint\n", encoding="utf-8")
    assert cli(["gold", str(project.path), "--mark", str(answers)]) == 1
    assert "no datapoint 'not-a-datapoint'" in capsys.readouterr().err


def test_a_passphrase_typed_in_another_encoding_opens_what_it_sealed(make_project, tmp_path):
    project = make_project()
    typed = b"caf\xe9".decode("utf-8", "surrogateescape")  # a Latin-1 terminal's argv
    sealed = tmp_path / "e.tlbundle"
    export_project_bundle(project, sealed, passphrase=typed)
    assert inspect_bundle(sealed, typed)["encrypted"]
    with pytest.raises(BundleError, match="wrong passphrase"):
        inspect_bundle(sealed, "café")
    with pytest.raises(BundleError, match="not text"):
        inspect_bundle(sealed, "bad \ud800")
    assert crypto.passphrase_bytes(typed) == b"caf\xe9"


def test_cli_passphrase_not_utf8_round_trips(make_project, tmp_path, capsys):
    project = make_project()
    project.close()
    out = tmp_path / "e.tlbundle"
    typed = b"\xff\xfe".decode("utf-8", "surrogateescape")
    assert cli(["bundle", "export", str(project.path), str(out), "--passphrase", typed]) == 0
    assert cli(["bundle", "inspect", str(out), "--passphrase", typed]) == 0
    assert cli(["bundle", "inspect", str(out), "--passphrase", "\ud800"]) == 1
    assert "Traceback" not in capsys.readouterr().err


@pytest.fixture
def sound_bundle(make_project, tmp_path):
    project = make_project()
    good = tmp_path / "good.tlbundle"
    export_project_bundle(project, good)
    project.close()
    return good.read_bytes()


@pytest.mark.parametrize(
    "counts", [{"x": "bad \ud800"}, "str", [1], None, {"\ud800": 1}, {"x": {"y": 1}}, {"x": -1}]
)
@pytest.mark.parametrize("json_out", [False, True])
def test_inspect_refuses_hostile_counts(sound_bundle, tmp_path, capsys, counts, json_out):
    from tests.fuzz.bundle_container import set_manifest

    bundle = tmp_path / "h.tlbundle"
    bundle.write_bytes(set_manifest("counts", counts)(sound_bundle, b""))
    assert cli(["bundle", "inspect", str(bundle), *(["--json"] if json_out else [])]) == 1
    err = capsys.readouterr().err
    assert "'counts' is invalid" in err and "Traceback" not in err


def test_inspect_escapes_what_the_bundle_says(sound_bundle, tmp_path, capsys):
    from tests.fuzz.bundle_container import set_manifest

    bundle = tmp_path / "h.tlbundle"
    forged = "\x1b[2K\rAll checksums verified. SHA-256 of the file: 0000"
    # created_at must be a timestamp (refused otherwise: test_bundle_hostile); app_version is
    # free text shown on the same line
    data = set_manifest("app_version", forged)(sound_bundle, b"")
    bundle.write_bytes(set_manifest("project_name", forged)(data, b""))
    assert cli(["bundle", "inspect", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out
    assert out.count("All checksums verified") == 3  # two shown escaped on the first line
    assert out.splitlines()[-1].startswith("All checksums verified")


@pytest.mark.parametrize(
    "message, expected",
    [
        ("database or disk is full", "the disk is full"),
        ("disk I/O error", "could not be read or written"),
        ("attempt to write a readonly database", "cannot be written"),
        ("database is locked", "busy for too long"),
        ("no such table: x", "refused the command"),
    ],
)
def test_an_sqlite_error_is_a_clear_message(
    make_project, tmp_path, capsys, monkeypatch, message, expected
):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    import app.core.io.importer as importer

    project = make_project()
    project.close()
    data = tmp_path / "in.csv"
    data.write_text("text\nhello\n", encoding="utf-8")

    def full(*_args, **_kwargs):
        raise OperationalError("INSERT ...", {}, sqlite3.OperationalError(message))

    monkeypatch.setattr(importer, "import_dataset", full)
    assert cli(["import", str(project.path), str(data)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"tagloop: error: {project.path}: ") and expected in err
    assert "Traceback" not in err


def test_other_errors_still_raise(monkeypatch, make_project):
    import app.core.io.importer as importer

    project = make_project()
    project.close()
    monkeypatch.setattr(importer, "import_dataset", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli(["import", str(project.path), "x.csv"])


@pytest.mark.parametrize(
    "argv",
    [
        ["datasets", "{project}", "--remove", "99999999999999999999999"],
        ["suspicious", "{project}", "--keep", "1", "99999999999999999999"],
        ["datasets", "{project}", "--remove", "-1"],
    ],
)
def test_an_id_sqlite_cannot_hold_is_a_usage_error(make_project, capsys, argv):
    project = make_project()
    project.close()
    with pytest.raises(SystemExit) as stopped:
        cli([part.format(project=project.path) for part in argv])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "no such id" in err and "Traceback" not in err
