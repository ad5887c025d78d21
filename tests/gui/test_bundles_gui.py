"""Bundles in the GUI, driven as a user would: export an encrypted project bundle and open it
elsewhere; register a team, share out the work, write assignment bundles; label in an
assignment, return the work, and merge it back (twice: the second merge changes nothing)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox
from sqlalchemy import text

from app.core.bundle import export_project_bundle, open_bundle
from app.core.io.importer import import_dataset
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.views.main_window import MainWindow
from app.views.team.bundles import (
    ExportBundleDialog,
    MergeDialog,
    OpenBundleDialog,
    file_is_encrypted,
)
from app.workers.write_job import writes_pending


def _ok(dialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


@pytest.fixture
def make_other():
    """A bundle of some other project."""

    def make(directory):
        other = create_project(directory / "other.tagloop", "classification", [LabelSpec("x")])
        out = directory / "other.tlbundle"
        export_project_bundle(other, out)
        other.close()
        return out

    return make


def _count(project, sql: str, **params) -> int:
    with project.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_encrypted_project_bundle_round_trip(qtbot, spam_project, sms_csv, tmp_path):
    import_dataset(spam_project, sms_csv, label_column="label")
    window = MainWindow(spam_project)
    qtbot.addWidget(window)
    dialog = window.export_bundle()
    out = tmp_path / "out" / "spam.tlbundle"
    dialog.path.edit.setText(str(out))
    dialog.passphrase.enabled.setChecked(True)
    dialog.passphrase.passphrase.setText("correct horse")
    dialog.passphrase.again.setText("correct hose")
    _ok(dialog)
    assert "differ" in dialog.message.text() and not out.exists()
    dialog.passphrase.again.setText("correct horse")
    with qtbot.waitSignal(dialog.exported, timeout=30_000):
        _ok(dialog)
    assert out.is_file() and file_is_encrypted(out)

    opener = OpenBundleDialog(out)
    qtbot.addWidget(opener)
    dest = tmp_path / "elsewhere" / "copy.tagloop"
    opener.dest.edit.setText(str(dest))
    opener.passphrase.passphrase.setText("wrong passphrase")
    _ok(opener)
    qtbot.waitUntil(lambda: opener.buttons.isEnabled(), timeout=30_000)
    assert "passphrase" in opener.message.text().lower()
    assert not dest.exists()
    opener.passphrase.passphrase.setText("correct horse")
    with qtbot.waitSignal(opener.opened, timeout=30_000) as opened:
        _ok(opener)
    report = opened.args[0]
    window._bundle_opened(report)
    assert window.project.path == dest
    assert _count(window.project, "SELECT count(*) FROM datapoint") == 60
    assert _count(window.project, "SELECT count(*) FROM annotation") == 60


def test_team_assignment_return_and_merge(qtbot, spam_project, sms_csv, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: None)
    import_dataset(spam_project, sms_csv)
    owner = MainWindow(spam_project)
    qtbot.addWidget(owner)
    team = owner.show_team()
    for name in ("alice", "bob"):
        qtbot.keyClicks(team.new_name, name)
        qtbot.keyClick(team.new_name, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not writes_pending(team), timeout=20_000)  # saved off the GUI
    names = [team.table.item(r, 0).text() for r in range(team.table.rowCount())]
    assert {"alice", "bob"} <= set(names)
    assert team.chosen() and len(team.chosen()) == 2  # new annotators are ticked
    team.overlap.setValue(50)
    with qtbot.waitSignal(team.changed, timeout=30_000):
        team.generate()
    tasks = _count(spam_project, "SELECT count(*) FROM task WHERE status = 'todo'")
    assert tasks == 60 + 30  # every item once, half of them twice
    assert "Assigned 60" in team.log.toPlainText()

    team.source.setCurrentText("bob")
    team.target.setCurrentText("alice")
    with qtbot.waitSignal(team.changed, timeout=30_000):
        team.reassign()
    bob_open = _count(
        spam_project,
        "SELECT count(*) FROM task t JOIN annotator a ON a.id = t.annotator_id"
        " WHERE a.name = 'bob' AND t.status = 'todo'",
    )
    assert bob_open == 0
    outdir = tmp_path / "bundles"
    team.outdir.edit.setText(str(outdir))
    with qtbot.waitSignal(team.changed, timeout=60_000):
        team.export()
    written = sorted(outdir.glob("*.tlbundle"))
    assert len(written) >= 1 and any("alice" in p.name for p in written)

    # alice opens her assignment on her machine, labels three items, and returns the work
    alice_bundle = next(p for p in written if "alice" in p.name)
    opened = open_bundle(alice_bundle, tmp_path / "alice" / "work.tagloop")
    laptop = MainWindow()
    qtbot.addWidget(laptop)
    assert laptop.open_project_path(opened.path)
    laptop.show_tab("annotate")
    for key in ("1", "2", "1"):
        qtbot.keyClick(laptop.editor, key)
    laptop.writer.flush()
    returned = laptop.return_work()
    work = tmp_path / "alice-work.tlbundle"
    returned.path.edit.setText(str(work))
    with qtbot.waitSignal(returned.exported, timeout=30_000):
        _ok(returned)
    assert work.is_file()

    # the owner merges it, then merges it again
    merge = owner.merge_work([work])
    with qtbot.waitSignal(merge.merged, timeout=30_000):
        _ok(merge)
    assert "added" in merge.result.toPlainText()
    merged = _count(
        owner.project,
        "SELECT count(*) FROM annotation n JOIN annotator a ON a.id = n.annotator_id"
        " WHERE a.name = 'alice' AND n.status = 'complete'",
    )
    assert merged == 3
    merge.files.addItem(str(work))
    with qtbot.waitSignal(merge.merged, timeout=30_000):
        _ok(merge)
    assert "nothing new" in merge.result.toPlainText()
    assert _count(owner.project, "SELECT count(*) FROM annotation WHERE status = 'complete'") == 3


def test_merging_another_projects_bundle_is_refused(qtbot, spam_project, tmp_path, make_other):
    other_bundle = make_other(tmp_path)
    merge = MergeDialog(spam_project, [other_bundle])
    qtbot.addWidget(merge)
    _ok(merge)
    qtbot.waitUntil(lambda: merge.buttons.isEnabled() and merge.job.done, timeout=30_000)
    assert "another project" in merge.message.text()
    assert _count(spam_project, "SELECT count(*) FROM annotation") == 0


def test_export_dialog_needs_a_long_enough_passphrase(qtbot, spam_project, tmp_path):
    dialog = ExportBundleDialog(spam_project)
    qtbot.addWidget(dialog)
    dialog.path.edit.setText(str(tmp_path / "x.tlbundle"))
    dialog.passphrase.enabled.setChecked(True)
    dialog.passphrase.passphrase.setText("short")
    dialog.passphrase.again.setText("short")
    _ok(dialog)
    assert "at least" in dialog.message.text()
    assert not (tmp_path / "x.tlbundle").exists()
