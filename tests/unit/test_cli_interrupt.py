"""Ctrl-C on the command line is Cancel for a reassignment and an automation run
(app.cli.interrupt): the first one asks the work to stop at its next check, so that one saved
before its last steps says it stands instead of "nothing was changed"; a second one
interrupts at once."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3

import pytest

from app.cli import interrupt
from app.cli.main import main
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.team.assign import add_annotator, generate_tasks


def test_the_first_ctrl_c_sets_the_cancel_check_and_the_second_interrupts():
    # Python's own handler, as in the command line (a library loaded by an earlier test of the
    # suite may have replaced it in this process)
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), interrupt.interrupt_cancels() as cancel:
            assert not cancel()
            os.kill(os.getpid(), signal.SIGINT)
            assert cancel()  # handled in the main thread before the next bytecode
            os.kill(os.getpid(), signal.SIGINT)  # the usual KeyboardInterrupt now
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, outer)


def test_a_cancel_after_the_move_is_saved_says_it_stands(
    make_project, tmp_path, capsys, monkeypatch
):
    project = make_project()
    source = tmp_path / "items.csv"
    source.write_text("text\n" + "".join(f"item {i}\n" for i in range(10)), encoding="utf-8")
    import_dataset(project, source)
    for name in ("ana", "ben"):
        add_annotator(project, name)
    generate_tasks(project, ["ana", "ben"])
    path = project.path
    project.close()

    def published() -> bool:  # Ctrl-C comes once the reassignment is saved
        return (
            rows(path, "SELECT count(*) FROM write_run WHERE kind = 'reassign' AND state = 0") > 0
        )

    @contextlib.contextmanager
    def ctrl_c_after_the_save():
        yield published

    monkeypatch.setattr(interrupt, "interrupt_cancels", ctrl_c_after_the_save)
    assert main(["assign", str(path), "--reassign", "ben", "--to", "ana"]) == 0
    out = capsys.readouterr().out
    assert "Reassigned 5 open tasks from ben to ana. Cancel came after the move was saved" in out
    marks = "SELECT count(*) FROM task WHERE close_run_id IS NOT NULL"
    cancelled = "SELECT count(*) FROM task WHERE status = 'cancelled'"
    assert rows(path, marks) == 5 and rows(path, cancelled) == 0  # counted closed already
    open_project(path).close()  # the next open finishes the close
    assert rows(path, marks) == 0 and rows(path, cancelled) == 5


def rows(path, sql: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()
