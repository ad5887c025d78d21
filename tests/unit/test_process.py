"""Worker processes: results, progress, cancel (cooperative and forced), errors, crashes."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from app.core.errors import Cancelled, ProjectError
from app.workers import process
from app.workers.process import ChildFailed, run_in_process

T = "tests.unit.process_targets"


def test_result_and_progress_come_back_from_another_process():
    seen = []
    result = run_in_process(f"{T}:count", 5, progress=lambda *a: seen.append(a))
    assert result["n"] == 5 and result["pid"] != os.getpid()
    assert seen[-1] == (5, 5, "counting")


def test_cancel_stops_the_child():
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    with pytest.raises(Cancelled):
        run_in_process(f"{T}:until_cancelled", cancel=stop.is_set)


def test_a_child_that_ignores_cancel_is_terminated(monkeypatch):
    monkeypatch.setattr(process, "GRACE_S", 0.5)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        run_in_process(f"{T}:ignores_cancel", cancel=stop.is_set)


def test_a_project_error_stays_a_project_error():
    with pytest.raises(ProjectError, match="not enough labels"):
        run_in_process(f"{T}:refuses")


def test_a_dying_child_is_reported():
    with pytest.raises(ChildFailed, match="exit code 3"):
        run_in_process(f"{T}:crashes")


def test_every_target_named_in_the_app_resolves():
    """Targets are named by string ("module:function"): a module moved or a function renamed
    must not leave a name that only fails in the child."""
    app = Path(__file__).resolve().parents[2] / "app"
    pattern = re.compile(r"[\"'](app(?:\.\w+)+:\w+)[\"']")
    targets = {
        name
        for path in app.rglob("*.py")
        for name in pattern.findall(path.read_text(encoding="utf-8"))
    }
    assert "app.ml.loop:train_and_score_file" in targets
    for target in sorted(targets):
        assert callable(process.resolve(target)), target
