"""Label schemas: the labels of a project with colour, hotkey and description, plus guidelines."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass

from app.core.errors import ProjectError

TASK_TYPES = ("classification", "multilabel", "spans")

# Colour-blind-safe palette (Okabe-Ito, then Tol's muted), used in order for new labels.
PALETTE = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#88CCEE",
    "#44AA99",
    "#DDCC77",
    "#AA4499",
    "#882255",
)
DEFAULT_HOTKEYS = "1234567890"
MAX_LABELS = 1000  # labels in one schema: more is a mistake (a text column read as labels?)
MAX_LABEL_LENGTH = 200  # characters in a label name
# What a label name never holds. C0/C1 controls: a tab or a line break corrupted the CoNLL,
# PubTator and BRAT exports (a crafted one added its own line to a .ann). U+2028/U+2029: line
# breaks to str.splitlines and to editors, the same harm. Bidi embeddings, overrides and
# isolates (U+202A-E, U+2066-9): they reorder how the name and the text after it are shown,
# so a label could show as another one.
_NOT_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class LabelSpec:
    name: str
    colour: str = ""
    hotkey: str = ""
    description: str = ""


@dataclass(frozen=True)
class SchemaVersion:
    """One version of the label schema and guidelines; annotations point at the one they used."""

    id: int
    uuid: str
    version: int
    labels: tuple[LabelSpec, ...]
    guidelines: str = ""
    allow_overlap: bool = False
    created_at: str = ""

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    def label(self, name: str) -> LabelSpec | None:
        return next((label for label in self.labels if label.name == name), None)


def label_name_problem(name: str) -> str | None:
    """Why `name` cannot be a label name (for a message: "the label 'x' ..."), or None.
    The one rule of init, schema edits, imports that add labels and bundles."""
    bad = _NOT_IN_NAME.search(name)
    if bad is None:
        return None
    char = bad.group()
    if char in "\u2028\u2029":
        return f"holds a Unicode line separator (U+{ord(char):04X})"
    if char >= "\u202a":
        return f"holds a bidirectional control (U+{ord(char):04X}), which changes how text shows"
    return "holds control characters (a tab, a line break)"


def same_looking(names: list[str]) -> list[str]:
    """Names written with other code points for the same text (NFC: a composed 'é' and an
    'e' with a combining accent), which a person cannot tell apart on screen."""
    firsts: dict[str, str] = {}
    clashes = []
    for name in names:
        key = unicodedata.normalize("NFC", name)
        first = firsts.setdefault(key, name)
        if first != name:
            clashes.append(name)
    return clashes


def complete_labels(labels: list[LabelSpec]) -> list[LabelSpec]:
    """Validate names and fill in colours and hotkeys that the user left blank. Linear in the
    number of labels, which is capped at MAX_LABELS."""
    names = [label.name.strip() for label in labels]
    if not names or any(not name for name in names):
        raise ProjectError("every label needs a name, and a schema needs at least one label")
    if len(names) > MAX_LABELS:
        raise ProjectError(
            f"{len(names):,} labels: a label schema holds at most {MAX_LABELS:,} labels"
        )
    long = next((name for name in names if len(name) > MAX_LABEL_LENGTH), None)
    if long is not None:
        raise ProjectError(label_too_long(long))
    for name in names:
        problem = label_name_problem(name)
        if problem is not None:
            raise ProjectError(f"label {name[:40]!r} {problem}: a label name cannot")
    duplicates = sorted(name for name, n in Counter(names).items() if n > 1)
    if duplicates:
        raise ProjectError(f"duplicate label names: {', '.join(duplicates)}")
    lookalikes = same_looking(names)
    if lookalikes:
        raise ProjectError(
            f"label {lookalikes[0][:40]!r} looks the same as another label but is written "
            "with other Unicode code points (a composed accent and a combining one): "
            "write both the same way"
        )
    used_keys = {label.hotkey for label in labels if label.hotkey}
    free_keys = [key for key in DEFAULT_HOTKEYS if key not in used_keys]
    done: list[LabelSpec] = []
    for index, (label, name) in enumerate(zip(labels, names, strict=True)):
        hotkey = label.hotkey
        if not hotkey and free_keys:
            hotkey = free_keys.pop(0)
        if hotkey and (len(hotkey) != 1 or not hotkey.isprintable() or hotkey.isspace()):
            raise ProjectError(f"label {name!r}: a hotkey is one visible key, not {hotkey!r}")
        colour = label.colour or PALETTE[index % len(PALETTE)]
        done.append(LabelSpec(name, colour, hotkey, label.description))
    keys = [label.hotkey for label in done if label.hotkey]
    clashes = sorted(key for key, n in Counter(keys).items() if n > 1)
    if clashes:
        raise ProjectError(f"hotkeys used by more than one label: {', '.join(clashes)}")
    return done


def label_too_long(name: str) -> str:
    """The message for a label name over MAX_LABEL_LENGTH characters."""
    return (
        f"the label {name[:40]!r}... is {len(name):,} characters long; a label name holds at "
        f"most {MAX_LABEL_LENGTH}"
    )


def parse_label_list(spec: str) -> list[LabelSpec]:
    """`a,b,c` from the command line, each optionally `name:colour:hotkey`."""
    labels = []
    for item in spec.split(","):
        parts = [part.strip() for part in item.split(":")]
        if not parts[0]:
            continue
        labels.append(
            LabelSpec(
                parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else ""
            )
        )
    return labels


def labels_to_json(labels: list[LabelSpec] | tuple[LabelSpec, ...]) -> str:
    return json.dumps([asdict(label) for label in labels], ensure_ascii=False)


def labels_from_json(raw: str) -> tuple[LabelSpec, ...]:
    return tuple(LabelSpec(**item) for item in json.loads(raw))
