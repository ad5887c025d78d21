"""Worker in the loop (issue 12) in plain Python: train, automate, route, audit with some wrong
labels, the drift alert fires, automation stops until resumed; bad requests write nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from app.cli.main import main as cli
from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.annotation.stats import labeling_progress
from app.core.audit.chain import verify_chain
from app.core.audit.history import item_history
from app.core.errors import Cancelled, ProjectError
from app.core.io.export import iter_records
from app.core.io.importer import import_dataset
from app.core.project.project import open_project
from app.core.quality import automation
from app.core.quality.automation_status import AutomationStopped, automation_status
from app.core.quality.review import review
from app.core.report.figures import project_report
from app.core.team.assign import add_annotator
from app.ml import loop
from app.ml.automate import run
from tests.fixtures_data import sms_rows, write_csv

TARGET = 0.95


def counts(project) -> dict[str, int]:
    with project.engine.connect() as conn:
        return {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("annotation", "task", "audit_event", "project_meta")
        }


@pytest.fixture
def trained(make_project, tmp_path):
    """140 real SMS labelled by a person (a.csv) and a model trained on them; 60 more
    unlabelled (b.csv); an annotator and a reviewer."""
    project = make_project()
    rows = sms_rows(200)
    write_csv(tmp_path / "a.csv", [["text"], *[[t] for t, _ in rows[:140]]])
    write_csv(tmp_path / "b.csv", [["text"], *[[t] for t, _ in rows[140:]]])
    import_dataset(project, tmp_path / "a.csv")
    import_dataset(project, tmp_path / "b.csv")
    with project.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM datapoint ORDER BY id"))]
    changes = tuple(
        (dp, AnnotationState(label, "complete"))
        for dp, (_t, label) in zip(ids[:140], rows[:140], strict=True)
    )
    SetAnnotations(project.local_annotator_id, changes).apply(project)
    add_annotator(project, "ann", "annotator")
    add_annotator(project, "rita", "reviewer")
    loop.train_project(project)
    project.truth = {dp: label for dp, (_t, label) in zip(ids, rows, strict=True)}
    return project


def auto_labels(project) -> list[tuple[int, str, str]]:
    with project.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT a.datapoint_id, a.uuid, a.value FROM annotation a"
                " JOIN annotator n ON n.id = a.annotator_id"
                " WHERE a.origin = 'model' AND n.name = 'model' ORDER BY a.datapoint_id"
            )
        ).all()


def test_automate_routes_audits_and_the_drift_guard_stops_it(trained, tmp_path):
    project = trained
    plan = run.prepare(project, "b.csv", TARGET)
    assert plan.pool == 60 and plan.choice.threshold is not None and plan.stale is None
    outcome = run.automate(project, "b.csv", TARGET, actor_id=project.local_annotator_id)
    report = outcome.report
    labelled = auto_labels(project)
    assert len(labelled) == report.auto_labelled > 0 and report.routed == 60 - len(labelled)
    right = sum(json.loads(v) == project.truth[dp] for dp, _u, v in labelled)
    assert right / len(labelled) >= 0.9  # the real SMS labels agree

    with project.engine.connect() as conn:
        tasks = dict(conn.execute(text("SELECT kind, count(*) FROM task GROUP BY kind")).all())
        routed_to = {
            name
            for (name,) in conn.execute(
                text(
                    "SELECT DISTINCT n.name FROM task t JOIN annotator n ON n.id = t.annotator_id"
                    " WHERE t.kind = 'label'"
                )
            )
        }
        event = json.loads(
            conn.execute(text("SELECT after FROM audit_event WHERE action = 'automate'")).scalar()
        )
    # the uncertain items are the annotators' queue; the audit samples at least 50 (or all)
    assert tasks["label"] == report.routed and routed_to == {"ann"}
    assert tasks["review"] == min(50, len(labelled)) == report.audit_tasks
    assert event["target"] == TARGET and event["threshold"] == plan.choice.threshold
    assert event["auto_labelled"] == len(labelled) and event["model_version"]
    assert verify_chain(project).ok
    # the run's one event stands for its tasks: their UUIDs are its prefixes and a counter,
    # and no per-task event was chained (a million routed items stay one event)
    with project.engine.connect() as conn:
        uuids = dict(
            conn.execute(text("SELECT kind, group_concat(uuid) FROM task GROUP BY kind")).all()
        )
        task_events = conn.execute(
            text("SELECT count(*) FROM audit_event WHERE entity = 'task'")
        ).scalar_one()
    for kind, prefix in event["task_uuid_prefixes"].items():
        assert sorted(uuids[kind].split(",")) == [f"{prefix}{n:012x}" for n in range(tasks[kind])]
    assert task_events == 0

    # never a human label: not counted, not trained on, but exported with its model facts
    assert labeling_progress(project).labeled == 140
    assert labeling_progress(project).auto == len(labelled)
    assert len(loop.training_set(project).examples) == 140
    exported = {r["row"]: r for r in iter_records(project) if r["dataset"] == "b.csv"}
    auto_rows = [r for r in exported.values() if r["annotations"]]
    made = auto_rows[0]["annotations"][0]
    assert made["origin"] == "model" and made["annotator"] == "model"
    assert made["model_version"] == plan.version.uuid and made["confidence"] >= 0.9
    history = item_history(project, labelled[0][0])
    assert any(report.run_uuid in entry.note for entry in history)

    # the audit: the reviewer rejects most of the sample, and the drift alert fires
    for _dp, uid, _value in labelled[:12]:
        review(project, "rita", uid, "reject", reason="wrong")
    for _dp, uid, _value in labelled[12:15]:
        review(project, "rita", uid, "approve")
    status = automation_status(project)
    assert status.audited == 15 and status.audited_right == 3
    assert status.audited_interval[1] < TARGET and "drift" in status.alert
    assert status.promised_precision == TARGET and status.coverage == pytest.approx(
        len(labelled) / 60
    )
    # the report shows promised, audited (with its interval) and coverage side by side
    full = project_report(project)
    assert full.project.counts.labeled_datapoints == 140  # people's labels only
    shown = full.as_dict()["automation"]
    assert shown["promised_precision"] == TARGET and shown["audited"] == 15
    assert shown["audited_precision"] == pytest.approx(0.2) and len(shown["audited_interval"]) == 2
    assert shown["coverage"] == pytest.approx(len(labelled) / 60, abs=1e-4)
    assert "drift" in shown["alert"]
    # approved auto-labels become training data; rejected ones do not
    assert len(loop.training_set(project).examples) == 143

    # automation is stopped: the API, then the command line's exit status
    write_csv(tmp_path / "c.csv", [["text"], ["Free entry! Win a prize, text WIN now"]])
    import_dataset(project, tmp_path / "c.csv")
    before = counts(project)
    with pytest.raises(AutomationStopped):
        run.automate(project, "c.csv", TARGET)
    assert (
        cli(["automate", str(project.path), "--dataset", "c.csv", "--target-precision", "0.95"])
        == 3
    )
    assert cli(["automate", str(project.path), "--status"]) == 3
    after = counts(project)
    assert after["annotation"] == before["annotation"] and after["task"] == before["task"]

    # a person resumes it: the audit starts afresh
    assert cli(["automate", str(project.path), "--resume", "--note", "retrained"]) == 0
    assert automation_status(project).alert is None


def test_cli_automate_json_and_dry_run(trained, capsys):
    path = str(trained.path)
    assert (
        cli(
            [
                "automate",
                path,
                "--dataset",
                "b.csv",
                "--target-precision",
                "0.95",
                "--dry-run",
                "--json",
            ]
        )
        == 0
    )
    planned = json.loads(capsys.readouterr().out)
    assert planned["run"] is None and planned["threshold"] > 0.5
    assert not auto_labels(trained)
    assert (
        cli(
            [
                "automate",
                path,
                "--dataset",
                "2",
                "--target-precision",
                "0.95",
                "--audit-rate",
                "0.5",
                "--json",
            ]
        )
        == 0
    )
    done = json.loads(capsys.readouterr().out)
    assert done["auto_labelled"] == len(auto_labels(trained)) > 0
    assert done["audit_tasks"] == done["auto_labelled"]  # 50% but at least 50: all of them


def test_bad_requests_write_nothing(trained, make_project, tmp_path):
    before = counts(trained)
    for dataset, target, message in (
        ("b.csv", 0.5, "between 0.8 and 0.999"),
        ("b.csv", 1.0, "between 0.8 and 0.999"),
        ("nope.csv", 0.9, "no dataset 'nope.csv'"),
        ("a.csv", 0.9, "already labelled"),
    ):
        with pytest.raises(ProjectError, match=message):
            run.automate(trained, dataset, target)
    with pytest.raises(ProjectError, match="audit rate"):
        run.automate(trained, "b.csv", 0.9, audit_rate=2.0)
    assert counts(trained) == before

    # a cancelled run leaves no partial labels
    with pytest.raises(Cancelled):
        run.automate(trained, "b.csv", 0.9, cancel=lambda: True)
    assert not auto_labels(trained) and counts(trained)["task"] == before["task"]

    # no model: a clear error, nothing written
    bare = make_project()
    write_csv(tmp_path / "d.csv", [["text"], ["hello"]])
    import_dataset(bare, tmp_path / "d.csv")
    with pytest.raises(ProjectError, match="no model"):
        run.automate(bare, "d.csv", 0.9)
    assert cli(["automate", str(bare.path), "--dataset", "d.csv", "--target-precision", "0.9"]) == 1


def test_stale_model_warns_and_no_threshold_writes_nothing(trained, capsys):
    with trained.engine.connect() as conn:
        first = conn.execute(text("SELECT min(id) FROM datapoint")).scalar()
    SetAnnotations(
        trained.local_annotator_id, ((first, AnnotationState("spam", "complete")),)
    ).apply(trained)
    assert "older than the newest labels" in run.prepare(trained, "b.csv", 0.9).stale
    code = cli(["automate", str(trained.path), "--dataset", "b.csv", "--target-precision", "0.999"])
    captured = capsys.readouterr()
    assert "warning" in captured.err and "older than the newest labels" in captured.err
    assert code == 2 and "nothing would be auto-labelled" in captured.out
    assert not auto_labels(trained)


def test_a_label_of_the_model_versions_millisecond_makes_it_stale(trained):
    """Timestamps have millisecond resolution, and a version is stamped after training read
    its labels: a label stamped in that same millisecond came later, and is not in the model
    (the CI flake: a label saved right after training tied with the version's stamp)."""
    from app.core.project.modelstore import latest_version

    version = latest_version(trained)
    assert run.staleness(trained, version) is None  # every label is older than the version
    with trained.engine.begin() as conn:
        first = conn.execute(text("SELECT min(id) FROM annotation")).scalar_one()
        conn.execute(
            text("UPDATE annotation SET updated_at = :at WHERE id = :id"),
            {"at": version.created_at, "id": first},
        )
    assert "older than the newest labels" in run.staleness(trained, version)


def test_write_run_refuses_items_labelled_meanwhile(trained):
    plan = run.prepare(trained, "b.csv", TARGET)
    with trained.engine.connect() as conn:
        one = conn.execute(
            text("SELECT id FROM datapoint WHERE dataset_id = 2 ORDER BY id LIMIT 1")
        ).scalar()
    stale_plan = automation.RunPlan(
        plan.version.id,
        plan.version.uuid,
        2,
        "b.csv",
        TARGET,
        0.95,
        0.9,
        0.97,
        0.5,
        auto=[(one, '"ham"', 0.99)],
        routed=[],
    )
    SetAnnotations(trained.local_annotator_id, ((one, AnnotationState("ham", "complete")),)).apply(
        trained
    )
    with pytest.raises(ProjectError, match="labelled or removed while the run was prepared"):
        automation.write_run(trained, stale_plan)
    assert not auto_labels(trained)


def test_auto_labels_travel_in_a_bundle(trained, tmp_path):
    """The built-in annotator `model` and its auto-labels open on another machine."""
    from app.core.bundle import export_project_bundle, open_bundle

    run.automate(trained, "b.csv", TARGET, actor_id=trained.local_annotator_id)
    made = auto_labels(trained)
    bundle = tmp_path / "out.tagloop-bundle"
    export_project_bundle(trained, bundle)
    opened = open_bundle(bundle, tmp_path / "copy")
    with open_project(opened.path) as copy:
        assert [(dp, uid) for dp, uid, _v in auto_labels(copy)] == [
            (dp, uid) for dp, uid, _v in made
        ]
        assert verify_chain(copy).ok


def test_a_run_cancelled_while_writing_leaves_nothing(trained):
    plan = run.prepare(trained, "b.csv", TARGET)
    with trained.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM datapoint WHERE dataset_id = 2"))]
    before = counts(trained)
    doomed = automation.RunPlan(
        plan.version.id,
        plan.version.uuid,
        2,
        "b.csv",
        TARGET,
        0.95,
        0.5,
        0.97,
        1.0,
        auto=[(dp, '"ham"', 0.99) for dp in ids],
        routed=[],
    )
    with pytest.raises(Cancelled):
        automation.write_run(trained, doomed, cancel=lambda: True)
    assert counts(trained) == before and not auto_labels(trained)
    with trained.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM datapoint WHERE status = 1")).scalar() == 140


def test_cli_input_imports_the_file_then_automates_it(trained, tmp_path, capsys):
    rows = sms_rows(200)[170:]
    write_csv(tmp_path / "new.csv", [["text"], *[[t] for t, _ in rows]])
    code = cli(
        [
            "automate",
            str(trained.path),
            "--input",
            str(tmp_path / "new.csv"),
            "--target-precision",
            "0.9",
            "--json",
        ]
    )
    done = json.loads(capsys.readouterr().out)
    assert code == 0 and done["dataset"] == "new.csv"
    assert done["auto_labelled"] + done["routed"] == len(rows)


def _make_stale(project) -> None:
    """A person labels one more item after the model was trained."""
    with project.engine.connect() as conn:
        first = conn.execute(text("SELECT min(id) FROM datapoint")).scalar()
    SetAnnotations(
        project.local_annotator_id, ((first, AnnotationState("spam", "complete")),)
    ).apply(project)


def _versions(project) -> int:
    with project.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM model_version")).scalar_one()


def test_cli_input_warns_of_a_stale_model_and_retrains_on_request(trained, tmp_path, capsys):
    rows = sms_rows(200)[170:]
    write_csv(tmp_path / "new.csv", [["text"], *[[t] for t, _ in rows]])
    write_csv(tmp_path / "more.csv", [["text"], *[[t] for t, _ in rows]])
    _make_stale(trained)
    base = ["automate", str(trained.path), "--target-precision", "0.9", "--json"]
    assert cli([*base, "--input", str(tmp_path / "new.csv")]) == 0
    captured = capsys.readouterr()
    assert "warning" in captured.err and "older than the newest labels" in captured.err
    assert _versions(trained) == 1
    assert cli([*base, "--input", str(tmp_path / "more.csv"), "--retrain"]) == 0
    captured = capsys.readouterr()
    assert "retraining first" in captured.err and "warning" not in captured.err
    assert _versions(trained) == 2  # the run used the new version
    with trained.engine.connect() as conn:
        newest = conn.execute(text("SELECT uuid FROM model_version ORDER BY id DESC")).first()[0]
    assert json.loads(captured.out)["model_version"] == newest


def test_cli_input_dry_run_is_refused_before_any_import(trained, tmp_path, capsys):
    write_csv(tmp_path / "new.csv", [["text"], ["hello there"]])
    before = counts(trained)
    code = cli(
        [
            "automate",
            str(trained.path),
            "--input",
            str(tmp_path / "new.csv"),
            "--target-precision",
            "0.9",
            "--dry-run",
        ]
    )
    assert code == 1 and "import it first" in capsys.readouterr().err
    assert counts(trained) == before


def test_report_counts_people_and_auto_labels_apart(trained):
    outcome = run.automate(trained, "b.csv", TARGET, actor_id=trained.local_annotator_id)
    auto = outcome.report.auto_labelled
    assert auto > 0
    report = project_report(trained)
    assert report.project.counts.annotations == 140  # people's, not the model's
    assert report.project.counts.annotators == 1
    assert report.automation.auto_labels_total == auto
