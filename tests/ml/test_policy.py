"""When the model retrains and when its suggestions show: the policy's values."""

from __future__ import annotations

import pytest

from app.core import settings
from app.core.project import modelstore
from app.ml import policy


@pytest.mark.parametrize(
    ("labels", "every"),
    [
        (0, 10),  # a first model after ten labels
        (99, 10),
        (100, 10),
        (110, 11),  # then a tenth of the labels so far
        (300, 30),
        (9_999, 999),
        (10_000, 1000),
        (50_000, 1000),  # never more than a thousand labels apart
    ],
)
def test_retrain_cadence_is_adaptive(labels: int, every: int) -> None:
    assert policy.retrain_every(labels) == every


def test_the_first_model_needs_ten_examples() -> None:
    assert policy.MIN_EXAMPLES == 10
    assert policy.retrain_every(0) == policy.MIN_EXAMPLES


def test_quality_bar_is_the_users_preference(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TAGLOOP_CONFIG_DIR", str(tmp_path / "config"))
    assert policy.quality_bar() == modelstore.DEFAULT_QUALITY_BAR
    settings.set_preference(modelstore.QUALITY_BAR_KEY, 0.65)
    assert policy.quality_bar() == 0.65
