"""Helpers for the bundle tests: a project with something in every table, a dump of every
row of every table by UUID (integer ids differ between files), and hostile-zip builders."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

from app.core.annotation.commands import AddComment, AddFlag, AnnotationState, SetAnnotations
from app.core.io.importer import import_dataset
from app.core.project import modelstore
from app.core.project.project import Project, update_schema
from app.core.quality.consensus import adjudicate
from app.core.quality.gold import mark_gold
from app.core.quality.qualification import create_qualification, qualification_result
from app.core.quality.review import add_custom_status, review
from app.core.team.assign import add_annotator, generate_tasks

# Tables that are facts about one file or derived indexes, not project data.
# write_run: this file's long writes in progress (migration 0008), never carried by a bundle;
# audit_pending: a merge's events on their way into the chain (0010), empty once it returns
NOT_PROJECT_DATA = {
    "alembic_version",
    "project_meta",
    "datapoint_fts_state",
    "write_run",
    "audit_pending",
}

DP = "(SELECT s.uuid || '/' || d.row FROM datapoint d JOIN dataset s ON s.id = d.dataset_id WHERE d.id = {col})"  # noqa: E501
WHO = "(SELECT uuid FROM annotator WHERE id = {col})"
SCHEMA = "(SELECT uuid FROM schema_version WHERE id = {col})"

QUERIES = {
    "project": "SELECT uuid, name, task_type, language, created_at, app_version FROM project",
    "project_input": "SELECT name, position, annotated FROM project_input",
    "annotator": "SELECT uuid, name, role, created_at FROM annotator",
    "schema_version": "SELECT uuid, version, labels, guidelines, allow_overlap, created_at, "
    + WHO.format(col="created_by")
    + " FROM schema_version",
    "dataset": "SELECT uuid, source_name, sha256, format, mapping, label_column, row_count,"
    " duplicate_count, imported_at, " + WHO.format(col="imported_by") + " FROM dataset",
    "datapoint": "SELECT s.uuid, d.row, d.text, d.context, d.status, d.flagged FROM datapoint d"
    " JOIN dataset s ON s.id = d.dataset_id",
    "annotation": "SELECT uuid, "
    + DP.format(col="datapoint_id")
    + ", "
    + WHO.format(col="annotator_id")
    + ", value, status, "
    + SCHEMA.format(col="schema_version_id")
    + ", time_spent_ms, origin, created_at, updated_at, synced_from FROM annotation",
    "annotation_label": "SELECT (SELECT uuid FROM annotation WHERE id = annotation_id), label, "
    + DP.format(col="datapoint_id")
    + " FROM annotation_label",
    "annotation_history": "SELECT uuid, annotation_uuid, "
    + DP.format(col="datapoint_id")
    + ", "
    + WHO.format(col="annotator_id")
    + ", value, status, "
    + SCHEMA.format(col="schema_version_id")
    + ", time_spent_ms, origin, created_at, updated_at, reason FROM annotation_history",
    "task": "SELECT uuid, "
    + DP.format(col="datapoint_id")
    + ", "
    + WHO.format(col="annotator_id")
    + ", kind, status, created_at FROM task",
    "comment": "SELECT uuid, "
    + DP.format(col="datapoint_id")
    + ", "
    + WHO.format(col="annotator_id")
    + ", body, created_at FROM comment",
    "flag": "SELECT uuid, "
    + DP.format(col="datapoint_id")
    + ", "
    + WHO.format(col="annotator_id")
    + ", reason, created_at, resolved_at FROM flag",
    "model_version": "SELECT uuid, created_at, label_count, metrics, format, artifact"
    " FROM model_version",
    "prediction": "SELECT "
    + DP.format(col="datapoint_id")
    + ", (SELECT uuid FROM model_version WHERE id = model_version_id), value, confidence, score"
    " FROM prediction",
    "adjudication": "SELECT uuid, "
    + DP.format(col="datapoint_id")
    + ", value, "
    + WHO.format(col="decided_by")
    + ", decided_at FROM adjudication",
    "review_decision": "SELECT uuid, annotation_uuid, "
    + DP.format(col="datapoint_id")
    + ", "
    + WHO.format(col="reviewer_id")
    + ", decision, reason, correction_uuid, created_at FROM review_decision",
    "custom_status": "SELECT uuid, name, counts_as, description, created_at FROM custom_status",
    "gold_item": "SELECT uuid, "
    + DP.format(col="datapoint_id")
    + ", value, "
    + WHO.format(col="created_by")
    + ", created_at FROM gold_item",
    "qualification_set": "SELECT uuid, name, pass_score, "
    + WHO.format(col="created_by")
    + ", created_at FROM qualification_set",
    "qualification_item": "SELECT (SELECT uuid FROM qualification_set WHERE id = set_id), "
    + DP.format(col="datapoint_id")
    + " FROM qualification_item",
    "qualification_result": "SELECT uuid, (SELECT uuid FROM qualification_set WHERE id = set_id), "
    + WHO.format(col="annotator_id")
    + ", score, correct, total, passed, "
    + WHO.format(col="recorded_by")
    + ", recorded_at FROM qualification_result",
    "audit_event": "SELECT uuid, at, "
    + WHO.format(col="actor_id")
    + ", action, entity, entity_uuid, before, after FROM audit_event",
}


def dump(path: Path, skip_actions: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every row of every project table, references spelled as UUIDs, sorted."""
    conn = sqlite3.connect(path)
    try:
        tables = {
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'datapoint_fts%'"
            )
        }
        missing = tables - set(QUERIES) - NOT_PROJECT_DATA
        assert not missing, f"tables the round-trip test does not compare: {missing}"
        out = {}
        for table, sql in QUERIES.items():
            rows = conn.execute(sql).fetchall()
            if table == "audit_event" and skip_actions:
                rows = [r for r in rows if r[3] not in skip_actions]
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def rich_project(make_project, tmp_path: Path) -> Project:
    """A project with rows in every table (a model version and predictions too)."""
    project = make_project(inputs=["text", "ward"])
    source = tmp_path / "notes.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for i in range(40):
            label = ("ham", "spam", "")[i % 3]
            text = f'note {i} émoji 👩‍⚕️ "quoted"\ttab' if i % 7 == 0 else f"note number {i}"
            handle.write(json.dumps({"text": text, "ward": f"w{i % 4}", "label": label}) + "\n")
    import_dataset(project, source, label_column="label", annotator="imported")
    second = tmp_path / "more.csv"
    second.write_text("text\nalpha\nbeta\ngamma\n", encoding="utf-8")
    import_dataset(project, second, mapping={"text": "text"})
    update_schema(project, guidelines="# Rules\nBe careful.")
    me = project.local_annotator_id
    alice = add_annotator(project, "alice")
    add_annotator(project, "bob", "reviewer")
    SetAnnotations(
        me, tuple((i, AnnotationState("spam", "complete", 1200)) for i in range(1, 6))
    ).apply(project)
    SetAnnotations(alice.id, ((2, AnnotationState("ham", "complete", 300)),)).apply(project)
    SetAnnotations(alice.id, ((3, AnnotationState(None, "skipped")),)).apply(project)
    SetAnnotations(me, ((41, AnnotationState(None, "draft")),)).apply(project)
    AddComment(2, me, "is this spam? ünïcode").apply(project)
    AddFlag(4, alice.id, "garbled").apply(project)
    AddFlag(5, me, "check").apply(project)
    with project.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE flag SET resolved_at = '2030-01-01T00:00:00.000+00:00' WHERE datapoint_id = 5"
        )
        conn.exec_driver_sql("UPDATE datapoint SET flagged = 0 WHERE id = 5")
        conn.exec_driver_sql(
            "INSERT INTO annotation_history (uuid, annotation_uuid, datapoint_id, annotator_id,"
            " value, status, schema_version_id, time_spent_ms, origin, created_at, updated_at,"
            " reason) VALUES (lower(hex(randomblob(16))), lower(hex(randomblob(16))), 1, ?,"
            " '\"ham\"', 'complete', 1, 5, 'human', '2020-01-01', '2020-01-02', 'conflict')",
            (me,),
        )
    generate_tasks(project, ["alice", "bob"], fraction=0.5, overlap_fraction=0.2, seed=3)
    version = modelstore.save_version(
        project, "tagloop-linear-1", b"PK\x03\x04 not really a model \x00\xff", 7, {"macro_f1": 0.5}
    )
    modelstore.write_predictions(
        project, version.id, [(i, "spam", 0.75, 0.1 * i) for i in range(1, 11)]
    )
    add_quality_rows(project)
    return project


def add_quality_rows(project: Project) -> None:
    """A row in every quality table: a custom status, a rejection with a correction, an
    adjudication, gold items, a qualification set and a recorded result."""
    add_custom_status(project, "unsure", "reject", "ask the lead")
    conn = sqlite3.connect(project.path)
    try:
        (alice_on_2,) = conn.execute(
            "SELECT a.uuid FROM annotation a JOIN annotator n ON n.id = a.annotator_id"
            " WHERE n.name = 'alice' AND a.datapoint_id = 2"
        ).fetchone()
    finally:
        conn.close()
    review(project, "bob", alice_on_2, "reject", "it is spam", correction="spam")
    adjudicate(project, 2, "bob", "spam")
    mark_gold(project, [1, 2], ["spam", "ham"])
    create_qualification(project, "intro", [1, 2], 0.5)
    qualification_result(project, project.local_annotator_id, "intro")


def rebuild_zip(
    source: Path,
    out: Path,
    replace: dict[str, bytes] | None = None,
    extra: list[tuple[zipfile.ZipInfo | str, bytes]] | None = None,
    manifest_edit=None,
    drop: tuple[str, ...] = (),
) -> Path:
    """A copy of a (clear) bundle with members replaced, added or dropped, or the manifest
    edited (checksums are not recomputed unless the edit does it)."""
    replace = replace or {}
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            data = replace.get(info.filename, zin.read(info.filename))
            if info.filename == "manifest.json" and manifest_edit is not None:
                manifest = json.loads(data)
                manifest_edit(manifest)
                data = json.dumps(manifest).encode()
            zout.writestr(info.filename, data)
        for name, data in extra or []:
            zout.writestr(name, data)
    return out
