"""Landed migrations are frozen: editing one changes what a file made before the edit and a
file made after it hold under the same revision (0001 was edited in place after its first
release, and files of the first command-line version then broke: migration 0006 repairs them).

tests/fixtures/migrations.sha256 holds the SHA-256 of every migration file that has landed.
The rule: a schema change is a NEW migration; when it lands on main, add its line to the
manifest (print it with `PYTHONPATH=. python -m tests.unit.test_migrations_frozen`). A landed
file never changes again, not even its comments: the hash covers every byte (line endings
normalised, so a Windows checkout agrees).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from app.core.storage import db

VERSIONS = db.MIGRATIONS_DIR / "versions"
MANIFEST = Path(__file__).resolve().parents[1] / "fixtures" / "migrations.sha256"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def manifest() -> dict[str, str]:
    """file name: SHA-256, from lines of `HASH  NAME` (the format of sha256sum)."""
    entries = {}
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            sha, name = line.split(maxsplit=1)
            entries[name.strip()] = sha
    return entries


def migration_files() -> list[Path]:
    return sorted(VERSIONS.glob("*.py"))


def test_no_landed_migration_has_changed():
    changed = [
        path.name
        for path in migration_files()
        if path.name in manifest() and digest(path) != manifest()[path.name]
    ]
    assert not changed, (
        f"landed migrations were edited: {', '.join(changed)}. A landed migration is frozen; "
        "put the change in a new migration instead"
    )


def test_no_landed_migration_is_missing():
    present = {path.name for path in migration_files()}
    missing = sorted(set(manifest()) - present)
    assert not missing, f"landed migrations were removed or renamed: {', '.join(missing)}"


def test_every_migration_is_in_the_manifest():
    unlisted = [path.name for path in migration_files() if path.name not in manifest()]
    assert not unlisted, (
        f"migrations not in {MANIFEST.name}: {', '.join(unlisted)}. When a migration lands, add "
        "its line (python -m tests.unit.test_migrations_frozen prints them)"
    )


def test_the_manifest_reaches_the_schema_head():
    revisions = [name.split("_", 1)[0] for name in sorted(manifest())]
    assert revisions == db.pending_revisions(None)
    assert revisions[-1] == db.SCHEMA_HEAD


def test_a_changed_byte_is_caught(tmp_path):
    path = VERSIONS / sorted(manifest())[0]
    edited = tmp_path / path.name
    edited.write_bytes(path.read_bytes().replace(b"initial schema", b"initial  schema", 1))
    assert digest(edited) != manifest()[path.name]
    crlf = tmp_path / "crlf.py"
    crlf.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert digest(crlf) == manifest()[path.name]


if __name__ == "__main__":
    for path in migration_files():
        sys.stdout.write(f"{digest(path)}  {path.name}\n")
