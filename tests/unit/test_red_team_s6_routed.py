"""Red team, session 6: failures found in modules other engineers own this session, kept as
strict xfails for the lead to route (each passes once its module is fixed, and then the
xfail marker must go)."""

from __future__ import annotations

import contextlib

import pytest

from app.core.io.export import export_file
from app.core.io.importer import import_dataset
from tests.unit.test_red_team_s6 import heart_attack


def test_a_brat_export_of_a_label_with_a_no_break_space_reads_back(make_project, tmp_path):
    project = heart_attack(make_project, tmp_path, "heart\u00a0attack")
    out = tmp_path / "out.brat"
    export_file(project, out, fmt="brat")
    again = make_project("spans", ("D",))
    import_dataset(again, out, fmt="brat", add_labels=True)
    assert sorted(again.schema.label_names) == ["D", "heart_attack"]


@pytest.mark.parametrize(
    ("name", "content", "options"),
    [
        ("pipes.txt", "see x|a|y\nsecond\n", {}),
        ("pipes.jsonl", '{"id":1,"text":"cmd|t|x","label":[]}\n', {"fmt": "doccano"}),
    ],
)
def test_a_pipe_t_pipe_in_a_text_is_not_pubtator(make_project, tmp_path, name, content, options):
    project = make_project()
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert import_dataset(project, path, **options).rows >= 1


def test_a_brat_folder_never_imports_a_file_outside_itself(make_project, tmp_path):
    import os

    from app.core.errors import DataError

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Alice met Bob\n", encoding="utf-8")
    (folder / "a.ann").write_text("T1\tD 0 5\tAlice\n", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret key\n", encoding="utf-8")
    os.symlink(secret, folder / "b.txt")
    (folder / "b.ann").write_text("T1\tD 0 3\tthe\n", encoding="utf-8")
    project = make_project("spans", ("D",))
    with contextlib.suppress(DataError):  # refusing the folder is a fix too
        import_dataset(project, folder, fmt="brat")
    with project.engine.connect() as conn:
        texts = [row[0] for row in conn.exec_driver_sql("SELECT text FROM datapoint")]
    assert "the secret key\n" not in texts


def test_a_work_bundle_missing_its_first_audit_event_is_refused(tmp_path):
    from app.core.bundle import merge_bundle
    from app.core.bundle.errors import BundleError
    from app.core.project.project import open_project
    from tests.fuzz import bundle_corpus

    owner_file, work = bundle_corpus.make_kind_fixture(tmp_path, "work")
    case = bundle_corpus.Case("drop", bundle_corpus._structural("audit_events.jsonl", "drop-first"))
    bad = bundle_corpus.build(work, case, tmp_path / "dropped.tlbundle")
    with open_project(owner_file) as owner, pytest.raises(BundleError):
        merge_bundle(owner, bad)
