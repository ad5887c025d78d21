"""The density strategy in the model loop: pool scoring chunk by chunk, a pool sample kept on
the way, then the front re-ordered by priority * density (still diverse, still on top)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.io.importer import import_dataset
from app.ml import active, loop
from tests.fixtures_data import sms_rows, write_csv


@pytest.fixture
def sms_project(make_project, tmp_path):
    """200 real SMS, the first 120 labeled (ham/spam)."""
    project = make_project()
    path = tmp_path / "sms.csv"
    rows = sms_rows(200)
    write_csv(path, [["text"], *[[t] for t, _ in rows]])
    import_dataset(project, path)
    with project.engine.connect() as conn:
        ids = [row[0] for row in conn.execute(text("SELECT id FROM datapoint ORDER BY id"))]
    changes = tuple(
        (dp, AnnotationState(label, "complete"))
        for dp, (_t, label) in zip(ids[:120], rows[:120], strict=True)
    )
    SetAnnotations(project.local_annotator_id, changes).apply(project)
    return project


def _scores(project, version) -> list[float]:
    with project.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT score FROM prediction WHERE model_version_id = :v ORDER BY score DESC"),
            {"v": version.id},
        )
        return [row[0] for row in rows]


def test_density_scoring_in_chunks_keeps_a_diverse_front_on_top(sms_project, monkeypatch):
    monkeypatch.setattr(loop, "DIVERSE_FRONT", 30)
    monkeypatch.setattr(loop, "SCORE_CHUNK", 25)  # four chunks of the 80 unlabeled items
    samples: list[active.PoolSample] = []
    original = active.PoolSample.add

    def spy(self, texts):
        samples.append(self)
        original(self, texts)

    monkeypatch.setattr(active.PoolSample, "add", spy)
    version = loop.train_project(sms_project)
    assert loop.score_pool(sms_project, version, strategy="density") == 80
    scores = _scores(sms_project, version)
    assert len(scores) == 80
    assert all(s > 1.0 for s in scores[:30]) and all(s <= 1.0 for s in scores[30:])
    assert len(set(scores[:30])) == 30  # a strict order, no ties
    assert len(samples) >= 4 and samples[-1].seen == 80  # the whole pool streamed past


def test_balanced_scoring_keeps_no_pool_sample(sms_project, monkeypatch):
    monkeypatch.setattr(loop, "DIVERSE_FRONT", 30)
    called = []
    monkeypatch.setattr(active.PoolSample, "add", lambda self, texts: called.append(texts))
    version = loop.train_project(sms_project)
    assert loop.score_pool(sms_project, version, strategy="balanced") == 80
    assert not called
