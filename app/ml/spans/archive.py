"""The checks every stored span model passes before any of it is used: a zip with exactly its
members, not too large, a JSON meta of a known format, labels and a language that make sense.
Span models of every kind (spaCy, CRF) are stored this way, without pickles; a file from
someone else's project is refused with a ValueError, never half-loaded."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Collection
from typing import Any


def open_model(
    data: bytes, members: Collection[str], max_bytes: int, formats: Collection[str]
) -> tuple[zipfile.ZipFile, dict[str, Any], list[str], str]:
    """The archive, its meta.json, its labels and its language; ValueError on anything else."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, TypeError) as error:
        raise ValueError(f"not a span model: {error}") from error
    if sorted(names) != sorted(members):
        raise ValueError(f"unexpected members in span model: {names}")
    if sum(info.file_size for info in archive.infolist()) > max_bytes:
        raise ValueError("span model too large")
    try:
        meta = json.loads(archive.read("meta.json"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"span model meta.json is not JSON: {error}") from error
    if not isinstance(meta, dict) or meta.get("format") not in formats:
        raise ValueError(f"unknown span model format {meta.get('format')!r}")
    labels, language = meta.get("labels"), meta.get("language")
    if not isinstance(labels, list) or not all(isinstance(lab, str) for lab in labels):
        raise ValueError("span model labels are not a list of strings")
    if not isinstance(language, str) or not language.isalpha() or len(language) > 8:
        raise ValueError(f"bad span model language {language!r}")
    return archive, meta, labels, language
