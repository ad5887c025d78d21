"""Words and numbers every view says the same way.

- `place`: where a datapoint comes from, "sms.tsv, row 4". One definition of a row number
  everywhere (Browse, the editor, History, Review, Adjudication): the datapoint's `row`, the
  1-based number of its record in the imported file, never shifted by one.
- `plural`: "1 step", "2 steps", with thousands separated ("5,574 items").
"""

from __future__ import annotations


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """A count and its noun in the right number: plural(1, "step") -> "1 step"."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"


def row_number(row: int) -> str:
    """A datapoint's row as a person reads it (the stored 1-based record number)."""
    return f"{row:,}"


def place(dataset: str, row: int) -> str:
    """Where a datapoint comes from: its dataset's file name and row."""
    return f"{dataset}, row {row_number(row)}"
