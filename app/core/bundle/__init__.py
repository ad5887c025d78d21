"""Project bundles: one file that carries a project, an assignment, or returned work.

The verbs (each takes `progress(done, total, message)` and `cancel()` like every long job):

- export_project_bundle(project, out, with_model=False, passphrase=None) -> ExportReport
- export_assignment_bundle(project, out, annotator_uuid, passphrase=None) -> ExportReport
  (app.core.bundle.assignments.export_assignment_bundles writes one per annotator)
- export_work_bundle(project, out, passphrase=None) -> ExportReport   ("Return work")
- open_bundle(bundle, dest, passphrase=None) -> OpenReport            (a new project file)
- merge_bundle(project, bundle, passphrase=None) -> MergeReport       (all or nothing)
- inspect_bundle(bundle, passphrase=None) -> dict                     (the verified manifest)

Every failure is a BundleError (a TagloopError) naming the file and the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.bundle.container import DEFAULT_LIMITS, FORMAT_VERSION, SUFFIX, BundleReader, Limits
from app.core.bundle.errors import BundleError
from app.core.bundle.export import (
    ExportReport,
    bundle_name,
    export_assignment_bundle,
    export_project_bundle,
    export_work_bundle,
)
from app.core.bundle.merge import Conflict, MergeReport, merge_bundle
from app.core.bundle.open import OpenReport, open_bundle
from app.core.jobs import CancelCheck, Progress, never_cancel, no_progress

PASSPHRASE_ENV = "TAGLOOP_PASSPHRASE"


def inspect_bundle(
    bundle: Path,
    passphrase: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> dict[str, Any]:
    """Verify a bundle (every check an open or a merge makes) and return its manifest, with
    `encrypted` and `sha256` (of the file) added: what a dialog shows before importing."""
    with BundleReader.open(Path(bundle), passphrase, limits, progress, cancel) as reader:
        return {**reader.manifest, "encrypted": reader.encrypted, "sha256": reader.sha256}


__all__ = [
    "DEFAULT_LIMITS",
    "FORMAT_VERSION",
    "PASSPHRASE_ENV",
    "SUFFIX",
    "BundleError",
    "Conflict",
    "ExportReport",
    "Limits",
    "MergeReport",
    "OpenReport",
    "bundle_name",
    "export_assignment_bundle",
    "export_project_bundle",
    "export_work_bundle",
    "inspect_bundle",
    "merge_bundle",
    "open_bundle",
]
