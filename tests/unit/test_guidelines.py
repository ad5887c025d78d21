"""Guideline changes: the diff since an annotator's last acknowledged version, per annotator."""

from __future__ import annotations

from app.core.project.guidelines import (
    SEEN_PREFIX,
    acknowledge,
    changes_on_open,
    guideline_changes,
    seen_version,
)
from app.core.project.label_schema import LabelSpec
from app.core.project.project import update_schema
from tests.unit.helpers import rows
from tests.unit.quality_helpers import team

OLD = "# Spam\n\nSpam is unsolicited advertising.\nWhen unsure, choose ham.\n"
NEW = "# Spam\n\nSpam is unsolicited advertising or fraud.\nWhen unsure, choose ham.\n"


def test_first_time_annotator_has_nothing_to_read(make_project):
    project = make_project(guidelines=OLD)
    who = team(project, "alice")["alice"]
    assert seen_version(project, who) is None
    assert guideline_changes(project, who) is None
    assert changes_on_open(project, who) is None  # and acknowledges silently
    assert seen_version(project, who) == 1
    uuid = rows(project, "SELECT uuid FROM annotator WHERE id = ?", who)[0][0]
    assert rows(project, "SELECT value FROM project_meta WHERE key = ?", SEEN_PREFIX + uuid) == [
        ("1",)
    ]


def test_guideline_diff_and_acknowledgement_per_annotator(make_project):
    project = make_project(guidelines=OLD)
    who = team(project, "alice", "bob")
    for annotator in who.values():
        acknowledge(project, annotator)
    update_schema(project, guidelines=NEW, actor_id=who["alice"])

    for annotator in who.values():
        change = guideline_changes(project, annotator)
        assert change is not None
        assert (change.from_version, change.to_version) == (1, 2)
        assert change.diff[:2] == ["--- guidelines (version 1)", "+++ guidelines (version 2)"]
        assert "-Spam is unsolicited advertising." in change.diff
        assert "+Spam is unsolicited advertising or fraud." in change.diff
        assert " When unsure, choose ham." in change.diff
        assert not change.labels_changed
        assert change.summary() == "guidelines edited (+1 −1 lines)"

    assert acknowledge(project, who["alice"]) == 2
    assert guideline_changes(project, who["alice"]) is None
    assert guideline_changes(project, who["bob"]) is not None  # bob has not read them yet
    assert changes_on_open(project, who["bob"]) is not None  # and opening does not ack
    assert seen_version(project, who["bob"]) == 1

    # Two more versions: bob sees everything since version 1 at once.
    update_schema(project, guidelines=NEW + "Links to prize sites are spam.\n")
    update_schema(project, guidelines=NEW + "Links to prize sites are always spam.\n")
    change = guideline_changes(project, who["bob"])
    assert (change.from_version, change.to_version) == (1, 4)
    assert "+Links to prize sites are always spam." in change.diff
    assert not any("are spam." in line for line in change.diff)
    assert guideline_changes(project, who["alice"]).from_version == 2


def test_label_changes(make_project):
    project = make_project(labels=("ham", "spam", "unsure"), guidelines=OLD)
    who = team(project, "alice")["alice"]
    acknowledge(project, who)
    ham, spam, _unsure = project.schema.labels
    update_schema(
        project,
        labels=[
            LabelSpec("legit", ham.colour, ham.hotkey, ham.description),  # a rename
            LabelSpec(spam.name, spam.colour, "s", "Unsolicited or fraudulent"),
            LabelSpec("phishing", description="Asks for credentials or money"),
        ],
    )
    change = guideline_changes(project, who)
    assert change.diff == []
    assert change.renamed == [("ham", "legit")]
    assert change.removed == ["unsure"]
    assert change.added == ["phishing"]
    assert change.label_lines() == [
        "Added label “phishing”",
        "Removed label “unsure”",
        "Renamed label “ham” to “legit”",
        "Label “spam”: description (none) → “Unsolicited or fraudulent”",
        "Label “spam”: hotkey “2” → “s”",
    ]
    assert change.summary() == "5 label changes"


def test_a_version_without_differences_is_nothing_to_read(make_project):
    project = make_project(guidelines=OLD)
    who = team(project, "alice")["alice"]
    acknowledge(project, who)
    update_schema(project, guidelines=OLD)
    assert guideline_changes(project, who) is None


def test_the_next_assignment_bundle_shows_what_changed_since_the_annotators_work(
    make_project, tmp_path
):
    """Acknowledgements stay with a file, but the annotator's own earlier annotations travel:
    a second-round assignment bundle shows the changes since the version they worked under."""
    from app.core.annotation.commands import AnnotationState, SetAnnotations
    from app.core.bundle import (
        export_assignment_bundle,
        export_work_bundle,
        merge_bundle,
        open_bundle,
    )
    from app.core.io.importer import import_dataset
    from app.core.project.guidelines import changes_on_open
    from app.core.project.project import open_project
    from app.core.team import assign
    from tests.fixtures_data import write_csv

    owner = make_project()
    path = tmp_path / "items.csv"
    write_csv(path, [["text"], *[[f"item {i}"] for i in range(6)]])
    import_dataset(owner, path)
    ana = assign.add_annotator(owner, "ana")
    assign.generate_tasks(owner, ["ana"])
    first = export_assignment_bundle(owner, tmp_path / "r1.tlbundle", ana.uuid).path
    with open_project(open_bundle(first, tmp_path / "ana1.tagloop").path) as laptop:
        me = laptop.local_annotator_id
        assert changes_on_open(laptop, me) is None  # nothing read before, nothing to show
        ids = [r[0] for r in rows(laptop, "SELECT id FROM datapoint ORDER BY id")][:2]
        SetAnnotations(me, tuple((d, AnnotationState("ham", "complete")) for d in ids)).apply(
            laptop
        )
        work = export_work_bundle(laptop, tmp_path / "w1.tlbundle").path
    merge_bundle(owner, work)
    update_schema(owner, guidelines="# New rule\nPrize draws are spam.")
    second = export_assignment_bundle(owner, tmp_path / "r2.tlbundle", ana.uuid).path
    with open_project(open_bundle(second, tmp_path / "ana2.tagloop").path) as laptop:
        change = changes_on_open(laptop, laptop.local_annotator_id)
        assert change is not None
        assert (change.from_version, change.to_version) == (1, 2)
        assert "+Prize draws are spam." in change.diff
