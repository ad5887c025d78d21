"""The annotators an import adds for the names in its file go when the import does: a failed
or cancelled one forgets them at once, and after a SIGKILLed one the sweep on open does
(issue 14 leftover: app.core.storage.staging's annotator notes)."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from app.core.errors import Cancelled
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.storage import staging
from tests.fixtures_data import write_csv
from tests.unit.killing import kill_at_first_chunk, killed_import

ROOT = Path(__file__).resolve().parents[2]


def labelled(path: Path, n: int) -> Path:
    write_csv(
        path, [["text", "label"]] + [[f"note {i}", "spam" if i % 3 else "ham"] for i in range(n)]
    )
    return path


def annotators(path: Path) -> list[str]:
    raw = sqlite3.connect(path)
    try:
        return [row[0] for row in raw.execute("SELECT name FROM annotator ORDER BY id")]
    finally:
        raw.close()


def notes(path: Path) -> list[str]:
    raw = sqlite3.connect(path)
    try:
        return [
            row[0] for row in raw.execute("SELECT key FROM project_meta WHERE key LIKE 'import%'")
        ]
    finally:
        raw.close()


KILLED = killed_import('annotator="Dr Killed"')


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_the_sweep_forgets_the_annotators_of_a_killed_import(make_project, tmp_path):
    project = make_project()
    import_dataset(
        project, labelled(tmp_path / "kept.csv", 4), label_column="label", annotator="Ann"
    )
    project.close()
    before = annotators(project.path)
    assert "Ann" in before
    kill_at_first_chunk(KILLED, str(project.path), str(labelled(tmp_path / "k.csv", 40)))
    # The killed import had added its annotator and noted it, in the same transaction.
    assert annotators(project.path) == [*before, "Dr Killed"]
    assert len(notes(project.path)) == 1
    with open_project(project.path) as again:
        assert [s.source_name for s in again.swept] == ["k.csv"]
    assert annotators(project.path) == before
    assert notes(project.path) == []


def test_a_published_import_keeps_its_annotators_and_no_note(make_project, tmp_path):
    project = make_project()
    import_dataset(project, labelled(tmp_path / "a.csv", 30), label_column="label", annotator="Bo")
    assert "Bo" in annotators(project.path)
    assert notes(project.path) == []
    assert staging.sweep_annotators(project.engine) == 0
    assert "Bo" in annotators(project.path)


def test_a_cancelled_import_forgets_its_annotators_and_its_note(
    make_project, tmp_path, monkeypatch
):
    monkeypatch.setattr(staging, "next_chunk", lambda *_args, **_kwargs: 5)
    monkeypatch.setattr("app.core.io.importer.FIRST_CHUNK", 5)
    project = make_project()
    before = annotators(project.path)

    def stop(_done, _total, message):
        if message.startswith("Reading"):
            raise Cancelled()

    with pytest.raises(Cancelled):
        import_dataset(
            project, labelled(tmp_path / "c.csv", 30), label_column="label", annotator="Cy",
            progress=stop,
        )  # fmt: skip
    assert annotators(project.path) == before
    assert notes(project.path) == []


def test_a_note_whose_dataset_is_gone_is_swept_and_an_annotator_in_use_stays(
    make_project, tmp_path
):
    project = make_project()
    import_dataset(project, labelled(tmp_path / "a.csv", 6), label_column="label", annotator="Used")
    with project.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO annotator (uuid, name, role, created_at)"
            " VALUES ('00000000-0000-4000-8000-00000000000a', 'Orphan', 'annotator', '2026-01-01')"
        )
        ids = dict(conn.exec_driver_sql("SELECT name, id FROM annotator").all())
        raw = conn.connection.driver_connection
        staging.note_annotators(raw, "gone-dataset-uuid", [ids["Orphan"], ids["Used"]])
    assert staging.sweep_annotators(project.engine) == 1
    names = annotators(project.path)
    assert "Orphan" not in names and "Used" in names
    assert notes(project.path) == []
