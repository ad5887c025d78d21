"""JSON objects that name a key twice are refused, wherever Tagloop reads JSON from a file.

RFC 8259 leaves such an object's meaning open: Python keeps the last value, other readers the
first. A record (or a bundle row) that says two things is refused, never guessed. Pass
`unique_object` as a decoder's `object_pairs_hook`; `duplicate_problem` words the message.
"""

from __future__ import annotations

import json
from typing import Any


class DuplicateKey(ValueError):
    """A JSON object names a key twice; args[0] is the key."""


def unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The object as a dict, or DuplicateKey. The dict and the length comparison run at C
    speed; the loop that finds the key runs only for a duplicate."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen = set()
        for key, _value in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return found


def duplicate_problem(key: str) -> str:
    """The message for a duplicate key: the key JSON-escaped (no control character or lone
    surrogate reaches a terminal), cut short past 60 characters."""
    shown = json.dumps(key[:60])
    if len(key) > 60:
        shown = shown[:-1] + '..."'
    return f"the key {shown} appears twice in one object"
