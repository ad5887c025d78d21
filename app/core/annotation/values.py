"""Annotation values for each task type: parsing them from files and listing their labels.

classification: "label"; multilabel: ["a", "b"] ([] is an explicit "none of these");
spans: [{"start": 0, "end": 4, "label": "X"}, ...] with Python string offsets, end exclusive.
"""

from __future__ import annotations

import json
import math
from itertools import pairwise
from typing import Any

from app.core import jsoncheck
from app.core.errors import DataError
from app.core.project.label_schema import SchemaVersion

# A Parquet or Arrow float cell of NaN or Infinity: no text, no label, and no JSON value (a
# JSON Lines record with one is refused); it was stored as "nan", a label "nan", a bare NaN.
NOT_FINITE = "holds NaN or Infinity, a float that is no value (write null for none)"


class LabelParser:
    """Turns label-column cells into annotation values, collecting labels the schema lacks."""

    ABSENT = object()  # an empty cell: no annotation for this record

    def __init__(self, task_type: str, schema: SchemaVersion, file: str) -> None:
        self.task_type = task_type
        self.known = set(schema.label_names)
        self.allow_overlap = schema.allow_overlap
        self.file = file
        self._unknown: dict[str, None] = {}
        self.first_unknown_line = 0

    def unknown_labels(self) -> list[str]:
        return list(self._unknown)

    def _label(self, label: Any, line: int) -> str:
        if not isinstance(label, str) or not label.strip():
            raise DataError(self.file, line, f"a label must be a non-empty string, not {label!r}")
        label = label.strip()
        if label not in self.known and label not in self._unknown:
            self._unknown[label] = None
            self.first_unknown_line = self.first_unknown_line or line
        return label

    def parse(self, raw: Any, line: int, text: str) -> Any:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return self.ABSENT
        if self.task_type == "classification":
            if isinstance(raw, float) and not math.isfinite(raw):
                raise DataError(self.file, line, f"the label cell {NOT_FINITE}")
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                raw = str(raw)
            return self._label(raw, line)
        raw = self.json_cell(raw, line)
        if self.task_type == "multilabel":
            return self._multilabel(raw, line)
        return self._spans(raw, line, text)

    def json_cell(self, raw: Any, line: int, text_if_invalid: bool = False) -> Any:
        """A label cell that holds JSON (a list or an object), parsed; anything else as is.

        The string goes through the same strict decoder as a JSON Lines record
        (app.core.jsoncheck): a CSV cell of JSON was read with plain json.loads, so a lone
        surrogate, NaN, 5,000 nested brackets or a 5,000-digit number got past it (a traceback,
        or a value a strict reader of our exports refuses). `text_if_invalid`: a cell that is
        not JSON at all is a plain label ("[draft]"), not an error (classification)."""
        if not (isinstance(raw, str) and raw.lstrip()[:1] in ("[", "{")):
            return raw
        try:
            return jsoncheck.loads(raw, self.file, line)
        except DataError as exc:
            raise DataError(self.file, line, f"the label cell: {exc.problem}") from None
        except json.JSONDecodeError as exc:
            if text_if_invalid:
                return raw
            raise DataError(
                self.file, line, f"the label cell is not valid JSON: {exc.msg}"
            ) from None

    def _multilabel(self, raw: Any, line: int) -> list[str]:
        if isinstance(raw, str):
            separator = "|" if "|" in raw else ";"
            raw = [part for part in raw.split(separator) if part.strip()]
        if not isinstance(raw, list):
            raise DataError(self.file, line, f"multilabel labels must be a list, not {raw!r}")
        labels: list[str] = []
        for label in raw:
            label = self._label(label, line)
            if label not in labels:
                labels.append(label)
        return labels

    def _spans(self, raw: Any, line: int, text: str) -> list[dict[str, Any]]:
        if not isinstance(raw, list):
            raise DataError(self.file, line, "spans must be a JSON list of {start, end, label}")
        spans = []
        for item in raw:
            if isinstance(item, list | tuple) and len(item) == 3:
                start, end, label = item
            elif isinstance(item, dict) and {"start", "end", "label"} <= item.keys():
                start, end, label = item["start"], item["end"], item["label"]
            else:
                raise DataError(self.file, line, f"a span needs start, end and label: {item!r}")
            if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
                raise DataError(self.file, line, f"span offsets must be integers: {item!r}")
            if not 0 <= start < end <= len(text):
                raise DataError(
                    self.file,
                    line,
                    f"span {start}-{end} lies outside the text (length {len(text)})",
                )
            spans.append({"start": start, "end": end, "label": self._label(label, line)})
        spans.sort(key=lambda span: (span["start"], span["end"], span["label"]))
        if not self.allow_overlap:
            for before, after in pairwise(spans):
                if after["start"] < before["end"]:
                    raise DataError(
                        self.file,
                        line,
                        f"spans {before['start']}-{before['end']} and {after['start']}-"
                        f"{after['end']} overlap, and the label schema does not allow overlaps",
                    )
        return spans

    @staticmethod
    def labels_of(value: Any, task_type: str) -> list[str]:
        """The distinct labels an annotation value carries."""
        if value is None:
            return []
        if task_type == "classification":
            return [value]
        if task_type == "multilabel":
            return list(value)
        return list(dict.fromkeys(span["label"] for span in value))
