"""Worklists: the items an editor walks through, in file, random or model order.

A worklist is a snapshot of datapoint ids taken when it is opened (a compact int64 array, 8 MB
for a million items), so that labeling an item does not shift the positions of the others
and going back always finds the item that was there. Random order is a seeded permutation of
positions computed on demand (a Feistel network), never a shuffled copy.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import asdict, dataclass, field

from sqlalchemy import text

from app.core import settings
from app.core.annotation import browse
from app.core.errors import ProjectError
from app.core.project import modelstore
from app.core.project.project import Project
from app.core.storage import runs

WORKLIST_ORDERS = ("file", "random", "active")


@dataclass(frozen=True)
class WorklistSpec:
    """Which items (a browse filter) and in what order."""

    query: browse.Query = field(default_factory=lambda: browse.Query(status="unlabeled"))
    order: str = "file"
    seed: int = 0

    def to_dict(self) -> dict:
        return {"query": asdict(self.query), "order": self.order, "seed": self.seed}

    @classmethod
    def from_dict(cls, data: dict) -> WorklistSpec:
        return cls(browse.Query(**data.get("query", {})), data.get("order", "file"), data["seed"])


class _Permutation:
    """A seeded bijection of range(n): a 4-round Feistel network with cycle walking."""

    ROUNDS = 4

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        bits = max(2, (max(n, 2) - 1).bit_length())
        bits += bits % 2
        self.half = bits // 2
        self.mask = (1 << self.half) - 1
        digest = hashlib.sha256(str(seed).encode()).digest()
        self.keys = [int.from_bytes(digest[i * 4 : i * 4 + 4], "little") for i in range(4)]

    def _round(self, value: int, key: int) -> int:
        value = ((value ^ key) * 0x9E3779B1 + key) & 0xFFFFFFFF
        value ^= value >> 15
        return value & self.mask

    def _forward(self, x: int) -> int:
        left, right = x >> self.half, x & self.mask
        for key in self.keys:
            left, right = right, left ^ self._round(right, key)
        return (left << self.half) | right

    def _backward(self, x: int) -> int:
        left, right = x >> self.half, x & self.mask
        for key in reversed(self.keys):
            left, right = right ^ self._round(left, key), left
        return (left << self.half) | right

    def __call__(self, i: int) -> int:
        x = self._forward(i)
        while x >= self.n:
            x = self._forward(x)
        return x

    def inverse(self, j: int) -> int:
        x = self._backward(j)
        while x >= self.n:
            x = self._backward(x)
        return x


class Worklist:
    """A fixed sequence of datapoint ids for one annotator to work through (not a FIFO queue:
    positions are stable, and the annotator moves back and forth)."""

    def __init__(self, project: Project, spec: WorklistSpec | None = None) -> None:
        self.project = project
        self.spec = spec or WorklistSpec()
        if self.spec.order not in WORKLIST_ORDERS:
            raise ProjectError(f"unknown queue order {self.spec.order!r}")
        self.version: int | None = None
        if self.spec.order == "active":
            self.version = modelstore.scored_version(project)
            if self.version is None:
                raise ProjectError(
                    "the model's order needs a trained model that has scored the data: "
                    "train one first (Model ▸ Train now)"
                )
            self._ids = array("q", _active_ids(project, self.spec.query, self.version))
        else:
            self._ids = array("q", _ids(project, self.spec.query))
        self._perm = _Permutation(len(self._ids), self.spec.seed) if self.order_random else None

    @property
    def order_random(self) -> bool:
        return self.spec.order == "random"

    def __len__(self) -> int:
        return len(self._ids)

    def id_at(self, position: int) -> int:
        if not 0 <= position < len(self._ids):
            raise IndexError(position)
        return self._ids[self._perm(position) if self._perm else position]

    def rerank_after(self, position: int) -> bool:
        """Pick up a newer model's scores: items up to `position` stay where they are (the
        annotator is looking at one of them), the rest are ordered by the new scores and
        leave out what no longer matches the filter (say, labeled since)."""
        if self.spec.order != "active":
            return False
        version = modelstore.scored_version(self.project)
        if version is None or version == self.version:
            return False
        head = self._ids[: position + 1]
        seen = set(head)
        fresh = _active_ids(self.project, self.spec.query, version)
        self._ids = head + array("q", (i for i in fresh if i not in seen))
        self.version = version
        return True

    def position_of(self, datapoint_id: int) -> int | None:
        try:
            index = self._ids.index(datapoint_id)
        except ValueError:
            return None
        return self._perm.inverse(index) if self._perm else index


def _ids(project: Project, query: browse.Query) -> list[int]:
    """The ids a browse query selects, in its sort order, without reading any text."""
    with project.engine.connect() as conn:
        seen = browse.Seen.of(conn)
        where, params = browse.where_clause(conn, query, seen)
        order = browse.order_by(query, seen)  # the status sort counts a settling run's items
        sql = f"SELECT d.id FROM datapoint d{where} ORDER BY {order}"
        return [row[0] for row in conn.exec_driver_sql(sql, params)]


def _active_ids(project: Project, query: browse.Query, version: int) -> list[int]:
    """The ids a query selects, most useful to label first by the model's priority score;
    items the model has not scored yet follow in file order."""
    with project.engine.connect() as conn:
        where, params = browse.where_clause(conn, query)
        sql = (
            "SELECT d.id FROM datapoint d LEFT JOIN prediction p ON p.datapoint_id = d.id"
            f" AND p.model_version_id = :queue_version{where}"
            " ORDER BY p.score IS NULL, p.score DESC, d.id"
        )
        params["queue_version"] = version
        return [row[0] for row in conn.exec_driver_sql(sql, params)]


def _resume_key(project: Project, annotator_id: int | None) -> str:
    """Where to resume: per project (its UUID, so a moved file resumes) and per annotator (its
    UUID, so two people sharing a machine, or a file, each resume at their own place)."""
    who = annotator_id if annotator_id is not None else project.local_annotator_id
    with project.engine.connect() as conn:
        uuid = conn.execute(text("SELECT uuid FROM annotator WHERE id = :id"), {"id": who}).scalar()
    return f"resume:{project.uuid}:{uuid or who}"


def save_position(
    project: Project, spec: WorklistSpec, datapoint_id: int, annotator_id: int | None = None
) -> None:
    """Remember where this annotator is, so that reopening the project resumes there."""
    settings.set_preference(
        _resume_key(project, annotator_id), {"queue": spec.to_dict(), "datapoint": datapoint_id}
    )


def saved_position(
    project: Project, annotator_id: int | None = None
) -> tuple[WorklistSpec, int | None]:
    data = settings.preference(_resume_key(project, annotator_id))
    if not isinstance(data, dict):
        return WorklistSpec(), None
    try:
        return WorklistSpec.from_dict(data["queue"]), data.get("datapoint")
    except (AttributeError, KeyError, TypeError, ValueError):
        return WorklistSpec(), None


def first_unfinished(
    project: Project, worklist: Worklist, annotator_id: int, start: int = 0
) -> int:
    """The first position from `start` whose item this annotator has not finished."""
    with project.engine.connect() as conn:
        done = {
            row[0]
            for row in conn.execute(
                text(
                    "SELECT datapoint_id FROM annotation a WHERE annotator_id = :who"
                    " AND status IN ('complete', 'skipped', 'discarded')"
                    + runs.and_visible(runs.annotation_where(conn))
                ),
                {"who": annotator_id},
            )
        }
    for position in range(start, len(worklist)):
        if worklist.id_at(position) not in done:
            return position
    return max(0, min(start, len(worklist) - 1))
