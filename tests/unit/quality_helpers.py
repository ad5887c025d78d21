"""Hand-built teams for the quality tests: a project with a few datapoints and annotators who
label them with exact values."""

from __future__ import annotations

import json
from pathlib import Path

from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.io.importer import import_dataset
from app.core.project.project import Project
from app.core.team.assign import add_annotator
from tests.unit.helpers import next_millisecond


def with_items(project: Project, tmp_path: Path, texts: list[str]) -> list[int]:
    """Import these texts as a dataset; their datapoint ids, in order."""
    source = tmp_path / f"items-{project.path.stem}.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for body in texts:
            handle.write(json.dumps({"text": body}) + "\n")
    import_dataset(project, source)
    conn = project.engine.raw_connection()
    try:
        return [r[0] for r in conn.execute("SELECT id FROM datapoint ORDER BY id")]
    finally:
        conn.close()


def team(project: Project, *names: str, role: str = "annotator") -> dict[str, int]:
    return {name: add_annotator(project, name, role).id for name in names}


def label(project: Project, who: int, answers: dict[int, object], status="complete") -> None:
    """Label as one command, in a millisecond of its own: timestamps have millisecond
    resolution, and tests that ask for "the newest vote" mean the later call, those that ask
    whether an annotator "changed it after the rejection" mean a label after a review."""
    next_millisecond()
    SetAnnotations(
        who, tuple((dp, AnnotationState(value, status)) for dp, value in answers.items())
    ).apply(project)
    next_millisecond()
