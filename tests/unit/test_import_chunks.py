"""An import commits in short chunks under a loading dataset that no read shows, publishes in
one last short transaction, cleans up after a cancel, and what a killed import left is swept
when the project next opens (issue 14, lock contention: app.core.storage.staging/visibility).

Chunks are made small here by replacing the chunk sizer; nothing asserts on time.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from app.cli.main import main
from app.core.annotation.browse import Browser, Query
from app.core.annotation.stats import labeling_progress, project_stats
from app.core.annotation.worklist import Worklist, WorklistSpec
from app.core.audit.chain import verify_chain
from app.core.bundle import export_project_bundle, open_bundle
from app.core.errors import Cancelled
from app.core.fileio import host_tag
from app.core.io.datasets import list_datasets
from app.core.io.export import export_file
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.storage import staging, visibility
from tests.fixtures_data import write_csv
from tests.unit.helpers import snapshot
from tests.unit.killing import kill_at_first_chunk, killed_import

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 7  # rows per chunk in these tests


@pytest.fixture
def small_chunks(monkeypatch):
    """Every chunk of an import (and of a cleanup) takes CHUNK rows."""
    monkeypatch.setattr(staging, "next_chunk", lambda *_args, **_kwargs: CHUNK)
    monkeypatch.setattr("app.core.io.importer.FIRST_CHUNK", CHUNK)
    monkeypatch.setattr(staging, "FIRST_CHUNK", CHUNK)


def labelled(path: Path, n: int, prefix: str = "message") -> Path:
    write_csv(
        path,
        [["text", "label"]] + [[f"{prefix} {i}", "spam" if i % 3 else "ham"] for i in range(n)],
    )
    return path


def seen(project) -> dict:
    """What a user can see of the project, through every read the brief names."""
    browser = Browser(project)
    return {
        "count": browser.count(Query()),
        "page": [row.text for row in browser.page(Query(), 0, 500)],
        "labelled": browser.count(Query(label="spam")),
        "status": browser.status_counts(),
        "stats": project_stats(project)["datasets"],
        "labels": project_stats(project)["labels"],
        "progress": labeling_progress(project),
        "datasets": [d.source_name for d in list_datasets(project)],
    }


def test_chunks_commit_separately_unseen_and_the_lock_is_free_between_them(
    make_project, tmp_path, small_chunks
):
    project = make_project()
    import_dataset(project, labelled(tmp_path / "first.csv", 5, "old"), label_column="label")
    before = seen(project)
    source = labelled(tmp_path / "more.csv", 40)
    observed = []

    def between_chunks(done, total, message):
        if not message.startswith("Reading"):
            return
        check = sqlite3.connect(project.path, timeout=0)
        try:
            check.execute("PRAGMA busy_timeout=0")
            check.execute("BEGIN IMMEDIATE")  # raises "database is locked" if the import held it
            check.execute("ROLLBACK")
            state, hidden, notes = check.execute(
                "SELECT ds.state, (SELECT count(*) FROM datapoint d WHERE d.dataset_id = ds.id),"
                " (SELECT count(*) FROM annotation a JOIN datapoint d ON d.id = a.datapoint_id"
                "  WHERE d.dataset_id = ds.id) FROM dataset ds WHERE ds.source_name = 'more.csv'"
            ).fetchone()
        finally:
            check.close()
        observed.append((state, hidden, notes))
        assert seen(project) == before  # nothing of the import shows yet

    report = import_dataset(project, source, label_column="label", progress=between_chunks)
    assert report.rows == 40 and report.annotations == 40
    counts = [hidden for _state, hidden, _notes in observed]
    assert len(observed) >= 40 // CHUNK
    assert all(state == visibility.LOADING for state, _h, _n in observed)
    assert counts == sorted(counts) and counts[0] == CHUNK and counts[-1] == 40
    assert all(notes == hidden for _s, hidden, notes in observed)  # labels go with their rows
    after = seen(project)
    assert after["count"] == 45 and after["datasets"] == ["first.csv", "more.csv"]
    assert after["progress"].labeled == 45
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT state, loader FROM dataset").all() == [
            (0, None),
            (0, None),
        ]
    assert verify_chain(project).ok


def _stall_after_first_chunk(project, source, monkeypatch, **kwargs) -> None:
    """An import that dies after its first chunk without cleaning up (as a killed process
    would leave it, but with this live process as its loader)."""
    monkeypatch.setattr(staging, "delete_loading", lambda *_args: 0)
    monkeypatch.setattr(staging, "forget_annotators", lambda *_args: None)

    def stop(_done, _total, message):
        if message.startswith("Reading"):
            raise Cancelled()

    with pytest.raises(Cancelled):
        import_dataset(project, source, progress=stop, **kwargs)
    monkeypatch.undo()


def test_reads_leave_out_a_loading_dataset(make_project, tmp_path, small_chunks, monkeypatch):
    project = make_project()
    import_dataset(project, labelled(tmp_path / "first.csv", 5, "old"), label_column="label")
    before = seen(project)
    _stall_after_first_chunk(
        project, labelled(tmp_path / "dead.csv", 30, "old"), monkeypatch, label_column="label"
    )
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM datapoint").scalar() == 5 + CHUNK
    assert seen(project) == before
    worklist = Worklist(project, WorklistSpec(Query()))
    assert len(worklist) == 5
    out = tmp_path / "out.jsonl"
    export_file(project, out)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 5
    export_project_bundle(project, tmp_path / "all.tlbundle")
    opened = open_bundle(tmp_path / "all.tlbundle", tmp_path / "copy")
    with open_project(opened.path) as copy:
        assert Browser(copy).count(Query()) == 5
        assert [d.source_name for d in list_datasets(copy)] == ["first.csv"]
    # The dead import's texts are the same as first.csv's: they do not count as duplicates.
    again = import_dataset(project, labelled(tmp_path / "again.csv", 5, "new"))
    assert again.duplicates == 0


def test_a_cancel_midway_leaves_nothing(make_project, tmp_path, small_chunks):
    project = make_project()
    import_dataset(project, labelled(tmp_path / "first.csv", 5, "old"), label_column="label")
    before = snapshot(project)
    calls = []

    def cancel() -> bool:
        return len(calls) >= 3

    def progress(_done, _total, message):
        if message.startswith("Reading"):
            calls.append(message)

    source = tmp_path / "by.csv"
    write_csv(source, [["text", "label"]] + [[f"row {i}", "ham"] for i in range(60)])
    with pytest.raises(Cancelled):
        import_dataset(
            project, source, label_column="label", annotator="newcomer", progress=progress,
            cancel=cancel,
        )  # fmt: skip
    assert len(calls) == 3  # three chunks were committed before the cancel
    assert snapshot(project) == before  # rows, labels, the new annotator: all gone
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM dataset").scalar() == 1


def test_peer_items_across_chunks_keep_one_annotation_per_annotator(
    make_project, tmp_path, small_chunks
):
    project = make_project(labels=("urgent", "routine"))
    lines = []
    for i in range(20):
        for who in ("ann-1", "ann-2"):
            lines.append(
                {"text": f"item {i}", "label": "urgent", "answer": "accept",
                 "_input_hash": i, "_annotator_id": who}
            )  # fmt: skip
    lines.append({"text": "item 3", "label": "routine", "answer": "accept", "_input_hash": 3,
                  "_annotator_id": "ann-1"})  # fmt: skip
    path = tmp_path / "db.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    report = import_dataset(project, path, fmt="prodigy")
    assert report.rows == 20 and report.annotations == 40
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(DISTINCT status) FROM datapoint").scalar() == 1


def test_an_import_that_adds_labels_points_its_annotations_at_the_new_schema(
    make_project, tmp_path, small_chunks
):
    project = make_project(labels=("ham",))
    source = tmp_path / "new.csv"
    write_csv(
        source, [["text", "label"]] + [[f"t {i}", "ham" if i % 2 else "eggs"] for i in range(30)]
    )
    report = import_dataset(project, source, label_column="label", add_labels=True)
    assert report.added_labels == ["eggs"]
    with project.engine.connect() as conn:
        versions = conn.exec_driver_sql("SELECT DISTINCT schema_version_id FROM annotation").all()
    assert versions == [(project.schema.id,)]


KILLED = killed_import()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_import_leaves_hidden_rows_that_the_next_open_sweeps(
    make_project, tmp_path, capsys
):
    project = make_project()
    import_dataset(project, labelled(tmp_path / "first.csv", 5, "old"), label_column="label")
    project.close()
    child_pid = kill_at_first_chunk(
        KILLED, str(project.path), str(labelled(tmp_path / "k.csv", 50))
    )
    raw = sqlite3.connect(project.path)
    try:
        state, loader, hidden = raw.execute(
            "SELECT ds.state, ds.loader, count(d.id) FROM dataset ds"
            " JOIN datapoint d ON d.dataset_id = ds.id WHERE ds.source_name = 'k.csv'"
        ).fetchone()
    finally:
        raw.close()
    assert state == visibility.LOADING and hidden > 0
    assert loader.startswith(f"{host_tag()}-{child_pid}-")
    assert visibility.loader_is_gone(loader)
    # The command line opens the project, sweeps, and says so in one line on stderr.
    assert main(["stats", str(project.path), "--json"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unfinished import of k.csv" in err[0], err
    with open_project(project.path) as again:
        assert again.swept == []
        with again.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM datapoint").scalar() == 5
            assert conn.exec_driver_sql("SELECT count(*) FROM annotation").scalar() == 5
            assert conn.exec_driver_sql("SELECT count(*) FROM dataset").scalar() == 1
        assert verify_chain(again).ok


def test_loaders_of_live_processes_and_other_machines_are_left_alone():
    me = visibility.loader_tag()
    assert not visibility.loader_is_gone(me)
    host, pid, start, began, _n = me.split("-")
    assert visibility.loader_is_gone(f"{host}-{pid}-{int(start) + 1}-{began}")  # pid reused
    other = "zzzzzz" if host != "zzzzzz" else "yyyyyy"
    assert not visibility.loader_is_gone(f"{other}-1-1-{began}")
    day = visibility.FOREIGN_LOADER_AGE
    assert visibility.loader_is_gone(f"{other}-1-1-{began}", now=int(began) + day + 1)
    assert visibility.loader_is_gone(None) and visibility.loader_is_gone("garbled")
