"""Nothing lost when a write run is killed (issue 14): a write that lands on a row of an
unpublished run (a bulk label's or a merge's hidden annotation) takes the row out of the run
in the same transaction, so the sweep on the next open leaves it.

Each test lets a real child process begin a run and stall after a chunk, writes onto one of
its hidden rows from this process (a merge, an import, a label save as the run's annotator),
kills the child with SIGKILL, opens the project again, and finds that write kept.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.audit.chain import verify_chain
from app.core.bundle import export_project_bundle, merge_bundle, open_bundle
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.storage import runs
from tests.fixtures_data import write_csv
from tests.unit.helpers import next_millisecond
from tests.unit.killing import stalled
from tests.unit.test_bulk_runs import STALLED_BULK, _setup
from tests.unit.test_merge_runs import KILLED as KILLED_MERGE
from tests.unit.test_merge_runs import colleague, small_chunks  # noqa: F401

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


def mine(project, dp_id: int) -> tuple | None:
    """The value and origin of the local annotator's annotation on an item, as seen."""
    with project.engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT value, origin FROM annotation WHERE datapoint_id = ? AND annotator_id = ?"
            f"{runs.and_visible(runs.annotation_where(conn, ''))}",
            (dp_id, project.local_annotator_id),
        ).first()


def hidden(project) -> list[int]:
    with project.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT datapoint_id FROM annotation WHERE run_id IN ({runs.HIDDEN_RUNS})"
        )
        return sorted(row[0] for row in rows)


def test_a_merge_onto_a_killed_bulk_labels_hidden_rows_is_kept(make_project, tmp_path):
    """The same annotator labelled items 12 and 13 on another machine after the bulk label
    wrote them unseen here; the merge (newest wins) writes those rows; the bulk label is
    then killed: the merged labels stay."""
    owner = _setup(make_project, tmp_path)
    me = owner.local_annotator_id
    with owner.engine.connect() as conn:
        my_uuid = conn.exec_driver_sql("SELECT uuid FROM annotator WHERE id = ?", (me,)).scalar()
    copy_path = tmp_path / "copy.tagloop"
    open_bundle(export_project_bundle(owner, tmp_path / "owner.tlbundle").path, copy_path)
    path = Path(owner.path)
    owner.close()
    with stalled(STALLED_BULK, path):
        with open_project(path) as project:
            assert hidden(project) == list(range(11, 19))
        with open_project(copy_path) as copy:
            with copy.engine.connect() as conn:
                me_there = conn.exec_driver_sql(
                    "SELECT id FROM annotator WHERE uuid = ?", (my_uuid,)
                ).scalar()
            ham = AnnotationState("ham", "complete")
            next_millisecond()  # newest wins: later than the stalled bulk label's rows
            SetAnnotations(me_there, ((12, ham), (13, ham))).apply(copy)
            bundle = export_project_bundle(copy, tmp_path / "copy.tlbundle").path
        with open_project(path) as project:
            merge_bundle(project, bundle)
            assert mine(project, 12) == ('"ham"', "human")
    with open_project(path) as again:
        assert [s.kind for s in again.swept] == ["bulk_label"]
        assert mine(again, 12) == ('"ham"', "human")
        assert mine(again, 13) == ('"ham"', "human")
        assert mine(again, 14) is None  # the bulk label's own hidden rows are gone
        assert hidden(again) == []
        assert verify_chain(again).ok


def test_an_import_onto_a_killed_bulk_labels_hidden_rows_is_kept(make_project, tmp_path):
    """An import of labels by the bulk label's annotator, for items the bulk label wrote
    unseen (the same texts: attached to them), then the bulk label killed: the imported
    labels stay."""
    owner = _setup(make_project, tmp_path)
    with owner.engine.connect() as conn:
        name = conn.exec_driver_sql(
            "SELECT name FROM annotator WHERE id = ?", (owner.local_annotator_id,)
        ).scalar()
    source = tmp_path / "again.csv"  # b.csv's items 12 and 13 (rows 1, 2), labelled "ham"
    write_csv(source, [["text", "label"], ["new message 1", "ham"], ["new message 2", "ham"]])
    path = Path(owner.path)
    owner.close()
    with stalled(STALLED_BULK, path), open_project(path) as project:
        report = import_dataset(
            project, source, label_column="label", annotator=name, duplicates="skip"
        )
        assert report.attached == 2
        assert mine(project, 12) == ('"ham"', "imported")
    with open_project(path) as again:
        assert [s.kind for s in again.swept] == ["bulk_label"]
        assert mine(again, 12) == ('"ham"', "imported")
        assert mine(again, 13) == ('"ham"', "imported")
        assert hidden(again) == []
        assert verify_chain(again).ok


@pytest.mark.usefixtures("small_chunks")
def test_a_save_as_the_bundle_annotator_during_a_killed_merge_is_kept(colleague):  # noqa: F811
    """A merge writes the colleague's labels early (hidden); meanwhile the colleague, working
    in this project under another process's identity, saves a label on one of those rows;
    the merge is then killed: the save stays."""
    owner, them, bundle = colleague
    path = Path(owner.path)
    owner.close()
    with stalled(KILLED_MERGE, path, bundle), open_project(path) as project:
        assert 3 in hidden(project)
        spam = AnnotationState("spam", "complete", origin="corrected")
        SetAnnotations(them, ((3, spam),)).apply(project)
    with open_project(path) as again:
        assert [s.kind for s in again.swept] == ["merge"]
        with again.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT datapoint_id, value, origin, run_id FROM annotation WHERE annotator_id = ?",
                (them,),
            ).all()
        assert [tuple(r) for r in rows] == [(3, '"spam"', "corrected", None)]
        assert verify_chain(again).ok


def test_a_review_correction_on_a_hidden_row_outlives_the_runs_removal(make_project, tmp_path):
    """commands.write_state (a reviewer's correction) over a row of an unpublished run (e.g.
    a merge's early insert of the reviewer's own earlier correction): the row leaves the run,
    and the run's removal (what the sweep does after a kill) keeps it."""
    from app.core.annotation.commands import write_state
    from app.core.project.project import current_schema
    from app.core.storage.retry import run_write

    project = _setup(make_project, tmp_path)
    me = project.local_annotator_id
    run = runs.begin(project.engine, "merge")
    with project.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO annotation (uuid, datapoint_id, annotator_id, value, status,"
            " schema_version_id, time_spent_ms, origin, created_at, updated_at, run_id)"
            " VALUES ('feed', 20, ?, '\"spam\"', 'complete', 1, 0, 'review', 'x', 'x', ?)",
            (me, run.id),
        )
    assert hidden(project) == [20]

    def correct(conn):
        state = AnnotationState("ham", "complete", origin="review")
        return write_state(conn, project, me, 20, state, current_schema(conn).id)

    assert run_write(project.engine, correct) == "feed"
    assert hidden(project) == []
    runs.discard(project.engine, run.id)
    assert mine(project, 20) == ('"ham"', "review")
    with project.engine.connect() as conn:
        labels = conn.exec_driver_sql(
            "SELECT label FROM annotation_label l JOIN annotation a ON a.id = l.annotation_id"
            " WHERE a.datapoint_id = 20"
        ).all()
    assert [row[0] for row in labels] == ["ham"]


@pytest.mark.usefixtures("small_chunks")
def test_an_import_onto_a_merges_hidden_row_is_decided_newest_wins(colleague, tmp_path):  # noqa: F811
    """An import attaches the colleague's label to item 9 after the merge wrote the bundle's
    there unseen: the import writes over the hidden row (it leaves the run), and the merge's
    last transaction decides the pair again: the import is newer and stands, the bundle's
    version goes to history (nothing lost either way)."""
    from tests.unit.test_merge_runs import WRITTEN, _consistent, _raw

    owner, them, bundle = colleague
    item, done = 9, []
    source = tmp_path / "colleague.csv"
    write_csv(source, [["text", "label"], [f"item {item - 1}", "ham"]])

    def progress(_done, _total, message):
        written = _raw(owner, "SELECT 1 FROM annotation WHERE datapoint_id = ?", (item,))
        if message.endswith(WRITTEN) and written and not done:
            report = import_dataset(
                owner, source, label_column="label", annotator="colleague", duplicates="skip"
            )
            done.append(report.attached)

    merge_bundle(owner, bundle, progress=progress)
    assert done == [1]
    rows = _raw(
        owner,
        "SELECT value, origin, run_id FROM annotation WHERE datapoint_id = ? AND annotator_id = ?",
        (item, them),
    )
    assert rows == [('"ham"', "imported", None)]
    history = _raw(owner, "SELECT value FROM annotation_history WHERE datapoint_id = ?", (item,))
    assert history == [('"spam"',)]  # the bundle's version
    _consistent(owner)
