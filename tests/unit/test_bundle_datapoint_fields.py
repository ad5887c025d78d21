"""One check of a bundle's datapoint rows, shared by an open and a merge
(app.core.bundle.rows.datapoint_fields), each keeping its own messages."""

from __future__ import annotations

import pytest

from app.core.bundle.errors import BundleError
from app.core.bundle.merge_load import MERGE_LACKS
from app.core.bundle.rows import Checker, datapoint_fields

GOOD = {"dataset": "d-1", "row": 3, "text": "hi", "context": None, "status": 1, "flagged": False}
DATASETS = {"d-1": 7}


def _open_lacks(exc: BaseException) -> str:
    return f"lacks {exc} or names an unknown dataset"


def test_a_good_row_gives_its_fields():
    check = Checker("b.tagloop-bundle", "datapoints.jsonl")
    assert datapoint_fields(check, GOOD, DATASETS, MERGE_LACKS, 3) == (7, 3, "hi", None, 1, False)


@pytest.mark.parametrize(
    ("change", "lacks", "highest", "message"),
    [
        ({"text": None}, MERGE_LACKS, None, "a field has the wrong type"),
        ({"flagged": 1}, _open_lacks, 3, "a field has the wrong type"),
        ({"context": 5}, MERGE_LACKS, None, "a field has the wrong type"),
        ({"status": 2**70}, _open_lacks, 3, "a field has the wrong type"),  # open bounds it
        ({"dataset": "d-9"}, _open_lacks, 3, "lacks 'd-9' or names an unknown dataset"),
        ({"dataset": "d-9"}, MERGE_LACKS, None, MERGE_LACKS),
        ({"dataset": ["x"]}, MERGE_LACKS, None, MERGE_LACKS),
    ],
)
def test_a_bad_row_is_refused_with_its_callers_message(change, lacks, highest, message):
    check = Checker("b.tagloop-bundle", "datapoints.jsonl")
    with pytest.raises(BundleError) as raised:
        datapoint_fields(check, {**GOOD, **change}, DATASETS, lacks, highest)
    assert "b.tagloop-bundle" in str(raised.value) and "datapoints.jsonl, row " in str(raised.value)
    assert str(raised.value).endswith(message)


def test_a_merge_takes_any_status_and_a_missing_field_is_named_by_open():
    check = Checker("b.tagloop-bundle", "datapoints.jsonl")
    assert datapoint_fields(check, {**GOOD, "status": 99}, DATASETS, MERGE_LACKS)[4] == 99
    row = {key: value for key, value in GOOD.items() if key != "flagged"}
    with pytest.raises(BundleError, match="lacks 'flagged' or names an unknown dataset"):
        datapoint_fields(check, row, DATASETS, _open_lacks, 3)
