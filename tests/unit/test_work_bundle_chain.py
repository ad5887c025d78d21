"""A work bundle carries its file's whole audit chain (bundle format 4), so the merge verifies it
from GENESIS: dropping its first events is refused, naming the event, as for a project bundle
(red team, session 6: a work bundle carried a stretch of the chain whose start nothing checked).
Returning work twice from one file still merges: the events the project has are checked against
its copies and not added again."""

from __future__ import annotations

import pytest

from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.audit.chain import verify_chain
from app.core.bundle import export_work_bundle, merge_bundle
from app.core.bundle.errors import BundleError
from app.core.project.project import open_project
from tests.fuzz import bundle_corpus


def _events(project) -> int:
    with project.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar()


def test_dropping_a_work_bundles_first_event_is_refused_naming_it(tmp_path):
    owner_file, work = bundle_corpus.make_kind_fixture(tmp_path, "work")
    case = bundle_corpus.Case("drop", bundle_corpus._structural("audit_events.jsonl", "drop-first"))
    bad = bundle_corpus.build(work, case, tmp_path / "dropped.tlbundle")
    with open_project(owner_file) as owner:
        before = _events(owner)
        with pytest.raises(BundleError, match=r"audit event .* the chain does not start here"):
            merge_bundle(owner, bad)
        assert _events(owner) == before  # nothing written
        merge_bundle(owner, work)  # the bundle as written merges
        assert _events(owner) > before
        assert verify_chain(owner).ok


def test_work_returned_twice_from_one_file_merges_each_event_once(tmp_path):
    owner_file, first = bundle_corpus.make_kind_fixture(tmp_path, "work")
    carol_file = tmp_path / "carol.tagloop"
    with open_project(owner_file) as owner:
        merge_bundle(owner, first)
        after_first = _events(owner)
    with open_project(carol_file) as carol:
        with carol.engine.connect() as conn:
            ids = [r[0] for r in conn.exec_driver_sql("SELECT datapoint_id FROM task")]
            carol_events = conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar()
        me = carol.local_annotator_id
        SetAnnotations(me, ((ids[5], AnnotationState("ham", "complete", 300)),)).apply(carol)
        second = tmp_path / "work2.tlbundle"
        export_work_bundle(carol, second)
        added = _events(carol) - carol_events  # the label and the export's own event
    with open_project(owner_file) as owner:
        merge_bundle(owner, second)
        # carol's events already merged are not added again; the new ones and the merge's are
        assert after_first < _events(owner) <= after_first + added + 1
        assert verify_chain(owner).ok
