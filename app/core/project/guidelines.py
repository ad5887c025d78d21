"""Guideline changes: what changed in the schema since an annotator last read the guidelines.

Every guideline or label edit makes a new schema version (app.core.project.project.update_schema).
Which version each annotator has acknowledged is kept in this file's `project_meta`, under
`guidelines_seen:{annotator uuid}`: a fact about this file, so it never travels in a bundle.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from sqlalchemy import select

from app.core.errors import ProjectError
from app.core.project.label_schema import LabelSpec, SchemaVersion
from app.core.project.project import Project, get_meta, set_meta
from app.core.storage import tables as t
from app.core.storage.retry import write_transaction

SEEN_PREFIX = "guidelines_seen:"


@dataclass(frozen=True)
class LabelEdit:
    """One label present in both versions whose description, hotkey or colour changed."""

    name: str
    field: str  # "description", "hotkey" or "colour"
    before: str
    after: str


@dataclass(frozen=True)
class Change:
    """The differences between the version an annotator last acknowledged and the newest."""

    from_version: int
    to_version: int
    diff: list[str] = field(default_factory=list)  # unified diff of the guidelines, no newlines
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old name, new name)
    edited: list[LabelEdit] = field(default_factory=list)
    overlap: tuple[bool, bool] | None = None  # (before, after) when span overlap changed

    @property
    def guidelines_changed(self) -> bool:
        return bool(self.diff)

    @property
    def labels_changed(self) -> bool:
        return bool(self.added or self.removed or self.renamed or self.edited or self.overlap)

    def label_lines(self) -> list[str]:
        """The label changes in words, one a line."""
        lines = [f"Added label “{name}”" for name in self.added]
        lines += [f"Removed label “{name}”" for name in self.removed]
        lines += [f"Renamed label “{old}” to “{new}”" for old, new in self.renamed]
        for edit in self.edited:
            before = f"“{edit.before}”" if edit.before else "(none)"
            after = f"“{edit.after}”" if edit.after else "(none)"
            lines.append(f"Label “{edit.name}”: {edit.field} {before} → {after}")
        if self.overlap is not None:
            allowed = "allowed" if self.overlap[1] else "no longer allowed"
            lines.append(f"Overlapping spans are now {allowed}")
        return lines

    def summary(self) -> str:
        """A short line for a banner: what kind of changes there are."""
        parts = []
        if self.diff:
            added = sum(1 for x in self.diff if x.startswith("+") and not x.startswith("+++"))
            removed = sum(1 for x in self.diff if x.startswith("-") and not x.startswith("---"))
            parts.append(f"guidelines edited (+{added} −{removed} lines)")
        count = len(self.label_lines())
        if count:
            parts.append(f"{count} label change{'s' if count != 1 else ''}")
        return ", ".join(parts) or "no visible differences"


def _seen_key(conn, annotator_id: int) -> str:
    uuid = conn.execute(select(t.annotator.c.uuid).where(t.annotator.c.id == annotator_id)).scalar()
    if uuid is None:
        raise ProjectError(f"no annotator with id {annotator_id} in this project")
    return SEEN_PREFIX + str(uuid)


def seen_version(project: Project, annotator_id: int) -> int | None:
    """The schema version this annotator last acknowledged, or None if they never did."""
    with project.engine.connect() as conn:
        raw = get_meta(conn, _seen_key(conn, annotator_id))
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def acknowledge(project: Project, annotator_id: int, version: int | None = None) -> int:
    """Record that this annotator has read the guidelines of `version` (the newest by default).

    Returns the version recorded."""
    with write_transaction(project.engine) as conn:
        key = _seen_key(conn, annotator_id)
        if version is None:
            version = conn.execute(
                select(t.schema_version.c.version).order_by(t.schema_version.c.version.desc())
            ).scalar()
        set_meta(conn, key, str(int(version)))
    return int(version)


def compare(old: SchemaVersion, new: SchemaVersion) -> Change:
    """The differences between two schema versions: a unified diff of the guidelines and the
    label changes. A removed and an added label with the same hotkey and colour (or the same
    non-empty description) count as a rename."""
    diff = [
        line.rstrip("\n")
        for line in difflib.unified_diff(
            old.guidelines.splitlines(),
            new.guidelines.splitlines(),
            f"guidelines (version {old.version})",
            f"guidelines (version {new.version})",
            lineterm="",
        )
    ]
    old_names, new_names = old.label_names, new.label_names
    removed = [name for name in old_names if name not in new_names]
    added = [name for name in new_names if name not in old_names]
    renamed: list[tuple[str, str]] = []
    pairs: list[tuple[LabelSpec, LabelSpec]] = []
    for name in list(removed):
        before = old.label(name)
        match = next(
            (
                candidate
                for candidate in (new.label(x) for x in added)
                if candidate is not None
                and (
                    (candidate.hotkey, candidate.colour) == (before.hotkey, before.colour)
                    or (before.description and candidate.description == before.description)
                )
            ),
            None,
        )
        if match is not None:
            renamed.append((name, match.name))
            pairs.append((before, match))
            removed.remove(name)
            added.remove(match.name)
    pairs += [(old.label(name), new.label(name)) for name in new_names if name in old_names]
    edited = [
        LabelEdit(after.name, attribute, getattr(before, attribute), getattr(after, attribute))
        for before, after in pairs
        for attribute in ("description", "hotkey", "colour")
        if getattr(before, attribute) != getattr(after, attribute)
    ]
    overlap = (
        (old.allow_overlap, new.allow_overlap) if old.allow_overlap != new.allow_overlap else None
    )
    return Change(old.version, new.version, diff, added, removed, renamed, edited, overlap)


def guideline_changes(project: Project, annotator_id: int) -> Change | None:
    """What changed between the version this annotator last acknowledged and the newest one.

    None when there is nothing to read: they have acknowledged the newest version, the
    versions do not differ, or they never acknowledged any (a first-time annotator starts
    with the current guidelines; see `changes_on_open`)."""
    seen = seen_version(project, annotator_id)
    versions = project.schema_versions()
    newest = versions[-1]
    if seen is None or seen >= newest.version:
        return None
    # The version they read, or the newest one before it if this file lacks it.
    older = [v for v in versions if v.version <= seen] or versions[:1]
    change = compare(older[-1], newest)
    if not change.guidelines_changed and not change.labels_changed:
        return None
    return change


def changes_on_open(project: Project, annotator_id: int) -> Change | None:
    """For an editor opening: the changes this annotator has not read yet.

    With no acknowledgement in this file (acknowledgements stay with the file), the version
    of their own newest annotation here stands for what they last worked under: an annotator
    who opens a new assignment bundle after a guideline edit still sees the changes since
    their earlier work, which the bundle carries. Someone who never annotated here has
    nothing to compare with and acknowledges the current guidelines silently."""
    if seen_version(project, annotator_id) is None:
        worked_under = last_worked_version(project, annotator_id)
        acknowledge(project, annotator_id, worked_under)
        if worked_under is None:
            return None
    return guideline_changes(project, annotator_id)


def last_worked_version(project: Project, annotator_id: int) -> int | None:
    """The schema version of this annotator's newest annotation in this file, if any."""
    with project.engine.connect() as conn:
        return conn.execute(
            select(t.schema_version.c.version)
            .select_from(
                t.annotation.join(
                    t.schema_version, t.schema_version.c.id == t.annotation.c.schema_version_id
                )
            )
            .where(t.annotation.c.annotator_id == annotator_id)
            .order_by(t.annotation.c.updated_at.desc(), t.annotation.c.id.desc())
            .limit(1)
        ).scalar()
