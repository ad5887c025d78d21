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

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from app.core.errors import DataError
from app.core.fileio import atomic_writer
from app.core.io import longtext
from app.core.io.decoding import nul_error
from app.core.io.formats.annotated import (
    checked_span,
    final_value,
    record_text,
    short,
    spans_for_task,
)
from app.core.io.formats.base import AnnotatorValue, ReadOptions, Record, WriteContext, WriteReport
from app.core.io.longslice import Slices
from app.core.io.longtext import LongText
from app.core.jobs import CancelCheck, Progress, check_cancel

NAME = "pubtator"
DESCRIPTION = "PubTator: titles, abstracts and their mention annotations (NCBI)"
SUFFIXES = (".pubtator", ".pubtator.txt")
TABULAR = False
MULTI_ANNOTATOR = False  # one value per document: the exporter writes the final value

# A document's id (a PMID): no space, quote, brace, bracket, bar or tab, so that a JSON line
# or a sentence holding "|t|" is never taken for a title line.
_ID = rb"[^\s|\"'{}\[\]]{1,40}"
_TITLE = re.compile(rb" *(" + _ID + rb")\|t\|")
_NEXT = re.compile(rb" *(" + _ID + rb")(\|[ta]\||\t)")  # an abstract, annotation or title
_BREAKS = re.compile(r"[\r\n\t\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


@dataclass
class Document:
    """One PubTator document: its first line, PMID, text and the spans its lines give. A long
    text may be a LongText (its UTF-8): its mentions are checked on `slices` of it."""

    line: int
    pmid: str
    text: str | LongText
    spans: list[dict[str, Any]] = field(default_factory=list)
    slices: Slices | None = None


def detect(path: Path, head: bytes) -> float:
    """0.95 for PubTator's shape: the first line that is not blank is `ID|t|title`, and the
    next is that ID's abstract or annotation (or a new title, or past the head); 0.6 for a
    title line alone, which a plain text can hold too."""
    suffix = 0.3 if Path(path).name.lower().endswith(SUFFIXES) else 0.0
    lines = iter(line for line in head.removeprefix(codecs.BOM_UTF8).split(b"\n") if line.strip())
    first = next(lines, b"")
    title = _TITLE.match(first)
    if title is None:
        return suffix
    following = next(lines, None)
    if following is None:  # a one-line file, or a title line running past the head
        return 0.95 if not head.endswith(b"\n") and _size(path) > len(head) else 0.6
    after = _NEXT.match(following)
    if after is None:
        return max(suffix, 0.4)
    same = after.group(1) == title.group(1)
    return 0.95 if same or after.group(2) == b"|t|" else max(suffix, 0.4)


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def documents(
    path: Path, encoding: str | None = None, max_field: int = 16 << 20, long_bytes: bool = False
) -> Iterator[Document]:
    """The documents of a PubTator file, one at a time, every span checked; a line longer
    than `max_field` characters is refused before the next is read. With `long_bytes`, a text
    of more than longtext.LONG_TEXT characters is a LongText: its UTF-8, never one str (which
    held up to twice the UTF-8's size, beside the line's bytes)."""
    name = str(path)
    doc: Document | None = None
    title: str | LongText | None = None
    number = 0
    try:
        with Path(path).open("rb") as handle:
            # A long line is held once at a time (issue 14: peak memory): read as bytes and
            # decoded once (TextIOWrapper held its pieces and their join), no enumerate (its
            # tuple keeps the last line), no strip() or partition() copies of the whole line.
            number = 0
            for line in _lines(handle, encoding, max_field):
                number += 1
                if line.__class__ is tuple:  # (PMID, t or a, bytes, start, end): text line
                    head, kind, raw, start, end = line
                    line = ""
                    joined = kind == "a" and title is not None and doc is not None and start < end
                    held = [raw]
                    del raw  # _text_of lets go of it as soon as it can
                    try:
                        text = _text_of(
                            _prefix(title) if joined else b"", held, start, end, long_bytes
                        )
                    except UnicodeDecodeError as exc:  # this line's (the handler names the next)
                        raise DataError(name, number, f"not UTF-8 text ({exc.reason})") from None
                    except longtext.BadUtf8 as exc:
                        raise DataError(
                            name, number, f"not UTF-8 text ({exc.error.reason})"
                        ) from None
                    doc, title = _text_line(name, number, doc, title, head, kind, text, joined)
                    text = ""
                    continue
                if line is None:
                    raise DataError(name, number, f"a line over the {max_field:,}-byte limit")
                if "\x00" in line:  # the rule of every text format (app.core.io.decoding)
                    raise nul_error(name, number)
                if not line or line.isspace():
                    if doc is not None:
                        box = [doc]  # not held here while it is imported
                        doc = title = None
                        yield box.pop()
                    doc, title = None, None
                    continue
                bar = line.find("|")
                if bar >= 0 and line[bar + 1 : bar + 3] in ("t|", "a|") and "\t" not in line[:bar]:
                    kind, head = line[bar + 1], line[:bar]
                    line = line[bar + 3 :]  # the text alone
                    doc, title = _text_line(name, number, doc, title, head, kind, line)
                    line = ""
                    continue
                if doc is None:
                    raise DataError(name, number, "an annotation line before the document's title")
                _annotation_line(name, number, doc, line)
            if doc is not None:
                box = [doc]
                doc = title = None
                yield box.pop()
    except UnicodeDecodeError as exc:
        raise DataError(
            name, number + 1, f"not {encoding or 'UTF-8'} text ({exc.reason})"
        ) from None
    except OSError as exc:
        raise DataError(name, None, f"cannot be read: {exc.strerror or exc}") from None


def _lines(handle: BinaryIO, encoding: str | None, max_field: int) -> Iterator[Any]:
    """The file's lines without their line ends, each decoded once from its bytes (None for
    a line over `max_field` bytes); a UTF-8 title or abstract line as (PMID, "t" or "a",
    text), its text decoded alone. UnicodeDecodeError for bytes that are not the encoding."""
    codec = codecs.lookup(encoding or "utf-8-sig").name
    if codec not in ("utf-8", "utf-8-sig"):  # another encoding: decoded by the io module
        text = io.TextIOWrapper(handle, encoding=encoding, newline="")
        while line := text.readline(max_field + 1):
            yield None if len(line) > max_field else line.rstrip("\r\n")
            line = ""
        return
    first = True
    while raw := handle.readline(max_field + 1):
        if len(raw) > max_field:
            yield None
            return
        start = 3 if first and raw.startswith(codecs.BOM_UTF8) else 0
        first = False
        end = len(raw)
        while end > start and raw[end - 1] in (10, 13):  # \n, \r
            end -= 1
        bar = raw.find(b"|", start, end)
        if (
            bar >= 0
            and raw[bar + 1 : bar + 3] in (b"t|", b"a|")
            and b"\t" not in raw[:bar]
            and raw.find(b"\r", start, end) < 0
            and raw.find(b"\x00", start, end) < 0
        ):
            box = [(raw[start:bar].decode("utf-8"), chr(raw[bar + 1]), raw, bar + 3, end)]
            del raw  # the caller decodes the text (joined to its title: _text_of)
            yield box.pop()
            continue
        with memoryview(raw) as view:
            line = str(view[start:end], "utf-8")
        lone_cr = raw.find(b"\r", start, end) >= 0
        del raw  # the str alone while the caller reads it
        if lone_cr:  # a line end too, as the io module reads it (newline="")
            yield from line.split("\r")
            continue
        box = [line]
        del line
        yield box.pop()


def _prefix(title: str | LongText | None) -> bytes | bytearray:
    """The UTF-8 of a title and the space that joins it to its abstract."""
    if title.__class__ is LongText:
        return title.data + b" "  # type: ignore[union-attr]
    return f"{title} ".encode()


def _text_of(
    prefix: bytes | bytearray, held: list[bytes], start: int, end: int, long_bytes: bool = False
) -> str | LongText:
    """`prefix` and the UTF-8 raw[start:end] (raw the one item of `held`, taken from it) as
    one str, decoded once (a str join would hold the text twice: 4x its UTF-8 for text
    mixing CJK into ASCII); with `long_bytes`, a long text as a LongText of those bytes
    (longtext.BadUtf8 if they are not UTF-8)."""
    raw = held.pop()
    if not prefix and not long_bytes:
        with memoryview(raw) as view:
            return str(view[start:end], "utf-8")
    buf = prefix if prefix.__class__ is bytearray else bytearray(prefix)
    with memoryview(raw) as view:
        buf += view[start:end]
    del raw  # the caller's is gone too: held as buf alone
    if long_bytes:
        return longtext.text_of(buf)
    with memoryview(buf) as view:
        return str(view, "utf-8")


def _text_line(
    name: str,
    number: int,
    doc: Document | None,
    title: str | LongText | None,
    pmid: str,
    kind: str,
    body: str | LongText,
    joined: bool = False,
) -> tuple[Document, str | LongText | None]:
    """The document after a title or abstract line; `joined`: body is title, space, abstract."""
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
    if joined:
        doc.text = body
    else:
        doc.text = f"{title} {body}" if body else title  # type: ignore[assignment]
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
    text = doc.text
    if text.__class__ is LongText:  # checked on slices of its UTF-8 (app.core.io.longslice)
        if doc.slices is None:
            doc.slices = Slices(text)  # type: ignore[arg-type]
        text = doc.slices
    span = checked_span(name, number, text, parts[1], parts[2], parts[4], parts[3], True)  # type: ignore[arg-type]
    doc.spans.append(span)


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
    name = str(path)
    for doc in documents(path, options.encoding, options.max_field, options.long_bytes):
        values: tuple[AnnotatorValue, ...] = ()
        if doc.spans:
            value = spans_for_task(name, doc.line, options.task_type, doc.spans, NAME)
            values = (AnnotatorValue(value),)
        box = [Record(doc.line, doc.text, {"pmid": doc.pmid}, values, doc.pmid)]  # type: ignore[arg-type]
        del doc  # the text is the record's alone while it is imported
        yield box.pop()


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
    if isinstance(pmid, str | int) and re.fullmatch(_ID, str(pmid).encode()):  # detected again
        return str(pmid)
    return str(index)
