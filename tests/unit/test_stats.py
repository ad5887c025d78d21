"""Labelling progress: what the editor's progress bar and the model's retrain trigger count."""

from __future__ import annotations

from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.annotation.stats import LabelingProgress, labeling_progress
from app.core.io.importer import import_dataset


def test_labeling_progress_counts_labeled_datapoints_only(make_project, tmp_path):
    project = make_project()
    path = tmp_path / "a.txt"
    path.write_text("one\ntwo\nthree\nfour\n", encoding="utf-8")
    import_dataset(project, path)
    assert labeling_progress(project) == LabelingProgress(total=4, labeled=0)

    who = project.local_annotator_id
    SetAnnotations(who, ((1, AnnotationState("spam", "complete", 0)),), "label").apply(project)
    SetAnnotations(who, ((2, AnnotationState(None, "skipped", 0)),), "skip").apply(project)
    assert labeling_progress(project) == LabelingProgress(total=4, labeled=1)
