"""GUI test fixtures: an isolated config dir and a small classification project."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.views.gc_guard import GuiThreadCollector
from app.workers.job import wait_for_jobs


@pytest.fixture(autouse=True)
def _config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TAGLOOP_CONFIG_DIR", str(tmp_path / "config"))
    yield
    wait_for_jobs(10.0)


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread(qapp):
    """As in the app (app.views.gc_guard): no garbage collection on worker threads, where it
    could destroy Qt objects off their thread; a full collection after each test, here."""
    collector = GuiThreadCollector()
    yield
    collector.stop()
    collector.deleteLater()
    gc.collect()


@pytest.fixture
def spam_project(tmp_path):
    project = create_project(
        tmp_path / "spam.tagloop", "classification", [LabelSpec("ham"), LabelSpec("spam")]
    )
    yield project
    wait_for_jobs(10.0)
    project.close()


@pytest.fixture
def sms_csv(tmp_path):
    """A CSV of real SMS texts (and labels) from the shared data."""
    from tests.fixtures_data import sms_rows, write_csv

    path = tmp_path / "sms.csv"
    write_csv(path, [["message", "label"], *sms_rows(60)])
    return path
