"""A project file of every schema version, made by the code that introduced it, opens in this
version with its data intact, and then works: search, import, label, audit, bundle round trip.

The files are tests/fixtures/schemas/*.tagloop.gz (see make_fixture.py there, and
fixtures.json for what each holds). Three are at revision 0001, because 0001 was edited after
its first release: the first command-line version's files lack the search-index state, its
delete trigger and an index, which migration 0006 repairs.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pytest

from app.core.annotation.browse import Browser, Query
from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.audit.chain import verify_chain
from app.core.bundle import export_project_bundle, open_bundle
from app.core.io.importer import import_dataset
from app.core.project.project import open_project, upgrade_needed
from app.core.storage import db, fts
from tests.fixtures_data import write_csv

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "schemas"
MANIFEST = json.loads((SCHEMAS / "fixtures.json").read_text(encoding="utf-8"))["files"]
TABLES = ("datapoint", "annotation", "comment", "flag", "prediction", "gold_item")


def unpack(name: str, folder: Path) -> Path:
    """The fixture as a project file in `folder` (never in the repository)."""
    path = folder / name.removesuffix(".gz")
    path.write_bytes(gzip.decompress((SCHEMAS / name).read_bytes()))
    return path


def objects(path: Path) -> dict[tuple[str, str], str]:
    """(type, name): CREATE statement, spaces normalised, of every object but alembic's."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master").fetchall()
    finally:
        conn.close()
    return {(kind, name): " ".join(sql.split()) for kind, name, sql in rows}


def counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone()
            else 0
            for table in TABLES
        }
    finally:
        conn.close()


def test_every_schema_version_has_a_fixture():
    revisions = {entry["revision"] for entry in MANIFEST.values()}
    older = set(db.pending_revisions(None)) - {db.SCHEMA_HEAD}
    assert older <= revisions, f"no fixture file for schema {sorted(older - revisions)}"
    assert sorted(p.name for p in SCHEMAS.glob("*.tagloop.gz")) == sorted(MANIFEST)


@pytest.fixture(scope="module")
def new_schema(tmp_path_factory) -> dict[tuple[str, str], str]:
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project

    folder = tmp_path_factory.mktemp("new")
    project = create_project(folder / "new.tagloop", "classification", [LabelSpec("ham")])
    project.close()
    return objects(project.path)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_an_old_file_upgrades_to_the_schema_of_a_new_one_with_its_data(name, tmp_path, new_schema):
    entry = MANIFEST[name]
    path = unpack(name, tmp_path)
    assert db.file_revision(path) == entry["revision"]
    assert upgrade_needed(path)
    assert counts(path) == entry["counts"]
    with open_project(path) as project:
        assert db.current_revision(project.engine) == db.SCHEMA_HEAD
        upgraded = project.schema_upgrade
        assert upgraded is not None and upgraded.from_revision == entry["revision"]
        assert upgraded.backup == tmp_path / f"{path.name}.bak-{entry['revision']}"
        assert verify_chain(project).ok
    assert not upgrade_needed(path)
    assert objects(path) == new_schema
    assert counts(path) == entry["counts"]
    # The copy is the file as it was: its old revision, its data.
    assert db.file_revision(upgraded.backup) == entry["revision"]
    assert counts(upgraded.backup) == entry["counts"]


def _search(project, words: str) -> list[str]:
    browser = Browser(project)
    return [row.text for row in browser.page(Query(search=words), 0, 50)]


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_an_upgraded_file_searches_imports_labels_and_travels(name, tmp_path):
    path = unpack(name, tmp_path)
    with open_project(path) as project:
        # Search, before and after the index is (re)built.
        assert _search(project, "prize") == ["win a free prize now"]
        fts.index_pending(project)
        assert fts.pending_count(project) == 0
        assert _search(project, "prize") == ["win a free prize now"]
        assert _search(project, "cafe") == ["café au lait tomorrow morning?"]

        # Import, then search what came in.
        source = tmp_path / "more.csv"
        write_csv(source, [["text", "source"], ["a brand new prize draw", "sms"], ["hi", "sms"]])
        report = import_dataset(project, source)
        assert report.rows == 2
        assert sorted(_search(project, "prize")) == [
            "a brand new prize draw",
            "win a free prize now",
        ]

        # Label, and undo it.
        me = project.local_annotator_id
        applied = SetAnnotations(me, ((10, AnnotationState("spam", "complete", 200)),)).apply(
            project
        )
        assert Browser(project).count(Query(label="spam")) >= 5
        applied.inverse.apply(project)

        # Delete a dataset: the delete trigger keeps the index consistent.
        from app.core.io.datasets import list_datasets, remove_dataset

        remove_dataset(project, list_datasets(project)[-1].id)
        assert _search(project, "prize") == ["win a free prize now"]
        with project.engine.connect() as conn:
            assert conn.exec_driver_sql(
                "INSERT INTO datapoint_fts(datapoint_fts, rank) VALUES ('integrity-check', 1)"
            )
        assert verify_chain(project).ok

        # Bundle round trip: the copy holds the same datapoints and annotations.
        bundle = tmp_path / "all.tlbundle"
        export_project_bundle(project, bundle)
        opened = open_bundle(bundle, tmp_path / "copy")
    with open_project(opened.path) as copy:
        assert copy.schema_upgrade is None
        assert counts(opened.path)["datapoint"] == MANIFEST[name]["counts"]["datapoint"]
        assert counts(opened.path)["annotation"] == counts(path)["annotation"]
        assert _search(copy, "prize") == ["win a free prize now"]
        assert verify_chain(copy).ok
