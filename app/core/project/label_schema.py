"""Label schemas: the labels of a project with colour, hotkey and description, plus guidelines."""

from __future__ import annotations

import json
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
    """Validate names and fill in colours and hotkeys that the user left blank."""
    names = [label.name.strip() for label in labels]
    if not names or any(not name for name in names):
        raise ProjectError("every label needs a name, and a schema needs at least one label")
    duplicates = sorted({name for name in names if names.count(name) > 1})
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
    clashes = sorted({key for key in keys if keys.count(key) > 1})
    if clashes:
        raise ProjectError(f"hotkeys used by more than one label: {', '.join(clashes)}")
    return done


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
