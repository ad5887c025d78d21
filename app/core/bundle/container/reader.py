"""The bundle container: a zip of JSON Lines members and a manifest, optionally encrypted.

Layout (format version 2)::

    manifest.json            {"format": "tagloop-bundle", "format_version": 1, "app_version",
                              "project_uuid", "project_name", "kind", "created_at",
                              "created_by", "replica", "base", "assignee", "counts",
                              "members": {name: {"sha256", "size", "rows"}}}
    project.json             the project row and its inputs
    schema_versions.jsonl    one JSON object per line, for each table that travels ...
    annotators.jsonl, datasets.jsonl, datapoints.jsonl, annotations.jsonl,
    annotation_history.jsonl, tasks.jsonl, comments.jsonl, flags.jsonl, audit_events.jsonl,
    model_versions.jsonl, predictions.jsonl,
    custom_statuses.jsonl, gold_items.jsonl, qualification_sets.jsonl,
    qualification_items.jsonl, qualification_results.jsonl, adjudications.jsonl,
    review_decisions.jsonl   (format 2: app.core.bundle.members)
    model/<uuid>.bin         a model artifact, as stored (a safe format, never a pickle)

Rows refer to each other by UUID, never by the integer ids of one database; a datapoint is
(dataset UUID, row). Text columns that hold JSON (annotation values, contexts, labels, audit
before/after) travel verbatim as strings, so a round trip is byte-identical.

Reading is two passes over a read-only file: `BundleReader.verify` checks the container
(member names, sizes, compression ratios, every SHA-256) before anything touches a database;
then `rows` streams each member again, hashing it once more so a file that changes between
the passes is caught before the caller commits. Nothing is ever extracted to disk by name.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from app import __version__
from app.core.bundle import crypto
from app.core.bundle.errors import BundleError
from app.core.errors import Cancelled
from app.core.ids import now_iso
from app.core.jobs import CancelCheck, never_cancel

FORMAT_NAME = "tagloop-bundle"
# Version 1 is the first; version 2 adds the quality members (app.core.bundle.members) and
# changes no row of version 1. A reader accepts every version up to FORMAT_VERSION (upgrading
# old rows in `_upgrade_row` when a later version changes a member) and refuses newer ones.
FORMAT_VERSION = 2
SUFFIX = ".tlbundle"
KINDS = ("project", "assignment", "work")
MANIFEST = "manifest.json"
PROJECT_MEMBER = "project.json"
TABLE_MEMBERS = (
    "schema_versions.jsonl",
    "annotators.jsonl",
    "datasets.jsonl",
    "datapoints.jsonl",
    "annotations.jsonl",
    "annotation_history.jsonl",
    "tasks.jsonl",
    "comments.jsonl",
    "flags.jsonl",
    "audit_events.jsonl",
    "model_versions.jsonl",
    "predictions.jsonl",
    "custom_statuses.jsonl",
    "gold_items.jsonl",
    "qualification_sets.jsonl",
    "qualification_items.jsonl",
    "qualification_results.jsonl",
    "adjudications.jsonl",
    "review_decisions.jsonl",
)
MODEL_MEMBER = re.compile(r"model/[0-9a-f]{32}\.bin")
REQUIRED = {
    "project": (
        PROJECT_MEMBER,
        "schema_versions.jsonl",
        "annotators.jsonl",
        "datasets.jsonl",
        "datapoints.jsonl",
    ),
    "assignment": (
        PROJECT_MEMBER,
        "schema_versions.jsonl",
        "annotators.jsonl",
        "datasets.jsonl",
        "datapoints.jsonl",
    ),
    "work": (PROJECT_MEMBER, "schema_versions.jsonl", "annotators.jsonl"),
}
CHUNK = 1 << 20
COMPRESS_LEVEL = 1  # deflate's fastest level: 3x faster than the default, files ~15% larger
_UUID = re.compile(r"[0-9a-f]{32}")
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


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
# progress for byte-counted steps: (done, total, message)
ByteProgress = Callable[[int, int | None, str], None]


def _quiet(done: int, total: int | None, message: str) -> None:
    pass


# -- Writing -------------------------------------------------------------------------------


class _HashingSink:
    """The end of the write chain: counts and hashes what reaches the file. Not seekable, so
    zipfile streams members with data descriptors and never seeks back over encrypted bytes."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.closed = False

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()

    def close(self) -> None:
        self.closed = True


class MemberWriter:
    """JSON Lines into one zip member, buffered in 1 MiB blocks, hashed as written."""

    def __init__(self, stream: IO[bytes], cancel: CancelCheck) -> None:
        self._stream = stream
        self._cancel = cancel
        self._parts: list[str] = []
        self._pending = 0
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        line = _encode(row)
        self._parts.append(line)
        self._pending += len(line) + 1
        self.rows += 1
        if self._pending >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self._parts:
            return
        if self._cancel():
            raise Cancelled()
        data = ("\n".join(self._parts) + "\n").encode("utf-8")
        self._parts.clear()
        self._pending = 0
        self.sha256.update(data)
        self.size += len(data)
        self._stream.write(data)


class BundleWriter:
    """Writes a bundle atomically: a temporary file beside `out`, fsync, then os.replace.

    Use as a context manager; call `finish(manifest)` as the last step inside the block. Any
    exception (a cancel too) removes the temporary file, so an interrupted export never
    leaves a file that looks complete.
    """

    def __init__(
        self, out: Path, passphrase: str | None = None, cancel: CancelCheck = never_cancel
    ) -> None:
        self.out = Path(out)
        self.passphrase = passphrase
        self.cancel = cancel
        self.members: dict[str, dict[str, Any]] = {}
        self.sha256 = ""
        self.size = 0

    def __enter__(self) -> BundleWriter:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.out.name}.", suffix=".part", dir=self.out.parent)
        self._tmp = Path(tmp)
        self._file = os.fdopen(fd, "wb")
        self._sink = _HashingSink(self._file)
        self._crypt = (
            crypto.EncryptingWriter(self._sink, self.passphrase) if self.passphrase else None
        )
        self._zip = zipfile.ZipFile(
            self._crypt or self._sink,
            "w",
            compression=zipfile.ZIP_DEFLATED,
            compresslevel=COMPRESS_LEVEL,
        )
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            return
        with contextlib.suppress(Exception):
            self._zip.close()
        with contextlib.suppress(Exception):
            self._file.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()

    @contextlib.contextmanager
    def jsonl(self, name: str) -> Iterator[MemberWriter]:
        """A member of JSON Lines: call `.write(row)` for each row."""
        with self._zip.open(name, "w", force_zip64=True) as stream:
            writer = MemberWriter(stream, self.cancel)
            yield writer
            writer._flush()
        self.members[name] = {
            "sha256": writer.sha256.hexdigest(),
            "size": writer.size,
            "rows": writer.rows,
        }

    def json(self, name: str, value: Any) -> None:
        self.raw(name, json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8"), rows=1)

    def raw(self, name: str, data: bytes, rows: int = 1) -> None:
        if self.cancel():
            raise Cancelled()
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        with self._zip.open(info, "w", force_zip64=True) as stream:
            stream.write(data)
        self.members[name] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "rows": rows,
        }

    def finish(self, manifest: dict[str, Any]) -> None:
        """Write the manifest, seal and publish the file. Sets `sha256` and `size`."""
        if self.cancel():
            raise Cancelled()
        body = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "app_version": __version__,
            "created_at": now_iso(),
            **manifest,
            "counts": {
                name.removesuffix(".jsonl"): info["rows"]
                for name, info in self.members.items()
                if name.endswith(".jsonl")
            },
            "members": self.members,
        }
        with self._zip.open(MANIFEST, "w") as stream:
            stream.write(json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8"))
        self._zip.close()
        if self._crypt is not None:
            self._crypt.finish()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.manifest = body
        self.sha256 = self._sink.sha256.hexdigest()
        self.size = self._sink.size
        os.replace(self._tmp, self.out)


# -- Reading -------------------------------------------------------------------------------


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


def is_known_member(name: str) -> bool:
    return name == PROJECT_MEMBER or name in TABLE_MEMBERS or bool(MODEL_MEMBER.fullmatch(name))


class _CappedReader(io.RawIOBase):
    """Reads a zip member, hashing and counting; refuses more bytes than it may hold."""

    def __init__(self, raw: IO[bytes], cap: int, fail: Callable[[str], BundleError]) -> None:
        self._raw = raw
        self._cap = cap
        self._fail = fail
        self.sha256 = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._raw.read(min(len(buffer), CHUNK))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise self._fail(f"is damaged ({exc})") from None
        n = len(data)
        self.count += n
        if self.count > self._cap:
            raise self._fail(f"holds more than its declared size of {self._cap:,} bytes")
        self.sha256.update(data)
        buffer[:n] = data
        return n


class BundleReader:
    """An opened, verified bundle. `BundleReader.open(...)` checks the whole container first.

    Encrypted bundles are decrypted into an anonymous temporary file (unlinked at once, so it
    never outlives the process), because zip needs random access; every segment is
    authenticated on the way.
    """

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.limits = limits
        self.encrypted = False
        self.sha256 = ""
        self.manifest: dict[str, Any] = {}
        self._zip: zipfile.ZipFile | None = None
        self._plain: IO[bytes] | None = None

    @classmethod
    def open(
        cls,
        path: Path,
        passphrase: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
        progress: ByteProgress = _quiet,
        cancel: CancelCheck = never_cancel,
    ) -> BundleReader:
        reader = cls(path, limits)
        try:
            reader._load(passphrase, progress, cancel)
        except BaseException:
            reader.close()
            raise
        return reader

    def __enter__(self) -> BundleReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        if self._plain is not None:
            self._plain.close()
            self._plain = None

    def error(self, problem: str) -> BundleError:
        return BundleError(self.name, problem)

    # The manifest's facts
    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def project_uuid(self) -> str:
        return self.manifest["project_uuid"]

    @property
    def format_version(self) -> int:
        return self.manifest["format_version"]

    def has(self, name: str) -> bool:
        return name in self.manifest["members"]

    @property
    def total_bytes(self) -> int:
        return sum(info["size"] for info in self.manifest["members"].values())

    def _load(self, passphrase: str | None, progress: ByteProgress, cancel: CancelCheck) -> None:
        limits = self.limits
        try:
            source = self.path.open("rb")
        except OSError as exc:
            raise self.error(f"cannot be read ({exc.strerror or exc})") from None
        with source:
            size = os.fstat(source.fileno()).st_size
            head = source.read(len(crypto.MAGIC))
            source.seek(0)
            whole = hashlib.sha256()
            if crypto.is_encrypted(head):
                self.encrypted = True
                self._plain = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
                hashing = _HashingReadThrough(source, whole)

                def report(done: int) -> None:
                    if cancel():
                        raise Cancelled()
                    progress(hashing.count, size, f"Decrypting {self.path.name}")

                crypto.decrypt_to(
                    hashing,
                    self._plain,
                    passphrase,
                    self.name,
                    limits.max_total_bytes + limits.max_manifest_bytes,
                    report,
                )
                self._plain.seek(0)
                container: IO[bytes] = self._plain
            else:
                if not head.startswith(b"PK"):
                    raise self.error("not a Tagloop bundle (neither a zip nor an encrypted bundle)")
                for block in iter(lambda: source.read(CHUNK), b""):
                    whole.update(block)
                source.seek(0)
                # Read it from our own copy of the descriptor: the same bytes on both passes.
                container = os.fdopen(os.dup(source.fileno()), "rb")
                self._plain = container
            self.sha256 = whole.hexdigest()
        try:
            self._zip = zipfile.ZipFile(container)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise self.error(
                f"truncated or damaged: its zip directory cannot be read ({exc})"
            ) from None
        infos = self._zip.infolist()
        if len(infos) > limits.max_members:
            raise self.error(
                f"holds {len(infos):,} members, more than the cap of {limits.max_members:,}"
            )
        seen: set[str] = set()
        total = 0
        for info in infos:
            problem = check_member_name(info)
            if problem:
                raise self.error(f"refused: {problem}")
            if info.filename in seen:
                raise self.error(f"refused: member {info.filename!r} appears twice")
            seen.add(info.filename)
            if info.filename != MANIFEST and not is_known_member(info.filename):
                raise self.error(f"refused: unexpected member {info.filename!r}")
            cap = (
                limits.max_manifest_bytes
                if info.filename == MANIFEST
                else (limits.max_member_bytes)
            )
            if info.file_size > cap:
                raise self.error(
                    f"refused: member {info.filename!r} is {info.file_size:,} "
                    f"bytes, over the cap of {cap:,}"
                )
            total += info.file_size
            if total > limits.max_total_bytes:
                raise self.error(
                    f"refused: the members add up to more than the cap of "
                    f"{limits.max_total_bytes:,} bytes"
                )
            if (
                info.file_size > limits.ratio_floor_bytes
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)
            ):
                ratio = info.file_size / max(info.compress_size, 1)
                raise self.error(
                    f"refused: member {info.filename!r} expands {ratio:,.0f} times "
                    f"(over {limits.max_ratio:,.0f}): a zip bomb?"
                )
        if MANIFEST not in seen:
            raise self.error("not a Tagloop bundle (it has no manifest.json)")
        self.manifest = self._read_manifest()
        members = self.manifest["members"]
        listed, present = set(members), seen - {MANIFEST}
        for name in sorted(present - listed):
            raise self.error(f"refused: unexpected member {name!r} (not in the manifest)")
        for name in sorted(listed - present):
            raise self.error(f"member {name!r} is listed in the manifest but missing")
        for name in REQUIRED[self.kind]:
            if name not in members:
                raise self.error(f"a {self.kind} bundle needs a member {name!r}")
        for name, info in members.items():
            declared = self._zip.getinfo(name).file_size
            if declared != info["size"]:
                raise self.error(
                    f"member {name!r} is {declared:,} bytes, the manifest says {info['size']:,}:"
                    " damaged or altered"
                )
        # Every checksum, before anything is written anywhere.
        done = 0
        total = self.total_bytes
        for name, info in members.items():
            reader = self._member_stream(name)
            with contextlib.closing(reader):
                while True:
                    block = reader.read(CHUNK)
                    if not block:
                        break
                    done += len(block)
                    if cancel():
                        raise Cancelled()
                    progress(done, total, f"Checking {self.path.name}")
            if reader.count != info["size"]:
                raise self.error(f"member {name!r} is cut short: damaged or truncated")
            if reader.sha256.hexdigest() != info["sha256"]:
                raise self.error(
                    f"member {name!r} is damaged or was altered (its SHA-256 does not match "
                    "the manifest)"
                )

    def _read_manifest(self) -> dict[str, Any]:
        assert self._zip is not None
        try:
            raw = self._zip.read(MANIFEST)
            manifest = json.loads(raw.decode("utf-8"))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise self.error(f"manifest.json is damaged ({exc})") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise self.error(f"manifest.json is not valid JSON ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            raise self.error("not a Tagloop bundle (the manifest names another format)")
        version = manifest.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self.error(f"the manifest has an invalid format_version {version!r}")
        if version > FORMAT_VERSION:
            raise self.error(
                f"made by a newer Tagloop (bundle format {version}, app "
                f"{manifest.get('app_version', '?')}); this version reads formats up to "
                f"{FORMAT_VERSION}: update Tagloop to open it"
            )
        if manifest.get("kind") not in KINDS:
            raise self.error(f"the manifest names an unknown kind {manifest.get('kind')!r}")
        if not isinstance(manifest.get("project_uuid"), str) or not _UUID.fullmatch(
            manifest["project_uuid"]
        ):
            raise self.error("the manifest has no valid project_uuid")
        members = manifest.get("members")
        if not isinstance(members, dict):
            raise self.error("the manifest lists no members")
        for name, info in members.items():
            if not (
                isinstance(info, dict)
                and isinstance(info.get("sha256"), str)
                and re.fullmatch(r"[0-9a-f]{64}", info["sha256"])
                and isinstance(info.get("size"), int)
                and info["size"] >= 0
            ):
                raise self.error(f"the manifest entry of {name!r} is invalid")
        for key in ("replica", "base", "assignee"):
            value = manifest.get(key)
            if value is not None and not isinstance(value, str):
                raise self.error(f"the manifest's {key!r} is invalid")
        return manifest

    def _member_stream(self, name: str) -> _CappedReader:
        assert self._zip is not None
        info = self.manifest["members"][name]
        try:
            raw = self._zip.open(name)
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError) as exc:
            raise self.error(f"member {name!r} is damaged ({exc})") from None
        return _CappedReader(raw, info["size"], lambda p: self.error(f"member {name!r} {p}"))

    def _finish_member(self, name: str, reader: _CappedReader) -> None:
        info = self.manifest["members"][name]
        if reader.count != info["size"] or reader.sha256.hexdigest() != info["sha256"]:
            raise self.error(f"member {name!r} changed while it was being read")

    def read_bytes(self, name: str) -> bytes:
        """A whole (small) member, checked against its checksum."""
        reader = self._member_stream(name)
        with contextlib.closing(reader):
            data = reader.read()
        self._finish_member(name, reader)
        return data

    def project(self) -> dict[str, Any]:
        try:
            value = json.loads(self.read_bytes(PROJECT_MEMBER).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise self.error(f"project.json is not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise self.error("project.json is not a JSON object")
        return value

    def rows(
        self, name: str, progress: Callable[[int], None] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream the rows of a JSON Lines member (none if the bundle lacks it).

        Reads 1 MiB blocks and splits them into lines itself (a readline per row costs more
        than parsing it); a line longer than the cap is refused, never buffered whole."""
        if not self.has(name):
            return
        reader = self._member_stream(name)
        limit = self.limits.max_line_chars
        decode = json.JSONDecoder().raw_decode
        upgrade = _upgrade_row if self.format_version != FORMAT_VERSION else None
        line_number = 0
        carry = b""
        with contextlib.closing(reader):
            while True:
                block = reader.read(CHUNK)
                if not block:
                    break
                if progress is not None:
                    progress(reader.count)
                lines = (carry + block).split(b"\n")
                carry = lines.pop()
                if len(carry) > limit:
                    raise self.error(f"{name}, line {line_number + len(lines) + 1}: too long")
                for raw in lines:
                    line_number += 1
                    if not raw:
                        continue
                    try:
                        line = raw.decode("utf-8")
                        row, end = decode(line)
                        if end != len(line) and line[end:].strip():
                            raise ValueError("data after the JSON object")
                    except UnicodeDecodeError:
                        raise self.error(f"{name}, line {line_number}: not UTF-8") from None
                    except ValueError as exc:
                        raise self.error(
                            f"{name}, line {line_number}: not valid JSON ({exc})"
                        ) from None
                    if row.__class__ is not dict:
                        raise self.error(f"{name}, line {line_number}: not a JSON object")
                    yield row if upgrade is None else upgrade(name, row, self.format_version)
        if carry.strip():
            raise self.error(f"{name}, line {line_number + 1}: the last line lacks its newline")
        self._finish_member(name, reader)
        if progress is not None:
            progress(reader.count)


def _upgrade_row(name: str, row: dict[str, Any], version: int) -> dict[str, Any]:
    """A row of an older format version, as the current version writes it (v2 changed no
    row of v1)."""
    return row


class _HashingReadThrough:
    """Reads a file while hashing it (the bundle's SHA-256, for the audit log)."""

    def __init__(self, raw: IO[bytes], sha256) -> None:
        self._raw = raw
        self._sha256 = sha256
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._sha256.update(data)
        self.count += len(data)
        return data
