"""Writing a bundle: JSON Lines members streamed into a zip, hashed as written, optionally
encrypted, published atomically (a temporary file, fsync, then os.replace).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from app import __version__
from app.core.bundle import crypto
from app.core.bundle.container.limits import CHUNK
from app.core.bundle.container.manifest import FORMAT_NAME, FORMAT_VERSION, MANIFEST
from app.core.bundle.errors import BundleError
from app.core.errors import Cancelled
from app.core.fileio import create_part
from app.core.ids import now_iso
from app.core.jobs import CancelCheck, never_cancel

COMPRESS_LEVEL = 1  # deflate's fastest level: 3x faster than the default, files ~15% larger
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


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
        # A self-naming temporary file (pid, host): a killed export's is swept later (fileio).
        try:
            fd, self._tmp = create_part(self.out)
        except OSError as exc:
            raise self._cannot_write(exc) from None
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
        if isinstance(exc, OSError):  # disk full, the folder gone: name the bundle, not .part
            raise self._cannot_write(exc) from None

    def _cannot_write(self, exc: OSError) -> BundleError:
        return BundleError(
            str(self.out), f"cannot be written ({exc.strerror or exc}); nothing was written"
        )

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
