"""What a bundle may hold: caps on sizes, counts and compression ratios, and safe member names.

They are checked on the zip directory (declared sizes) before a byte is read, and again on the
bytes actually read (app.core.bundle.container.reader), so a lying directory gains nothing.
"""

from __future__ import annotations

import re
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from app.core.bundle.container.manifest import MANIFEST, is_known_member
from app.core.bundle.errors import BundleError

CHUNK = 1 << 20  # bytes read or written at a time


@dataclass(frozen=True)
class Limits:
    """Caps on what a bundle may hold, checked on declared sizes and on bytes actually read."""

    max_member_bytes: int = 8 << 30
    max_total_bytes: int = 32 << 30
    max_members: int = 10_000
    max_ratio: float = 100.0  # uncompressed / compressed; JSON Lines of text stays under 20
    ratio_floor_bytes: int = 1 << 20  # smaller members cannot be a bomb worth checking
    max_line_chars: int = 256 << 20
    max_manifest_bytes: int = 4 << 20


DEFAULT_LIMITS = Limits()


def check_member_name(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry is unsafe (a path that could escape, a link, a directory), or None."""
    name = info.filename
    if not name:
        return "a member has an empty name"
    if "\x00" in name:
        return f"member {name!r} has a NUL character in its name"
    if "\\" in name:
        return f"member {name!r} has a backslash in its name"
    if name.startswith("/"):
        return f"member {name!r} is an absolute path"
    if re.match(r"[A-Za-z]:", name):
        return f"member {name!r} names a drive"
    parts = name.split("/")
    if ".." in parts:
        return f"member {name!r} climbs out of the bundle (..)"
    if name.endswith("/") or info.is_dir():
        return f"member {name!r} is a directory"
    if "" in parts or "." in parts:
        return f"member {name!r} has an empty or '.' path part"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return f"member {name!r} is a symbolic link"
    if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return f"member {name!r} is not a regular file"
    if info.flag_bits & 0x1:
        return f"member {name!r} uses zip encryption, which bundles never do"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"member {name!r} uses an unexpected compression method"
    return None


def check_directory(
    infos: list[zipfile.ZipInfo], limits: Limits, error: Callable[[str], BundleError]
) -> set[str]:
    """The member names of a zip directory that passes every check; else `error(problem)`."""
    if len(infos) > limits.max_members:
        raise error(f"holds {len(infos):,} members, more than the cap of {limits.max_members:,}")
    seen: set[str] = set()
    total = 0
    for info in infos:
        problem = check_member_name(info)
        if problem:
            raise error(f"refused: {problem}")
        if info.filename in seen:
            raise error(f"refused: member {info.filename!r} appears twice")
        seen.add(info.filename)
        if info.filename != MANIFEST and not is_known_member(info.filename):
            raise error(f"refused: unexpected member {info.filename!r}")
        cap = limits.max_manifest_bytes if info.filename == MANIFEST else limits.max_member_bytes
        if info.file_size > cap:
            raise error(
                f"refused: member {info.filename!r} is {info.file_size:,} "
                f"bytes, over the cap of {cap:,}"
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise error(
                f"refused: the members add up to more than the cap of "
                f"{limits.max_total_bytes:,} bytes"
            )
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            raise error(
                f"refused: member {info.filename!r} expands {ratio:,.0f} times "
                f"(over {limits.max_ratio:,.0f}): a zip bomb?"
            )
    return seen
