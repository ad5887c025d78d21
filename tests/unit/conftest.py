"""Core tests: no Qt, an isolated config dir, and a project factory."""

from __future__ import annotations

import pytest

from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project


@pytest.fixture(autouse=True)
def _config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TAGLOOP_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def make_project(tmp_path):
    made = []

    def make(task_type="classification", labels=("ham", "spam"), **kwargs):
        path = tmp_path / f"p{len(made)}.tagloop"
        project = create_project(path, task_type, [LabelSpec(x) for x in labels], **kwargs)
        made.append(project)
        return project

    yield make
    for project in made:
        project.close()


@pytest.fixture
def bundled(make_project, tmp_path):
    """A rich project and a good bundle of it: what the hostile-bundle tests tamper with."""
    from app.core.bundle import export_project_bundle
    from tests.unit.bundle_helpers import rich_project

    project = rich_project(make_project, tmp_path)
    good = tmp_path / "good.tlbundle"
    export_project_bundle(project, good)
    return project, good
