"""Files shipped with the app (demo data): inside the installed package, or beside the source."""

from __future__ import annotations

from pathlib import Path

import app

_PACKAGE = Path(app.__file__).resolve().parent


def resource_path(relative: str) -> Path:
    for root in (_PACKAGE / "resources", _PACKAGE.parent / "resources"):
        candidate = root / relative
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"resource {relative!r} is missing from this installation")
