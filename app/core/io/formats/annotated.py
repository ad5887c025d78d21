"""What the span and document formats (pubtator, brat, bioc, spacy) share: checking a span read
from a file against its text, the values a writer writes, and writing a folder atomically.

Every check names the file and the line (or document) so that a bad file is a clear DataError,
never a traceback or a silently shifted offset.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.fileio import part_dir_path, sweep_stale_parts
from app.core.io.formats.base import Record, WriteContext

MAX_OFFSET = 1 << 40  # past any text a field can hold; keeps offsets in SQLite's integers


def checked_span(
    file: str,
    line: int,
    text: str,
    start: Any,
    end: Any,
    label: Any,
    mention: str | None = None,
    blanked_punctuation: bool = False,
) -> dict[str, Any]:
    """A span dict after checking its offsets against `text` and, when the source gives the
    mention, that the slice is that mention (an offset counted in other units shows here).

    blanked_punctuation: PubTator corpora write mentions with quotes and brackets blanked out
    (NCBI Disease: 'seizures   plus  ' for 'seizures " plus "'); a mention of the same length
    that differs only where it has a space and the text has punctuation is then accepted."""
    try:
        if isinstance(start, float | bool) or isinstance(end, float | bool):
            raise TypeError  # int() would cut 0.5 to 0 without a word
        start, end = int(start), int(end)
    except (TypeError, ValueError, OverflowError):
        shown = ", ".join(short(x) for x in (start, end))
        raise DataError(file, line, f"span offsets {shown} are not whole numbers") from None
    if max(abs(start), abs(end)) > MAX_OFFSET:
        raise DataError(file, line, f"span offsets {short(start)}, {short(end)} are out of range")
    if not isinstance(label, str) or not label.strip():
        raise DataError(file, line, f"span {start}-{end} has no label")
    if not 0 <= start < end <= len(text):
        raise DataError(
            file,
            line,
            f"span {start}-{end} ({short(label)}) lies outside the text of {len(text)} characters",
        )
    if (
        mention is not None
        and text[start:end] != mention
        and not (blanked_punctuation and _blanked(text[start:end], mention))
    ):
        raise DataError(
            file,
            line,
            f"span {start}-{end} ({short(label)}) says {short(mention)} but the text there "
            f"is {short(text[start:end])}",
        )
    return {"start": start, "end": end, "label": label}


def short(value: Any, limit: int = 80) -> str:
    """A value as messages show it: its repr cut to `limit` characters. A hostile file's value
    may be megabytes, nested past what repr recurses through, or an int of 5,000 digits."""
    try:
        shown = repr(value)
    except ValueError:  # an int of more than 4,300 digits
        return f"a {value.bit_length():,}-bit number"
    except RecursionError:
        return f"a {type(value).__name__} nested too deep to show"
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _blanked(found: str, mention: str) -> bool:
    return len(found) == len(mention) and all(
        a == b or (b.isspace() and not a.isalnum()) for a, b in zip(found, mention, strict=True)
    )


def final_value(record: dict[str, Any]) -> Any:
    """The one value a format with a single annotation per document writes: the record's
    `label` (agreed by every annotator, or the final value with --values final)."""
    return record.get("label")


def annotator_values(
    record: dict[str, Any], context: WriteContext, every: bool = False
) -> list[tuple[str | None, Any]]:
    """(annotator, value) pairs to write: every complete annotation, or with --values final the
    one final value (annotator None) unless `every`. Drafts and skipped items carry no value."""
    if context.values == "final" and not every:
        value = record.get("label")
        return [] if value is None else [(None, value)]
    return [
        (item.get("annotator"), item["value"])
        for item in record.get("annotations") or ()
        if item.get("status") == "complete" and item.get("value") is not None
    ]


def record_text(record: dict[str, Any], context: WriteContext) -> str:
    value = record.get(context.text_key)
    return "" if value is None else str(value)


def document_name(record: dict[str, Any], index: int) -> str:
    """A file-safe, unique name for a record's document in a folder output."""
    row = record.get("row")
    stem = record.get("dataset") or "doc"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(stem))[:40] or "doc"
    return f"{index:06d}-{safe}-{row if row is not None else index}"


# What a folder export writes: brat's NNNNNN-NAME.txt / .ann and configuration files; arrow's
# save_to_disk shards, dataset_info.json and state.json.
_EXPORTED = re.compile(
    r"\d{6}-.*\.(?:txt|ann)|(?:annotation|visual|tools)\.conf"
    r"|data-\d{5}-of-\d{5}\.arrow|dataset_info\.json|state\.json"
)


def check_replaceable(out: Path) -> None:
    """An existing folder is replaced only if it holds nothing but a folder export's files:
    `export ... ~/Documents --format brat` moved the whole folder aside and deleted it."""
    try:
        entries = list(os.scandir(out))
    except OSError as exc:
        raise DataError(str(out), None, f"cannot be read: {exc.strerror or exc}") from None
    for entry in entries:
        if not (entry.is_file(follow_symlinks=False) and _EXPORTED.fullmatch(entry.name)):
            raise DataError(
                str(out),
                None,
                f"holds {entry.name!r}, which no export wrote: a folder export replaces the "
                "whole folder, so give a new or empty folder, or a previous export's",
            )


@contextlib.contextmanager
def atomic_folder(out: Path) -> Iterator[Path]:
    """Yield a new temporary folder beside `out`; on success it replaces `out` (an existing
    folder, only a previous export (check_replaceable), is moved aside first and removed
    after), on failure it is removed. The temporary folders name their process, so a killed
    export's are swept (app.core.fileio.sweep_stale_parts)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not out.is_dir():
        raise DataError(str(out), None, "is a file; a folder format writes a folder")
    if out.is_dir():
        check_replaceable(out)
    sweep_stale_parts(out.parent)
    tmp = part_dir_path(out)
    os.mkdir(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; others on a shared drive read it
    try:
        yield tmp
        old = None
        if out.exists():
            old = part_dir_path(out)
            os.mkdir(old)
            os.replace(out, old / "previous")
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def spans_for_task(
    file: str, line: int, task_type: str, spans: list[dict[str, Any]], fmt: str
) -> Any:
    """Spans read from a span format, in the project's task shape: the spans themselves, or
    for a multilabel project the set of their labels (which mention types a document has)."""
    if task_type == "spans":
        return spans
    if task_type == "multilabel":
        return sorted({span["label"] for span in spans})
    raise DataError(
        file, line, f"a {fmt} file holds spans; import it into a spans or multilabel project"
    )


ANNOTATIONS_COLUMN = "annotations"  # the parquet writer's every-annotator column


def tabular_records(rows: Iterator[tuple[int, dict[str, Any]]]) -> Iterator[Record]:
    """Records of a tabular format as the importer takes them (app.core.io.sources): the
    whole row in `context` by column name; --map and --label-column pick from it there."""
    for line, row in rows:
        box = [Record(line, "", row)]  # not held here while it is imported (a long text)
        del row
        yield box.pop()
