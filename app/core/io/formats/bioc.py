"""BioC XML through the `bioc` package: a collection of documents, each of passages placed at
document offsets, with annotations located by offset and length.

A document's text is its passages laid at their offsets, the gaps filled with spaces (a
PubTator-style title at 0 and abstract at len(title) + 1 give title + " " + abstract); a
passage without text is built from its sentences the same way. Offsets count characters and
each annotation's text is checked against its slice. An annotation's label is its `type`
infon. An annotation with several locations (discontinuous) is refused, never dropped.
A document with no annotation stays unlabelled.

Annotators: an annotation with an `annotator` infon belongs to that annotator; the writer sets
it, and lists in the document infon `tagloop:annotators` (JSON) who answered, so that an
annotator's "no spans" comes back too. Only the prolog is trusted to be free of entity
declarations: one there (<!ENTITY, expansion or a file read) is refused before lxml parses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.fileio import atomic_writer
from app.core.io import longtext
from app.core.io.formats import bioc_tree
from app.core.io.formats.annotated import annotator_values, checked_span, spans_for_task
from app.core.io.formats.base import AnnotatorValue, ReadOptions, Record, WriteContext, WriteReport
from app.core.io.longtext import LongText
from app.core.jobs import CancelCheck, Progress, check_cancel

NAME = "bioc"
DESCRIPTION = "BioC XML: documents of passages with located annotations"
SUFFIXES = (".bioc", ".bioc.xml", ".xml")
TABULAR = False
MULTI_ANNOTATOR = True  # every annotator kept

ANNOTATORS_INFON = "tagloop:annotators"
PROLOG = 1 << 20  # bytes searched for entity declarations before the root element
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def detect(path: Path, head: bytes) -> float:
    if b"<collection" in head and (b"<document" in head or b"BioC" in head):
        return 0.95
    if Path(path).name.lower().endswith((".bioc", ".bioc.xml")):
        return 0.6
    return 0.0


def _check_prolog(path: Path) -> None:
    """Refuse entity declarations before anything expands them: a quick look at the first
    bytes, then lxml's own reading of the prolog (in any encoding, however long, whatever
    comments hide) with nothing resolved or loaded."""
    from lxml import etree

    with Path(path).open("rb") as handle:
        head = handle.read(PROLOG)
        root = head.find(b"<collection")
        prolog = head if root < 0 else head[:root]
        if b"<!ENTITY" in prolog:
            raise DataError(str(path), None, "declares XML entities: refused (entity expansion)")
        handle.seek(0)
        options = {"resolve_entities": False, "load_dtd": False, "no_network": True}
        for _event, element in etree.iterparse(handle, events=("start",), **options):
            dtd = element.getroottree().docinfo.internalDTD
            if dtd is not None and any(True for _ in dtd.iterentities()):
                raise DataError(
                    str(path), None, "declares XML entities: refused (entity expansion)"
                )
            if element.tag != "collection":
                raise DataError(
                    str(path), None, f"not a BioC collection (its root is <{element.tag}>)"
                )
            return


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
    from lxml import etree

    name = str(path)
    try:
        _check_prolog(path)
        with Path(path).open("rb") as handle:
            found = bioc_tree.documents(handle, name, options.max_field)
            for number, document in enumerate(found, 1):
                box = [_record(name, number, document, options)]  # not held while imported
                del document
                yield box.pop()
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        if "Text node too long" in str(exc.msg):
            raise DataError(
                name, line, "a text of over 10,000,000 characters, more than the XML reader takes"
            ) from None
        raise DataError(name, line, f"not well-formed XML: {exc.msg}") from None
    except OSError as exc:
        raise DataError(name, None, f"cannot be read: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise DataError(name, None, f"not a BioC collection ({exc})") from None


def _offset(name: str, where: str, value: Any, limit: int) -> int:
    """An offset or length of the file as an int in [0, limit]; else a DataError."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        shown = repr(value) if len(str(value)) <= 40 else f"{str(value)[:37]!r}..."
        raise DataError(name, None, f"{where}: {shown} is not a whole number") from None
    if not 0 <= number <= limit:
        raise DataError(
            name, None, f"{where}: {number if number < 1e15 else 'a huge number'} is out of range"
        )
    return number


def _laid_out(name: str, where: str, pieces: list[tuple[int, Any]], limit: int) -> Any:
    """Text pieces laid at their offsets, gaps filled with spaces; at most `limit` long. A
    LongText among them makes the text UTF-8 too (a LongText if it is long)."""
    pieces.sort(key=lambda p: p[0])
    if len(pieces) == 1 and pieces[0][0] == 0:  # one passage: its text, no copy
        _check_piece(name, where, 0, 0, len(pieces[0][1]), limit)
        return pieces.pop()[1]
    if all(piece.__class__ is str for _offset, piece in pieces):
        text = ""
        for offset, piece in pieces:
            _check_piece(name, where, offset, len(text), len(piece), limit)
            text += " " * (offset - len(text)) + piece
        return text
    data = bytearray()
    length = 0
    pieces.reverse()
    while pieces:  # each piece let go of once it is copied
        offset, piece = pieces.pop()
        _check_piece(name, where, offset, length, len(piece), limit)
        data += b" " * (offset - length)
        data += piece.data if piece.__class__ is LongText else piece.encode("utf-8")
        length = offset + len(piece)
        del piece
    return LongText(data, length) if length > longtext.LONG_TEXT else str(data, "utf-8")


def _check_piece(name: str, where: str, offset: int, end: int, size: int, limit: int) -> None:
    if offset < end:
        raise DataError(name, None, f"{where}: a passage at offset {offset} overlaps another")
    if offset + size > limit:
        raise DataError(
            name,
            None,
            f"{where}: its passages reach past character {limit:,}, the field limit "
            "(--max-field-mb)",
        )


def _text_of(element: Any, default: Any) -> Any:
    """The text of a passage's or sentence's <text> (bioc's: the last one; None if empty),
    or `default` without one."""
    found = element.findall("text")
    return found[-1].value if found else default


def _child_text(element: Any, tag: str, default: Any) -> Any:
    """The text of `element`'s last <tag> child (None if empty), or `default` without one."""
    found = element.findall(tag)
    return found[-1].text if found else default


def _document_text(name: str, where: str, document: Any, limit: int) -> Any:
    pieces = []
    for passage in document.iterchildren("passage"):
        text = _text_of(passage, "")
        if text is not None:
            at = _offset(
                name, f"{where}, a passage's offset", _child_text(passage, "offset", 0), limit
            )
            pieces.append((at, text))
        else:
            for sentence in passage.iterchildren("sentence"):
                raw = _child_text(sentence, "offset", None)
                at = _offset(name, f"{where}, a sentence's offset", raw, limit)
                pieces.append((at, _text_of(sentence, "") or ""))
        del text
    return _laid_out(name, where, pieces, limit)


def _annotations(document: Any) -> Iterator[Any]:
    yield from document.iterchildren("annotation")
    for passage in document.iterchildren("passage"):
        yield from passage.iterchildren("annotation")
        for sentence in passage.iterchildren("sentence"):
            yield from sentence.iterchildren("annotation")


def _infons(element: Any) -> dict[str | None, str | None]:
    return {infon.get("key"): infon.text for infon in element.iterchildren("infon")}


def _record(name: str, number: int, document: Any, options: ReadOptions) -> Record:
    document_id = _child_text(document, "id", "")
    where = f"document {document_id}"
    text = _document_text(name, where, document, options.max_field)
    annotations = list(_annotations(document))
    if annotations and text.__class__ is LongText:  # mentions are checked on the str
        text = text.decode()
    by_annotator: dict[str | None, list[dict[str, Any]]] = {}
    for annotation in annotations:
        infons = _infons(annotation)
        label = infons.get("type")
        locations = list(annotation.iterchildren("location"))
        annotation_id = annotation.get("id")
        if len(locations) != 1:
            raise DataError(
                name,
                None,
                f"{where}, annotation {annotation_id}: {len(locations)} locations"
                " (a discontinuous span); Tagloop spans are continuous: split or join it",
            )
        at = f"{where}, annotation {annotation_id}"
        start = _offset(name, f"{at}: offset", locations[0].get("offset"), len(text))
        length = _offset(name, f"{at}: length", locations[0].get("length"), len(text))
        mention = _child_text(annotation, "text", "")
        try:
            span = checked_span(name, 0, text, start, start + length, label, mention)
        except DataError as exc:
            raise DataError(name, None, f"{at}: {exc.problem}") from None
        by_annotator.setdefault(infons.get("annotator"), []).append(span)
    answered = _answered(name, where, _infons(document))
    for who in answered:
        by_annotator.setdefault(who, [])
    values = tuple(
        AnnotatorValue(spans_for_task(name, number, options.task_type, spans, NAME), annotator=who)
        for who, spans in by_annotator.items()
    )
    return Record(number, text, {"document": document_id}, values, document_id)


def _answered(name: str, where: str, infons: dict[str | None, str | None]) -> list[str]:
    raw = infons.get(ANNOTATORS_INFON)
    if not raw:
        return []
    try:
        who = json.loads(raw)
    except (ValueError, RecursionError):
        who = None
    if not isinstance(who, list) or not all(isinstance(x, str) for x in who):
        raise DataError(name, None, f"{where}: {ANNOTATORS_INFON} is not a JSON list of names")
    return who


def write(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    """One document per record: one passage at offset 0 and its annotations, each with the
    `type` infon and, for every annotator's annotations, the `annotator` infon."""
    import bioc
    from bioc import biocxml

    report = WriteReport()
    cleaned = 0
    with atomic_writer(Path(out), "wb") as handle:
        writer = biocxml.BioCXMLDocumentWriter(handle)
        collection = bioc.BioCCollection()
        collection.source = "Tagloop"
        writer.write_collection_info(collection)
        for index, record in enumerate(records, 1):
            if index % 1000 == 0:
                check_cancel(cancel)
                progress(index, None, f"Writing {Path(out).name}")
            text = str(record.get(context.text_key) or "")
            if _ILLEGAL.search(text):
                cleaned += 1
                text = _ILLEGAL.sub("\ufffd", text)
            writer.write_document(_document(record, text, context))
            report.written = index
        writer.close()
    if cleaned:
        report.warnings.append(
            f"{cleaned} text(s) held control characters XML cannot store; each became U+FFFD"
        )
    if context.task_type != "spans":
        report.warnings.append("BioC here holds spans only: the texts were written without labels")
    return report


def _document(record: dict[str, Any], text: str, context: WriteContext) -> Any:
    import bioc

    document = bioc.BioCDocument()
    document.id = str(record.get("id") or record.get("row"))
    passage = bioc.BioCPassage()
    passage.offset = 0
    passage.text = text
    document.add_passage(passage)
    if context.task_type != "spans":
        return document
    answered = []
    number = 0
    for who, value in annotator_values(record, context):
        if not isinstance(value, list):
            continue
        if who is not None:
            answered.append(who)
        for span in value:
            number += 1
            annotation = bioc.BioCAnnotation()
            annotation.id = f"T{number}"
            annotation.infons["type"] = span["label"]
            if who is not None:
                annotation.infons["annotator"] = who
            start, end = span["start"], span["end"]
            annotation.add_location(bioc.BioCLocation(start, end - start))
            annotation.text = text[start:end]
            passage.add_annotation(annotation)
    if answered:
        document.infons[ANNOTATORS_INFON] = json.dumps(answered, ensure_ascii=False)
    return document
