"""Annotation queues: id snapshots, file and seeded random order, resume positions."""

from __future__ import annotations

import pytest

from app.core import settings
from app.core.annotation.browse import Query
from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.annotation.worklist import (
    Worklist,
    WorklistSpec,
    _Permutation,
    first_unfinished,
    save_position,
    saved_position,
)
from app.core.errors import ProjectError
from app.core.ids import new_uuid
from app.core.io.importer import import_dataset
from app.core.project.annotators import ensure_annotator
from tests.unit.helpers import rows


def _project_with(make_project, tmp_path, n, name="a.txt"):
    project = make_project()
    if n:
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}-{name}"
        path.write_text("".join(f"item {i}\n" for i in range(n)), encoding="utf-8")
        import_dataset(project, path)
    return project


def _ids(project):
    return [r[0] for r in rows(project, "SELECT id FROM datapoint ORDER BY id")]


def _label(project, dp_id, value="spam", status="complete", annotator=None):
    who = project.local_annotator_id if annotator is None else annotator
    SetAnnotations(who, ((dp_id, AnnotationState(value, status)),)).apply(project)


def _order(queue):
    return [queue.id_at(p) for p in range(len(queue))]


@pytest.fixture
def project(make_project, tmp_path):
    return _project_with(make_project, tmp_path, 60)


def test_queue_snapshot_does_not_shift_when_items_are_labeled(project):
    queue = Worklist(project, WorklistSpec(Query(status="unlabeled")))
    before = _order(queue)
    assert before == _ids(project)
    for dp_id in before[:10]:
        _label(project, dp_id)
    assert len(queue) == 60
    assert _order(queue) == before
    assert queue.position_of(before[5]) == 5
    # a new queue over the same filter sees only what is left
    fresh = Worklist(project, WorklistSpec(Query(status="unlabeled")))
    assert _order(fresh) == before[10:]


def test_default_spec_is_unlabeled_in_file_order(project):
    _label(project, 1)
    queue = Worklist(project)
    assert queue.spec == WorklistSpec(Query(status="unlabeled"), "file", 0)
    assert not queue.order_random
    assert _order(queue) == _ids(project)[1:]


def test_queue_follows_the_query_filter_and_sort(make_project, tmp_path):
    project = _project_with(make_project, tmp_path, 5)
    path = tmp_path / "b.txt"
    path.write_text("other one\nother two\n", encoding="utf-8")
    import_dataset(project, path)
    _label(project, 2)
    assert _order(Worklist(project, WorklistSpec(Query(status="labeled")))) == [2]
    assert _order(Worklist(project, WorklistSpec(Query(dataset_id=2)))) == [6, 7]
    assert _order(Worklist(project, WorklistSpec(Query(search="other")))) == [6, 7]
    descending = Worklist(project, WorklistSpec(Query(descending=True)))
    assert _order(descending) == [7, 6, 5, 4, 3, 2, 1]
    by_status = Worklist(project, WorklistSpec(Query(sort="status")))
    assert _order(by_status) == [1, 3, 4, 5, 6, 7, 2]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 100, 1000])
def test_random_order_is_a_reproducible_permutation(make_project, tmp_path, n):
    project = _project_with(make_project, tmp_path, n)
    everything = Query()
    file_queue = Worklist(project, WorklistSpec(everything, "file"))
    random_queue = Worklist(project, WorklistSpec(everything, "random", seed=7))
    assert random_queue.order_random
    assert len(file_queue) == len(random_queue) == n
    file_order, random_order = _order(file_queue), _order(random_queue)
    assert file_order == _ids(project)
    assert sorted(random_order) == file_order
    assert len(set(random_order)) == n
    if n >= 50:
        assert random_order != file_order
        other_seed = _order(Worklist(project, WorklistSpec(everything, "random", seed=8)))
        assert other_seed != random_order
        assert sorted(other_seed) == file_order
    assert _order(Worklist(project, WorklistSpec(everything, "random", seed=7))) == random_order
    for queue in (file_queue, random_queue):
        for position in range(n):
            assert queue.position_of(queue.id_at(position)) == position


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 16, 17, 100, 1000, 4097])
@pytest.mark.parametrize("seed", [0, 1, 123456789])
def test_permutation_is_a_bijection(n, seed):
    perm = _Permutation(n, seed)
    image = [perm(i) for i in range(n)]
    assert sorted(image) == list(range(n))
    assert [perm.inverse(j) for j in image] == list(range(n))
    if n >= 50:
        assert image != list(range(n))
        assert image != [_Permutation(n, seed + 1)(i) for i in range(n)]


def test_permutation_depends_only_on_n_and_seed():
    assert [_Permutation(300, 5)(i) for i in range(300)] == [
        _Permutation(300, 5)(i) for i in range(300)
    ]


def test_positions_out_of_range_and_unknown_ids(project):
    for order in ("file", "random"):
        queue = Worklist(project, WorklistSpec(Query(), order, seed=3))
        assert queue.position_of(10_000) is None
        assert queue.position_of(-1) is None
        for bad in (-1, len(queue), len(queue) + 5):
            with pytest.raises(IndexError):
                queue.id_at(bad)
    empty = Worklist(project, WorklistSpec(Query(status="skipped")))
    assert len(empty) == 0
    with pytest.raises(IndexError):
        empty.id_at(0)
    assert empty.position_of(1) is None


@pytest.mark.parametrize("order", ["active", "shuffled", ""])
def test_unsupported_orders_are_refused(project, order):
    with pytest.raises(ProjectError):
        Worklist(project, WorklistSpec(order=order))


@pytest.mark.parametrize(
    "spec",
    [
        WorklistSpec(),
        WorklistSpec(Query(status="flagged", label="ham", search="call me"), "random", 99),
        WorklistSpec(Query(dataset_id=2, sort="dataset", descending=True), "file", 0),
    ],
)
def test_spec_round_trips_through_a_dict(spec):
    data = spec.to_dict()
    assert data["order"] == spec.order
    assert data["seed"] == spec.seed
    assert WorklistSpec.from_dict(data) == spec


def test_saved_position_round_trip_per_project(make_project, tmp_path):
    first = _project_with(make_project, tmp_path, 5)
    second = _project_with(make_project, tmp_path, 5)
    assert saved_position(first) == (WorklistSpec(), None)
    spec = WorklistSpec(Query(status="labeled"), "random", 4)
    save_position(first, spec, 3)
    save_position(second, WorklistSpec(), 5)
    assert saved_position(first) == (spec, 3)
    assert saved_position(second) == (WorklistSpec(), 5)
    save_position(first, spec, 4)  # overwritten, not appended
    assert saved_position(first) == (spec, 4)
    # kept in the test's config dir, never the real home
    stored = settings.config_dir() / "preferences.json"
    assert stored.is_file()
    assert str(stored).startswith(str(tmp_path))


@pytest.mark.parametrize(
    "junk",
    [
        "text",
        3,
        [1, 2],
        {"datapoint": 4},
        {"queue": {"order": "file"}},  # no seed
        {"queue": {"query": "unlabeled", "seed": 0}},
        {"queue": {"query": {"colour": "red"}, "seed": 0}},
    ],
)
def test_saved_position_ignores_junk(make_project, tmp_path, junk):
    project = _project_with(make_project, tmp_path, 1)
    settings.set_preference(f"resume:{project.uuid}", junk)
    assert saved_position(project) == (WorklistSpec(), None)


@pytest.mark.parametrize("queue", [None, "file", [1]])
def test_saved_position_ignores_a_queue_entry_that_is_not_a_dict(make_project, tmp_path, queue):
    project = _project_with(make_project, tmp_path, 1)
    settings.set_preference(f"resume:{project.uuid}", {"queue": queue, "datapoint": 1})
    assert saved_position(project) == (WorklistSpec(), None)


def test_first_unfinished_skips_items_this_annotator_finished(make_project, tmp_path):
    project = _project_with(make_project, tmp_path, 6)
    with project.engine.begin() as conn:
        bob = ensure_annotator(conn, new_uuid(), "bob", "annotator")
    queue = Worklist(project, WorklistSpec(Query()))
    me = project.local_annotator_id
    assert first_unfinished(project, queue, me) == 0
    _label(project, 1)
    _label(project, 2, None, "skipped")
    _label(project, 3, None, "discarded")
    _label(project, 4, "ham", "draft")  # a draft is not finished
    _label(project, 5, annotator=bob)  # someone else's answer does not count
    assert first_unfinished(project, queue, me) == 3
    assert first_unfinished(project, queue, me, start=4) == 4
    _label(project, 4)
    assert first_unfinished(project, queue, me) == 4
    assert first_unfinished(project, queue, bob) == 0
    _label(project, 5)
    _label(project, 6)
    # all finished: stays at `start` (clamped to the queue)
    assert first_unfinished(project, queue, me) == 0
    assert first_unfinished(project, queue, me, start=2) == 2
    assert first_unfinished(project, queue, me, start=99) == 5


def test_first_unfinished_in_random_order(make_project, tmp_path):
    project = _project_with(make_project, tmp_path, 20)
    queue = Worklist(project, WorklistSpec(Query(), "random", seed=1))
    me = project.local_annotator_id
    for position in range(5):
        _label(project, queue.id_at(position))
    assert first_unfinished(project, queue, me) == 5
    empty = Worklist(project, WorklistSpec(Query(status="discarded")))
    assert first_unfinished(project, empty, me) == 0
