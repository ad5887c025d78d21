"""PubTator: the NCBI's plain-text format of titles, abstracts and their mention annotations.

    PMID|t|Title
    PMID|a|Abstract
    PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>concept id]
    (blank line between documents; 4-field relation lines are left out)

A document's text is title + " " + abstract and offsets count its characters, end exclusive.
Every mention is checked against the slice it points at. A document with no annotation line
stays unlabelled: PubTator has no way to say "read, and nothing found". The PMID goes to the
context input `pmid`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.fileio import atomic_writer
from app.core.io.decoding import nul_error
from app.core.io.formats.annotated import (
    checked_span,
    final_value,
    record_text,
    short,
    spans_for_task,
)
from app.core.io.formats.base import AnnotatorValue, ReadOptions, Record, WriteContext, WriteReport
from app.core.jobs import CancelCheck, Progress, check_cancel

NAME = "pubtator"
DESCRIPTION = "PubTator: titles, abstracts and their mention annotations (NCBI)"
SUFFIXES = (".pubtator", ".pubtator.txt")
TABULAR = False
MULTI_ANNOTATOR = False  # one value per document: the exporter writes the final value

_HEADER = re.compile(rb"^\s*[^|\t\r\n]{1,40}\|[ta]\|", re.MULTILINE)
_BREAKS = re.compile(r"[\r\n\t\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


@dataclass
class Document:
    """One PubTator document: its first line, PMID, text and the spans its lines give."""

    line: int
    pmid: str
    text: str
    spans: list[dict[str, Any]] = field(default_factory=list)


def detect(path: Path, head: bytes) -> float:
    if _HEADER.match(head):
        return 0.95
    return 0.3 if Path(path).name.lower().endswith(SUFFIXES) else 0.0


def documents(
    path: Path, encoding: str | None = None, max_field: int = 16 << 20
) -> Iterator[Document]:
    """The documents of a PubTator file, one at a time, every span checked; a line longer
    than `max_field` characters is refused before the next is read."""
    name = str(path)
    doc: Document | None = None
    title: str | None = None
    number = 0
    try:
        with Path(path).open(encoding=encoding or "utf-8-sig", newline="") as handle:
            number = 0
            for number, raw in enumerate(iter(lambda: handle.readline(max_field + 1), ""), 1):
                if len(raw) > max_field:
                    raise DataError(name, number, f"a line over the {max_field:,}-character limit")
                if "\x00" in raw:  # the rule of every text format (app.core.io.decoding)
                    raise nul_error(name, number)
                line = raw.rstrip("\r\n")
                if not line.strip():
                    if doc is not None:
                        yield doc
                    doc, title = None, None
                    continue
                head, bar, rest = line.partition("|")
                if bar and rest[:2] in ("t|", "a|") and "\t" not in head:
                    doc, title = _text_line(name, number, doc, title, head, rest)
                    continue
                if doc is None:
                    raise DataError(name, number, "an annotation line before the document's title")
                _annotation_line(name, number, doc, line)
            if doc is not None:
                yield doc
    except UnicodeDecodeError as exc:
        raise DataError(
            name, number + 1, f"not {encoding or 'UTF-8'} text ({exc.reason})"
        ) from None
    except OSError as exc:
        raise DataError(name, None, f"cannot be read: {exc.strerror or exc}") from None


def _text_line(
    name: str, number: int, doc: Document | None, title: str | None, pmid: str, rest: str
) -> tuple[Document, str | None]:
    kind, body = rest[0], rest[2:]
    pmid = pmid.strip()
    if kind == "t":
        if doc is not None:
            raise DataError(name, number, "a second title without a blank line before it")
        return Document(number, pmid, body), body
    if doc is None or title is None:
        raise DataError(name, number, "an abstract line without a title line before it")
    if doc.pmid != pmid:
        raise DataError(name, number, f"abstract of {pmid} follows the title of {doc.pmid}")
    if doc.spans:
        raise DataError(name, number, "an abstract line after the annotations")
    doc.text = f"{title} {body}" if body else title  # no trailing space for a title alone
    return doc, None


def _annotation_line(name: str, number: int, doc: Document, line: str) -> None:
    parts = line.split("\t")
    if len(parts) == 4:  # a relation (PMID, type, concept, concept): not a span
        return
    if len(parts) < 5:
        raise DataError(
            name,
            number,
            f"expected PMID, start, end, mention and type separated by tabs: {short(line)}",
        )
    if parts[0].strip() != doc.pmid:
        raise DataError(name, number, f"annotation of {parts[0]} inside document {doc.pmid}")
    span = checked_span(name, number, doc.text, parts[1], parts[2], parts[4], parts[3], True)
    doc.spans.append(span)


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
    name = str(path)
    for doc in documents(path, options.encoding, options.max_field):
        values: tuple[AnnotatorValue, ...] = ()
        if doc.spans:
            value = spans_for_task(name, doc.line, options.task_type, doc.spans, NAME)
            values = (AnnotatorValue(value),)
        yield Record(doc.line, doc.text, {"pmid": doc.pmid}, values, doc.pmid)


def split_title(text: str) -> tuple[str, str]:
    """Title and abstract whose join with one space is `text` again: the first sentence when
    there is one, else the first word."""
    cut = text.find(". ")
    if cut < 0:
        cut = text.find(" ") - 1
    if cut < 0:
        return text, ""
    return text[: cut + 1], text[cut + 2 :]


def write(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    """One document per record; line breaks and tabs (which PubTator cannot hold) become
    spaces, one character for one so that offsets stay exact, with a warning."""
    report = WriteReport()
    broken = 0
    with atomic_writer(Path(out), "w", encoding="utf-8", newline="\n") as handle:
        for index, record in enumerate(records, 1):
            if index % 1000 == 0:
                check_cancel(cancel)
                progress(index, None, f"Writing {Path(out).name}")
            text = record_text(record, context)
            if _BREAKS.search(text):
                broken += 1
                text = _BREAKS.sub(" ", text)
            pmid = _pmid(record, index)
            title, abstract = split_title(text)
            handle.write(f"{pmid}|t|{title}\n{pmid}|a|{abstract}\n")
            value = final_value(record)
            if context.task_type == "spans" and isinstance(value, list):
                for span in sorted(value, key=lambda s: (s["start"], s["end"])):
                    mention = text[span["start"] : span["end"]]
                    handle.write(
                        f"{pmid}\t{span['start']}\t{span['end']}\t{mention}\t{span['label']}\n"
                    )
            handle.write("\n")
            report.written = index
    if broken:
        report.warnings.append(
            f"{broken} text(s) had line breaks or tabs, written as spaces (PubTator has one line"
            " per title and abstract); offsets are unchanged"
        )
    if context.task_type != "spans":
        report.warnings.append("PubTator holds spans only: the texts were written without labels")
    return report


def _pmid(record: dict[str, Any], index: int) -> str:
    pmid = record.get("pmid")
    if isinstance(pmid, str | int) and re.fullmatch(r"[^|\s]{1,40}", str(pmid)):
        return str(pmid)
    return str(index)
