"""A project bundle opened elsewhere is the same project: every row of every table."""

from __future__ import annotations

import json
import zipfile

import pytest

from app.core.bundle import (
    FORMAT_VERSION,
    BundleError,
    export_project_bundle,
    inspect_bundle,
    open_bundle,
)
from app.core.errors import Cancelled
from app.core.project.project import open_project
from tests.unit.bundle_helpers import dump, rebuild_zip, rich_project


@pytest.mark.parametrize("passphrase", [None, "correct horse ✓"])
def test_project_bundle_round_trip_is_identical(make_project, tmp_path, passphrase):
    project = rich_project(make_project, tmp_path)
    before = dump(project.path)
    out = tmp_path / "all.tlbundle"
    report = export_project_bundle(project, out, with_model=True, passphrase=passphrase)
    assert report.counts["datapoints"] == 43 and report.counts["predictions"] == 10
    opened = open_bundle(out, tmp_path / "copy", passphrase=passphrase)
    assert opened.path == tmp_path / "copy.tagloop"
    copy = dump(opened.path)
    source = dump(project.path)
    # The source gained its export event, the copy its open event; all else is identical.
    for table in source:
        if table != "audit_event":
            assert copy[table] == source[table], table
    assert {r[3] for r in set(source["audit_event"]) - set(copy["audit_event"])} == {
        "export-bundle"
    }
    assert {r[3] for r in set(copy["audit_event"]) - set(source["audit_event"])} == {"open-bundle"}
    assert set(before["audit_event"]) <= set(copy["audit_event"])
    for table, rows in before.items():
        assert rows, f"the fixture leaves {table} empty"
    with open_project(opened.path) as again:
        assert again.uuid == project.uuid
        assert again.local_annotator_id  # a project bundle keeps the local identity
        integrity = again.engine.connect().exec_driver_sql("PRAGMA foreign_key_check").all()
        assert integrity == []


def test_round_trip_without_model_leaves_model_behind(make_project, tmp_path):
    project = rich_project(make_project, tmp_path)
    export_project_bundle(project, tmp_path / "b.tlbundle")
    opened = open_bundle(tmp_path / "b.tlbundle", tmp_path / "c.tagloop")
    copy = dump(opened.path)
    assert copy["model_version"] == [] and copy["prediction"] == []
    assert copy["annotation"] == dump(project.path)["annotation"]


def test_manifest_members_and_no_code(make_project, tmp_path):
    project = rich_project(make_project, tmp_path)
    out = tmp_path / "b.tlbundle"
    export_project_bundle(project, out, with_model=True)
    manifest = inspect_bundle(out)
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["project_uuid"] == project.uuid and manifest["kind"] == "project"
    assert manifest["counts"]["annotations"] > 0
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert set(names) - {"manifest.json"} == set(manifest["members"])
        assert all(n.endswith((".json", ".jsonl", ".bin")) for n in names)
        for name in names:
            if name.endswith(".jsonl"):
                for line in zf.read(name).decode().splitlines():
                    assert isinstance(json.loads(line), dict)


def test_cancelled_export_leaves_no_file(make_project, tmp_path):
    project = rich_project(make_project, tmp_path)
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    out = tmp_path / "x.tlbundle"
    with pytest.raises(Cancelled):
        export_project_bundle(project, out, cancel=cancel)
    assert list(tmp_path.glob("*.tlbundle*")) == [] and list(tmp_path.glob(".x.tlbundle*")) == []


def test_failed_export_keeps_the_old_file(make_project, tmp_path, monkeypatch):
    project = rich_project(make_project, tmp_path)
    out = tmp_path / "x.tlbundle"
    out.write_bytes(b"old")
    with pytest.raises(Cancelled):
        export_project_bundle(project, out, cancel=lambda: True)
    assert out.read_bytes() == b"old"


def test_cancelled_or_failed_open_leaves_no_file(make_project, tmp_path):
    project = rich_project(make_project, tmp_path)
    export_project_bundle(project, tmp_path / "b.tlbundle")
    seen = []

    def progress(done, total, message):
        seen.append(message)

    def cancel():  # once the database is being written
        return any(m.startswith("Opening") and "annotations" in m for m in seen)

    with pytest.raises(Cancelled):
        open_bundle(
            tmp_path / "b.tlbundle", tmp_path / "d.tagloop", progress=progress, cancel=cancel
        )
    assert not (tmp_path / "d.tagloop").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".d.tagloop")] == []


def test_open_refuses_an_existing_destination(make_project, tmp_path):
    project = rich_project(make_project, tmp_path)
    export_project_bundle(project, tmp_path / "b.tlbundle")
    with pytest.raises(BundleError, match="already exists"):
        open_bundle(tmp_path / "b.tlbundle", project.path)


def test_newer_format_refused_older_read(make_project, tmp_path):
    project = rich_project(make_project, tmp_path)
    out = tmp_path / "b.tlbundle"
    export_project_bundle(project, out)

    def newer(manifest):
        manifest["format_version"] = FORMAT_VERSION + 1

    rebuild_zip(out, tmp_path / "new.tlbundle", manifest_edit=newer)
    with pytest.raises(BundleError, match=r"newer Tagloop.*update Tagloop") as err:
        open_bundle(tmp_path / "new.tlbundle", tmp_path / "n.tagloop")
    assert "new.tlbundle" in str(err.value)
    assert not (tmp_path / "n.tagloop").exists()
    # Every version up to the current one is read (version 1 is the first).
    for version in range(1, FORMAT_VERSION + 1):

        def older(manifest, version=version):
            manifest["format_version"] = version

        rebuild_zip(out, tmp_path / f"v{version}.tlbundle", manifest_edit=older)
        open_bundle(tmp_path / f"v{version}.tlbundle", tmp_path / f"v{version}.tagloop")


def test_work_bundle_cannot_be_opened_as_project(make_project, tmp_path):
    from app.core.bundle import export_work_bundle

    project = rich_project(make_project, tmp_path)
    export_work_bundle(project, tmp_path / "w.tlbundle")
    with pytest.raises(BundleError, match=r"work bundle.*merge it"):
        open_bundle(tmp_path / "w.tlbundle", tmp_path / "w.tagloop")
    assert not (tmp_path / "w.tagloop").exists()


def test_export_records_an_audit_event_with_the_hash(make_project, tmp_path):
    project = rich_project(make_project, tmp_path)
    report = export_project_bundle(project, tmp_path / "b.tlbundle")
    rows = (
        project.engine.connect()
        .exec_driver_sql("SELECT after FROM audit_event WHERE action = 'export-bundle'")
        .all()
    )
    assert json.loads(rows[-1][0])["sha256"] == report.sha256
    import hashlib

    assert hashlib.sha256((tmp_path / "b.tlbundle").read_bytes()).hexdigest() == report.sha256
