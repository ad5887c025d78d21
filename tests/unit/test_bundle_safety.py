"""Hostile and damaged bundles are refused with a clear message, before anything changes."""

from __future__ import annotations

import io
import json
import stat
import zipfile

import pytest

from app.core.bundle import (
    BundleError,
    Limits,
    crypto,
    export_project_bundle,
    inspect_bundle,
    merge_bundle,
    open_bundle,
)
from tests.unit.bundle_helpers import dump, rebuild_zip


def refused(project, bundle, tmp_path, match, limits=None, passphrase=None):
    """Open and merge both refuse the bundle, naming it and the problem; nothing changes."""
    before = dump(project.path)
    kwargs = {"passphrase": passphrase}
    if limits is not None:
        kwargs["limits"] = limits
    with pytest.raises(BundleError, match=match) as err:
        open_bundle(bundle, tmp_path / "opened.tagloop", **kwargs)
    assert str(bundle) in str(err.value)
    assert not (tmp_path / "opened.tagloop").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".opened")]
    with pytest.raises(BundleError, match=match):
        merge_bundle(project, bundle, **kwargs)
    assert dump(project.path) == before
    return err.value


def zinfo(name: str, mode: int | None = None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    if mode is not None:
        info.external_attr = mode << 16
    return info


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("/etc/passwd", "absolute path"),
        ("../../evil.jsonl", r"climbs out of the bundle \(\.\.\)"),
        ("model/../../x.bin", r"climbs out"),
        ("..\\evil.jsonl", "backslash"),
        ("C:/Windows/evil.jsonl", "names a drive"),
        ("extra.txt", "unexpected member 'extra.txt'"),
        ("model/notauuid.bin", "unexpected member"),
    ],
)
def test_unsafe_member_names(bundled, tmp_path, name, match):
    project, good = bundled
    bad = rebuild_zip(good, tmp_path / "bad.tlbundle", extra=[(zinfo(name), b"{}\n")])
    refused(project, bad, tmp_path, match)


def test_symlink_member(bundled, tmp_path):
    project, good = bundled
    link = zinfo("model/" + "a" * 32 + ".bin", stat.S_IFLNK | 0o777)
    bad = rebuild_zip(good, tmp_path / "bad.tlbundle", extra=[(link, b"/etc/passwd")])
    refused(project, bad, tmp_path, "symbolic link")


def test_duplicate_member(bundled, tmp_path):
    project, good = bundled
    with zipfile.ZipFile(good) as zf:
        data = zf.read("datapoints.jsonl")
    with pytest.warns(UserWarning):
        bad = rebuild_zip(good, tmp_path / "bad.tlbundle", extra=[("datapoints.jsonl", data)])
    refused(project, bad, tmp_path, "'datapoints.jsonl' appears twice")


def test_member_not_in_manifest(bundled, tmp_path):
    project, good = bundled
    bad = rebuild_zip(good, tmp_path / "bad.tlbundle", extra=[("predictions.jsonl", b"")])
    refused(project, bad, tmp_path, "unexpected member 'predictions.jsonl'")


def test_member_missing(bundled, tmp_path):
    project, good = bundled
    bad = rebuild_zip(good, tmp_path / "bad.tlbundle", drop=("comments.jsonl",))
    refused(project, bad, tmp_path, "'comments.jsonl' is listed in the manifest but missing")


def test_tampered_member(bundled, tmp_path):
    project, good = bundled
    with zipfile.ZipFile(good) as zf:
        data = zf.read("annotations.jsonl")
    tampered = data.replace(b"spam", b"hams", 1)  # same length: only the checksum can tell
    assert len(tampered) == len(data) and tampered != data
    bad = rebuild_zip(good, tmp_path / "bad.tlbundle", replace={"annotations.jsonl": tampered})
    refused(project, bad, tmp_path, r"'annotations.jsonl' is damaged or was altered.*SHA-256")


def test_resized_member(bundled, tmp_path):
    project, good = bundled
    with zipfile.ZipFile(good) as zf:
        data = zf.read("datapoints.jsonl")
    bad = rebuild_zip(
        good, tmp_path / "bad.tlbundle", replace={"datapoints.jsonl": data + data[:50]}
    )
    refused(project, bad, tmp_path, "'datapoints.jsonl' is .* the manifest says")


def test_truncated_file(bundled, tmp_path):
    project, good = bundled
    data = good.read_bytes()
    for keep in (len(data) // 2, len(data) - 10):
        bad = tmp_path / "bad.tlbundle"
        bad.write_bytes(data[:keep])
        refused(project, bad, tmp_path, "truncated or damaged")


def test_not_a_bundle(bundled, tmp_path):
    project, _good = bundled
    bad = tmp_path / "bad.tlbundle"
    bad.write_text("hello, I am a text file")
    refused(project, bad, tmp_path, "not a Tagloop bundle")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("hello.txt", "hi")
    bad.write_bytes(buffer.getvalue())
    refused(project, bad, tmp_path, "unexpected member 'hello.txt'")


def test_zip_bomb_refused_by_ratio(bundled, tmp_path):
    project, good = bundled
    bomb = zinfo("model/" + "b" * 32 + ".bin")
    bomb.compress_type = zipfile.ZIP_DEFLATED
    bad = rebuild_zip(good, tmp_path / "bad.tlbundle", extra=[(bomb, bytes(20 << 20))])
    assert bad.stat().st_size < 200_000
    refused(project, bad, tmp_path, r"expands \d[\d,]* times .*zip bomb")


def test_size_caps(bundled, tmp_path):
    project, good = bundled
    refused(project, good, tmp_path, "over the cap of 1,000", Limits(max_member_bytes=1000))
    refused(project, good, tmp_path, "add up to more than the cap", Limits(max_total_bytes=3000))


def test_bytes_read_are_capped_whatever_the_header_says(bundled, tmp_path, monkeypatch):
    """A member that yields more than its declared size is cut off while streaming."""
    from app.core.bundle import container as fmt

    project, good = bundled
    original = fmt.BundleReader._member_stream

    def lying(self, name):
        reader = original(self, name)
        reader._cap = 10  # as if the header had declared 10 bytes
        return reader

    monkeypatch.setattr(fmt.BundleReader, "_member_stream", lying)
    refused(project, good, tmp_path, "holds more than its declared size")


def test_manifest_must_be_sane(bundled, tmp_path):
    project, good = bundled

    def no_uuid(manifest):
        manifest["project_uuid"] = "../../etc"

    bad = rebuild_zip(good, tmp_path / "bad.tlbundle", manifest_edit=no_uuid)
    refused(project, bad, tmp_path, "no valid project_uuid")

    def odd_kind(manifest):
        manifest["kind"] = "script"

    bad = rebuild_zip(good, tmp_path / "bad.tlbundle", manifest_edit=odd_kind)
    refused(project, bad, tmp_path, "unknown kind 'script'")


def test_bad_rows_inside_a_valid_container_are_refused_atomically(bundled, tmp_path):
    """A well-formed container with a bad row: refused midway, and still nothing changes."""
    import hashlib

    project, good = bundled
    with zipfile.ZipFile(good) as zf:
        data = zf.read("comments.jsonl")
    bad_data = data + b'{"uuid": "c0ffee", "dataset": 5, "row": "x"}\n'

    def fix(manifest):
        manifest["members"]["comments.jsonl"]["sha256"] = hashlib.sha256(bad_data).hexdigest()
        manifest["members"]["comments.jsonl"]["size"] = len(bad_data)

    bad = rebuild_zip(
        good, tmp_path / "bad.tlbundle", replace={"comments.jsonl": bad_data}, manifest_edit=fix
    )
    refused(project, bad, tmp_path, r"comments.jsonl, line \d+: 'uuid' is not a UUID")


# -- Encryption -------------------------------------------------------------------------


@pytest.fixture
def encrypted(bundled, tmp_path):
    project, _good = bundled
    out = tmp_path / "secret.tlbundle"
    export_project_bundle(project, out, passphrase="s3cret pass")
    return project, out


def test_encrypted_header_tells_nothing_of_the_contents(encrypted):
    project, out = encrypted
    data = out.read_bytes()
    assert data.startswith(crypto.MAGIC)
    assert project.uuid.encode() not in data and b"manifest" not in data
    assert b"note number" not in data
    start = len(crypto.MAGIC)
    length = int.from_bytes(data[start : start + 4], "big")
    header = json.loads(data[start + 4 : start + 4 + length])
    assert set(header) == {"format", "encrypted", "cipher", "segment_size", "kdf", "nonce", "check"}
    assert header["kdf"]["n"] >= 2**15 and header["kdf"]["r"] == 8 and header["kdf"]["p"] == 1
    manifest = inspect_bundle(out, "s3cret pass")
    assert manifest["encrypted"] and manifest["project_uuid"] == project.uuid


def test_wrong_or_missing_passphrase(encrypted, tmp_path):
    project, out = encrypted
    refused(project, out, tmp_path, "wrong passphrase", passphrase="guess")
    refused(project, out, tmp_path, "is encrypted: give its passphrase")


def test_tampered_ciphertext(encrypted, tmp_path):
    project, out = encrypted
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "bad.tlbundle"
    bad.write_bytes(bytes(data))
    refused(project, bad, tmp_path, "fails its authentication check", passphrase="s3cret pass")


def test_truncated_ciphertext(encrypted, tmp_path):
    project, out = encrypted
    data = out.read_bytes()
    bad = tmp_path / "bad.tlbundle"
    for keep in (len(data) - 1, len(data) - 17, 40):
        bad.write_bytes(data[:keep])
        refused(project, bad, tmp_path, "truncated|authentication", passphrase="s3cret pass")


def test_segments_cannot_be_dropped_reordered_or_cut_at_a_boundary(tmp_path):
    plain = bytes(range(256)) * 10  # 2,560 bytes: 40 segments of 64
    sink = io.BytesIO()
    writer = crypto.EncryptingWriter(sink, "pw", segment=64)
    writer.write(plain)
    writer.finish()
    data = sink.getvalue()
    out = io.BytesIO()
    crypto.decrypt_to(io.BytesIO(data), out, "pw", "f", 1 << 20)
    assert out.getvalue() == plain
    header_end = (
        len(crypto.MAGIC) + 4 + int.from_bytes(data[len(crypto.MAGIC) : len(crypto.MAGIC) + 4])
    )
    sealed = 64 + crypto.TAG
    body = data[header_end:]
    segments = [body[i : i + sealed] for i in range(0, len(body), sealed)]
    variants = {
        "cut at a boundary": segments[:-1],
        "dropped": segments[:3] + segments[4:],
        "swapped": [segments[1], segments[0], *segments[2:]],
    }
    for name, parts in variants.items():
        with pytest.raises(BundleError, match=r"authentication|truncated"):
            crypto.decrypt_to(
                io.BytesIO(data[:header_end] + b"".join(parts)), io.BytesIO(), "pw", "f", 1 << 20
            )
        assert name


def test_hostile_kdf_parameters_are_refused(encrypted, tmp_path):
    import struct

    project, out = encrypted
    data = out.read_bytes()
    start = len(crypto.MAGIC)
    (length,) = struct.unpack(">I", data[start : start + 4])
    header = json.loads(data[start + 4 : start + 4 + length])
    header["kdf"]["n"] = 2**30
    raw = json.dumps(header).encode()
    bad = tmp_path / "bad.tlbundle"
    bad.write_bytes(crypto.MAGIC + struct.pack(">I", len(raw)) + raw + data[start + 4 + length :])
    refused(project, bad, tmp_path, "parameters out of range", passphrase="s3cret pass")
