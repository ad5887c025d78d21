"""The span model in the loop, without Qt: the quick update after a completed document, and
the retrain of a span model saved before the CRF (issue #17)."""

from __future__ import annotations

import json

from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.io.importer import import_dataset
from app.core.project import modelstore
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.ml import loop

TEXTS = [
    f"{who} had {disease} last year.\r\nNo other findings."
    for who, disease in zip(
        ["The patient", "Her father", "A child 🙂", "Each donor", "My aunt", "The boy"],
        ["cancer", "asthma", "cancer", "asthma", "cancer", "asthma"],
        strict=True,
    )
]


def test_quick_update_stores_a_quick_version_and_scores_the_pool(tmp_path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS), encoding="utf-8")
    with create_project(tmp_path / "p.tagloop", "spans", [LabelSpec("Disease")]) as project:
        import_dataset(project, path)
        for dp_id, text in zip((1, 2, 3), TEXTS, strict=False):
            disease = "cancer" if "cancer" in text else "asthma"
            start = text.index(disease)
            span = {"start": start, "end": start + len(disease), "label": "Disease"}
            state = AnnotationState([span], "complete")
            SetAnnotations(project.local_annotator_id, ((dp_id, state),)).apply(project)
        assert loop.unlabeled_texts(project) == TEXTS[3:]  # the pool: the clusters' texts
        assert loop.quick_update_wanted(project, 3)
        version = loop.quick_update(project)
        assert version.format == "tagloop-crf-3" and version.label_count == 3
        assert version.metrics["quick"] is True and version.score is None
        found = modelstore.suggestions(project, [4, 5, 6], version.id)
        assert {
            dp: [TEXTS[dp - 1][s["start"] : s["end"]] for s in f.value] for dp, f in found.items()
        } == {
            4: ["asthma"],
            5: ["cancer"],
            6: ["asthma"],
        }
        assert not loop.outdated(project, version)
        old = modelstore.save_version(project, "tagloop-spacy-1", b"", 3, {"macro_f1": 0.5})
        assert loop.outdated(project, old)  # retrained once at start-up
