"""Annotation commands: what each writes to the database, and that undo/redo restore it."""

from __future__ import annotations

import json

import pytest

from app.core import settings
from app.core.annotation.commands import (
    AddComment,
    AddFlag,
    AnnotationState,
    RemoveComment,
    RemoveFlag,
    SetAnnotations,
    load_item,
    load_items,
    read_states,
    record_reopen,
)
from app.core.errors import ProjectError
from app.core.ids import new_uuid
from app.core.io.datasets import remove_dataset
from app.core.io.importer import import_dataset
from app.core.project.annotators import ensure_annotator
from app.core.project.label_schema import LabelSpec
from app.core.project.project import update_schema
from tests.unit.helpers import rows, snapshot

TEXTS = ["Free prize call now", "see you at lunch", "call me later", "good night"]


def _import_lines(project, tmp_path, lines, name="a.txt"):
    path = tmp_path / name
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return import_dataset(project, path)


@pytest.fixture
def project(make_project, tmp_path):
    project = make_project()
    _import_lines(project, tmp_path, TEXTS)
    return project


def _set(project, changes, annotator=None, description="annotate"):
    who = project.local_annotator_id if annotator is None else annotator
    return SetAnnotations(who, tuple(changes), description).apply(project)


def _label(project, dp_id, value, status="complete", annotator=None, spent=0):
    return _set(project, [(dp_id, AnnotationState(value, status, spent))], annotator)


def _status(project, dp_id):
    return rows(project, "SELECT status FROM datapoint WHERE id = ?", dp_id)[0][0]


def _annotations(project):
    return rows(
        project,
        "SELECT datapoint_id, annotator_id, value, status, uuid FROM annotation ORDER BY id",
    )


def _labels(project):
    return rows(
        project,
        "SELECT al.datapoint_id, al.label FROM annotation_label al ORDER BY al.datapoint_id,"
        " al.label",
    )


def _state_of_db(project):
    """Everything an annotation command may change, for before/after comparisons."""
    return {
        "annotation": rows(
            project,
            "SELECT uuid, datapoint_id, annotator_id, value, status, time_spent_ms, origin"
            " FROM annotation ORDER BY uuid",
        ),
        "annotation_label": _labels(project),
        "datapoint": rows(project, "SELECT id, status, flagged FROM datapoint ORDER BY id"),
        "flag": rows(project, "SELECT uuid, datapoint_id, reason FROM flag ORDER BY uuid"),
        "comment": rows(project, "SELECT uuid, datapoint_id, body FROM comment ORDER BY uuid"),
    }


def _second_annotator(project, name="bob"):
    with project.engine.begin() as conn:
        return ensure_annotator(conn, new_uuid(), name, "annotator")


# --- SetAnnotations: what a label writes ---------------------------------------------------


def test_classification_label_writes_annotation_labels_status_and_audit(project):
    me = project.local_annotator_id
    audits_before = snapshot(project)["audit_event"]
    applied = _label(project, 2, "spam", spent=1234)

    [(dp, who, value, status, spent, origin, schema_id)] = rows(
        project,
        "SELECT datapoint_id, annotator_id, value, status, time_spent_ms, origin,"
        " schema_version_id FROM annotation",
    )
    assert (dp, who, json.loads(value), status, spent, origin) == (
        2,
        me,
        "spam",
        "complete",
        1234,
        "human",
    )
    assert schema_id == project.schema.id
    assert _labels(project) == [(2, "spam")]
    assert _status(project, 2) == 1
    assert [_status(project, i) for i in (1, 3, 4)] == [0, 0, 0]
    assert applied.statuses == {2: ("unlabeled", "labeled")}
    assert snapshot(project)["audit_event"] == audits_before + 1
    [(actor, action, entity, after)] = rows(
        project,
        "SELECT actor_id, action, entity, after FROM audit_event ORDER BY id DESC LIMIT 1",
    )
    assert (actor, action, entity) == (me, "annotate", "annotation")
    assert json.loads(after) == {"2": {"value": "spam", "status": "complete", "origin": "human"}}


def test_relabel_updates_in_place_and_reports_no_status_change(project):
    _label(project, 1, "spam")
    uuid = _annotations(project)[0][4]
    applied = _label(project, 1, "ham")
    [(dp, _who, value, status, uuid_after)] = _annotations(project)
    assert (dp, json.loads(value), status, uuid_after) == (1, "ham", "complete", uuid)
    assert _labels(project) == [(1, "ham")]
    assert applied.statuses == {}


def test_annotation_records_the_current_schema_version(project):
    _label(project, 1, "spam")
    first = project.schema.id
    update_schema(project, labels=[LabelSpec("ham"), LabelSpec("spam"), LabelSpec("eggs")])
    assert project.schema.id != first
    _label(project, 2, "eggs")
    _label(project, 1, "ham")  # an update moves the annotation to the new version
    got = dict(rows(project, "SELECT datapoint_id, schema_version_id FROM annotation"))
    assert got == {1: project.schema.id, 2: project.schema.id}


def test_undo_restores_exactly_and_redo_keeps_the_uuid(project):
    pristine = _state_of_db(project)
    applied = _label(project, 3, "ham", spent=50)
    labeled = _state_of_db(project)
    [(_dp, _who, _value, _st, uuid)] = _annotations(project)

    undone = applied.inverse.apply(project)
    assert _state_of_db(project) == pristine
    assert _annotations(project) == []
    assert _labels(project) == []
    assert _status(project, 3) == 0
    assert undone.statuses == {3: ("labeled", "unlabeled")}
    assert applied.inverse.description == "undo annotate"

    redone = undone.inverse.apply(project)
    assert _state_of_db(project) == labeled
    assert _annotations(project)[0][4] == uuid
    assert redone.statuses == {3: ("unlabeled", "labeled")}


def test_undo_of_an_edit_restores_the_previous_value(project):
    _label(project, 1, "spam", spent=10)
    first = _state_of_db(project)
    applied = _label(project, 1, "ham", spent=99)
    applied.inverse.apply(project)
    assert _state_of_db(project) == first


def test_bulk_command_over_500_datapoints_is_one_transaction_and_one_undo(make_project, tmp_path):
    project = make_project()
    _import_lines(project, tmp_path, [f"message number {i}" for i in range(500)])
    ids = [r[0] for r in rows(project, "SELECT id FROM datapoint ORDER BY id")]
    assert len(ids) == 500
    _label(project, ids[0], "ham")  # one already labeled before the bulk action
    before = _state_of_db(project)
    audits = snapshot(project)["audit_event"]

    applied = _set(
        project,
        [(i, AnnotationState("spam", "complete")) for i in ids],
        description="bulk label",
    )
    assert snapshot(project)["audit_event"] == audits + 1
    assert rows(project, "SELECT count(*) FROM annotation WHERE value = '\"spam\"'") == [(500,)]
    assert rows(project, "SELECT count(*) FROM datapoint WHERE status = 1") == [(500,)]
    assert len(applied.statuses) == 499  # the first one was labeled already
    assert ids[0] not in applied.statuses
    after = _state_of_db(project)

    undone = applied.inverse.apply(project)
    assert _state_of_db(project) == before
    assert len(undone.statuses) == 499
    undone.inverse.apply(project)
    assert _state_of_db(project) == after


def test_bulk_command_with_one_bad_change_changes_nothing(make_project, tmp_path):
    project = make_project()
    _import_lines(project, tmp_path, [f"row {i}" for i in range(50)])
    before = _state_of_db(project)
    counts = snapshot(project)
    changes = [(i, AnnotationState("spam", "complete")) for i in range(1, 50)]
    changes.append((50, AnnotationState("nonsense", "complete")))
    with pytest.raises(ProjectError, match="nonsense"):
        _set(project, changes)
    assert _state_of_db(project) == before
    assert snapshot(project) == counts


def test_chain_of_undo_redo_across_commands(project):
    states = [_state_of_db(project)]
    commands = []
    for dp_id, label in ((1, "spam"), (2, "ham"), (1, "ham"), (3, "spam")):
        commands.append(_label(project, dp_id, label).inverse)
        states.append(_state_of_db(project))
    redo = []
    for i in range(len(commands) - 1, -1, -1):  # undo everything, newest first
        redo.append(commands[i].apply(project).inverse)
        assert _state_of_db(project) == states[i]
    for i, command in enumerate(reversed(redo)):  # and redo it all
        command.apply(project)
        assert _state_of_db(project) == states[i + 1]


# --- statuses -----------------------------------------------------------------------------


def test_draft_is_not_labeled_and_has_no_label_rows(project):
    applied = _label(project, 1, "spam", status="draft")
    assert _annotations(project)[0][3] == "draft"
    assert _labels(project) == []
    assert _status(project, 1) == 0
    assert applied.statuses == {}
    _label(project, 2, None, status="draft")  # an empty draft is allowed too
    assert _status(project, 2) == 0
    # completing the draft makes it labeled
    assert _label(project, 1, "spam").statuses == {1: ("unlabeled", "labeled")}
    assert _labels(project) == [(1, "spam")]


@pytest.mark.parametrize(
    ("status", "code", "name"), [("skipped", 2, "skipped"), ("discarded", 3, "discarded")]
)
def test_skipped_and_discarded(project, status, code, name):
    applied = _label(project, 1, None, status=status)
    assert _status(project, 1) == code
    assert applied.statuses == {1: ("unlabeled", name)}
    assert _labels(project) == []
    applied.inverse.apply(project)
    assert _status(project, 1) == 0


def test_complete_replaced_by_skip_drops_label_rows(project):
    _label(project, 1, "spam")
    applied = _label(project, 1, None, status="skipped")
    assert _labels(project) == []
    assert applied.statuses == {1: ("labeled", "skipped")}


def test_status_derives_from_all_annotators(project):
    bob = _second_annotator(project)
    me = project.local_annotator_id
    _label(project, 1, None, status="skipped")
    assert _status(project, 1) == 2
    applied = _label(project, 1, "ham", annotator=bob)
    assert _status(project, 1) == 1
    assert applied.statuses == {1: ("skipped", "labeled")}
    # discarded outranks skipped, complete outranks both
    _label(project, 2, None, status="skipped")
    _label(project, 2, None, status="discarded", annotator=bob)
    assert _status(project, 2) == 3
    # each annotator has their own row; removing bob's leaves mine
    assert sorted((r[0], r[1]) for r in _annotations(project)) == [
        (1, me),
        (1, bob),
        (2, me),
        (2, bob),
    ]
    _set(project, [(1, None)], annotator=bob)
    assert _status(project, 1) == 2


def test_removing_a_missing_annotation_is_harmless(project):
    before = _state_of_db(project)
    applied = _set(project, [(1, None)])
    assert _state_of_db(project) == before
    assert applied.statuses == {}


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("eggs", "complete"),  # not in the schema
        (["spam"], "complete"),  # not one label
        (3, "complete"),
        (None, "complete"),  # complete needs a value
        ("spam", "skipped"),  # skipped carries no value
        ("spam", "discarded"),
        ("spam", "finished"),  # unknown status
        ("eggs", "draft"),  # drafts are validated too
    ],
)
def test_classification_refuses_bad_values(project, value, status):
    before = _state_of_db(project)
    with pytest.raises(ProjectError):
        _label(project, 1, value, status=status)
    assert _state_of_db(project) == before


@pytest.mark.parametrize(
    "value",
    ["ham", ["ham", "ham"], ["ham", "bacon"], {"ham": True}],
)
def test_multilabel_refuses_bad_values(make_project, tmp_path, value):
    project = make_project("multilabel", labels=("ham", "spam", "eggs"))
    _import_lines(project, tmp_path, TEXTS)
    before = _state_of_db(project)
    with pytest.raises(ProjectError):
        _label(project, 1, value)
    assert _state_of_db(project) == before


def test_multilabel_empty_list_is_an_answer(make_project, tmp_path):
    project = make_project("multilabel", labels=("ham", "spam", "eggs"))
    _import_lines(project, tmp_path, TEXTS)
    _label(project, 1, ["spam", "eggs"])
    assert _labels(project) == [(1, "eggs"), (1, "spam")]
    assert _label(project, 2, []).statuses == {2: ("unlabeled", "labeled")}
    assert _labels(project) == [(1, "eggs"), (1, "spam")]


@pytest.fixture
def spans_project(make_project, tmp_path):
    project = make_project("spans", labels=("PER", "LOC"))
    _import_lines(project, tmp_path, ["Ada lives in Paris", "Bob is in Rome"])
    return project


@pytest.mark.parametrize(
    "value",
    [
        "PER",
        {"start": 0, "end": 3, "label": "PER"},
        [{"start": 0, "end": 3}],
        [[0, 3, "PER"]],
        [{"start": 0, "end": 3, "label": "ORG"}],
    ],
)
def test_spans_refuse_bad_shapes(spans_project, value):
    before = _state_of_db(spans_project)
    with pytest.raises(ProjectError):
        _label(spans_project, 1, value)
    assert _state_of_db(spans_project) == before


def test_spans_label_rows_are_distinct(spans_project):
    value = [
        {"start": 0, "end": 3, "label": "PER"},
        {"start": 13, "end": 18, "label": "LOC"},
        {"start": 4, "end": 9, "label": "PER"},
    ]
    _label(spans_project, 1, value)
    assert _labels(spans_project) == [(1, "LOC"), (1, "PER")]
    item = load_item(spans_project, 1, spans_project.local_annotator_id)
    assert item.annotation.value == value


@pytest.mark.parametrize(
    "span",
    [
        {"start": 9, "end": 4, "label": "PER"},
        {"start": 0, "end": 99, "label": "PER"},
        {"start": "a", "end": None, "label": "PER"},
    ],
)
def test_spans_refuse_bad_offsets(spans_project, span):
    with pytest.raises(ProjectError):
        _label(spans_project, 1, [span])


def test_spans_refuse_overlap_when_schema_forbids_it(spans_project):
    assert not spans_project.schema.allow_overlap
    overlapping = [
        {"start": 0, "end": 9, "label": "PER"},
        {"start": 4, "end": 18, "label": "LOC"},
    ]
    with pytest.raises(ProjectError):
        _label(spans_project, 1, overlapping)


@pytest.mark.parametrize("kind", ["multilabel", "spans"])
def test_non_string_label_is_a_project_error(make_project, tmp_path, kind):
    project = make_project(kind, labels=("ham", "spam"))
    _import_lines(project, tmp_path, TEXTS)
    value = [5] if kind == "multilabel" else [{"start": 0, "end": 4, "label": 5}]
    with pytest.raises(ProjectError):
        _label(project, 1, value)


def test_deleted_datapoint_is_refused(project, tmp_path):
    report = _import_lines(project, tmp_path, ["gone soon", "also gone"], name="b.txt")
    gone = [r[0] for r in rows(project, "SELECT id FROM datapoint WHERE dataset_id = ?", 2)]
    remove_dataset(project, report.dataset_id)
    before = _state_of_db(project)
    with pytest.raises(ProjectError, match="no longer exists"):
        _set(
            project,
            [
                (1, AnnotationState("ham", "complete")),
                (gone[0], AnnotationState("ham", "complete")),
            ],
        )
    assert _state_of_db(project) == before
    with pytest.raises(ProjectError, match="no longer exists"):
        AddFlag(gone[1], project.local_annotator_id, "why").apply(project)


def test_comment_on_deleted_datapoint_is_a_project_error(project):
    with pytest.raises(ProjectError):
        AddComment(999, project.local_annotator_id, "hello?").apply(project)


# --- flags and comments -------------------------------------------------------------------


def _flagged(project, dp_id):
    return rows(project, "SELECT flagged FROM datapoint WHERE id = ?", dp_id)[0][0]


def test_flag_and_its_inverse(project):
    me = project.local_annotator_id
    applied = AddFlag(2, me, "  ambiguous  ").apply(project)
    [(uuid, dp, who, reason, resolved)] = rows(
        project, "SELECT uuid, datapoint_id, annotator_id, reason, resolved_at FROM flag"
    )
    assert (dp, who, reason, resolved) == (2, me, "ambiguous", None)
    assert _flagged(project, 2) == 1
    assert _flagged(project, 1) == 0
    assert isinstance(applied.inverse, RemoveFlag)
    assert rows(project, "SELECT action, entity_uuid FROM audit_event ORDER BY id DESC LIMIT 1")[
        0
    ] == ("flag", uuid)

    readded = applied.inverse.apply(project)
    assert rows(project, "SELECT count(*) FROM flag") == [(0,)]
    assert _flagged(project, 2) == 0
    assert rows(project, "SELECT action FROM audit_event ORDER BY id DESC LIMIT 1") == [("unflag",)]
    readded.inverse.apply(project)  # redo brings back the same flag
    assert rows(project, "SELECT uuid, reason FROM flag") == [(uuid, "ambiguous")]
    assert _flagged(project, 2) == 1


def test_removing_one_of_two_flags_keeps_the_datapoint_flagged(project):
    me = project.local_annotator_id
    bob = _second_annotator(project)
    first = AddFlag(1, me, "typo").apply(project)
    second = AddFlag(1, bob, "offensive").apply(project)
    first.inverse.apply(project)
    assert _flagged(project, 1) == 1
    assert rows(project, "SELECT reason FROM flag") == [("offensive",)]
    second.inverse.apply(project)
    assert _flagged(project, 1) == 0


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_flag_needs_a_reason(project, reason):
    before = _state_of_db(project)
    with pytest.raises(ProjectError):
        AddFlag(1, project.local_annotator_id, reason).apply(project)
    assert _state_of_db(project) == before


def test_comment_and_its_inverse(project):
    me = project.local_annotator_id
    applied = AddComment(3, me, " looks like spam ").apply(project)
    [(uuid, dp, who, body)] = rows(
        project, "SELECT uuid, datapoint_id, annotator_id, body FROM comment"
    )
    assert (dp, who, body) == (3, me, "looks like spam")
    assert isinstance(applied.inverse, RemoveComment)
    assert _status(project, 3) == 0  # a comment is not an annotation
    readd = applied.inverse.apply(project)
    assert rows(project, "SELECT count(*) FROM comment") == [(0,)]
    readd.inverse.apply(project)
    assert rows(project, "SELECT uuid, body FROM comment") == [(uuid, "looks like spam")]
    actions = [r[0] for r in rows(project, "SELECT action FROM audit_event ORDER BY id")]
    assert actions[-3:] == ["comment", "uncomment", "comment"]
    with pytest.raises(ProjectError):
        AddComment(3, me, "   ").apply(project)


def test_record_reopen_audits_the_annotation(project):
    me = project.local_annotator_id
    _label(project, 1, "spam")
    uuid = _annotations(project)[0][4]
    record_reopen(project, 1, me)
    [(actor, action, entity, entity_uuid, before)] = rows(
        project,
        "SELECT actor_id, action, entity, entity_uuid, before FROM audit_event"
        " ORDER BY id DESC LIMIT 1",
    )
    assert (actor, action, entity, entity_uuid) == (me, "reopen", "annotation", uuid)
    assert json.loads(before) == {"value": "spam", "status": "complete", "origin": "human"}
    record_reopen(project, 2, me)  # nothing there yet: still recorded
    assert rows(
        project, "SELECT action, entity_uuid, before FROM audit_event ORDER BY id DESC LIMIT 1"
    ) == [("reopen", None, None)]


# --- loading items ------------------------------------------------------------------------


def test_load_items_returns_what_the_editor_shows(make_project, tmp_path):
    project = make_project(inputs=["text", "subject"])
    path = tmp_path / "mail.csv"
    path.write_text("text,subject\nWin a car,Prize\nMeeting moved,Work\nhi,\n", encoding="utf-8")
    import_dataset(project, path)
    me = project.local_annotator_id
    bob = _second_annotator(project, "bob")
    _label(project, 1, "spam", spent=7)
    _label(project, 2, "ham", annotator=bob)
    AddFlag(1, bob, "check this").apply(project)
    AddComment(1, me, "first").apply(project)
    AddComment(1, bob, "second").apply(project)

    items = load_items(project, [1, 2, 3, 999], me)
    assert sorted(items) == [1, 2, 3]
    first = items[1]
    assert (first.id, first.dataset, first.row, first.text) == (1, "mail.csv", 1, "Win a car")
    assert first.context == {"subject": "Prize"}
    assert first.status == "labeled"
    assert first.flagged is True
    assert first.annotation.value == "spam"
    assert (first.annotation.status, first.annotation.time_spent_ms) == ("complete", 7)
    assert first.annotation.uuid == _annotations(project)[0][4]
    assert [(f.author, f.body) for f in first.flags] == [("bob", "check this")]
    me_name = settings.local_identity().name
    assert [(c.author, c.body) for c in first.comments] == [(me_name, "first"), ("bob", "second")]

    second = items[2]
    assert second.status == "labeled"  # by bob
    assert second.annotation is None  # but not by me
    assert load_item(project, 2, bob).annotation.value == "ham"
    assert (second.row, second.context, second.flags, second.comments) == (
        2,
        {"subject": "Work"},
        (),
        (),
    )
    assert items[3].text == "hi"
    assert items[3].flagged is False


def test_load_items_empty_and_missing(project):
    me = project.local_annotator_id
    assert load_items(project, [], me) == {}
    item = load_item(project, 4, me)
    assert (item.text, item.context, item.dataset, item.row) == ("good night", {}, "a.txt", 4)
    with pytest.raises(ProjectError, match="does not exist"):
        load_item(project, 999, me)


def test_read_states_only_reads_this_annotator(project):
    bob = _second_annotator(project)
    _label(project, 1, "spam")
    _label(project, 2, "ham", annotator=bob)
    with project.engine.connect() as conn:
        mine = read_states(conn, project.local_annotator_id, [1, 2, 3])
        bobs = read_states(conn, bob, [1, 2, 3])
    assert {k: v.value for k, v in mine.items()} == {1: "spam"}
    assert {k: v.value for k, v in bobs.items()} == {2: "ham"}
