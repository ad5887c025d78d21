"""Small slices of the real data for tests (copied into tests/fixtures for stability)."""

from __future__ import annotations

import csv
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def sms_rows(n: int) -> list[list[str]]:
    """The first n SMS messages as [text, label] rows."""
    with (FIXTURES / "sms_spam_200.tsv").open(encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t", 1) for line in handle][1 : n + 1]
    return [[text, label] for label, text in rows]


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
