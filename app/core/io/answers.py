"""What a file says each annotator answered, turned into annotation values for the importer.

Two sources: a label column (one value per row, by the annotator --annotator names) and a peer
format's Records (each AnnotatorValue its own annotator's). Both go through the same checks:
a single-choice label given as a one-element list or as Label Studio's {"choices": [...]} is
that label; a span's own `text`, when the file gives one, must be the slice its offsets cut
from the text (a mismatch is refused with both strings, never stored shifted).
"""

from __future__ import annotations

from typing import Any

from app.core.annotation.values import LabelParser
from app.core.errors import DataError
from app.core.io.formats.base import ANSWERED, Record
from app.core.io.formats.spancheck import check_span_text
from app.core.io.longtext import LongText

DEFAULT_ANNOTATOR = "imported"
ORIGINS = ("imported", "suggestion")  # origins an import may give (bundle.schema.ORIGINS)


class Answers:
    """Parses raw label values into annotation values, with the checks above."""

    def __init__(self, parser: LabelParser, file: str, default_annotator: str | None) -> None:
        self.parser = parser
        self.file = file
        self.task_type = parser.task_type
        self.default = default_annotator or DEFAULT_ANNOTATOR

    def _classification(self, raw: Any, line: int) -> Any:
        raw = self.parser.json_cell(raw, line, text_if_invalid=True)
        if isinstance(raw, dict) and "choices" in raw:
            raw = raw["choices"]
        if isinstance(raw, list | tuple):
            if not raw:
                return None  # no choice: nothing answered
            if len(raw) > 1:
                shown = ", ".join(map(repr, raw[:5]))
                raise DataError(
                    self.file,
                    line,
                    f"{len(raw)} labels ({shown}) for a classification project, which takes "
                    "one label per datapoint (a multilabel project takes several)",
                )
            return raw[0]
        return raw

    def parse(self, raw: Any, line: int, text: str | LongText) -> Any:
        """The annotation value, or LabelParser.ABSENT for no answer."""
        if self.task_type == "classification":
            raw = self._classification(raw, line)
        elif self.task_type == "spans":
            raw = self.parser.json_cell(raw, line)  # a CSV cell's spans quote their text too
        if self.task_type == "spans" and isinstance(raw, list):
            if text.__class__ is LongText and any(
                span.__class__ is dict and isinstance(span.get("text"), str) for span in raw
            ):
                text = text.decode()  # a span quotes it: checked on the str's slices
            for span in raw:
                check_span_text(span, text, self.file, line)
        return self.parser.parse(raw, line, text)

    def of_cell(self, get_label: Any) -> Any:
        """The valuer of a label column."""
        annotator = self.default
        parse = self.parse
        absent = LabelParser.ABSENT

        def values(record: Any, line: int, text: str) -> list[tuple[Any, str, str]]:
            value = parse(get_label(record, line), line, text)
            return [] if value is absent else [(value, annotator, "imported")]

        return values

    def of_record(self, record: Record, line: int, text: str) -> list[tuple[Any, str, str]]:
        """Each annotator's answered value of a peer format's Record (one per annotator: the
        first; skipped and discarded answers are left out)."""
        found: list[tuple[Any, str, str]] = []
        seen: set[str] = set()
        for item in record.values:
            if item.status != ANSWERED:
                continue
            who = str(item.annotator) if item.annotator not in (None, "") else self.default
            if who in seen:
                continue
            value = self.parse(item.value, line, text)
            if value is LabelParser.ABSENT:
                continue
            seen.add(who)
            found.append((value, who, item.origin if item.origin in ORIGINS else "imported"))
        return found
