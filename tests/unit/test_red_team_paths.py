"""Red team (issue 14): hostile paths and encodings the fuzz corpora did not make.

Each test is one finding of session 5's red team, now a clear refusal:
- a FIFO given as the file to import, as a BRAT text or as a bundle blocked forever;
- an export, report or bundle written over the open project (or its -wal file) destroyed it,
  and one written over a device node (/dev/full, as root) replaced the node;
- `--encoding rot13` (a codec that is not a text encoding), `undefined`, `punycode` and
  `utf-16` for a file without a byte-order mark ended in a traceback;
- a disk-full error named the hidden `.part` file, or nothing, instead of the file chosen.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core import fileio
from app.core.bundle import export_project_bundle, inspect_bundle
from app.core.bundle.errors import BundleError
from app.core.errors import DataError, ProjectError, TagloopError
from app.core.io.export import export_file
from app.core.io.importer import import_dataset
from app.core.io.preview import preview
from app.core.report.figures import project_report
from app.core.report.html import write_html

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")


@contextlib.contextmanager
def rescued(fifo: Path) -> Iterator[None]:
    """If the code under test does block on the FIFO, open its other end after a while so the
    test fails (an empty read) instead of hanging the suite. Not a timed assert."""
    done = threading.Event()

    def rescue() -> None:
        if not done.wait(30):
            with contextlib.suppress(OSError), open(fifo, "wb"):
                pass

    thread = threading.Thread(target=rescue, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def counts(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        return (
            conn.execute("SELECT count(*) FROM datapoint").fetchone()[0],
            conn.execute("SELECT count(*) FROM annotation").fetchone()[0],
        )
    finally:
        conn.close()


@pytest.fixture
def labelled(make_project, tmp_path):
    project = make_project()
    data = tmp_path / "in.csv"
    data.write_text("text,label\n=1+1,ham\nplain,spam\n", encoding="utf-8")
    import_dataset(project, data, label_column="label")
    return project


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".txt"])
def test_a_fifo_to_import_is_refused_not_waited_on(make_project, tmp_path, suffix):
    project = make_project()
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    with rescued(fifo), pytest.raises(DataError, match="not a regular file") as caught:
        import_dataset(project, fifo)
    assert caught.value.file == str(fifo)
    with rescued(fifo), pytest.raises(DataError, match="not a regular file"):
        preview(fifo)
    assert counts(project.path) == (0, 0)


def test_a_device_to_import_is_refused(make_project, tmp_path):
    project = make_project()
    endless = tmp_path / "zero.txt"
    endless.symlink_to("/dev/zero")
    with pytest.raises(DataError, match="not a regular file"):
        import_dataset(project, endless)


def test_a_brat_text_that_is_a_fifo_is_refused(make_project, tmp_path):
    project = make_project("spans", ("D",))
    folder = tmp_path / "brat"
    folder.mkdir()
    (folder / "a.ann").write_text("", encoding="utf-8")
    os.mkfifo(folder / "a.txt")
    with rescued(folder / "a.txt"), pytest.raises(DataError, match="not a regular file"):
        import_dataset(project, folder, fmt="brat")
    assert counts(project.path) == (0, 0)


def test_a_bundle_that_is_a_fifo_is_refused(tmp_path):
    fifo = tmp_path / "b.tlbundle"
    os.mkfifo(fifo)
    with rescued(fifo), pytest.raises(BundleError, match="not a regular file"):
        inspect_bundle(fifo)


@pytest.mark.parametrize(
    "encoding", ["rot13", "base64", "zlib_codec", "hex", "uu", "undefined", "bz2_codec"]
)
@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".pubtator"])
def test_a_codec_that_is_not_a_text_encoding_is_refused(make_project, tmp_path, encoding, suffix):
    project = make_project()
    data = tmp_path / f"in{suffix}"
    data.write_text("text\nhello\n", encoding="utf-8")
    with pytest.raises(DataError, match="not a text encoding") as caught:
        import_dataset(project, data, encoding=encoding)
    assert caught.value.file == str(data)
    with pytest.raises(DataError, match="not a text encoding"):
        preview(data, encoding=encoding)


@pytest.mark.parametrize("encoding", ["utf-16", "punycode"])
def test_a_decoder_error_without_position_names_the_file_and_line(make_project, tmp_path, encoding):
    project = make_project()
    data = tmp_path / "in.csv"
    data.write_text("text,label\nhello,ham\n", encoding="utf-8")  # no BOM: not UTF-16
    with pytest.raises(DataError, match="not valid") as caught:
        import_dataset(project, data, encoding=encoding, label_column="label")
    assert caught.value.file == str(data)
    assert caught.value.line == 1
    assert counts(project.path) == (0, 0)


def _writers(project, out: Path) -> dict:
    return {
        "csv": lambda: export_file(project, out, "csv"),
        "xlsx": lambda: export_file(project, out, "xlsx"),
        "jsonl": lambda: export_file(project, out, "jsonl"),
        "html": lambda: write_html(project_report(project), out),
        "bundle": lambda: export_project_bundle(project, out),
    }


@pytest.mark.parametrize("kind", ["csv", "xlsx", "jsonl", "html", "bundle"])
@pytest.mark.parametrize("target", ["project", "wal"])
def test_nothing_is_written_over_the_open_project(labelled, kind, target):
    project = labelled
    before = counts(project.path)
    out = project.path if target == "project" else Path(f"{project.path}-wal")
    if not out.exists():
        out.write_bytes(b"")  # the -wal may be checkpointed away; the name is what counts
    with pytest.raises(TagloopError, match="is a database"):
        _writers(project, out)[kind]()
    assert project.path.read_bytes()[:16] == fileio.SQLITE_MAGIC
    assert counts(project.path) == before


@pytest.mark.parametrize("kind", ["csv", "html", "bundle"])
def test_a_folder_or_a_fifo_is_never_replaced(labelled, tmp_path, kind):
    folder = tmp_path / "folder.out"
    folder.mkdir()
    with pytest.raises(TagloopError, match="is a folder"):
        _writers(labelled, folder)[kind]()
    fifo = tmp_path / "pipe.out"
    os.mkfifo(fifo)
    with rescued(fifo), pytest.raises(TagloopError, match="not a regular file"):
        _writers(labelled, fifo)[kind]()
    assert folder.is_dir() and not fileio.sweep_stale_parts(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def _disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("kind", ["csv", "xlsx", "html", "bundle"])
def test_disk_full_names_the_file_and_keeps_the_old_one(labelled, tmp_path, monkeypatch, kind):
    out = tmp_path / "out.file"
    out.write_bytes(b"the previous export")
    monkeypatch.setattr(os, "fsync", _disk_full)
    with pytest.raises((ProjectError, BundleError), match="No space left") as caught:
        _writers(labelled, out)[kind]()
    assert str(out) in str(caught.value) and ".part" not in str(caught.value)
    assert out.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []


def test_an_export_into_a_folder_that_cannot_be_made_names_the_file(labelled, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker / "sub" / "out.csv"
    with pytest.raises(ProjectError) as caught:
        export_file(labelled, out, "csv")
    assert str(out) in str(caught.value) and ".part" not in str(caught.value)


def test_a_folder_export_never_deletes_a_folder_of_other_files(make_project, tmp_path):
    project = make_project("spans", ("D",))
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "heart attack", "label": [[0, 5, "D"]]}\n', encoding="utf-8")
    import_dataset(project, data, label_column="label")
    documents = tmp_path / "Documents"
    documents.mkdir()
    (documents / "thesis.txt").write_text("years of work", encoding="utf-8")
    with pytest.raises(DataError, match=r"thesis\.txt"):
        export_file(project, documents, "brat")
    assert (documents / "thesis.txt").read_text(encoding="utf-8") == "years of work"
    with pytest.raises(DataError, match="which no export wrote"):
        export_file(project, tmp_path, "brat")  # the project's own folder
    assert counts(project.path) == (1, 1)
    out = tmp_path / "brat"
    export_file(project, out, "brat")
    export_file(project, out, "brat")  # a previous export is replaced
    assert sorted(p.suffix for p in out.iterdir()) == [".ann", ".conf", ".txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_killed_folder_exports_temporary_folder_is_swept(tmp_path):
    dead = fileio.part_dir_path(tmp_path / "brat").name.replace(f"-{os.getpid()}-", "-999999999-")
    (tmp_path / dead).mkdir()
    (tmp_path / dead / "000001-x-1.txt").write_text("half", encoding="utf-8")
    live = fileio.part_dir_path(tmp_path / "brat")
    live.mkdir()
    other = fileio.part_path(tmp_path / "x").with_name(dead.removesuffix("dir"))
    other.mkdir()  # named like a .part file: a folder not ours, never removed
    removed = fileio.sweep_stale_parts(tmp_path)
    assert [p.name for p in removed] == [dead]
    assert live.is_dir() and other.is_dir() and not (tmp_path / dead).exists()


@pytest.mark.parametrize(
    "annotator, match",
    [
        ("model", "the model's own annotator"),
        (" ", "blank"),
        ("ev\x1b[31mil", "control characters"),
        ("two\nlines", "control characters"),
        ("x" * 201, "at most 200"),
    ],
)
def test_an_import_names_its_annotator_soundly(make_project, tmp_path, annotator, match):
    project = make_project()
    data = tmp_path / "in.csv"
    data.write_text("text,label\nhello,ham\n", encoding="utf-8")
    with pytest.raises(DataError, match=match):
        import_dataset(project, data, label_column="label", annotator=annotator)
    assert counts(project.path) == (0, 0)


def test_a_file_naming_a_blank_annotator_is_refused_whole(make_project, tmp_path):
    project = make_project()
    data = tmp_path / "in.jsonl"
    lines = [
        {"text": "a", "label": "ham", "answer": "accept", "_annotator_id": "ann"},
        {"text": "b", "label": "spam", "answer": "accept", "_annotator_id": "  "},
    ]
    import json

    data.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    with pytest.raises(DataError, match="blank"):
        import_dataset(project, data, fmt="prodigy")
    assert counts(project.path) == (0, 0)
    conn = sqlite3.connect(project.path)
    names = [r[0] for r in conn.execute("SELECT name FROM annotator")]
    conn.close()
    assert "ann" not in names and "  " not in names


def test_permission_denied_names_the_file(make_project, tmp_path, monkeypatch):
    """As root a chmod 000 file is readable, so the denial is simulated where files open."""
    project = make_project()
    data = tmp_path / "secret.csv"
    data.write_text("text\nhello\n", encoding="utf-8")
    real_open = os.open

    def denied(path, *args, **kwargs):
        if str(path) == str(data):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(DataError, match="Permission denied") as caught:
        import_dataset(project, data)
    assert caught.value.file == str(data)
    assert counts(project.path) == (0, 0)


def test_file_names_that_are_not_utf8_import_export_and_bundle(make_project, tmp_path):
    """A Latin-1 file name (a USB stick from an old machine) reaches Python with lone
    surrogates; storing it as a dataset name or in the audit trail ended in a traceback."""
    from app.core.bundle import open_bundle
    from app.core.bundle.merge import merge_bundle
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project, open_project

    if os.name != "posix":
        pytest.skip("POSIX file names are bytes")
    odd = b"caf\xe9".decode("utf-8", "surrogateescape")
    project = make_project()
    data = tmp_path / f"{odd}.csv"
    data.write_text("text,label\nhello,ham\n", encoding="utf-8")
    report = import_dataset(project, data, label_column="label")
    assert report.rows == 1
    export_file(project, tmp_path / f"{odd}-out.csv", "csv")
    bundle = tmp_path / f"{odd}.tlbundle"
    export_project_bundle(project, bundle)
    opened = open_bundle(bundle, tmp_path / f"{odd}-opened.tagloop")
    assert opened.path.exists()
    created = create_project(tmp_path / f"{odd}-new.tagloop", "classification", [LabelSpec("a")])
    created.close()
    # work done in the opened copy comes back in a bundle with such a name: the merge's audit
    # entry names the file
    copy = open_project(opened.path)
    import_dataset(copy, data, label_column="label")
    back = tmp_path / f"{odd}-back.tlbundle"
    export_project_bundle(copy, back)
    copy.close()
    assert merge_bundle(project, back).changed
    conn = sqlite3.connect(project.path)
    names = [r[0] for r in conn.execute("SELECT source_name FROM dataset")]
    conn.close()
    assert names == ["caf\ufffd.csv", "caf\ufffd.csv"]  # imported here, and merged back


@pytest.mark.parametrize(
    "name, match",
    [
        ("model", "the model's own annotator"),
        ("ev\x1b[31mil", "control characters"),
        ("two\nlines", "control characters"),
        ("x" * 201, "at most 200"),
    ],
)
def test_an_annotator_added_by_hand_is_named_soundly(make_project, name, match):
    """`tagloop annotators P --add NAME` and Team > Add check the name as an import does."""
    from app.core.errors import ProjectError
    from app.core.team.assign import add_annotator, list_annotators

    project = make_project()
    before = len(list_annotators(project))
    with pytest.raises(ProjectError, match=match):
        add_annotator(project, name)
    assert len(list_annotators(project)) == before
