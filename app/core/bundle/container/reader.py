"""Reading a bundle: two passes over a read-only file.

`BundleReader.verify` checks the container (member names, sizes, compression ratios, every
SHA-256; app.core.bundle.container.limits and .manifest) before anything touches a database;
then `rows` streams each member again, hashing it once more so a file that changes between
the passes is caught before the caller commits. Nothing is ever extracted to disk by name.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from app.core.bundle import crypto, schema
from app.core.bundle.container.limits import CHUNK, DEFAULT_LIMITS, Limits, check_directory
from app.core.bundle.container.manifest import (
    FORMAT_VERSION,
    MANIFEST,
    PROJECT_MEMBER,
    REQUIRED,
    check_manifest,
    upgrade_row,
)
from app.core.bundle.errors import BundleError
from app.core.errors import Cancelled
from app.core.fileio import open_regular
from app.core.jobs import CancelCheck, never_cancel
from app.core.jsonkeys import DuplicateKey, duplicate_problem, unique_object

# progress for byte-counted steps: (done, total, message)
ByteProgress = Callable[[int, int | None, str], None]


def _quiet(done: int, total: int | None, message: str) -> None:
    pass


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
        container = self._open_container(passphrase, progress, cancel)
        try:
            self._zip = zipfile.ZipFile(container)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise self.error(
                f"truncated or damaged: its zip directory cannot be read ({exc})"
            ) from None
        self._check_framing(container)
        seen = check_directory(self._zip.infolist(), self.limits, self.error)
        if MANIFEST not in seen:
            raise self.error("not a Tagloop bundle (it has no manifest.json)")
        self.manifest = self._read_manifest()
        self._check_members(seen - {MANIFEST})
        self._verify_checksums(progress, cancel)

    def _check_framing(self, container: IO[bytes]) -> None:
        """The zip fills the file exactly, as the writer makes it: bytes before its first
        member or after its end record (another file glued on, a polyglot) are data that no
        checksum covers, so they are refused."""
        assert self._zip is not None
        container.seek(0, os.SEEK_END)
        size = container.tell()
        tail = min(size, 22 + 0xFFFF)
        container.seek(size - tail)
        end = container.read(tail).rfind(b"PK\x05\x06")
        infos = self._zip.infolist()
        first = min((info.header_offset for info in infos), default=0)
        if end < 0 or end + 22 != tail or first != 0 or self._zip.comment:
            raise self.error(
                "refused: the file holds bytes outside its zip (before its first member, or "
                "after its end), which no checksum covers"
            )
        container.seek(0)

    def _open_container(
        self, passphrase: str | None, progress: ByteProgress, cancel: CancelCheck
    ) -> IO[bytes]:
        """The zip's bytes (decrypted into a temporary file if need be); sets `sha256` (of the
        file as it is) and `encrypted`."""
        try:
            source = open_regular(self.path)  # a FIFO or a device is refused, never waited on
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
                    self.limits.max_total_bytes + self.limits.max_manifest_bytes,
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
        return container

    def _check_members(self, present: set[str]) -> None:
        """The zip holds exactly the members the manifest lists, at the sizes it declares."""
        assert self._zip is not None
        members = self.manifest["members"]
        listed = set(members)
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

    def _verify_checksums(self, progress: ByteProgress, cancel: CancelCheck) -> None:
        """Every checksum, before anything is written anywhere."""
        done = 0
        total = self.total_bytes
        for name, info in self.manifest["members"].items():
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
            manifest = json.loads(raw.decode("utf-8"), object_pairs_hook=unique_object)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise self.error(f"manifest.json is damaged ({exc})") from None
        except DuplicateKey as exc:
            raise self.error(f"manifest.json names {exc.args[0]!r} twice: refused") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise self.error(f"manifest.json is not valid JSON ({exc})") from None
        except RecursionError:
            raise self.error("manifest.json is not valid JSON (nested too deeply)") from None
        return check_manifest(manifest, self.error)

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
            value = json.loads(
                self.read_bytes(PROJECT_MEMBER).decode("utf-8"), object_pairs_hook=unique_object
            )
        except DuplicateKey as exc:
            raise self.error(f"project.json: {duplicate_problem(exc.args[0])}") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise self.error(f"project.json is not valid JSON ({exc})") from None
        except RecursionError:
            raise self.error("project.json is not valid JSON (nested too deeply)") from None
        if not isinstance(value, dict):
            raise self.error("project.json is not a JSON object")
        problem = schema.project_problem(value)
        if problem:
            raise self.error(f"project.json: {problem}")
        return value

    def rows(
        self, name: str, progress: Callable[[int], None] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream the rows of a JSON Lines member (none if the bundle lacks it), each checked
        against the member's record (app.core.bundle.schema)."""
        for _line, row in self.numbered_rows(name, progress):
            yield row

    def numbered_rows(
        self, name: str, progress: Callable[[int], None] | None = None
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, row) of a JSON Lines member, as `rows`.

        Reads 1 MiB blocks and splits them into lines itself (a readline per row costs more
        than parsing it); a line longer than the cap is refused, never buffered whole."""
        if not self.has(name):
            return
        reader = self._member_stream(name)
        limit = self.limits.max_line_chars
        decode = json.JSONDecoder(object_pairs_hook=unique_object).raw_decode
        upgrade = upgrade_row if self.format_version != FORMAT_VERSION else None
        record = schema.RECORDS.get(name)
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
                    except DuplicateKey as exc:  # a forged row that says two things
                        problem = duplicate_problem(exc.args[0])
                        raise self.error(f"{name}, line {line_number}: {problem}") from None
                    except ValueError as exc:
                        raise self.error(
                            f"{name}, line {line_number}: not valid JSON ({exc})"
                        ) from None
                    except RecursionError:
                        raise self.error(
                            f"{name}, line {line_number}: not valid JSON (nested too deeply)"
                        ) from None
                    if row.__class__ is not dict:
                        raise self.error(f"{name}, line {line_number}: not a JSON object")
                    if upgrade is not None:
                        row = upgrade(name, row, self.format_version)
                    if record is not None:
                        problem = record.problem(row)
                        if problem:
                            raise self.error(f"{name}, {_where(row, line_number)}: {problem}")
                    yield line_number, row
        if carry.strip():
            raise self.error(f"{name}, line {line_number + 1}: the last line lacks its newline")
        self._finish_member(name, reader)
        if progress is not None:
            progress(reader.count)


def _where(row: dict[str, Any], line_number: int) -> str:
    """A bad row's place in its member: its line, and its UUID when it has a sound one."""
    uid = row.get("uuid")
    if uid.__class__ is str and schema.UUID_SYNTAX.fullmatch(uid):
        return f"line {line_number}, row {uid}"
    return f"line {line_number}"


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
