"""Two loads at once take turns (issue 14, lock contention): an import or a merge that brings
new datapoints waits while another program of this machine is loading a dataset, since both
would take the same new datapoint ids; a loader of a process that has ended, or of another
machine, is not waited for. Nothing here asserts on time.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.core.bundle import export_project_bundle, open_bundle
from app.core.bundle.merge import merge_bundle
from app.core.errors import Cancelled
from app.core.io.datasets import list_datasets
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.storage import staging, visibility
from tests.fixtures_data import write_csv

ROOT = Path(__file__).resolve().parents[2]

# A child that imports in chunks of 5 rows and pauses after each chunk until the file named by
# its third argument exists, so the test decides when it may finish.
SLOW = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from app.core.io.importer import import_dataset
    from app.core.project.project import open_project
    from app.core.storage import staging

    staging.next_chunk = lambda *args, **kwargs: 5
    go = Path(sys.argv[3])

    def pause(done, total, message):
        if message.startswith("Reading"):
            print("chunk", flush=True)
            while not go.exists():
                time.sleep(0.02)

    with open_project(Path(sys.argv[1])) as project:
        report = import_dataset(project, Path(sys.argv[2]), label_column="label", progress=pause)
    print("published", report.rows, flush=True)
    """
)


def labelled(path: Path, n: int, prefix: str) -> Path:
    write_csv(path, [["text", "label"]] + [[f"{prefix} {i}", "ham"] for i in range(n)])
    return path


def _loading_row(path: Path, name: str, loader: str) -> None:
    """A dataset row in state LOADING with this loader tag, as an import would leave it."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(
            "INSERT INTO dataset (uuid, source_name, sha256, format, mapping, row_count,"
            " duplicate_count, imported_at, state, loader)"
            " VALUES (?, ?, '', 'csv', '{}', 0, 0, '2026-01-01T00:00:00Z', ?, ?)",
            (f"u-{name}", name, visibility.LOADING, loader),
        )
        conn.commit()
    finally:
        conn.close()


def test_only_a_live_loader_of_this_machine_is_waited_for(make_project):
    project = make_project()
    with project.engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert staging.other_live_load(raw) is None
    host, pid, start, began, _n = visibility.loader_tag().split("-")
    _loading_row(project.path, "ended.csv", f"{host}-{pid}-{int(start) + 1}-{began}")
    _loading_row(project.path, "elsewhere.csv", f"{host}x-1-1-{began}")
    with project.engine.connect() as conn:
        assert staging.other_live_load(conn.connection.driver_connection) is None
    left = visibility.loader_tag()  # this process, but no load of it is running
    _loading_row(project.path, "left.csv", left)
    with project.engine.connect() as conn:
        assert staging.other_live_load(conn.connection.driver_connection) is None
    running = visibility.loader_tag()  # another load of this process, under way
    _loading_row(project.path, "running.csv", running)
    with staging.load_running(running), project.engine.connect() as conn:
        assert staging.other_live_load(conn.connection.driver_connection) == "running.csv"
    with project.engine.connect() as conn:
        assert staging.other_live_load(conn.connection.driver_connection) is None


def test_a_load_this_process_left_behind_is_swept_but_a_running_one_is_kept(make_project):
    project = make_project()
    left, running = visibility.loader_tag(), visibility.loader_tag()
    assert left != running  # two loads of one process, even within one second
    _loading_row(project.path, "left.csv", left)
    _loading_row(project.path, "running.csv", running)
    with staging.load_running(running):
        swept = staging.sweep_abandoned(project.engine)
    assert [s.source_name for s in swept] == ["left.csv"]
    with project.engine.connect() as conn:
        names = [r[0] for r in conn.exec_driver_sql("SELECT source_name FROM dataset")]
    assert names == ["running.csv"]


def test_an_import_waits_its_turn_says_so_and_can_be_cancelled(make_project, tmp_path):
    project = make_project()
    running = visibility.loader_tag()
    _loading_row(project.path, "running.csv", running)
    said: list[str] = []

    def cancel_after_two_waits() -> bool:
        return len(said) >= 2

    with staging.load_running(running), pytest.raises(Cancelled):
        import_dataset(
            project,
            labelled(tmp_path / "second.csv", 10, "second"),
            label_column="label",
            progress=lambda _done, _total, message: said.append(message),
            cancel=cancel_after_two_waits,
        )
    assert said and all("Waiting for the import of running.csv" in m for m in said)
    with project.engine.connect() as conn:
        names = [r[0] for r in conn.exec_driver_sql("SELECT source_name FROM dataset")]
        assert names == ["running.csv"]  # the waiting import added nothing
        assert conn.exec_driver_sql("SELECT count(*) FROM datapoint").scalar() == 0


@pytest.mark.skipif(sys.platform == "win32", reason="a second process")
def test_two_imports_in_two_processes_both_land(make_project, tmp_path):
    project = make_project()
    import_dataset(project, labelled(tmp_path / "first.csv", 3, "old"), label_column="label")
    go = tmp_path / "go"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SLOW,
            str(project.path),
            str(labelled(tmp_path / "child.csv", 40, "child")),
            str(go),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    said: list[str] = []

    def let_the_child_finish(_done, _total, message) -> None:
        said.append(message)
        if message.startswith("Waiting"):
            go.touch()  # the child has been seen loading: let it publish

    try:
        assert child.stdout.readline().strip() == "chunk"  # the child holds a loading dataset
        report = import_dataset(
            project,
            labelled(tmp_path / "mine.csv", 25, "mine"),
            label_column="label",
            progress=let_the_child_finish,
        )
        go.touch()
        out, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0 and "published 40" in out
    assert any("Waiting for the import of child.csv" in m for m in said)
    assert report.rows == 25
    counts = {d.source_name: d.row_count for d in list_datasets(project)}
    assert counts == {"first.csv": 3, "child.csv": 40, "mine.csv": 25}
    with project.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM datapoint").scalar() == 68
        assert conn.exec_driver_sql("SELECT count(*) FROM annotation").scalar() == 68
        assert conn.exec_driver_sql("SELECT count(*) FROM dataset WHERE state <> 0").scalar() == 0


def test_a_merge_bringing_new_datasets_waits_for_a_running_import(make_project, tmp_path):
    owner = make_project()
    import_dataset(owner, labelled(tmp_path / "first.csv", 3, "old"), label_column="label")
    copy_path = tmp_path / "copy.tagloop"
    open_bundle(export_project_bundle(owner, tmp_path / "owner.tlbundle").path, copy_path)
    with open_project(copy_path) as copy:
        import_dataset(copy, labelled(tmp_path / "more.csv", 12, "more"), label_column="label")
        bundle = export_project_bundle(copy, tmp_path / "copy.tlbundle").path
    running = visibility.loader_tag()
    _loading_row(owner.path, "running.csv", running)
    said: list[str] = []
    with staging.load_running(running), pytest.raises(Cancelled):
        merge_bundle(
            owner,
            bundle,
            progress=lambda _d, _t, message: said.append(message),
            cancel=lambda: sum("Waiting" in m for m in said) >= 2,
        )
    assert any("Waiting for the import of running.csv" in m for m in said)
    with owner.engine.connect() as conn:
        names = sorted(r[0] for r in conn.exec_driver_sql("SELECT source_name FROM dataset"))
        assert names == ["first.csv", "running.csv"]  # the merge added nothing
    with owner.engine.begin() as conn:  # the running import ends (its rows never came)
        conn.exec_driver_sql("DELETE FROM dataset WHERE source_name = 'running.csv'")
    report = merge_bundle(owner, bundle)
    assert report.added["datapoints"] == 12
    assert sorted(d.source_name for d in list_datasets(owner)) == ["first.csv", "more.csv"]
