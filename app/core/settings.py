"""Per-install state under platformdirs: the local annotator identity, recent projects, preferences.

TAGLOOP_CONFIG_DIR overrides the location (tests, portable installs).
"""

from __future__ import annotations

import getpass
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from app.core.fileio import atomic_write_text

MAX_RECENT = 10


def config_dir() -> Path:
    override = os.environ.get("TAGLOOP_CONFIG_DIR")
    path = Path(override) if override else Path(platformdirs.user_config_dir("tagloop", False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _read(name: str) -> dict[str, Any]:
    path = config_dir() / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(name: str, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a path whose bytes are not UTF-8 (lone surrogates):
            text = json.dumps(data, indent=2)  # escaped, it comes back exactly (red team)
    atomic_write_text(config_dir() / name, text)


@dataclass(frozen=True)
class Identity:
    """Who is annotating on this install: made once, then kept."""

    uuid: str
    name: str


def local_identity() -> Identity:
    data = _read("identity.json")
    if isinstance(data.get("uuid"), str) and isinstance(data.get("name"), str):
        return Identity(data["uuid"], data["name"])
    try:
        name = getpass.getuser()
    except Exception:  # no login name (containers): still a usable identity
        name = "annotator"
    identity = Identity(uuid.uuid4().hex, name)
    _write("identity.json", {"uuid": identity.uuid, "name": identity.name})
    return identity


def recent_projects() -> list[Path]:
    paths = _read("recent.json").get("projects", [])
    return [Path(p) for p in paths if isinstance(p, str) and Path(p).exists()]


def add_recent_project(path: Path) -> None:
    resolved = str(Path(path).resolve())
    paths = [str(p) for p in recent_projects() if str(p) != resolved]
    _write("recent.json", {"projects": [resolved, *paths][:MAX_RECENT]})


def preference(key: str, default: Any = None) -> Any:
    return _read("preferences.json").get(key, default)


def set_preference(key: str, value: Any) -> None:
    data = _read("preferences.json")
    data[key] = value
    _write("preferences.json", data)
