"""The import report in words, for the import dialog and `tagloop import` alike.

Counts take their noun in the right number ("1 datapoint"), thousands are separated, a rate
is printed only for an import long enough for it to mean something ("0 rows/s" for a file read
in an instant looks like a failure), and each duplicate says what it repeats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.io.importer import ImportReport

RATE_AFTER_SECONDS = 1.0


def count(n: int, noun: str) -> str:
    """ "1 datapoint", "5,574 datapoints": a count with its noun in the right number."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def import_summary(report: ImportReport) -> str:
    """One paragraph: what came in, what was skipped, how long it took, the first duplicates."""
    parts = [f"Imported {count(report.rows, 'datapoint')} from {report.source}"]
    if report.annotations:
        parts.append(count(report.annotations, "annotation"))
    if report.duplicates:
        verb = "skipped" if report.skipped else "kept"
        parts.append(f"{count(report.duplicates, 'exact duplicate text')} ({verb})")
    if report.attached:
        parts.append(f"{count(report.attached, 'label')} added to the datapoints already there")
    if report.empty:
        parts.append(f"{count(report.empty, 'record')} with empty text skipped")
    if report.added_labels:
        parts.append(f"labels added to the schema: {', '.join(report.added_labels)}")
    took = f"{report.seconds:.1f} s" if report.seconds >= 0.05 else "under 0.1 s"
    done = "; ".join(parts) + f" in {took}"
    if report.seconds >= RATE_AFTER_SECONDS:
        done += f" ({report.rows / report.seconds:,.0f} rows/s)"
    done += "." + duplicate_lines(report.duplicate_examples, report.duplicates)
    if not report.indexed:
        return done + " The search index is still being built."
    if report.index_seconds:
        return done + f" Search index built in {report.index_seconds:.1f} s."
    return done


def duplicate_lines(examples: list[tuple[int, int]], total: int) -> str:
    """The first duplicates, each with what it repeats: "line 5: duplicate of line 2"."""
    if not examples:
        return ""
    said = [
        f"line {line:,}: duplicate of line {first:,}"
        if first
        else f"line {line:,}: duplicate of a text already in the project"
        for line, first in examples
    ]
    more = f" (and {total - len(examples):,} more)" if total > len(examples) else ""
    return " Duplicates: " + "; ".join(said) + more + "."
