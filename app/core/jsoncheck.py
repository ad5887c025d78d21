"""Strict, bounded JSON decoding of one record: every way a hostile value can break the
decoder, or later the database or an export, becomes a DataError naming the file and line.

- nesting deeper than MAX_DEPTH (Python's decoder would raise RecursionError past ~1,000);
- integers longer than Python's 4,300-digit conversion limit (a ValueError);
- NaN and Infinity, which are not JSON and which a strict reader of our exports would refuse;
- lone UTF-16 surrogates (\\ud800), which decode to a str that cannot be encoded as UTF-8;
- an object that names a key twice: RFC 8259 leaves its meaning open (Python keeps the last
  value, other readers the first), so a record that says two things is refused, never guessed.

The checks cost a few C-speed scans of the record; the precise ones run only when a scan
says they might fail.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.core.errors import DataError
from app.core.jsonkeys import DuplicateKey, duplicate_problem, unique_object

MAX_DEPTH = 100
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE = re.compile("[\ud800-\udfff]")


class _NotJson(ValueError):
    """NaN, Infinity or -Infinity met by the decoder."""


def _refuse_constant(word: str) -> Any:
    raise _NotJson(word)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=unique_object)


def loads(text: str, name: str, line: int) -> Any:
    """One whole JSON document (a JSON Lines line); JSONDecodeError passes through."""
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:
        raise _translate(exc, name, line) from None
    check(text, 0, len(text), value, name, line)
    return value


def raw_decode(text: str, pos: int, name: str, line: int) -> tuple[Any, int]:
    """The JSON value starting at text[pos] and where it ends; JSONDecodeError passes through."""
    try:
        value, end = _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:
        raise _translate(exc, name, line) from None
    check(text, pos, end, value, name, line)
    return value, end


def _translate(exc: BaseException, name: str, line: int) -> DataError:
    if isinstance(exc, DuplicateKey):
        return DataError(name, line, duplicate_problem(exc.args[0]))
    if isinstance(exc, _NotJson):
        return DataError(
            name, line, f"invalid JSON: {exc} is not a JSON value (write it as a string, or null)"
        )
    if isinstance(exc, RecursionError):
        return too_deep(name, line)
    return DataError(
        name,
        line,
        "a number here has more digits than Python can read (over 4,300); "
        "write it as a string in quotes",
    )


def too_deep(name: str, line: int) -> DataError:
    return DataError(
        name, line, f"the JSON is nested more than {MAX_DEPTH} levels deep; flatten the record"
    )


def depth(value: Any) -> int:
    """How deep the lists and objects of a decoded JSON value nest: a walk over its containers
    (a scan of the text would copy it, and a regex over a long string costs ~100x its size)."""
    deepest = 0
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, level + 1))
    return deepest


def lone_surrogate(value: Any) -> str | None:
    """The first lone UTF-16 surrogate in the strings (keys too) of a decoded value, or None.
    The decoder joins a valid pair into one character, so any surrogate left is lone."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found = _LONE.search(item)  # no copy of the string, unlike encoding it
            if found is not None:
                return found.group()
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def check(text: str, start: int, end: int, value: Any, name: str, line: int) -> None:
    """Refuse a decoded value nested too deeply, or holding a lone surrogate. The scans of the
    text are C-speed counts that copy nothing; the walks of the value run only when a count
    says they might find something."""
    brackets = text.count("[", start, end) + text.count("{", start, end)
    if brackets > MAX_DEPTH and depth(value) > MAX_DEPTH:
        raise too_deep(name, line)
    if text.find("\\u", start, end) >= 0 and _SURROGATE.search(text, start, end) is not None:
        found = lone_surrogate(value)
        if found is not None:
            raise DataError(
                name,
                line,
                f"a lone UTF-16 surrogate (\\u{ord(found):04x}), half of a character pair, is "
                "not text; the file was made by a broken encoder. Fix or remove it",
            )
