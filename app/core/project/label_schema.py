"""Label schemas: the labels of a project with colour, hotkey and description, plus guidelines."""

from __future__ import annotations

import json
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
    for name in names:  # red team: a tab or line break corrupted CoNLL, PubTator, BRAT exports
        if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
            raise ProjectError(f"label {name[:40]!r}: a label name holds no control characters")
    duplicates = sorted(name for name, n in Counter(names).items() if n > 1)
    if duplicates:
        raise ProjectError(f"duplicate label names: {', '.join(duplicates)}")
    used_keys = {label.hotkey for label in labels if label.hotkey}
    free_keys = [key for key in DEFAULT_HOTKEYS if key not in used_keys]
    done: list[LabelSpec] = []
    for index, (label, name) in enumerate(zip(labels, names, strict=True)):
        hotkey = label.hotkey
        if not hotkey and free_keys:
            hotkey = free_keys.pop(0)
        if hotkey and len(hotkey) != 1:
            raise ProjectError(f"label {name!r}: a hotkey is one key, not {hotkey!r}")
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
