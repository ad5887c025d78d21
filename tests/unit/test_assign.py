"""Annotators, task generation (exact counts), reassignment, and the team workflow end to end."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cli.main import main
from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.bundle import export_work_bundle, merge_bundle, open_bundle
from app.core.bundle.assignments import export_assignment_bundles
from app.core.errors import ProjectError
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.team.assign import (
    add_annotator,
    generate_tasks,
    list_annotators,
    reassign,
)


def with_items(make_project, tmp_path, n, labels=None):
    project = make_project()
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"items{n}.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            row = {"text": f"item {i}"}
            if labels:
                row["label"] = labels[i % len(labels)]
            handle.write(json.dumps(row) + "\n")
    import_dataset(project, path, label_column="label" if labels else None)
    return project


def tasks(project):
    return (
        project.engine.connect()
        .exec_driver_sql(
            "SELECT t.datapoint_id, a.name FROM task t JOIN annotator a ON a.id = t.annotator_id"
            " WHERE t.status = 'todo'"
        )
        .all()
    )


def team(project, names):
    for name in names:
        add_annotator(project, name)


def test_exact_overlap_counts(make_project, tmp_path):
    project = with_items(make_project, tmp_path, 100)
    team(project, ["a", "b", "c"])
    report = generate_tasks(
        project, ["a", "b", "c"], fraction=0.5, overlap_fraction=0.5, per_item=2, seed=7
    )
    assert (report.pool, report.selected, report.overlap_items, report.tasks) == (100, 50, 25, 75)
    assert report.per_annotator == {"a": 25, "b": 25, "c": 25}
    rows = tasks(project)
    per_item = Counter(dp for dp, _who in rows)
    assert Counter(per_item.values()) == {2: 25, 1: 25}
    assert len(set(rows)) == len(rows)  # never the same annotator twice on an item
    # The rest of the pool stays for a later round.
    again = generate_tasks(project, ["a"], fraction=1.0, seed=7)
    assert again.pool == 50 and again.tasks == 50


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(0, 60),
    fraction=st.floats(0, 1),
    overlap=st.floats(0, 1),
    people=st.integers(1, 4),
    per_item=st.integers(1, 4),
    seed=st.integers(0, 10),
)
def test_assignment_arithmetic(
    make_project, tmp_path_factory, n, fraction, overlap, people, per_item, seed
):
    per_item = min(per_item, people)
    project = with_items(make_project, tmp_path_factory.mktemp("a"), max(n, 1))
    n = max(n, 1)
    names = [f"p{i}" for i in range(people)]
    team(project, names)
    report = generate_tasks(
        project, names, fraction=fraction, overlap_fraction=overlap, per_item=per_item, seed=seed
    )
    import math

    selected = math.floor(fraction * n + 0.5 + 1e-9)
    overlapping = math.floor(overlap * selected + 0.5 + 1e-9)
    k = per_item if overlapping else 1
    assert report.selected == selected and report.overlap_items == overlapping
    assert report.tasks == overlapping * k + (selected - overlapping)
    rows = tasks(project)
    assert len(rows) == report.tasks and len(set(rows)) == len(rows)
    loads = Counter(who for _dp, who in rows)
    assert max(loads.values(), default=0) - min((loads[x] for x in names), default=0) <= 1


def test_same_seed_same_tasks_and_stratified_shares(make_project, tmp_path):
    picks = []
    for attempt in range(3):
        project = with_items(make_project, tmp_path / str(attempt), 90, ["ham", "ham", "spam"])
        team(project, ["a", "b"])
        report = generate_tasks(
            project, ["a", "b"], fraction=0.3, stratify="label", seed=5 if attempt < 2 else 6
        )
        assert report.strata == {"ham": 18, "spam": 9}  # 60 ham, 30 spam: 30% of each
        picks.append(sorted(tasks(project)))
    assert picks[0] == picks[1] and picks[0] != picks[2]


def test_stratified_by_dataset(make_project, tmp_path):
    project = with_items(make_project, tmp_path, 30)
    more = tmp_path / "more.jsonl"
    more.write_text("".join(json.dumps({"text": f"x{i}"}) + "\n" for i in range(10)))
    import_dataset(project, more)
    team(project, ["a"])
    report = generate_tasks(project, ["a"], fraction=0.5, stratify="dataset", seed=1)
    assert sorted(report.strata.values()) == [5, 15]


def test_refusals(make_project, tmp_path):
    project = with_items(make_project, tmp_path, 10)
    team(project, ["a", "b"])
    with pytest.raises(ProjectError, match="3 annotators per item needs at least 3"):
        generate_tasks(project, ["a", "b"], overlap_fraction=0.5, per_item=3)
    with pytest.raises(ProjectError, match="between 0 and 1"):
        generate_tasks(project, ["a"], fraction=1.5)
    with pytest.raises(ProjectError, match="no annotator named 'zed'"):
        generate_tasks(project, ["zed"])
    with pytest.raises(ProjectError, match="already exists"):
        add_annotator(project, "a")
    with pytest.raises(ProjectError, match="unknown role"):
        add_annotator(project, "c", "boss")


def test_reassign_open_work(make_project, tmp_path):
    project = with_items(make_project, tmp_path, 20)
    team(project, ["a", "b", "c"])
    generate_tasks(project, ["a", "b"], overlap_fraction=0.5, per_item=2, seed=2)
    before = Counter(who for _dp, who in tasks(project))
    a_items = {dp for dp, who in tasks(project) if who == "a"}
    b_items = {dp for dp, who in tasks(project) if who == "b"}
    report = reassign(project, "a", "b")
    assert report.moved == len(a_items - b_items)
    assert report.already_theirs == len(a_items & b_items)
    after = Counter(who for _dp, who in tasks(project))
    assert after["a"] == 0 and after["b"] == len(a_items | b_items)
    assert sum(before.values()) - sum(after.values()) == len(a_items & b_items)
    infos = {a.name: a for a in list_annotators(project)}
    assert infos["a"].open_tasks == 0 and infos["b"].open_tasks == len(a_items | b_items)
    with pytest.raises(ProjectError, match="same annotator"):
        reassign(project, "b", "b")


def test_team_of_three_end_to_end(make_project, tmp_path):
    """An owner, three annotators on their own machines, returned work merged back."""
    owner = with_items(make_project, tmp_path, 60)
    names = ["ana", "ben", "cy"]
    team(owner, names)
    plan = generate_tasks(owner, names, fraction=0.5, overlap_fraction=0.4, per_item=2, seed=9)
    assert (plan.selected, plan.overlap_items, plan.tasks) == (30, 12, 42)
    bundles = export_assignment_bundles(owner, tmp_path / "out", passphrase="team secret")
    assert sorted(r.path.name for r in bundles) == [f"p0-{n}.tlbundle" for n in names]
    returned = []
    for report in bundles:
        name = report.path.stem.split("-")[-1]
        machine = open_bundle(
            report.path, tmp_path / f"{name}.tagloop", passphrase="team secret"
        ).path
        with open_project(machine) as copy:
            me = copy.local_annotator_id
            ids = [r[0] for r in copy.engine.connect().exec_driver_sql("SELECT id FROM datapoint")]
            assert len(ids) == plan.per_annotator[name] == 14
            others = (
                copy.engine.connect()
                .exec_driver_sql("SELECT count(*) FROM task WHERE annotator_id != ?", (me,))
                .scalar()
            )
            assert others == 0
            label = "spam" if name != "ben" else "ham"
            SetAnnotations(me, tuple((i, AnnotationState(label, "complete")) for i in ids)).apply(
                copy
            )
            out = tmp_path / f"{name}-work.tlbundle"
            export_work_bundle(copy, out, passphrase="team secret")
            returned.append(out)
    reports = [merge_bundle(owner, path, passphrase="team secret") for path in returned]
    assert [r.added["annotations"] for r in reports] == [14, 14, 14]
    assert all(r.conflict_count == 0 for r in reports)
    infos = {a.name: a for a in list_annotators(owner)}
    assert all(infos[n].done_tasks == 14 and infos[n].open_tasks == 0 for n in names)
    labeled = (
        owner.engine.connect()
        .exec_driver_sql("SELECT count(*) FROM datapoint WHERE status = 1")
        .scalar()
    )
    assert labeled == 30
    # The overlap items labeled by two people are there to measure agreement.
    doubles = (
        owner.engine.connect()
        .exec_driver_sql(
            "SELECT count(*) FROM (SELECT datapoint_id FROM annotation GROUP BY datapoint_id"
            " HAVING count(*) = 2)"
        )
        .scalar()
    )
    assert doubles == 12


def test_cli_team_commands(make_project, tmp_path, capsys, monkeypatch):
    project = with_items(make_project, tmp_path, 10)
    path = str(project.path)
    project.close()
    assert main(["annotators", path, "--add", "dee", "--role", "reviewer"]) == 0
    assert main(["annotators", path, "--add", "eve"]) == 0
    assert (
        main(
            [
                "assign",
                path,
                "--annotators",
                "dee,eve",
                "--fraction",
                "1",
                "--overlap-fraction",
                "0.5",
                "--per-item",
                "2",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    assert "Assigned 10 of 10 items (5 to 2 annotators each): 15 tasks" in capsys.readouterr().out
    assert main(["assign", path, "--reassign", "dee", "--to", "eve"]) == 0
    monkeypatch.setenv("TAGLOOP_PASSPHRASE", "from the environment")
    assert main(["bundle", "assignments", path, str(tmp_path / "out")]) == 0
    assert main(["bundle", "export", path, str(tmp_path / "all.tlbundle")]) == 0
    assert main(["bundle", "inspect", str(tmp_path / "all.tlbundle"), "--json"]) == 0
    out = capsys.readouterr().out
    assert '"encrypted": true' in out
    assert (
        main(
            [
                "bundle",
                "open",
                str(tmp_path / "out" / "p0-eve.tlbundle"),
                str(tmp_path / "eve.tagloop"),
            ]
        )
        == 0
    )
    assert (
        main(["bundle", "return", str(tmp_path / "eve.tagloop"), str(tmp_path / "w.tlbundle")]) == 0
    )
    capsys.readouterr()
    assert main(["bundle", "merge", path, str(tmp_path / "w.tlbundle"), "--json"]) == 0
    (merged,) = json.loads(capsys.readouterr().out)
    assert merged["kind"] == "work" and merged["conflicts"] == 0
    monkeypatch.delenv("TAGLOOP_PASSPHRASE")
    assert main(["bundle", "merge", path, str(tmp_path / "w.tlbundle")]) == 1
    assert "give its passphrase" in capsys.readouterr().err
