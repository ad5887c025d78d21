"""Two real processes on one project file.

- One holds the write lock the way a long import does, longer than one busy wait, while this
  process makes label saves through the real commands: nothing fails, nothing is lost, and
  the longest wait for a save is printed (bench/lock_contention.py does the same against a
  real 500k-row import).
- Two processes of the same annotator label the same datapoints at once: the read of the
  existing annotation happens under the write lock, so no UNIQUE(datapoint, annotator) race.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.io.importer import import_dataset
from app.core.storage import retry
from tests.unit.helpers import rows

ROOT = Path(__file__).resolve().parents[2]

HOLD = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    time.sleep(float(sys.argv[2]))
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO project_meta (key, value) VALUES ('held', 'yes')")
    print("locked", time.time(), flush=True)
    time.sleep(float(sys.argv[3]))
    conn.execute("ROLLBACK")
    print("released", time.time(), flush=True)
    """
)

# One annotator, in two processes: set then remove a label on each datapoint, many times.
SAME_IDENTITY = textwrap.dedent(
    """
    import sys
    from app.core.annotation.commands import AnnotationState, SetAnnotations
    from app.core.project.project import open_project
    project = open_project(sys.argv[1])
    me, ids, rounds = int(sys.argv[2]), [int(x) for x in sys.argv[3].split(",")], int(sys.argv[4])
    errors = 0
    for r in range(rounds):
        for dp in ids:
            state = AnnotationState("spam" if r % 2 else "ham", "complete")
            for change in (state, None, state):
                try:
                    SetAnnotations(me, ((dp, change),)).apply(project)
                except Exception as exc:
                    errors += 1
                    print(type(exc).__name__, exc, file=sys.stderr)
    project.close()
    print("errors", errors)
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def project(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "texts.txt"
    path.write_text("".join(f"text number {i}\n" for i in range(300)), encoding="utf-8")
    import_dataset(project, path)
    return project


def test_label_saves_outlast_a_lock_held_longer_than_the_busy_wait(project, monkeypatch):
    """The lock is held 3 s; SQLite's own wait is cut to 0.3 s per attempt (as 25 s of
    import outlast the app's 10 s), so only the retries carry the saves through it."""
    monkeypatch.setattr(retry, "ATTEMPT_WAIT", 0.3)
    me = project.local_annotator_id
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(project.path), "0.3", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    events: dict[str, float] = {}

    def read_holder() -> None:
        for line in holder.stdout:
            name, at = line.split()
            events[name] = float(at)

    reader = threading.Thread(target=read_holder, daemon=True)
    reader.start()
    saves = []  # (started, ended) wall-clock times
    for dp in range(1, 301):
        if dp == 50:  # from here on, saves are made while the other process holds the lock
            deadline = time.monotonic() + 60
            while "locked" not in events and time.monotonic() < deadline:
                time.sleep(0.01)
        state = AnnotationState("spam" if dp % 2 else "ham", "complete", 10)
        started = time.time()
        SetAnnotations(me, ((dp, state),)).apply(project)
        saves.append((started, time.time()))
    assert holder.wait(timeout=60) == 0
    reader.join(timeout=60)
    locked, released = events["locked"], events["released"]
    # Some save really waited out the lock: begun while held, done after it was released.
    assert any(start < released and end >= released and start >= locked for start, end in saves)
    longest = max(end - start for start, end in saves)
    print(f"\n300 saves under a 3 s held lock: longest wait {longest:.2f} s")
    assert rows(project, "SELECT count(*) FROM annotation WHERE status = 'complete'") == [(300,)]
    labelled = rows(project, "SELECT count(*) FROM datapoint WHERE status != 0")
    assert labelled == [(300,)]
    assert rows(project, "SELECT count(*) FROM audit_event WHERE action = 'annotate'") == [(300,)]


def test_two_processes_of_one_annotator_never_race_into_a_unique_error(project):
    me = project.local_annotator_id
    ids = ",".join(str(i) for i in range(1, 11))
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", SAME_IDENTITY, str(project.path), str(me), ids, "8"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert out.split()[-2:] == ["errors", "0"], err
    # Each datapoint ends with exactly one annotation of this annotator.
    assert rows(project, "SELECT count(*), count(DISTINCT datapoint_id) FROM annotation") == [
        (10, 10)
    ]
