"""team.tasks: the one writer of tasks (one audit event per task) and the sharing arithmetic."""

from __future__ import annotations

import pytest

from app.core.errors import ProjectError
from app.core.project.annotators import find_annotator
from app.core.team.tasks import (
    LABEL,
    REVIEW,
    cancel_tasks,
    create_tasks,
    largest_remainder,
    round_half_up,
    tasked_datapoints,
)
from tests.unit.helpers import rows
from tests.unit.quality_helpers import team, with_items


def test_round_half_up_rounds_halves_up_not_to_even():
    assert [round_half_up(x) for x in (0.5, 1.5, 2.5, 2.4999, 0.0)] == [1, 2, 3, 2, 0]


def test_largest_remainder_is_proportional_within_the_caps():
    assert largest_remainder(5, [1, 1, 1], caps=[5, 5, 5]) == [2, 2, 1]  # ties: first first
    assert largest_remainder(10, [1, 1, 1]) == [1, 1, 1]  # a stratum gives at most its size
    assert largest_remainder(5, [2, 8], caps=[1, 8]) == [1, 4]
    assert largest_remainder(3, [0, 0]) == [0, 0]


def test_create_and_cancel_tasks_write_one_audit_event_each(make_project, tmp_path):
    project = make_project()
    items = with_items(project, tmp_path, ["a", "b", "c"])
    ids = team(project, "ana")
    with project.engine.begin() as conn:
        assert create_tasks(conn, [], None) == 0
        made = create_tasks(conn, ((dp, ids["ana"], LABEL, "2024-01-01") for dp in items), None)
        assert made == 3
        assert tasked_datapoints(conn, LABEL) == set(items)
        assert tasked_datapoints(conn, LABEL, ids["ana"]) == set(items)
        assert tasked_datapoints(conn, REVIEW) == set()
        first = conn.exec_driver_sql("SELECT min(id) FROM task").scalar()
        cancel_tasks(conn, [first], None)
        assert tasked_datapoints(conn, LABEL) == set(items[1:])
        assert find_annotator(conn, ids["ana"])[2] == "ana"
        with pytest.raises(ProjectError):
            find_annotator(conn, 999)
    actions = rows(project, "SELECT action FROM audit_event WHERE entity = 'task' ORDER BY id")
    assert [a for (a,) in actions] == ["create"] * 3 + ["cancel"]
