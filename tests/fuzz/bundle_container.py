"""Hostile bundle *containers*: what bundle_corpus (which edits a member's rows and recomputes
every checksum) never makes. Written by session 5's red team.

- the zip cut at every local header, central-directory entry and end record (and one byte
  either side), members reordered, junk before or after the zip;
- the manifest itself edited: every field given a hostile value, a member listed twice (JSON
  duplicate keys), a newer format version, not an object, nested deep, a BOM, UTF-16;
- the zip directory lying: a local name unlike the directory's, the compression method, the
  encryption flag, the CRC, a symlink mode, a size;
- encrypted bundles: every byte of the clear header flipped, each header field given a hostile
  value (and the header length), a passphrase that is not text, cut at every segment;
- a sound bundle of another project merged.

`cases(good, encrypted)` lists them (deterministic); `run_case` inspects, opens and merges one
and says how each ended: "refused" (a BundleError or another TagloopError), "accepted" or
"traceback"; a refused merge must leave the project's rows as they were, a refused open no
file. Run the whole corpus with `python -m tests.fuzz.bundle_container`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import sys
import time
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fuzz import import_runner
from tests.fuzz.bundle_corpus import HOSTILE_VALUES, Outcome, make_fixture

PASSPHRASE = "correct horse"
Make = Callable[[bytes, bytes], bytes]  # (plain bundle, encrypted bundle) -> hostile bytes
TABLES = ("datapoint", "annotation", "annotator", "dataset", "audit_event", "comment", "flag")


@dataclass(frozen=True)
class Case:
    name: str
    make: Make
    passphrase: str | None = None


# ---- zip surgery ----------------------------------------------------------------------------


def _entries(data: bytes) -> tuple[list[int], list[int], int]:
    """Offsets of the local headers, of the central-directory entries, and of the end record,
    of a zip written by zipfile (no zip64)."""
    end = data.rindex(b"PK\x05\x06")
    count, _size, start = struct.unpack("<HII", data[end + 10 : end + 20])
    central, local = [], []
    at = start
    for _ in range(count):
        central.append(at)
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[at + 28 : at + 34])
        local.append(struct.unpack("<I", data[at + 42 : at + 46])[0])
        at += 46 + name_len + extra_len + comment_len
    return local, central, end


def _rezip(data: bytes, order: Callable[[list[str]], list[str]]) -> bytes:
    with zipfile.ZipFile(_bytes_io(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    out = _bytes_io()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in order(list(members)):
            zout.writestr(name, members[name])
    return out.getvalue()


def _bytes_io(data: bytes = b""):
    import io

    return io.BytesIO(data)


def _with_manifest(data: bytes, raw: bytes) -> bytes:
    """The bundle with manifest.json replaced by `raw` (the members stay as they were)."""
    with zipfile.ZipFile(_bytes_io(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["manifest.json"] = raw
    out = _bytes_io()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, content in members.items():
            zout.writestr(name, content)
    return out.getvalue()


def _manifest(data: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(_bytes_io(data)) as zf:
        return json.loads(zf.read("manifest.json"))


def _patch_central(data: bytes, index: int, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite a field of central-directory entry `index` (offset from the entry's start)."""
    _local, central, _end = _entries(data)
    out = bytearray(data)
    struct.pack_into(fmt, out, central[index] + offset, value)
    return bytes(out)


def _patch_local(data: bytes, index: int, offset: int, raw: bytes) -> bytes:
    local, _central, _end = _entries(data)
    out = bytearray(data)
    out[local[index] + offset : local[index] + offset + len(raw)] = raw
    return bytes(out)


# ---- the cases ------------------------------------------------------------------------------


def _truncations(plain: bytes) -> list[Case]:
    local, central, end = _entries(plain)
    cuts = sorted({c + d for c in [*local, *central, end] for d in (-1, 0, 1)} - {0})
    cuts += [len(plain) // 2, len(plain) - 1]
    return [Case(f"cut@{cut}", lambda p, _e, cut=cut: p[:cut]) for cut in cuts if cut < len(plain)]


def _orders() -> list[Case]:
    orders: dict[str, Callable[[list[str]], list[str]]] = {
        "manifest-first": lambda names: (
            ["manifest.json"] + [n for n in names if n != "manifest.json"]
        ),
        "reversed": lambda names: names[::-1],
        "sorted": sorted,
        "by-length": lambda names: sorted(names, key=len),
    }
    return [Case(f"order-{k}", lambda p, _e, f=f: _rezip(p, f)) for k, f in orders.items()]


def _junk() -> list[Case]:
    return [
        Case("junk-before", lambda p, _e: b"MZ" + b"\0" * 1000 + p),
        Case("junk-after", lambda p, _e: p + b"trailing junk" * 100),
        Case("two-zips", lambda p, _e: p + p),
        Case("empty-zip", lambda _p, _e: b"PK\x05\x06" + b"\0" * 18),
        Case("only-manifest", lambda p, _e: _only(p, ["manifest.json"])),
        Case("no-manifest", lambda p, _e: _only(p, [n for n in _names(p) if n != "manifest.json"])),
        Case("comment-64k", lambda p, _e: _with_comment(p, b"c" * 65535)),
    ]


def _names(data: bytes) -> list[str]:
    with zipfile.ZipFile(_bytes_io(data)) as zf:
        return zf.namelist()


def _only(data: bytes, keep: list[str]) -> bytes:
    return _rezip(data, lambda names: [n for n in names if n in keep])


def _with_comment(data: bytes, comment: bytes) -> bytes:
    out = bytearray(data)
    end = data.rindex(b"PK\x05\x06")
    struct.pack_into("<H", out, end + 20, len(comment))
    return bytes(out[: end + 22]) + comment


def _manifest_cases() -> list[Case]:
    found: list[Case] = []
    keys = (
        "format",
        "format_version",
        "app_version",
        "project_uuid",
        "project_name",
        "kind",
        "created_at",
        "created_by",
        "replica",
        "base",
        "assignee",
        "counts",
        "members",
    )
    for key in keys:
        for value in (*HOSTILE_VALUES, "missing"):
            found.append(Case(f"manifest.{key}={value!r:.30}", set_manifest(key, value)))
    for field in ("sha256", "size", "rows"):
        for value in (*HOSTILE_VALUES, "missing", 2**63, float("nan")):
            found.append(Case(f"member.{field}={value!r:.30}", _set_member(field, value)))
    found += [
        Case("manifest-newer", set_manifest("format_version", 99)),
        Case("manifest-array", lambda p, _e: _with_manifest(p, b"[]")),
        Case("manifest-deep", lambda p, _e: _with_manifest(p, b"[" * 100_000 + b"]" * 100_000)),
        Case("manifest-bom", lambda p, _e: _with_manifest(p, b"\xef\xbb\xbf" + _raw(p))),
        Case("manifest-utf16", lambda p, _e: _with_manifest(p, _raw(p).decode().encode("utf-16"))),
        Case("manifest-nan", lambda p, _e: _with_manifest(p, _raw(p)[:-1] + b', "x": NaN}')),
        Case(
            "manifest-big-int",
            lambda p, _e: _with_manifest(p, _raw(p)[:-1] + b', "x": ' + b"9" * 5000 + b"}"),
        ),
        Case("manifest-dup-first-wrong", _duplicate_member(first_wrong=True)),
        Case("manifest-dup-last-wrong", _duplicate_member(first_wrong=False)),
        Case("manifest-dup-members-key", _duplicate_members_key),
        Case("manifest-unlisted-extra", _set_member_extra),
        Case(
            "manifest-4mb",
            lambda p, _e: _with_manifest(
                p, _raw(p)[:-1] + b', "pad": "' + b"x" * (5 << 20) + b'"}'
            ),
        ),
    ]
    return found


def _raw(data: bytes) -> bytes:
    with zipfile.ZipFile(_bytes_io(data)) as zf:
        return zf.read("manifest.json")


def set_manifest(key: str, value: Any) -> Make:
    def make(plain: bytes, _enc: bytes) -> bytes:
        manifest = _manifest(plain)
        if value == "missing":
            manifest.pop(key, None)
        else:
            manifest[key] = value
        return _with_manifest(plain, json.dumps(manifest).encode("utf-8", "surrogatepass"))

    return make


def _set_member(field: str, value: Any) -> Make:
    def make(plain: bytes, _enc: bytes) -> bytes:
        manifest = _manifest(plain)
        info = manifest["members"]["datapoints.jsonl"]
        if value == "missing":
            info.pop(field, None)
        else:
            info[field] = value
        return _with_manifest(plain, json.dumps(manifest).encode("utf-8", "surrogatepass"))

    return make


def _duplicate_member(first_wrong: bool) -> Make:
    def make(plain: bytes, _enc: bytes) -> bytes:
        manifest = _manifest(plain)
        right = json.dumps(manifest["members"]["datapoints.jsonl"])
        wrong = json.dumps({"sha256": "0" * 64, "size": 1, "rows": 1})
        first, last = (wrong, right) if first_wrong else (right, wrong)
        raw = json.dumps(manifest).replace(
            '"datapoints.jsonl": ' + right,
            f'"datapoints.jsonl": {first}, "datapoints.jsonl": {last}',
        )
        return _with_manifest(plain, raw.encode("utf-8"))

    return make


def _duplicate_members_key(plain: bytes, _enc: bytes) -> bytes:
    manifest = _manifest(plain)
    raw = json.dumps(manifest)[:-1] + ', "members": {}}'
    return _with_manifest(plain, raw.encode("utf-8"))


def _set_member_extra(plain: bytes, _enc: bytes) -> bytes:
    manifest = _manifest(plain)
    manifest["members"]["comments.jsonl"] = {
        "sha256": hashlib.sha256(b"").hexdigest(),
        "size": 0,
        "rows": 0,
    }
    return _with_manifest(plain, json.dumps(manifest).encode("utf-8"))


def _directory_cases(plain: bytes) -> list[Case]:
    names = _names(plain)
    index = names.index("datapoints.jsonl")
    manifest_at = names.index("manifest.json")
    found = [
        Case("local-name-differs", lambda p, _e: _patch_local(p, index, 30, b"X")),
        Case("central-name-differs", lambda p, _e: _patch_central(p, index, 46, "<B", ord("X"))),
        Case("method-stored", lambda p, _e: _patch_central(p, index, 10, "<H", 0)),
        Case("method-lzma", lambda p, _e: _patch_central(p, index, 10, "<H", 14)),
        Case("method-bzip2", lambda p, _e: _patch_central(p, index, 10, "<H", 12)),
        Case("method-99", lambda p, _e: _patch_central(p, index, 10, "<H", 99)),
        Case("flag-encrypted", lambda p, _e: _patch_central(p, index, 8, "<H", 1)),
        Case("flag-utf8-manifest", lambda p, _e: _patch_central(p, manifest_at, 8, "<H", 0x800)),
        Case("crc-zero", lambda p, _e: _patch_central(p, index, 16, "<I", 0)),
        Case("manifest-crc-zero", lambda p, _e: _patch_central(p, manifest_at, 16, "<I", 0)),
        Case("size-smaller", lambda p, _e: _patch_central(p, index, 24, "<I", 10)),
        Case("size-huge", lambda p, _e: _patch_central(p, index, 24, "<I", 0xFFFFFFF0)),
        Case("csize-huge", lambda p, _e: _patch_central(p, index, 20, "<I", 0xFFFFFFF0)),
        Case("csize-zero", lambda p, _e: _patch_central(p, index, 20, "<I", 0)),
        Case("offset-past-end", lambda p, _e: _patch_central(p, index, 42, "<I", 0xFFFFFF00)),
        Case("offset-overlap", lambda p, _e: _patch_central(p, index, 42, "<I", 0)),
        Case("manifest-offset-overlap", lambda p, _e: _patch_central(p, manifest_at, 42, "<I", 0)),
        Case("symlink-mode", lambda p, _e: _patch_central(p, index, 38, "<I", 0o120777 << 16)),
        Case("fifo-mode", lambda p, _e: _patch_central(p, index, 38, "<I", 0o010644 << 16)),
        Case("eocd-count-huge", lambda p, _e: _patch_eocd(p, 10, "<H", 0xFFFF)),
        Case("eocd-cd-size-huge", lambda p, _e: _patch_eocd(p, 12, "<I", 0xFFFFFFF0)),
        Case("eocd-cd-offset-zero", lambda p, _e: _patch_eocd(p, 16, "<I", 0)),
        Case("eocd-disk-1", lambda p, _e: _patch_eocd(p, 4, "<H", 1)),
    ]
    return found


def _patch_eocd(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, data.rindex(b"PK\x05\x06") + offset, value)
    return bytes(out)


def _encrypted_cases(enc: bytes) -> list[Case]:
    from app.core.bundle import crypto

    found = []
    length = struct.unpack(">I", enc[len(crypto.MAGIC) : len(crypto.MAGIC) + 4])[0]
    header_end = len(crypto.MAGIC) + 4 + length
    for at in range(0, header_end + 40):
        found.append(Case(f"enc-flip@{at}", lambda _p, e, at=at: _flip(e, at), PASSPHRASE))
    for cut in sorted(
        {len(crypto.MAGIC), len(crypto.MAGIC) + 2, header_end, header_end + 1, len(enc) - 1}
    ):
        found.append(Case(f"enc-cut@{cut}", lambda _p, e, cut=cut: e[:cut], PASSPHRASE))
    for value in (0, 1, 0xFFFFFFFF, length + 1, length - 1):
        found.append(
            Case(f"enc-length={value}", lambda _p, e, v=value: _enc_length(e, v), PASSPHRASE)
        )
    fields = (
        "kdf.n",
        "kdf.r",
        "kdf.p",
        "kdf.salt",
        "kdf.name",
        "nonce",
        "segment_size",
        "check",
        "cipher",
        "encrypted",
    )
    for field in fields:
        for value in (*HOSTILE_VALUES, "missing", "32768", 2.5, 2**200, "QUJD", "=" * 8):
            found.append(Case(f"enc-{field}={value!r:.30}", _enc_field(field, value), PASSPHRASE))
    for passphrase in ("wrong", "", "\udcff\udcfe", "x" * 100_000, "\x00"):
        found.append(Case(f"enc-pass={passphrase[:10]!r}", lambda _p, e: e, passphrase))
    found.append(Case("enc-no-pass", lambda _p, e: e, None))
    found.append(Case("enc-not-zip-inside", _encrypted_non_zip, PASSPHRASE))
    return found


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x5A
    return bytes(out)


def _enc_parts(enc: bytes) -> tuple[bytes, dict[str, Any], bytes]:
    from app.core.bundle import crypto

    start = len(crypto.MAGIC)
    length = struct.unpack(">I", enc[start : start + 4])[0]
    header = json.loads(enc[start + 4 : start + 4 + length])
    return enc[:start], header, enc[start + 4 + length :]


def _enc_length(enc: bytes, value: int) -> bytes:
    from app.core.bundle import crypto

    start = len(crypto.MAGIC)
    return enc[:start] + struct.pack(">I", value) + enc[start + 4 :]


def _enc_field(field: str, value: Any) -> Make:
    def make(_plain: bytes, enc: bytes) -> bytes:
        magic, header, rest = _enc_parts(enc)
        where, key = (header["kdf"], field[4:]) if field.startswith("kdf.") else (header, field)
        if value == "missing":
            where.pop(key, None)
        else:
            where[key] = value
        raw = json.dumps(header, sort_keys=True).encode("utf-8", "surrogatepass")
        return magic + struct.pack(">I", len(raw)) + raw + rest

    return make


def _encrypted_non_zip(_plain: bytes, _enc: bytes) -> bytes:
    from app.core.bundle import crypto

    sink = _bytes_io()
    writer = crypto.EncryptingWriter(sink, PASSPHRASE)
    writer.write(b"this is not a zip at all" * 100)
    writer.finish()
    return sink.getvalue()


def cases(plain: bytes, encrypted: bytes) -> list[Case]:
    """Every hostile container, in a fixed order."""
    return [
        *_truncations(plain),
        *_orders(),
        *_junk(),
        *_manifest_cases(),
        *_directory_cases(plain),
        *_encrypted_cases(encrypted),
    ]


# ---- running them ---------------------------------------------------------------------------


def _attempt(action: Callable[[], Any]) -> tuple[str, str]:
    from app.core.errors import TagloopError

    try:
        action()
    except TagloopError as exc:
        message = str(exc)
        if not message.strip() or len(message) > 5000:
            return "traceback", f"unclear message: {message[:300]!r}"
        return "refused", message
    except Exception:
        return "traceback", traceback.format_exc()
    return "accepted", ""


def counts(path: Path) -> dict[str, int]:
    return import_runner.counts(path, TABLES)


def run_case(
    plain: bytes, encrypted: bytes, project_file: Path, case: Case, workdir: Path
) -> Outcome:
    """Inspect, open and merge the hostile bundle; a refused open must leave no file, a
    refused merge the project's rows as they were."""
    from app.core.bundle import inspect_bundle, merge_bundle, open_bundle
    from app.core.project.project import open_project

    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    bundle = workdir / "hostile.tlbundle"
    bundle.write_bytes(case.make(plain, encrypted))
    started = time.perf_counter()
    inspected, detail_i = _attempt(lambda: inspect_bundle(bundle, case.passphrase))
    opened, detail_o = _attempt(
        lambda: open_bundle(bundle, workdir / "opened.tagloop", passphrase=case.passphrase)
    )
    leftovers = [p.name for p in workdir.iterdir() if p.name.startswith(".")]
    if opened != "accepted" and leftovers:
        opened, detail_o = "traceback", f"a refused open left {leftovers}"
    copy = workdir / "target.tagloop"
    shutil.copy(project_file, copy)
    before = counts(copy)
    project = open_project(copy)
    try:
        merged, detail_m = _attempt(
            lambda: merge_bundle(project, bundle, passphrase=case.passphrase)
        )
    finally:
        project.close()
    if merged == "refused" and counts(copy) != before:
        merged, detail_m = "traceback", f"a refused merge changed the project: {detail_m}"
    if inspected == "traceback":
        opened, detail_o = "traceback", detail_i + detail_o
    seconds = time.perf_counter() - started
    return Outcome(case.name, opened, merged, seconds, detail_o + detail_m)


def make_bundles(root: Path) -> tuple[Path, bytes, bytes]:
    """The project file, and a sound bundle of it in the clear and encrypted."""
    from app.core.bundle import export_project_bundle
    from app.core.project.project import open_project

    project_file, good = make_fixture(root)
    project = open_project(project_file)
    try:
        export_project_bundle(project, root / "enc.tlbundle", passphrase=PASSPHRASE)
    finally:
        project.close()
    return project_file, good.read_bytes(), (root / "enc.tlbundle").read_bytes()


def other_project_case(root: Path) -> Case:
    """A sound bundle of another project: merging it must be refused, naming the reason."""
    from app.core.bundle import export_project_bundle
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project

    other = create_project(root / "other.tagloop", "classification", [LabelSpec("ham")])
    try:
        export_project_bundle(other, root / "other.tlbundle")
    finally:
        other.close()
    data = (root / "other.tlbundle").read_bytes()
    return Case("another-project", lambda _p, _e: data)


# Cases that failed once (session 5): always in the fast slice.
REGRESSIONS = (
    "manifest.created_at='bad \\ud800 x'",
    "manifest.app_version='bad \\ud800 x'",
    "manifest.kind='xxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "manifest.format_version='xxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "enc-pass='\\udcff\\udcfe'",
    "manifest-dup-first-wrong",
    "junk-after",
    "two-zips",
    "comment-64k",
)
# Cases that must be refused (they were accepted once, session 5).
MUST_REFUSE = ("manifest-dup-first-wrong", "junk-after", "two-zips", "comment-64k")


def sample(chosen: list[Case], n: int) -> list[Case]:
    """Every len/n-th case, and every case of REGRESSIONS: a fast, fixed slice."""
    step = max(1, len(chosen) // n)
    return [c for i, c in enumerate(chosen) if i % step == 0 or c.name in REGRESSIONS]


def main(argv: list[str]) -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project_file, plain, encrypted = make_bundles(root)
        chosen = [*cases(plain, encrypted), other_project_case(root)]
        if "--limit" in argv:
            chosen = sample(chosen, int(argv[argv.index("--limit") + 1]))
        tally = {"refused": 0, "accepted": 0, "traceback": 0}
        slowest = (0.0, "")
        bad = []
        for i, case in enumerate(chosen):
            outcome = run_case(plain, encrypted, project_file, case, root / "work")
            for result in (outcome.open, outcome.merge):
                tally[result] += 1
            slowest = max(slowest, (outcome.seconds, case.name))
            if outcome.traceback or outcome.seconds > 10:
                bad.append(outcome)
            if "-v" in argv:
                print(
                    case.name, outcome.open, outcome.merge, outcome.detail[:200].replace("\n", " ")
                )
            elif i % 100 == 0:
                print(f"{i}/{len(chosen)} {tally}", flush=True)
    print(f"containers: {len(chosen)}; runs (inspect + open, merge): {2 * len(chosen)}; {tally}")
    print(f"slowest case: {slowest[1]} {slowest[0]:.2f} s")
    for outcome in bad:
        print("FAILED", outcome.case, f"{outcome.seconds:.1f} s", outcome.detail[-1500:])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
