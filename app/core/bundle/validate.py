"""The whole-bundle checks, run over every member before anything is written (open and merge
share them): what one row cannot tell (app.core.bundle.schema checks each row as it is read).

- no row twice: the same UUID in one member, the same datapoint (dataset, row), the same
  annotator's annotation of one datapoint, two schema versions with one number;
- references inside the bundle: an annotation's schema version, a row's dataset (when the
  bundle carries its datasets);
- derived columns that agree with the rows they derive from: a datapoint is "labeled" if and
  only if it has a complete annotation, and "flagged" only with an open flag;
- the audit chain (format 3 on): every event's hash covers its content and links to the event
  before it, so an altered, removed or reordered event is refused, naming it; a project
  bundle's, and a work bundle's from format 4, starts at GENESIS, so removing the first
  events shows too.

Keys are kept as 64-bit hashes in arrays (8 bytes a row) and compared sorted, so a
million-row bundle costs megabytes, not a set of tuples; a hash collision can only make a
sound bundle look like it repeats a row, with odds of about n²/2⁶⁴.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.audit.chain import GENESIS, event_hash
from app.core.bundle.container import BundleReader
from app.core.bundle.container.manifest import CHAINED_SINCE, WHOLE_CHAIN_SINCE
from app.core.bundle.errors import BundleError
from app.core.storage.tables import DatapointStatus

LABELED = int(DatapointStatus.LABELED)
# members whose rows are keyed by UUID alone
UUID_MEMBERS = (
    "annotation_history.jsonl",
    "tasks.jsonl",
    "comments.jsonl",
    "flags.jsonl",
    "custom_statuses.jsonl",
    "gold_items.jsonl",
    "qualification_results.jsonl",
    "adjudications.jsonl",
    "review_decisions.jsonl",
    "model_versions.jsonl",
)


@dataclass
class _Keys:
    """64-bit hashes of one kind of key, with the line each came from."""

    hashes: array = field(default_factory=lambda: array("q"))
    lines: array = field(default_factory=lambda: array("q"))

    def add(self, key: Any, line: int) -> None:
        self.hashes.append(hash(key))
        self.lines.append(line)

    def first_repeat(self) -> int | None:
        """The line of the first row whose key an earlier row had, or None."""
        if len(self.hashes) < 2:
            return None
        values = np.frombuffer(self.hashes, dtype=np.int64)
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        same = np.nonzero(ordered[1:] == ordered[:-1])[0]
        if not len(same):
            return None
        lines = np.frombuffer(self.lines, dtype=np.int64)
        return int(min(lines[order[i + 1]] for i in same[:1000]))

    def missing_from(self, other: _Keys) -> int | None:
        """The line of the first key here that `other` lacks, or None."""
        if not len(self.hashes):
            return None
        mine = np.frombuffer(self.hashes, dtype=np.int64)
        theirs = np.frombuffer(other.hashes, dtype=np.int64) if len(other.hashes) else None
        if theirs is None:
            return int(self.lines[0])
        absent = np.nonzero(~np.isin(mine, theirs))[0]
        return int(self.lines[absent[0]]) if len(absent) else None


# An audit event of the target project by UUID: its hashed fields, or None if it lacks it.
LocalEvent = Callable[[str], tuple | None]


def validate_bundle(reader: BundleReader, local_event: LocalEvent | None = None) -> None:
    """Every whole-bundle check (see the module doc); BundleError naming the member, the line
    and the problem. Reads each member once more; writes nothing.

    With `local_event` (a merge), an audit event the project already holds must be the very
    same event in the bundle: one altered and rehashed in the bundle is refused too."""
    _Validation(reader, local_event).run()


class _Validation:
    def __init__(self, reader: BundleReader, local_event: LocalEvent | None) -> None:
        self.reader = reader
        self.local_event = local_event
        self.annotators: set[str] = set()
        self.schemas: set[str] = set()
        self.datasets: set[str] = set()
        self.labeled = _Keys()
        self.flagged = _Keys()
        self.complete = _Keys()
        self.open_flags = _Keys()

    def fail(self, member: str, line: int | None, problem: str) -> BundleError:
        where = f", line {line}" if line is not None else ""
        return self.reader.error(f"{member}{where}: {problem}")

    def lines(self, member: str) -> Iterable[tuple[int, dict[str, Any]]]:
        return self.reader.numbered_rows(member)

    def unique(self, member: str, key: Callable[[dict[str, Any]], Any], what: str) -> None:
        keys = _Keys()
        for line, row in self.lines(member):
            keys.add(key(row), line)
        self.repeat(member, keys, what)

    def repeat(self, member: str, keys: _Keys, what: str) -> None:
        line = keys.first_repeat()
        if line is not None:
            raise self.fail(member, line, f"{what} appears twice")

    def run(self) -> None:
        self.small_members()
        if self.reader.has("datapoints.jsonl"):
            self.datapoints()
        self.annotations()
        for member in UUID_MEMBERS:
            if member == "flags.jsonl":
                self.flags()
            else:
                self.unique(member, lambda r: r["uuid"], "its UUID")
        self.unique("qualification_sets.jsonl", lambda r: r["uuid"], "its UUID")
        self.unique(
            "predictions.jsonl",
            lambda r: (r["model_version"], r["dataset"], r["row"]),
            "a prediction of this model for this datapoint",
        )
        self.audit_chain()
        self.derived()

    def small_members(self) -> None:
        """Annotators, schema versions and datasets: sets of UUIDs for the references."""
        member = "annotators.jsonl"
        for line, row in self.lines(member):
            if row["uuid"] in self.annotators:
                raise self.fail(member, line, f"annotator {row['uuid']} appears twice")
            self.annotators.add(row["uuid"])
        member = "schema_versions.jsonl"
        numbers: set[int] = set()
        for line, row in self.lines(member):
            if row["uuid"] in self.schemas:
                raise self.fail(member, line, f"schema version {row['uuid']} appears twice")
            if row["version"] in numbers:
                raise self.fail(member, line, f"version number {row['version']} appears twice")
            self.schemas.add(row["uuid"])
            numbers.add(row["version"])
        member = "datasets.jsonl"
        for line, row in self.lines(member):
            if row["uuid"] in self.datasets:
                raise self.fail(member, line, f"dataset {row['uuid']} appears twice")
            self.datasets.add(row["uuid"])

    def datapoints(self) -> None:
        member = "datapoints.jsonl"
        keys = _Keys()
        for line, row in self.lines(member):
            about = (row["dataset"], row["row"])
            if row["dataset"] not in self.datasets:
                raise self.fail(member, line, f"names a dataset {row['dataset']} it lacks")
            keys.add(about, line)
            if row["status"] == LABELED:
                self.labeled.add(about, line)
            if row["flagged"]:
                self.flagged.add(about, line)
        self.repeat(member, keys, "the datapoint")

    def annotations(self) -> None:
        member = "annotations.jsonl"
        uuids = _Keys()
        pairs = _Keys()
        for line, row in self.lines(member):
            if row["schema_version"] not in self.schemas:
                raise self.fail(
                    member, line, f"names a schema version {row['schema_version']} it lacks"
                )
            uuids.add(row["uuid"], line)
            pairs.add((row["dataset"], row["row"], row["annotator"]), line)
            if row["status"] == "complete":
                self.complete.add((row["dataset"], row["row"]), line)
        self.repeat(member, uuids, "its UUID")
        self.repeat(member, pairs, "a second annotation by one annotator of one datapoint")

    def flags(self) -> None:
        member = "flags.jsonl"
        keys = _Keys()
        for line, row in self.lines(member):
            keys.add(row["uuid"], line)
            if row["resolved_at"] is None:
                self.open_flags.add((row["dataset"], row["row"]), line)
        self.repeat(member, keys, "its UUID")

    def derived(self) -> None:
        """A datapoint's status and flag agree with the annotations and flags it comes with."""
        member = "datapoints.jsonl"
        line = self.labeled.missing_from(self.complete)
        if line is not None:
            raise self.fail(member, line, "it is 'labeled' but has no complete annotation")
        if self.reader.has(member):
            line = self.complete.missing_from(self.labeled)
            if line is not None:
                raise self.fail(
                    "annotations.jsonl", line, "it is complete but its datapoint is not 'labeled'"
                )
        line = self.flagged.missing_from(self.open_flags)
        if line is not None:
            raise self.fail(member, line, "it is flagged but has no open flag")

    @property
    def _whole_chain(self) -> bool:
        """Whether the bundle carries its file's whole chain, which starts at GENESIS (a project
        bundle always; a work bundle since format 4: before, a stretch of the chain)."""
        kind, version = self.reader.kind, self.reader.format_version
        return kind == "project" or (kind == "work" and version >= WHOLE_CHAIN_SINCE)

    def audit_chain(self) -> None:
        """Each event's hash covers its content and follows the one before: the chain of the
        file the bundle was written from, unbroken from its first event in the bundle."""
        member = "audit_events.jsonl"
        chained = self.reader.format_version >= CHAINED_SINCE
        uuids = _Keys()
        expected: str | None = None
        previous: str | None = None
        for line, row in self.lines(member):
            uuids.add(row["uuid"], line)
            event = row["uuid"]
            fields = (
                event,
                row["at"],
                row.get("actor"),
                row["action"],
                row["entity"],
                row.get("entity_uuid"),
                row.get("before"),
                row.get("after"),
            )
            if self.local_event is not None:
                local = self.local_event(event)
                if local is not None and tuple(local) != fields:
                    raise self.fail(
                        member,
                        line,
                        f"audit event {event} differs from this project's copy of it: altered",
                    )
            if not chained:
                continue
            prev_hash, stored = row.get("prev_hash"), row.get("hash")
            if prev_hash is None or stored is None:
                raise self.fail(member, line, f"audit event {event} carries no chain hash")
            if expected is None:
                if self._whole_chain and prev_hash != GENESIS:
                    raise self.fail(
                        member,
                        line,
                        f"audit event {event}: the chain does not start here (events before"
                        " it were removed)",
                    )
            elif prev_hash != expected:
                raise self.fail(
                    member,
                    line,
                    f"audit event {event} does not follow event {previous}: an event between"
                    " them was removed, or the events were reordered",
                )
            if event_hash(prev_hash, *fields) != stored:
                raise self.fail(
                    member,
                    line,
                    f"audit event {event} was altered: its content does not match its hash",
                )
            expected, previous = stored, event
        self.repeat(member, uuids, "its UUID")
