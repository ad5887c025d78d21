"""The suspicious-labels verbs, without Qt: what is listed, keeping a label (a chained audit
event, read back), and a kept label leaving the list."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from app.core.audit.chain import verify_chain
from app.core.errors import TagloopError
from app.core.project import modelstore
from app.core.quality.suspicious import (
    KEPT_ACTION,
    KeptLabel,
    SuspiciousLabel,
    keep_label,
    kept_labels,
    suspicious_labels,
)
from tests.unit.quality_helpers import label, team, with_items

TEXTS = ["win a prize now", "see you at lunch", "call me back", "free entry, text WIN"]


@pytest.fixture
def labeled(make_project, tmp_path):
    """Four datapoints, three labeled ham by ana (the fourth unlabeled); a model version that
    lists them (and the fourth) in its own order."""
    project = make_project()
    ids = with_items(project, tmp_path, TEXTS)
    ana = team(project, "ana")["ana"]
    label(project, ana, {dp: "ham" for dp in ids[:3]})
    order = (ids[2], ids[1], ids[0], ids[3])
    ranked = [[dp, doubt, "spam"] for dp, doubt in zip(order, (0.95, 0.7, 0.9, 0.8), strict=True)]
    modelstore.save_version(project, "test-fixed", b"", 3, {"suspicious": ranked})
    return project, ids, ana


def test_no_model_lists_nothing(make_project):
    listed = suspicious_labels(make_project())
    assert listed.version_id is None and listed.labels == []


def test_the_list_follows_the_model_and_skips_unlabeled_items(labeled):
    project, ids, _ana = labeled
    listed = suspicious_labels(project)
    assert listed.version_id == modelstore.latest_version(project).id
    assert listed.labels == [
        SuspiciousLabel(ids[2], 0.95, "spam", "ham", TEXTS[2]),
        SuspiciousLabel(ids[1], 0.7, "spam", "ham", TEXTS[1]),
        SuspiciousLabel(ids[0], 0.9, "spam", "ham", TEXTS[0]),
    ]  # the model's ranking; ids[3] has no complete label and is left out


def test_keep_label_writes_one_chained_audit_event(labeled):
    project, ids, ana = labeled
    assert kept_labels(project) == set()
    kept = keep_label(project, ids[1], ana)
    assert kept == KeptLabel(ids[1], ana)
    assert str(ids[1]) in kept.summary()
    with project.engine.connect() as conn:
        events = conn.execute(
            text("SELECT actor_id, entity, entity_uuid, after FROM audit_event WHERE action = :a"),
            {"a": KEPT_ACTION},
        ).all()
    assert [(a, e, u, json.loads(after)) for a, e, u, after in events] == [
        (ana, "datapoint", None, {"datapoint": ids[1]})
    ]
    report = verify_chain(project)
    assert report.ok, report.summary()
    assert kept_labels(project) == {ids[1]}


def test_a_kept_label_leaves_the_list(labeled):
    project, ids, ana = labeled
    keep_label(project, ids[2], ana)
    keep_label(project, ids[0], None)
    assert [s.datapoint_id for s in suspicious_labels(project).labels] == [ids[1]]
    assert kept_labels(project) == {ids[0], ids[2]}
    assert verify_chain(project).ok


def test_keeping_an_unknown_datapoint_is_refused(labeled):
    project, _ids, ana = labeled
    with pytest.raises(TagloopError, match="No datapoint 999"):
        keep_label(project, 999, ana)
    assert kept_labels(project) == set()


def test_the_command_line_lists_and_keeps(labeled, capsys):
    from app.cli.main import main

    project, ids, _ana = labeled
    path = str(project.path)
    project.close()
    assert main(["suspicious", path, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["datapoint"] for row in listed["suspicious"]] == [ids[2], ids[1], ids[0]]
    assert listed["kept"] == []

    assert main(["suspicious", path, "--keep", str(ids[2]), "--annotator", "ana", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["kept"] == [ids[2]]
    assert [row["datapoint"] for row in after["suspicious"]] == [ids[1], ids[0]]

    assert main(["suspicious", path, "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 suspicious labels" in out and TEXTS[1] in out and TEXTS[0] not in out

    assert main(["suspicious", path, "--keep", "999999"]) != 0
    assert "No datapoint 999999" in capsys.readouterr().err
