"""The bundle's manifest and member names: what a bundle of each kind holds, and the checks a
manifest must pass before any member is trusted.

Layout (format version 2)::

    manifest.json            {"format": "tagloop-bundle", "format_version": 1, "app_version",
                              "project_uuid", "project_name", "kind", "created_at",
                              "created_by", "replica", "base", "assignee", "counts",
                              "members": {name: {"sha256", "size", "rows"}}}
    project.json             the project row and its inputs
    schema_versions.jsonl    one JSON object per line, for each table that travels ...
    annotators.jsonl, datasets.jsonl, datapoints.jsonl, annotations.jsonl,
    annotation_history.jsonl, tasks.jsonl, comments.jsonl, flags.jsonl, audit_events.jsonl,
    model_versions.jsonl, predictions.jsonl,
    custom_statuses.jsonl, gold_items.jsonl, qualification_sets.jsonl,
    qualification_items.jsonl, qualification_results.jsonl, adjudications.jsonl,
    review_decisions.jsonl   (format 2: app.core.bundle.members)
    model/<uuid>.bin         a model artifact, as stored (a safe format, never a pickle)

Rows refer to each other by UUID, never by the integer ids of one database; a datapoint is
(dataset UUID, row). Text columns that hold JSON (annotation values, contexts, labels, audit
before/after) travel verbatim as strings, so a round trip is byte-identical.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from app.core.bundle.errors import BundleError
from app.core.ids import is_timestamp

FORMAT_NAME = "tagloop-bundle"
# Version 1 is the first; version 2 adds the quality members (app.core.bundle.members) and
# changes no row of version 1; version 3 adds each audit event's `prev_hash` and `hash`, so the
# chain is verified before a merge or an open (app.core.bundle.validate). A reader accepts
# every version up to FORMAT_VERSION (upgrading old rows in `upgrade_row` when a later version
# changes a member) and refuses newer ones. Version 4 changes no row: a work bundle carries its
# file's whole audit chain, from the file's first event, so that a chain with its first events
# removed is refused as a project bundle's is (version 3 carried a stretch of it).
FORMAT_VERSION = 4
CHAINED_SINCE = 3  # the first format whose audit events carry their chain
WHOLE_CHAIN_SINCE = 4  # the first format whose work bundles carry their file's whole chain
SUFFIX = ".tlbundle"
KINDS = ("project", "assignment", "work")
MANIFEST = "manifest.json"
PROJECT_MEMBER = "project.json"
TABLE_MEMBERS = (
    "schema_versions.jsonl",
    "annotators.jsonl",
    "datasets.jsonl",
    "datapoints.jsonl",
    "annotations.jsonl",
    "annotation_history.jsonl",
    "tasks.jsonl",
    "comments.jsonl",
    "flags.jsonl",
    "audit_events.jsonl",
    "model_versions.jsonl",
    "predictions.jsonl",
    "custom_statuses.jsonl",
    "gold_items.jsonl",
    "qualification_sets.jsonl",
    "qualification_items.jsonl",
    "qualification_results.jsonl",
    "adjudications.jsonl",
    "review_decisions.jsonl",
)
MODEL_MEMBER = re.compile(r"model/[0-9a-f]{32}\.bin")
REQUIRED = {
    "project": (
        PROJECT_MEMBER,
        "schema_versions.jsonl",
        "annotators.jsonl",
        "datasets.jsonl",
        "datapoints.jsonl",
    ),
    "assignment": (
        PROJECT_MEMBER,
        "schema_versions.jsonl",
        "annotators.jsonl",
        "datasets.jsonl",
        "datapoints.jsonl",
    ),
    "work": (PROJECT_MEMBER, "schema_versions.jsonl", "annotators.jsonl"),
}
_UUID = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_known_member(name: str) -> bool:
    """A member name this version writes (the manifest itself aside)."""
    return name == PROJECT_MEMBER or name in TABLE_MEMBERS or bool(MODEL_MEMBER.fullmatch(name))


def check_manifest(manifest: Any, error: Callable[[str], BundleError]) -> dict[str, Any]:
    """The parsed manifest, if it is one this version can read; else `error(problem)`."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise error("not a Tagloop bundle (the manifest names another format)")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise error(f"the manifest has an invalid format_version {shown(version)}")
    if version > FORMAT_VERSION:
        raise error(
            f"made by a newer Tagloop (bundle format {version}, app "
            f"{shown(manifest.get('app_version', '?'))}); this version reads formats up to "
            f"{FORMAT_VERSION}: update Tagloop to open it"
        )
    if manifest.get("kind") not in KINDS:
        raise error(f"the manifest names an unknown kind {shown(manifest.get('kind'))}")
    if not isinstance(manifest.get("project_uuid"), str) or not _UUID.fullmatch(
        manifest["project_uuid"]
    ):
        raise error("the manifest has no valid project_uuid")
    members = manifest.get("members")
    if not isinstance(members, dict):
        raise error("the manifest lists no members")
    for name, info in members.items():
        if not (
            isinstance(info, dict)
            and isinstance(info.get("sha256"), str)
            and _SHA256.fullmatch(info["sha256"])
            and isinstance(info.get("size"), int)
            and info["size"] >= 0
        ):
            raise error(f"the manifest entry of {shown(name)} is invalid")
    for key in (
        "replica",
        "base",
        "assignee",
        "created_at",
        "created_by",
        "project_name",
        "app_version",
    ):
        value = manifest.get(key)
        if value is not None and not (
            isinstance(value, str) and len(value) <= 1_000 and is_text(value)
        ):
            raise error(f"the manifest's {key!r} is invalid")
    for key in ("created_at", "base"):  # work since then is what a work bundle returns
        value = manifest.get(key)
        if value is not None and not is_timestamp(value):
            raise error(f"the manifest's {key!r} is not a timestamp ({shown(value)})")
    counts = manifest.get("counts", {})
    if not isinstance(counts, dict) or not all(
        isinstance(name, str)
        and len(name) <= 100
        and is_text(name)
        and isinstance(count, int)
        and not isinstance(count, bool)
        and 0 <= count < 2**63
        for name, count in counts.items()
    ):
        raise error("the manifest's 'counts' is invalid")
    return manifest


def is_text(value: str) -> bool:
    """Whether `value` can be stored and printed: no lone surrogate (a JSON "\\ud800")."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(value: Any) -> str:
    """A hostile value as a message shows it: its repr (lone surrogates escaped), cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def upgrade_row(name: str, row: dict[str, Any], version: int) -> dict[str, Any]:
    """A row of an older format version, as the current version writes it (v2 changed no
    row of v1)."""
    return row
