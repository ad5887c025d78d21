"""Assignment bundles for the whole team: one file per annotator, carrying their tasks.

The assignment of work (app.core.team.assign) decides who does what; handing the work out is
writing bundles, so it lives with the bundles, above the team layer it reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import text

from app.core.bundle.export import ExportReport, bundle_name, export_assignment_bundle
from app.core.errors import ProjectError
from app.core.jobs import CancelCheck, Progress, never_cancel, no_progress
from app.core.project.annotators import find_annotator
from app.core.project.project import Project
from app.core.storage import runs


def export_assignment_bundles(
    project: Project,
    outdir: Path,
    *,
    annotators: Sequence[str] | None = None,
    passphrase: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> list[ExportReport]:
    """One assignment bundle per annotator with open or done tasks (or per named annotator),
    written into `outdir` as PROJECT-NAME.tlbundle; returns their ExportReports."""
    outdir = Path(outdir)
    team = _team_with_tasks(project, annotators)
    if not team:
        raise ProjectError("no annotator has tasks yet: generate tasks first (tagloop assign)")
    reports = []
    used: set[str] = set()
    for i, (_id, uid, name) in enumerate(team):
        file_name = bundle_name(project, name)
        if file_name in used:
            file_name = file_name.replace(".tlbundle", f"-{uid[:8]}.tlbundle")
        used.add(file_name)

        def step(done, total, message, i=i):
            progress(i, len(team), message)

        reports.append(
            export_assignment_bundle(
                project,
                outdir / file_name,
                uid,
                passphrase=passphrase,
                progress=step,
                cancel=cancel,
            )
        )
    progress(len(team), len(team), f"Wrote {len(reports)} assignment bundles to {outdir}")
    return reports


def _team_with_tasks(
    project: Project, annotators: Sequence[str] | None
) -> list[tuple[int, str, str]]:
    """(id, uuid, name) of the named annotators, or of every annotator with a task that is not
    cancelled, in id order."""
    with project.engine.connect() as conn:
        if annotators:
            return [find_annotator(conn, key) for key in annotators]
        return [
            tuple(r)  # type: ignore[misc]
            for r in conn.execute(
                text(
                    "SELECT id, uuid, name FROM annotator WHERE id IN (SELECT annotator_id"
                    f" FROM task WHERE status != 'cancelled' AND {runs.task_visible('task')})"
                    " ORDER BY id"
                )
            )
        ]
