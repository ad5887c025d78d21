"""Opening an older file: a copy first (only when a migration will run), then every migration in
one transaction, with progress and cancel. A failure or a cancel leaves the file as it was."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.errors import Cancelled, ProjectError
from app.core.project.project import open_project, upgrade_needed
from app.core.storage import db
from tests.unit.test_migrations_fixtures import counts, objects, unpack

FIRST = "0001-first-cli.tagloop.gz"


def backups(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".bak-" in p.name)


def test_an_up_to_date_file_is_not_copied(make_project, tmp_path):
    project = make_project()
    project.close()
    assert not upgrade_needed(project.path)
    with open_project(project.path) as again:
        assert again.schema_upgrade is None
    assert backups(tmp_path) == []


def test_the_copy_is_made_beside_the_file_and_opens_itself(tmp_path):
    path = unpack(FIRST, tmp_path)
    before = objects(path)
    with open_project(path) as project:
        upgraded = project.schema_upgrade
        assert "schema 0001" in upgraded.summary() and str(upgraded.backup) in upgraded.summary()
    assert backups(tmp_path) == [f"{path.name}.bak-0001"]  # no temporary file left
    assert objects(upgraded.backup) == before
    assert counts(upgraded.backup) == counts(path)
    # Restoring is renaming the copy back: it opens (and upgrades) like the original.
    restored = tmp_path / "restored.tagloop"
    upgraded.backup.rename(restored)
    with open_project(restored) as again:
        assert again.schema_upgrade.from_revision == "0001"


def test_progress_reports_the_copy_then_each_migration(tmp_path):
    path = unpack(FIRST, tmp_path)
    seen: list[tuple[int, int | None, str]] = []
    open_project(path, progress=lambda *event: seen.append(event)).close()
    messages = [message for _done, _total, message in seen]
    assert messages[0].startswith(f"Backing up {path.name}")
    steps = [m for m in messages if m.startswith(f"Upgrading {path.name}: schema")]
    assert steps == [
        f"Upgrading {path.name}: schema {r} done" for r in db.pending_revisions("0001")
    ]
    assert seen[-1][:2] == (len(steps), len(steps))


def _unchanged(path: Path, before: dict, data: dict) -> None:
    assert db.file_revision(path) == "0001"
    assert objects(path) == before
    assert counts(path) == data


def test_a_cancel_between_migrations_leaves_the_file_as_it_was(tmp_path):
    path = unpack(FIRST, tmp_path)
    before, data = objects(path), counts(path)
    stop = []

    def progress(_done, _total, message):
        if message.endswith("schema 0003 done"):
            stop.append(True)  # 0002 and 0003 have run inside the transaction

    with pytest.raises(Cancelled):
        open_project(path, progress=progress, cancel=lambda: bool(stop))
    _unchanged(path, before, data)
    with open_project(path) as again:  # and it upgrades on the next open
        assert db.current_revision(again.engine) == db.SCHEMA_HEAD


def test_a_cancel_during_the_copy_leaves_nothing_behind(tmp_path):
    path = unpack(FIRST, tmp_path)
    before = objects(path)
    with pytest.raises(Cancelled):
        open_project(path, cancel=lambda: True)
    assert backups(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    assert objects(path) == before


def test_a_migration_failing_midway_rolls_every_step_back(tmp_path):
    """0003 creates `custom_status` after two other tables: a file that already has one makes
    it fail there, after 0002 and half of 0003 ran. SQLite's DDL is transactional, and the
    upgrade is one transaction from its first statement, so none of it stays."""
    path = unpack(FIRST, tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE custom_status (x INTEGER)")
    conn.commit()
    conn.close()
    before, data = objects(path), counts(path)
    with pytest.raises(ProjectError) as caught:
        open_project(path)
    message = str(caught.value)
    assert str(path) in message and "schema 0001" in message and "unchanged" in message
    assert f"{path.name}.bak-0001" in message and "custom_status" in message
    _unchanged(path, before, data)
    assert ("table", "project_meta") not in objects(path)  # 0002's table went back too


def test_no_copy_no_upgrade(tmp_path):
    """Where the copy cannot be written, the file is not touched, and the user is told why."""
    path = unpack(FIRST, tmp_path)
    before = objects(path)
    (tmp_path / f"{path.name}.bak-0001").mkdir()  # the copy's name is taken by a folder
    with pytest.raises(ProjectError) as caught:
        open_project(path)
    assert "cannot keep a copy" in str(caught.value) and "unchanged" in str(caught.value)
    assert objects(path) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_a_newer_or_unknown_revision_is_refused_without_a_copy(tmp_path):
    for revision, expected in (("0099", "newer Tagloop"), ("abc", "unknown schema revision")):
        folder = tmp_path / revision
        folder.mkdir()
        path = unpack(FIRST, folder)
        conn = sqlite3.connect(path)
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        conn.commit()
        conn.close()
        assert not upgrade_needed(path)
        with pytest.raises(ProjectError, match=expected):
            open_project(path)
        assert backups(path.parent) == []


def test_upgrade_needed_is_false_for_what_is_not_a_project(tmp_path):
    junk = tmp_path / "junk.tagloop"
    junk.write_bytes(b"not a database at all")
    assert not upgrade_needed(junk)
    assert not upgrade_needed(tmp_path / "missing.tagloop")


def test_a_killed_upgrade_leaves_the_old_file(tmp_path):
    """A process killed in the middle of the upgrade: the next open finds the old revision and
    the old data (the WAL's uncommitted pages are discarded), and upgrades it again."""
    path = unpack(FIRST, tmp_path)
    before, data = objects(path), counts(path)
    script = (
        "import os, signal, sys\n"
        "from app.core.project.project import open_project\n"
        "def progress(done, total, message):\n"
        "    if message.endswith('schema 0004 done'):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "open_project(sys.argv[1], progress=progress)\n"
    )
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"}
    env["TAGLOOP_CONFIG_DIR"] = str(tmp_path / "config")
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], env=env, timeout=60, capture_output=True
    )
    assert done.returncode == -9, done.stderr.decode()
    _unchanged(path, before, data)
    with open_project(path) as again:
        assert db.current_revision(again.engine) == db.SCHEMA_HEAD
        assert counts(path) == data
