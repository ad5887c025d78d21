"""Passphrase encryption of bundles: AES-256-GCM in 1 MiB segments, key from scrypt.

An encrypted bundle is::

    MAGIC (14 bytes) | header length (4 bytes, big-endian) | header (JSON) | segment...

The header is in the clear and says only that the file is an encrypted Tagloop bundle and how
to derive the key (scrypt parameters, a random 16-byte salt) and the segments' nonces (a
random 12-byte base nonce); never the project, the kind, or the counts, which live in the
manifest inside the encrypted zip. `check` is a SHA-256 of 32 extra bytes of scrypt output:
it tells a wrong passphrase from a damaged file without revealing the key.

Why segments: AES-GCM over a whole file would need the whole plaintext (a million-row bundle)
in memory to authenticate before anything is released. Instead the plaintext is cut into
1 MiB segments, each sealed on its own with nonce = base nonce XOR its index, and with the
header, its index and a last-segment flag as associated data. So memory stays at two
segments, a segment cannot be altered, reordered, dropped or moved to another file, and a
file cut short at a segment boundary fails too (its new last segment was not sealed as last).
This is the construction of the "STREAM" online AEAD (Hoang, Reyhanitabar, Rogaway, Vizár).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from typing import IO

from app.core.bundle.errors import BundleError

MAGIC = b"TAGLOOP-CRYPT\n"
SEGMENT = 1 << 20
TAG = 16
KDF_N = 2**15
KDF_R = 8
KDF_P = 1
# Parameters read from a file are capped before any key is derived, so a hostile header cannot
# ask for gigabytes of RAM or minutes of CPU: scrypt takes 128·n·r bytes and time in proportion
# to n·r·p. The caps allow 4 times the cost this version writes (32 MiB, n·r·p = 2^18): at most
# 128 MiB and 2^20.
MAX_KDF_N = 2**17
MAX_KDF_R = 8
MAX_KDF_P = 4
MAX_KDF_MEMORY = 128 << 20  # bytes: 128 · n · r
MAX_KDF_WORK = 2**20  # n · r · p
MAX_HEADER = 64 * 1024
MAX_SEGMENT = 16 << 20


def is_encrypted(head: bytes) -> bool:
    return head.startswith(MAGIC)


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, str]:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    if not passphrase:
        raise BundleError("", "the passphrase is empty")
    material = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(passphrase_bytes(passphrase))
    return material[:32], hashlib.sha256(material[32:]).hexdigest()


def passphrase_bytes(passphrase: str) -> bytes:
    """The passphrase as the bytes scrypt derives from: UTF-8, and a passphrase given on a
    command line in another encoding (its bytes arrive as lone surrogates, `surrogateescape`)
    as the very bytes typed, so that export and open agree. Any other lone surrogate cannot
    be a typed passphrase: a clear error, not a UnicodeEncodeError traceback."""
    try:
        return passphrase.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise BundleError("", "the passphrase holds characters that are not text") from None


def _nonce(base: bytes, index: int) -> bytes:
    counter = int.from_bytes(base[4:], "big") ^ index
    return base[:4] + counter.to_bytes(8, "big")


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if last else 0)


class EncryptingWriter:
    """A write-only, non-seekable stream that encrypts into `raw` segment by segment."""

    def __init__(self, raw: IO[bytes], passphrase: str, segment: int = SEGMENT) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        salt = os.urandom(16)
        self._base = os.urandom(12)
        key, check = _derive(passphrase, salt, KDF_N, KDF_R, KDF_P)
        self._aes = AESGCM(key)
        self._segment = segment
        header = {
            "format": "tagloop-bundle",
            "encrypted": True,
            "cipher": "AES-256-GCM",
            "segment_size": segment,
            "kdf": {
                "name": "scrypt",
                "n": KDF_N,
                "r": KDF_R,
                "p": KDF_P,
                "salt": base64.b64encode(salt).decode("ascii"),
            },
            "nonce": base64.b64encode(self._base).decode("ascii"),
            "check": check,
        }
        self._header = json.dumps(header, sort_keys=True).encode("utf-8")
        self._raw = raw
        raw.write(MAGIC + struct.pack(">I", len(self._header)) + self._header)
        self._buffer = bytearray()
        self._index = 0
        self.closed = False

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._buffer += data
        while len(self._buffer) > self._segment:  # keep at least one byte: it may be the last
            self._seal(bytes(self._buffer[: self._segment]), last=False)
            del self._buffer[: self._segment]
        return len(data)

    def _seal(self, plain: bytes, last: bool) -> None:
        nonce = _nonce(self._base, self._index)
        self._raw.write(self._aes.encrypt(nonce, plain, _aad(self._header, self._index, last)))
        self._index += 1

    def flush(self) -> None:
        self._raw.flush()

    def finish(self) -> None:
        """Seal the last segment (possibly empty). Without it the file reads as truncated."""
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._raw.flush()

    def close(self) -> None:  # zipfile closes its stream; finishing is explicit
        self.closed = True


def decrypt_to(
    source: IO[bytes],
    target: IO[bytes],
    passphrase: str | None,
    name: str,
    max_bytes: int,
    progress=None,
) -> int:
    """Decrypt an encrypted bundle from `source` into `target`; returns the plaintext size.

    Every segment is authenticated before its plaintext is written out, and the whole file
    must end with the segment sealed as last, so a wrong passphrase, an altered byte or a
    truncated file all raise BundleError, never a partial result that looks whole.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if source.read(len(MAGIC)) != MAGIC:
        raise BundleError(name, "not an encrypted Tagloop bundle")
    raw_length = source.read(4)
    if len(raw_length) < 4:
        raise BundleError(name, "truncated: the encryption header is cut short")
    (length,) = struct.unpack(">I", raw_length)
    if length > MAX_HEADER:
        raise BundleError(name, f"the encryption header is too large ({length:,} bytes)")
    header = source.read(length)
    if len(header) < length:
        raise BundleError(name, "truncated: the encryption header is cut short")
    try:
        meta = json.loads(header)
        kdf = meta["kdf"]
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        salt = base64.b64decode(kdf["salt"], validate=True)
        base = base64.b64decode(meta["nonce"], validate=True)
        segment = int(meta["segment_size"])
        check = str(meta["check"])
        ok = (
            meta.get("encrypted") is True
            and meta.get("cipher") == "AES-256-GCM"
            and kdf.get("name") == "scrypt"
        )
    except (ValueError, KeyError, TypeError, RecursionError, OverflowError) as exc:
        raise BundleError(name, f"the encryption header is damaged ({exc!r:.200})") from None
    if not ok:
        raise BundleError(name, "encrypted with a cipher or key derivation this Tagloop lacks")
    if not (
        2 <= n <= MAX_KDF_N
        and n & (n - 1) == 0
        and 1 <= r <= MAX_KDF_R
        and 1 <= p <= MAX_KDF_P
        and 128 * n * r <= MAX_KDF_MEMORY
        and n * r * p <= MAX_KDF_WORK
        and len(salt) >= 16
        and len(base) == 12
        and 1 <= segment <= MAX_SEGMENT
    ):
        raise BundleError(
            name,
            "the encryption header has parameters out of range (it asks for a key derivation"
            f" of scrypt n={n}, r={r}, p={p}; at most n={MAX_KDF_N}, r={MAX_KDF_R},"
            f" p={MAX_KDF_P} and n·r·p={MAX_KDF_WORK} are allowed)",
        )
    if not passphrase:
        raise BundleError(
            name,
            "this bundle is encrypted: give its passphrase (--passphrase, or the "
            "TAGLOOP_PASSPHRASE environment variable)",
        )
    key, expected = _derive(passphrase, salt, n, r, p)
    if check != expected:
        raise BundleError(name, "wrong passphrase (the bundle cannot be decrypted with it)")
    aes = AESGCM(key)
    sealed = segment + TAG
    chunk = source.read(sealed)
    index = 0
    total = 0
    while True:
        following = source.read(sealed) if len(chunk) == sealed else b""
        last = not following
        if len(chunk) < TAG:
            raise BundleError(name, "truncated: the encrypted data is cut short")
        try:
            plain = aes.decrypt(_nonce(base, index), chunk, _aad(header, index, last))
        except InvalidTag:
            raise BundleError(
                name,
                f"damaged, altered or truncated: encrypted segment {index + 1} fails its "
                "authentication check",
            ) from None
        total += len(plain)
        if total > max_bytes:
            raise BundleError(name, f"decrypts to more than the size cap of {max_bytes:,} bytes")
        target.write(plain)
        if progress is not None:
            progress(total)
        if last:
            return total
        chunk = following
        index += 1
