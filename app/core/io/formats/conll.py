"""CoNLL token-per-line files (CoNLL-2003 and its kin), read and written.

One token a line, its tag in the last column (whitespace-separated); a blank line ends a
sentence and `-DOCSTART-` a document. Tags in IOB (IOB1), IOB2 / BIO and BILUO / BIOES are
all read: B- begins, I- continues (or begins, in IOB1), L-/E- ends, U-/S- is a one-token
entity, O is outside. Blank lines and -DOCSTART- lines separate the datapoints: one per
sentence. The text is rebuilt from the tokens joined by single spaces: the original spacing
is not in the file. Every token is tagged, so a sentence without entities is an answered
"no spans".

The writer tokenises with the project language's blank spaCy tokenizer, writes IOB2 tags
("token TAG"), one datapoint per -DOCSTART- document, and reports spans that don't fall on token
boundaries (they are widened to the tokens they touch).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.fileio import atomic_writer
from app.core.io.decoding import HEAD, TextLines, check_encoding, detect_encoding
from app.core.io.formats import peer
from app.core.io.formats.base import (
    AnnotatorValue,
    ReadOptions,
    Record,
    WriteContext,
    WriteReport,
)
from app.core.io.longtext import LONG_TEXT, LongText
from app.core.jobs import CancelCheck, Progress

NAME = "conll"
DESCRIPTION = "CoNLL token-per-line, IOB / IOB2 (BIO) / BILUO tags, for spans"
SUFFIXES = (".conll", ".iob", ".bio", ".bilou", ".biluo")
TABULAR = False
MULTI_ANNOTATOR = False
TAG = re.compile(r"^(?:O|[BIELSU][-_].+)$")
DOCSTART = "-DOCSTART-"
MAX_TOKENS = 100_000  # of one sentence: past it, a blank line between sentences is missing
# Tokens of a sentence kept as separate strs before they are joined: a str per token took
# about 8x the text's size (issue 14: peak memory).
COMPACT = 5_000
COMPACT_CHARS = 1 << 20  # or as soon as the tokens kept as strs hold this many characters


def detect(path: Path, head: bytes) -> float:
    """Most non-blank lines end in an IOB-style tag, in two or more columns."""
    text = head.decode("utf-8", errors="ignore")
    lines = [line for line in text.splitlines()[:-1] if line.strip()][:200]
    if not lines:
        return 0.0
    if lines[0].startswith(DOCSTART):
        return 0.95
    tagged = sum(1 for line in lines if len(line.split()) >= 2 and TAG.match(line.split()[-1]))
    if len(lines) >= 3 and tagged >= 0.9 * len(lines):
        return 0.95
    return 0.0


class _Builder:
    """The tokens and spans of the datapoint being read.

    A sentence's tokens are kept as strs only COMPACT at a time: then they go, joined, into
    `data` as UTF-8 (a str per token took about 8x the text's size, and a str of mostly
    ASCII text with one CJK character two bytes a character). A sentence over LONG_TEXT
    characters becomes a LongText of those bytes, never decoded as one str; an ordinary one
    is joined from its parts as before."""

    def __init__(self, file: str, limit: int) -> None:
        self.parts: list[str] = []  # the tokens (and their spaces) since the last compact()
        self.data = bytearray()  # the UTF-8 of the tokens before them
        self.size = 0  # bytes of `data`
        self.tokens = 0
        self.length = 0  # characters of the text so far
        self.compacted = 0  # characters of it in `data`
        self.spans: list[dict[str, Any]] = []
        self.open: dict[str, Any] | None = None
        self.line = 0
        self.file = file
        self.limit = limit  # bytes of one text: the field limit
        self.tags: set[str] = {"O"}  # tags already checked against TAG

    def add(self, token: str, tag: str, line: int) -> None:
        self.line = self.line or line
        if self.tokens >= MAX_TOKENS:
            raise DataError(
                self.file,
                self.line,
                f"a sentence of over {MAX_TOKENS:,} tokens, from this line on; is a blank line "
                "missing between its sentences?",
            )
        if self.tokens:
            self.parts.append(" ")
            self.length += 1
        start = self.length
        self.parts.append(token)
        self.tokens += 1
        self.length += len(token)
        end = self.length
        # a long sentence: its bytes, not a str per token (and checked against the field
        # limit as it grows: a few huge tokens are refused before they are all read)
        if len(self.parts) > 2 * COMPACT or self.length - self.compacted > COMPACT_CHARS:
            self.compact()
        if tag not in self.tags:
            if not TAG.match(tag):
                shown = tag if len(tag) <= 80 else tag[:77] + "..."
                raise DataError(
                    self.file, line, f"{shown!r} is not an IOB/BIO/BILUO tag (O, B-X, I-X...)"
                )
            self.tags.add(tag)
        if tag == "O":
            self.open = None
            return
        self.tagged(tag, start, end)

    def tagged(self, tag: str, start: int, end: int) -> None:
        """The span a tagged token begins, continues or ends."""
        prefix, label = tag[0], tag[2:]
        current = self.open
        if prefix == "I" or prefix in "LE":
            if current is not None and current["label"] == label:
                current["end"] = end
            else:  # IOB1 starts an entity with I-; a stray L-/E- is a one-token entity
                current = {"start": start, "end": end, "label": label}
                self.spans.append(current)
                self.open = current
            if prefix in "LE":
                self.open = None
            return
        current = {"start": start, "end": end, "label": label}
        self.spans.append(current)
        self.open = current if prefix == "B" else None  # U-/S-: one token

    def compact(self) -> None:
        """The tokens kept as strs go into `data`; a text over the field limit is refused."""
        try:
            piece = "".join(self.parts).encode("utf-8")
        except UnicodeEncodeError:
            raise DataError(
                self.file, self.line, "a token of this sentence is not valid text"
            ) from None
        self.parts = []
        self.compacted = self.length
        self.size += len(piece)
        if self.size > self.limit:
            raise DataError(
                self.file,
                self.line,
                f"the sentence from this line on is a text of over {self.limit:,} bytes, the "
                "field limit (raise it with --max-field-mb)",
            )
        self.data += piece

    def record(self) -> Record | None:
        """The datapoint read, its text let go of by the builder."""
        if not self.tokens:
            return None
        if self.data:
            self.compact()
            data, self.data = self.data, bytearray()
            text: str | LongText = (
                LongText(data, self.length) if self.length > LONG_TEXT else str(data, "utf-8")
            )
            del data
        else:
            text = "".join(self.parts)
            if len(text) > self.limit // 4 and len(text.encode("utf-8")) > self.limit:
                self.compact()  # refuses it
        self.parts = []
        return Record(self.line, text, {}, (AnnotatorValue(self.spans),))


def _lines(path: Path, options: ReadOptions) -> Iterator[str]:
    with Path(path).open("rb") as raw:
        stream = io.BufferedReader(raw, 1 << 20)
        name = str(path)
        if options.encoding:
            encoding = check_encoding(options.encoding, name)
        else:
            encoding = detect_encoding(stream.peek(HEAD)[:HEAD], name)
        lines = TextLines(stream, encoding, name, options.max_field)
        lines.keep_ends = False
        try:
            yield from lines
        finally:
            lines.release()


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
    file = str(path)
    if options.task_type != "spans":
        raise DataError(file, None, "CoNLL files hold spans: import them into a spans project")
    builder = _Builder(file, options.max_field)
    for number, line in enumerate(_lines(path, options), 1):
        if not line or line.isspace() or line.startswith(DOCSTART):  # no copy of a long line
            box = [builder.record()]  # not held here while it is imported (a long text)
            builder = _Builder(file, options.max_field)
            if box[0] is not None:
                yield box.pop()
            continue
        columns = line.split()
        del line
        if len(columns) < 2:
            shown = " ".join(columns)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise DataError(file, number, f"a token line needs a token and a tag: {shown!r}")
        builder.add(columns[0], columns[-1], number)
        del columns
    box = [builder.record()]
    del builder
    if box[0] is not None:
        yield box.pop()


def write(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    """IOB2, one block per datapoint with a final value (unlabelled ones are left out)."""
    from app.core.annotation.tokens import spacy_tokenizer

    if context.task_type != "spans":
        raise DataError(str(out), None, "CoNLL holds spans: export a spans project")
    tokenize = spacy_tokenizer(context.language)
    report = WriteReport()
    out = Path(out)
    skipped = 0
    renamed: set[str] = set()  # labels written with '_' for their spaces
    with atomic_writer(out, "w", encoding="utf-8", newline="") as handle:
        for count, record in enumerate(records, 1):
            value = record.get("label")
            if value is None:
                skipped += 1
                continue
            text = record[context.text_key]
            tokens = tokenize(text)
            tags = _tags(tokens, value, text, record, report)
            handle.write(f"{DOCSTART} -X- -X- O\n\n")
            for (start, end), tag in zip(tokens, tags, strict=True):
                token = re.sub(r"\s", "_", text[start:end])
                handle.write(f"{token} {_column(tag, renamed)}\n")
            handle.write("\n")
            report.written += 1
            peer.tick(count, out, progress, cancel)
    if skipped:
        report.warnings.append(f"{skipped:,} datapoints without a final value were left out")
    if renamed:
        names = ", ".join(repr(name) for name in sorted(renamed)[:5])
        report.warnings.append(
            f"labels with spaces are written with '_' in their place, as CoNLL columns are "
            f"split at spaces: {names}"
        )
    return report


def _column(tag: str, renamed: set[str]) -> str:
    """A tag as one column: a label's spaces (any Unicode space) become '_', as BRAT's
    writer does, or the reader splits 'B-heart attack' in two (red team, session 6)."""
    if not any(c.isspace() for c in tag):
        return tag
    renamed.add(tag.partition("-")[2])
    return re.sub(r"\s", "_", tag)


def _tags(
    tokens: list[tuple[int, int]],
    spans: list[dict[str, Any]],
    text: str,
    record: dict[str, Any],
    report: WriteReport,
) -> list[str]:
    tags = ["O"] * len(tokens)
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        inside = [
            i
            for i, (start, end) in enumerate(tokens)
            if start < span["end"] and end > span["start"]
        ]
        if not inside or any(tags[i] != "O" for i in inside):
            report.warnings.append(
                f"row {record.get('row')}: span {span['start']}-{span['end']} "
                f"{text[span['start'] : span['end']]!r} left out (no token of its own)"
            )
            continue
        first, last = tokens[inside[0]][0], tokens[inside[-1]][1]
        if (first, last) != (span["start"], span["end"]):
            report.warnings.append(
                f"row {record.get('row')}: span {span['start']}-{span['end']} "
                f"{text[span['start'] : span['end']]!r} widened to the tokens "
                f"{text[first:last]!r}"
            )
        for n, i in enumerate(inside):
            tags[i] = ("B-" if n == 0 else "I-") + span["label"]
    return tags
