"""Decisions that replace one another stay in call order when the clock does not move."""

from __future__ import annotations

import pytest

from app.core import ids
from app.core.quality.consensus import adjudicate, current_reviews, final_values
from app.core.quality.review import review
from app.core.storage.sqlite import driver_connection
from tests.unit.quality_helpers import label, team, with_items

FROZEN = "2026-12-02T10:00:00.000+00:00"


def test_stamp_after_is_now_or_one_millisecond_later(monkeypatch):
    monkeypatch.setattr(ids, "now_iso", lambda: FROZEN)
    assert ids.stamp_after(None) == FROZEN
    assert ids.stamp_after("2026-12-02T09:59:59.999+00:00") == FROZEN
    assert ids.stamp_after(FROZEN) == "2026-12-02T10:00:00.001+00:00"
    # a stamp from a machine whose clock runs ahead (merged from a bundle) is passed, too
    assert ids.stamp_after("2027-01-01T00:00:00.999+00:00") == "2027-01-01T00:00:01.000+00:00"
    # another offset is read as the instant it names, and written back in UTC
    assert ids.stamp_after("2026-12-02T11:00:00.000+01:00") == "2026-12-02T10:00:00.001+00:00"
    assert ids.stamp_after("not a time") == FROZEN


@pytest.fixture
def frozen_team(make_project, tmp_path, monkeypatch):
    project = make_project(labels=("a", "b", "c"))
    dp_ids = with_items(project, tmp_path, ["one", "two"])
    who = team(project, "alice", "bob")
    who.update(team(project, "dana", role="manager"))
    label(project, who["alice"], {dp_ids[0]: "a"})
    label(project, who["bob"], {dp_ids[0]: "b"})
    monkeypatch.setattr(ids, "now_iso", lambda: FROZEN)  # every later call in one millisecond
    return project, dp_ids, who


def test_the_later_adjudication_wins_within_one_millisecond(frozen_team):
    project, dp_ids, _who = frozen_team
    for value in ("a", "c", "b", "a", "c"):
        adjudicate(project, dp_ids[0], "dana", value)
        assert dict(final_values(project))[dp_ids[0]] == value


def test_the_later_review_wins_within_one_millisecond(frozen_team):
    project, _dp_ids, _who = frozen_team
    conn = project.engine.raw_connection()
    try:
        (uid,) = conn.execute(
            "SELECT a.uuid FROM annotation a JOIN annotator n ON n.id = a.annotator_id"
            " WHERE n.name = 'alice'"
        ).fetchone()
    finally:
        conn.close()
    for decision in ("approve", "reject", "approve", "reject", "approve"):
        review(project, "dana", uid, decision, reason="looked again")
        with project.engine.connect() as conn:
            assert current_reviews(driver_connection(conn))[uid][0] == decision
