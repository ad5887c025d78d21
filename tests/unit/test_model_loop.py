"""The model loop without Qt: versions and predictions in the project, the model's queue
order, training from the project's labels, scoring the pool, `tagloop train/predict`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text

from app.cli.main import main as cli
from app.core.annotation.browse import Query
from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.annotation.worklist import Worklist, WorklistSpec
from app.core.errors import ProjectError
from app.core.io.importer import import_dataset
from app.core.project import modelstore
from app.core.storage import predictions
from app.ml import loop
from tests.fixtures_data import sms_rows, write_csv
from tests.unit.helpers import next_millisecond


def ids_of(project) -> list[int]:
    with project.engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT id FROM datapoint ORDER BY id"))]


@pytest.fixture
def sms_project(make_project, tmp_path):
    """200 real SMS, the first 120 labeled (ham/spam) by the local annotator."""
    project = make_project()
    path = tmp_path / "sms.csv"
    rows = sms_rows(200)
    write_csv(path, [["text"], *[[t] for t, _ in rows]])
    import_dataset(project, path)
    ids = ids_of(project)
    me = project.local_annotator_id
    changes = tuple(
        (dp, AnnotationState(label, "complete"))
        for dp, (_t, label) in zip(ids[:120], rows[:120], strict=True)
    )
    SetAnnotations(me, changes).apply(project)
    return project


def test_versions_and_predictions_round_trip(make_project, tmp_path):
    project = make_project("spans", labels=("Disease",))
    path = tmp_path / "t.txt"
    path.write_text("heart disease here\nnothing\n", encoding="utf-8")
    import_dataset(project, path)
    assert modelstore.latest_version(project) is None
    first = modelstore.save_version(project, "fmt-1", b"\x00bytes", 7, {"macro_f1": 0.5})
    second = modelstore.save_version(project, "fmt-1", b"more", 9, {"macro_f1": 0.7})
    assert [v.id for v in modelstore.versions(project)] == [first.id, second.id]
    assert modelstore.latest_version(project).score == 0.7
    assert modelstore.artifact(project, first.id) == b"\x00bytes"
    span = [{"start": 6, "end": 13, "label": "Disease"}]
    one, two = ids_of(project)
    modelstore.write_predictions(project, first.id, [(one, span, 0.4, 1.0)])
    modelstore.write_predictions(
        project, second.id, [(one, {"value": span, "span_scores": [0.8]}, 0.8, 0.2)]
    )
    assert modelstore.scored_version(project) == second.id
    found = modelstore.suggestions(project, [one, two], second.id)
    assert list(found) == [one]
    assert found[one].value == span and found[one].span_scores == [0.8]
    modelstore.drop_older_predictions(project, second.id)
    with project.engine.connect() as conn:
        versions = conn.execute(text("SELECT DISTINCT model_version_id FROM prediction")).all()
    assert versions == [(second.id,)]


def test_bulk_prediction_writes_keep_values_and_numbers(make_project, tmp_path):
    """The pool-scoring write path (one JSON text per chunk, numbers as fixed point) stores
    what it was given: any JSON value as it was, numbers to 1e-12; a non-finite number takes
    the row-by-row path rather than failing."""
    import numpy as np

    project = make_project("multilabel", labels=('say "hi"', "naïve", "c"))
    path = tmp_path / "t.txt"
    path.write_text("one\ntwo\nthree\n", encoding="utf-8")
    import_dataset(project, path)
    one, two, three = ids_of(project)
    version = modelstore.save_version(project, "fmt-1", b"x", 3, {})
    values = [json.dumps(v, ensure_ascii=False) for v in (['say "hi"', "naïve"], [], ["c"])]
    confidence = np.array([0.123456789012345, 1.0, 0.5])
    modelstore.write_prediction_arrays(
        project, version.id, [one, two, three], values, confidence, np.array([2.0, 0.0, 1e-9])
    )
    found = modelstore.suggestions(project, [one, two, three], version.id)
    assert [found[i].value for i in (one, two, three)] == [['say "hi"', "naïve"], [], ["c"]]
    assert found[one].confidence == pytest.approx(0.123456789012345, abs=1e-12)
    with project.engine.connect() as conn:
        scores = conn.exec_driver_sql("SELECT score FROM prediction ORDER BY datapoint_id").all()
    assert [row[0] for row in scores] == pytest.approx([2.0, 0.0, 1e-9], abs=1e-12)
    modelstore.write_prediction_arrays(
        project, version.id, [one], values[:1], np.array([0.5]), np.array([np.inf])
    )
    with project.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT confidence, score FROM prediction WHERE datapoint_id = ?", (one,)
        ).one()
    assert row == (0.5, float("inf"))


def test_storage_reads_the_pool_and_texts_in_bulk(sms_project, monkeypatch):
    """The raw-driver reads under the loop (app.core.storage.predictions)."""
    ids = ids_of(sms_project)
    with sms_project.engine.connect() as conn:
        pool = predictions.unlabeled_pool(conn)
        assert (pool.count, pool.low, pool.high) == (80, ids[120], ids[-1])
        rows = predictions.read_unlabeled(conn, ids[0], ids[124])
        assert [dp_id for dp_id, _text in rows] == ids[120:125]
        monkeypatch.setattr(predictions, "MAX_VARIABLES", 7)  # several chunks
        texts = predictions.texts_by_id(conn, ids[::-1])
        every = dict(conn.execute(text("SELECT id, text FROM datapoint")).all())
        assert predictions.texts_by_id(conn, []) == {}
    assert texts == every


def test_model_order_ranks_scored_items_first(sms_project):
    ids = ids_of(sms_project)
    unlabeled = ids[120:]
    version = modelstore.save_version(sms_project, "f", b"", 120, {"macro_f1": 0.9})
    scored = unlabeled[:50]
    modelstore.write_predictions(
        sms_project, version.id, [(dp, "ham", 0.5, float(i)) for i, dp in enumerate(scored)]
    )
    queue = Worklist(sms_project, WorklistSpec(Query(status="unlabeled"), order="active"))
    order = [queue.id_at(p) for p in range(len(queue))]
    assert order[:50] == list(reversed(scored))  # highest priority first
    assert order[50:] == unlabeled[50:]  # not scored yet: file order, after
    assert not queue.rerank_after(3)  # no newer version: nothing changes


def test_model_order_needs_a_scored_model(sms_project):
    with pytest.raises(ProjectError, match="train"):
        Worklist(sms_project, WorklistSpec(order="active"))


def test_training_set_takes_the_newest_complete_answer(sms_project):
    from app.core.project.annotators import ensure_annotator

    ids = ids_of(sms_project)
    with sms_project.engine.begin() as conn:
        other = ensure_annotator(conn, "b" * 32, "Bea", "annotator")
    next_millisecond()  # "after": not in the fixture's millisecond (the newest vote would tie)
    SetAnnotations(other, ((ids[0], AnnotationState("spam", "complete")),)).apply(sms_project)
    SetAnnotations(other, ((ids[150], AnnotationState(None, "skipped")),)).apply(sms_project)
    training = loop.training_set(sms_project)
    assert len(training.examples) == 120
    assert training.examples[0].value == "spam"  # Bea answered after the first annotator
    assert ids[150] not in training.datapoint_ids


def test_too_few_labels_is_a_clear_error(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "t.txt"
    path.write_text("".join(f"text {i}\n" for i in range(20)), encoding="utf-8")
    import_dataset(project, path)
    with pytest.raises(ProjectError, match="at least 10"):
        loop.train_project(project)
    me = project.local_annotator_id
    SetAnnotations(
        me, tuple((dp, AnnotationState("ham", "complete")) for dp in ids_of(project)[:12])
    ).apply(project)
    with pytest.raises(ProjectError, match="two labels"):
        loop.train_project(project)


def test_train_then_score_the_pool(sms_project):
    version = loop.train_project(sms_project)
    metrics = version.metrics
    assert version.label_count == 120
    assert 0.0 <= metrics["macro_f1"] <= 1.0
    assert set(metrics["per_label"]) >= {"ham", "spam"}
    assert isinstance(metrics["suspicious"], list)
    assert all(dp in ids_of(sms_project)[:120] for dp, _score, _v in metrics["suspicious"])
    model = loop.load_model(sms_project, version)  # the stored bytes load again
    assert model.predict(["WINNER! Claim your free prize now, call 09061701461"])[0].value in (
        "ham",
        "spam",
    )
    scored = loop.score_pool(sms_project, version)
    assert scored == 80
    with sms_project.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT datapoint_id, value, confidence, score FROM prediction")
        ).all()
    assert len(rows) == 80
    assert {json.loads(value) for _dp, value, _c, _s in rows} <= {"ham", "spam"}
    assert all(0.0 <= conf <= 1.0 and score is not None for _dp, _v, conf, score in rows)


def test_cli_train_and_predict(sms_project, tmp_path, capsys):
    path = str(sms_project.path)
    sms_project.close()
    assert cli(["train", path]) == 0
    out = capsys.readouterr().out
    assert "Model version 1: 120 labels" in out and "Scored 80 unlabeled" in out
    new = tmp_path / "new.csv"
    write_csv(new, [["text"], ["Free entry! Text WIN to 80086 now"], ["See you at lunch?"]])
    result = tmp_path / "out.jsonl"
    assert cli(["predict", path, str(new), "--output", str(result)]) == 0
    records = [json.loads(line) for line in result.read_text("utf-8").splitlines()]
    assert [r["text"] for r in records] == [
        "Free entry! Text WIN to 80086 now",
        "See you at lunch?",
    ]
    assert all(r["label"] in ("ham", "spam") and 0 <= r["confidence"] <= 1 for r in records)


def test_cli_start_up_does_not_import_the_ml_libraries():
    code = (
        "import sys; from app.cli.main import build_parser; build_parser();"
        " print(sorted(m for m in ('sklearn', 'spacy', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hybrid_scoring_puts_a_diverse_front_first(sms_project, monkeypatch):
    """After scoring with the default strategy the queue's front holds the most uncertain
    items in the hybrid's diverse order, above every other prediction."""
    monkeypatch.setattr(loop, "DIVERSE_FRONT", 30)  # of the 80 unlabeled items
    version = loop.train_project(sms_project)
    loop.score_pool(sms_project, version, strategy="hybrid")
    with sms_project.engine.connect() as conn:
        scores = [
            row[0]
            for row in conn.execute(
                text(
                    "SELECT score FROM prediction WHERE model_version_id = :v ORDER BY score DESC"
                ),
                {"v": version.id},
            )
        ]
    assert len(scores) == 80
    front = loop.DIVERSE_FRONT
    assert all(s > 1.0 for s in scores[:front])
    assert all(s <= 1.0 for s in scores[front:])
    assert len(set(scores[:front])) == front  # a strict order, no ties


def test_a_cancelled_rescore_keeps_the_previous_scores_until_a_full_one_replaces_them(
    sms_project, monkeypatch
):
    from app.core.errors import Cancelled

    def per_version() -> dict[int, int]:
        with sms_project.engine.connect() as conn:
            return dict(
                conn.exec_driver_sql(
                    "SELECT model_version_id, count(*) FROM prediction GROUP BY 1"
                ).all()
            )

    first = loop.train_project(sms_project)
    assert loop.score_pool(sms_project, first) == 80
    second = loop.train_project(sms_project)
    monkeypatch.setattr(loop, "SCORE_CHUNK", 10)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3  # stop after a few chunks

    with pytest.raises(Cancelled):
        loop.score_pool(sms_project, second, cancel=cancel)
    counts = per_version()
    assert counts[first.id] == 80  # the previous version's full order is still there
    assert 0 < counts.get(second.id, 0) < 80
    assert loop.score_pool(sms_project, second) == 80
    assert per_version() == {second.id: 80}
    with sms_project.engine.connect() as conn:
        by_score = [
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT datapoint_id FROM prediction WHERE model_version_id = ?"
                " ORDER BY score DESC, datapoint_id",
                (second.id,),
            )
        ]
    queue = Worklist(sms_project, WorklistSpec(order="active"))
    assert [queue.id_at(p) for p in range(len(queue))] == by_score
