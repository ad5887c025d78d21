"""The contract between the importer/exporter and one file format (issue #13).

Every format is one module in app.core.io.formats with `detect`, `read` and `write`, listed in
the registry table (app.core.io.formats.registry). The importer takes Records from `read` and
never knows which format they came from; `write` takes the exporter's records
(app.core.io.export.iter_records) and never touches the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from app.core.jobs import CancelCheck, Progress

ANSWERED = "complete"  # the source says a person answered (an empty answer is "none of these")
SKIPPED = "skipped"
DISCARDED = "discarded"


@dataclass(frozen=True)
class AnnotatorValue:
    """One annotator's answer for one record, in Tagloop's task shape:
    classification "label"; multilabel ["a", "b"] ([] = none of these, answered);
    spans [{"start": int, "end": int, "label": str}] with Python str offsets, end exclusive.

    annotator: the name in the source tool (None: the importing user / the label column).
    A record whose source does not say it was answered carries no AnnotatorValue at all:
    an untouched document stays unlabelled, never "answered: no spans"."""

    value: Any
    annotator: str | None = None
    status: str = ANSWERED
    origin: str = "imported"


@dataclass(frozen=True)
class Record:
    """One datapoint read from a file. line: the 1-based line (or row, or document number)
    that messages name. context: the context inputs by the source's own field names."""

    line: int
    text: str
    context: dict[str, Any] = field(default_factory=dict)
    values: tuple[AnnotatorValue, ...] = ()
    source_id: str | None = None  # the id the source tool gave the item, kept for messages


@dataclass(frozen=True)
class ReadOptions:
    """What a reader may need to know beyond the path. The tabular formats (csv, tsv, json,
    jsonl, txt, parquet, xlsx) use mapping/label_column; peer formats know their own fields.

    The importer maps a tabular format's columns itself: it reads with mapping=None and
    label_column=None, and expects each Record to hold the whole row in `context`, by column
    name (Record.text may then be ""). Labels in a cell stay raw (the importer parses them).
    """

    task_type: str  # classification | multilabel | spans
    encoding: str | None = None  # None: detect (UTF-8 with or without BOM, UTF-16 with BOM)
    mapping: dict[str, str] | None = None  # {source column: project input}
    label_column: str | None = None
    sheet: str | None = None  # xlsx
    spans_key: str | None = None  # spaCy DocBin: doc.spans[key] instead of doc.ents
    max_field: int = 16 * 1024 * 1024
    # Set by the importer (not the preview) when no label column is read: a tabular format
    # may give a long text cell as a longtext.LongText (its UTF-8, never one str).
    long_bytes: bool = False


@dataclass(frozen=True)
class WriteContext:
    """What a writer needs to know about the project it exports."""

    task_type: str
    labels: tuple[str, ...]
    text_key: str  # the record key holding the annotated text (project.annotated_input)
    context_inputs: tuple[str, ...] = ()
    language: str = "en"
    values: str = "all"  # "all": every annotator's annotations; "final": the record's `label`
    inputs: tuple[str, ...] = ()  # every input of the project, in its order (tabular writers)
    annotators: tuple[str, ...] = ()  # every annotator's name, in id order (tabular writers)
    raw: bool = False  # CSV/XLSX: cells verbatim, no formula neutralising
    with_source: bool = False  # records carry `label_source` (a value source was chosen)


@dataclass
class WriteReport:
    written: int = 0
    warnings: list[str] = field(default_factory=list)  # e.g. spans that don't align to tokens
    notes: list[str] = field(default_factory=list)  # e.g. the labeling config to set up


class Format(Protocol):
    """One file format. detect() returns a confidence in [0, 1] from the path and the first
    bytes of the file (or of the folder's first file); 0 means "certainly not"."""

    name: str
    description: str  # one line for --help and the import dialog
    suffixes: tuple[str, ...]
    tabular: bool  # takes --map / --label-column

    def detect(self, path: Path, head: bytes) -> float: ...

    def read(self, path: Path, options: ReadOptions) -> Iterator[Record]: ...

    def write(
        self,
        records: Iterator[dict[str, Any]],
        out: Path,
        context: WriteContext,
        progress: Progress,
        cancel: CancelCheck,
    ) -> WriteReport: ...


Reader = Callable[[Path, ReadOptions], Iterator[Record]]
