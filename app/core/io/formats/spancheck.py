"""A span's own `text`, when a file gives one, checked against the slice its offsets cut
(issue #13): a mismatch is refused with both strings, never stored shifted."""

from __future__ import annotations

from typing import Any

from app.core.errors import DataError
from app.core.io.formats.annotated import short


def utf16_slice(text: str, start: int, end: int) -> str | None:
    """text[start:end] counting UTF-16 code units (as JavaScript does), or None if it cuts a
    character in two."""
    encoded = text.encode("utf-16-le")
    try:
        return encoded[2 * start : 2 * end].decode("utf-16-le")
    except UnicodeDecodeError:
        return None


def check_span_text(span: Any, text: str, file: str, line: int) -> None:
    """Refuse a span whose own `text` is not the slice its offsets cut from the record."""
    if not isinstance(span, dict) or not isinstance(span.get("text"), str):
        return
    start, end = span.get("start"), span.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        return
    found = text[start:end]
    if found == span["text"]:
        return
    hint = ""
    if utf16_slice(text, start, end) == span["text"]:
        hint = (
            "; the offsets count UTF-16 code units (as JavaScript does), not characters: "
            "export them as characters"
        )
    raise DataError(
        file,
        line,
        f"the span {start}-{end} says its text is {short(span['text'])}, but those offsets cut "
        f"{short(found)} from the text{hint}",
    )
