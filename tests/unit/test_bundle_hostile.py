"""Regression tests for issue 14 §3: hostile rows in a bundle whose manifest checksums were
recomputed are refused by open and merge alike, naming the member and the line, before
anything is written; audit forgery is refused naming the event; scrypt costs are capped."""

from __future__ import annotations

import itertools
import json
import struct
import time
import zipfile

import pytest

from app.core.audit.chain import verify_chain
from app.core.bundle import (
    BundleError,
    crypto,
    export_project_bundle,
    export_work_bundle,
    merge_bundle,
    open_bundle,
)
from tests.fuzz.bundle_corpus import Case, build
from tests.unit.bundle_helpers import dump, rich_project


def rows(good, member):
    with zipfile.ZipFile(good) as zf:
        return [json.loads(line) for line in zf.read(member).splitlines() if line.strip()]


def edited(good, tmp_path, member, change):
    """`good` with `change(rows)` applied to a member and the checksums recomputed."""

    def edit(members):
        if member == "project.json":
            info = json.loads(members[member])
            change(info)
            members[member] = json.dumps(info).encode()
            return
        found = [json.loads(line) for line in members[member].splitlines() if line.strip()]
        change(found)
        members[member] = "".join(json.dumps(r) + "\n" for r in found).encode()

    return build(good, Case("edit", edit), tmp_path / "bad.tlbundle")


def refused(project, bundle, tmp_path, match):
    before = dump(project.path)
    with pytest.raises(BundleError, match=match):
        open_bundle(bundle, tmp_path / "opened.tagloop")
    assert not (tmp_path / "opened.tagloop").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".opened")]
    with pytest.raises(BundleError, match=match):
        merge_bundle(project, bundle)
    assert dump(project.path) == before


def setter(index, key, value):
    def change(found):
        found[index][key] = value

    return change


CASES = [
    ("datapoints.jsonl", setter(0, "row", 2**70), r"datapoints.jsonl, line 1: 'row' must be"),
    ("annotations.jsonl", setter(0, "time_spent_ms", 2**70), r"'time_spent_ms' must be"),
    ("annotations.jsonl", setter(0, "time_spent_ms", -5), r"'time_spent_ms' must be"),
    ("schema_versions.jsonl", setter(0, "version", 2**70), r"'version' must be an integer"),
    ("datapoints.jsonl", setter(0, "status", 2**70), r"'status' must be one of"),
    ("datapoints.jsonl", setter(0, "context", "{bad json"), r"'context' is not valid JSON"),
    ("datapoints.jsonl", setter(0, "text", ""), r"'text' must not be empty"),
    ("annotations.jsonl", setter(0, "created_at", "yesterday"), r"'created_at' is not a timestamp"),
    ("annotations.jsonl", setter(0, "origin", "bogus"), r"'origin' must be one of"),
    ("comments.jsonl", setter(0, "uuid", "../../etc/passwd"), r"'uuid' is not a UUID"),
    ("comments.jsonl", setter(0, "body", ""), r"'body' must not be empty"),
    ("flags.jsonl", setter(0, "reason", " "), r"'reason' must not be empty"),
    ("datasets.jsonl", setter(0, "row_count", -1), r"'row_count' must be an integer from 0"),
    ("datapoints.jsonl", setter(0, "text", "bad \ud800 x"), r"lone surrogate"),
    ("project.json", lambda info: info.update(language="../../x"), r"'language' is not a lang"),
    (
        "project.json",
        lambda info: info["inputs"][1].update(name="id"),
        r"project.json: input 2: the name 'id' is reserved",
    ),
    (
        "project.json",
        lambda info: info["inputs"].append(dict(info["inputs"][1], annotated=False)),
        r"appears twice",
    ),
]


@pytest.mark.parametrize("member, change, match", CASES, ids=[c[2][:40] for c in CASES])
def test_hostile_fields_are_refused(bundled, tmp_path, member, change, match):
    project, good = bundled
    refused(project, edited(good, tmp_path, member, change), tmp_path, match)


@pytest.mark.parametrize(
    "member",
    [
        "annotators.jsonl",
        "datasets.jsonl",
        "schema_versions.jsonl",
        "annotations.jsonl",
        "tasks.jsonl",
        "comments.jsonl",
        "flags.jsonl",
        "audit_events.jsonl",
    ],
)
def test_a_repeated_row_is_refused_not_a_traceback(bundled, tmp_path, member):
    project, good = bundled
    bad = edited(good, tmp_path, member, lambda found: found.append(dict(found[0])))
    match = "appears twice|does not follow" if member == "audit_events.jsonl" else "appears twice"
    refused(project, bad, tmp_path, rf"{member}, line \d+: .*({match})")


def test_duplicate_label_names_are_refused(bundled, tmp_path):
    project, good = bundled

    def change(found):
        found[0]["labels"] = json.dumps([{"name": "ham"}, {"name": "ham"}])

    refused(project, edited(good, tmp_path, "schema_versions.jsonl", change), tmp_path, "twice")


def test_a_line_nested_100k_deep_is_refused(bundled, tmp_path):
    project, good = bundled

    def edit(members):
        members["comments.jsonl"] += b"[" * 100_000 + b"]" * 100_000 + b"\n"

    bad = build(good, Case("deep", edit), tmp_path / "bad.tlbundle")
    refused(project, bad, tmp_path, r"comments.jsonl, line \d+: not valid JSON")


def test_derived_status_and_flag_must_agree_with_the_rows(bundled, tmp_path):
    project, good = bundled
    found = rows(good, "datapoints.jsonl")
    complete = {(r["dataset"], r["row"]) for r in rows(good, "annotations.jsonl")}
    plain = next(i for i, r in enumerate(found) if (r["dataset"], r["row"]) not in complete)
    bad = edited(good, tmp_path, "datapoints.jsonl", setter(plain, "status", 1))
    refused(project, bad, tmp_path, "'labeled' but has no complete annotation")
    bad = edited(good, tmp_path, "datapoints.jsonl", setter(plain, "flagged", True))
    refused(project, bad, tmp_path, "flagged but has no open flag")


# -- audit forgery ------------------------------------------------------------------------


def test_audit_events_travel_with_their_chain(bundled):
    _project, good = bundled
    events = rows(good, "audit_events.jsonl")
    assert events[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(events))


@pytest.mark.parametrize(
    "change, match",
    [
        (setter(1, "action", "nothing-to-see"), "was altered|differs from this project's copy"),
        (lambda found: found.pop(1), "does not follow event"),
        (lambda found: found.insert(0, found.pop(2)), "does not start here|does not follow"),
        (lambda found: found.pop(0), "does not start here"),
    ],
    ids=["altered", "removed", "reordered", "first-removed"],
)
def test_a_forged_audit_trail_is_refused_naming_the_event(bundled, tmp_path, change, match):
    project, good = bundled
    bad = edited(good, tmp_path, "audit_events.jsonl", change)
    refused(
        project, bad, tmp_path, rf"audit_events.jsonl, line \d+: audit event [0-9a-f]+\b.*({match})"
    )
    assert verify_chain(project).ok


def test_an_event_altered_and_rehashed_is_refused_by_the_project_that_holds_it(bundled, tmp_path):
    """A forger who recomputes the chain still cannot change an event the project holds."""
    from app.core.audit.chain import GENESIS, event_hash

    project, good = bundled

    def change(found):
        found[1]["after"] = json.dumps({"forged": True})
        prev = GENESIS
        for row in found:
            fields = [row[k] for k in ("uuid", "at", "actor", "action", "entity")]
            fields += [row["entity_uuid"], row["before"], row["after"]]
            row["prev_hash"], row["hash"] = prev, event_hash(prev, *fields)
            prev = row["hash"]

    bad = edited(good, tmp_path, "audit_events.jsonl", change)
    before = dump(project.path)
    with pytest.raises(BundleError, match="differs from this project's copy"):
        merge_bundle(project, bad)
    assert dump(project.path) == before
    assert verify_chain(project).ok


def test_work_bundles_carry_an_unbroken_stretch_of_the_chain(make_project, tmp_path):
    from app.core.annotation.commands import AnnotationState, SetAnnotations
    from app.core.bundle import export_assignment_bundle
    from app.core.project.project import open_project
    from app.core.team.assign import add_annotator, generate_tasks

    owner = rich_project(make_project, tmp_path)
    alice = add_annotator(owner, "alice2")
    generate_tasks(owner, ["alice2"], fraction=0.3, seed=1, force=True)
    assignment = tmp_path / "a.tlbundle"
    with owner.engine.connect() as conn:
        uid = conn.exec_driver_sql("SELECT uuid FROM annotator WHERE id = ?", (alice.id,)).scalar()
    export_assignment_bundle(owner, assignment, uid)
    report = open_bundle(assignment, tmp_path / "alice.tagloop")
    copy = open_project(report.path)
    SetAnnotations(copy.local_annotator_id, ((1, AnnotationState("spam", "complete")),)).apply(copy)
    work = tmp_path / "w.tlbundle"
    export_work_bundle(copy, work)
    copy.close()
    events = rows(work, "audit_events.jsonl")
    assert events and all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(events))
    merge_bundle(owner, work)
    assert verify_chain(owner).ok
    bad = edited(work, tmp_path, "audit_events.jsonl", setter(0, "action", "forged"))
    with pytest.raises(BundleError, match=r"was altered|differs from this project's copy"):
        merge_bundle(owner, bad)


# -- key derivation cost ------------------------------------------------------------------


def test_scrypt_parameters_are_capped_before_the_key_is_derived(bundled, tmp_path, monkeypatch):
    """The issue's 25.8 KB bundle asking for n=2^20, r=16, p=4 (2.1 GB, 25.6 s) is refused
    without deriving anything; so is any cost over 4 times the one Tagloop writes."""
    project, _good = bundled
    out = tmp_path / "secret.tlbundle"
    export_project_bundle(project, out, passphrase="s3cret pass")
    data = out.read_bytes()
    start = len(crypto.MAGIC)
    (length,) = struct.unpack(">I", data[start : start + 4])
    header = json.loads(data[start + 4 : start + 4 + length])
    derived = []
    monkeypatch.setattr(crypto, "_derive", lambda *a: derived.append(a) or (b"", ""))
    for n, r, p in ((2**20, 16, 4), (2**17, 8, 4), (2**18, 4, 1), (2**15, 64, 1)):
        header["kdf"].update(n=n, r=r, p=p)
        raw = json.dumps(header).encode()
        bad = tmp_path / "bad.tlbundle"
        bad.write_bytes(
            crypto.MAGIC + struct.pack(">I", len(raw)) + raw + data[start + 4 + length :]
        )
        with pytest.raises(BundleError, match="parameters out of range"):
            open_bundle(bad, tmp_path / "o.tagloop", passphrase="s3cret pass")
    assert derived == []
    assert 128 * crypto.KDF_N * crypto.KDF_R * 4 <= crypto.MAX_KDF_MEMORY


def test_the_largest_allowed_key_derivation_is_bounded(bundled, tmp_path):
    """The most a header may ask for (128 MiB, n·r·p = 2^20) still ends in the plain
    'wrong passphrase' message."""
    project, _good = bundled
    out = tmp_path / "secret.tlbundle"
    export_project_bundle(project, out, passphrase="s3cret pass")
    data = out.read_bytes()
    start = len(crypto.MAGIC)
    (length,) = struct.unpack(">I", data[start : start + 4])
    header = json.loads(data[start + 4 : start + 4 + length])
    header["kdf"].update(n=2**17, r=8, p=1)
    raw = json.dumps(header).encode()
    bad = tmp_path / "big.tlbundle"
    bad.write_bytes(crypto.MAGIC + struct.pack(">I", len(raw)) + raw + data[start + 4 + length :])
    started = time.perf_counter()
    with pytest.raises(BundleError, match="wrong passphrase"):
        open_bundle(bad, tmp_path / "o.tagloop", passphrase="s3cret pass")
    print(f"largest allowed scrypt: {time.perf_counter() - started:.2f} s")


def test_a_complete_annotation_needs_a_labeled_datapoint(bundled, tmp_path):
    project, good = bundled
    found = rows(good, "datapoints.jsonl")
    complete = {
        (r["dataset"], r["row"])
        for r in rows(good, "annotations.jsonl")
        if r["status"] == "complete"
    }
    labeled = next(i for i, r in enumerate(found) if (r["dataset"], r["row"]) in complete)
    bad = edited(good, tmp_path, "datapoints.jsonl", setter(labeled, "status", 0))
    refused(project, bad, tmp_path, "annotations.jsonl, line \\d+: it is complete but")


def test_a_dataset_checksum_and_format_are_checked(bundled, tmp_path):
    project, good = bundled
    bad = edited(good, tmp_path, "datasets.jsonl", setter(0, "sha256", "../../etc/passwd"))
    refused(project, bad, tmp_path, "'sha256' is not a SHA-256")
    bad = edited(good, tmp_path, "datasets.jsonl", setter(0, "format", "exe"))
    refused(project, bad, tmp_path, "'format' must be one of")


@pytest.mark.parametrize("key", ["created_at", "base"])
@pytest.mark.parametrize("value", ["yesterday", "zzzz-99-99T99:99", "9"])
def test_a_manifest_time_that_is_no_timestamp_is_refused(bundled, tmp_path, key, value):
    """A work bundle returns what was done since the bundle's time: a bogus one would decide
    what goes back (a "zzz" base returned nothing)."""
    project, good = bundled

    def edit(members):
        manifest = json.loads(members["manifest.json"])
        manifest[key] = value
        members["manifest.json"] = json.dumps(manifest).encode()

    bad = build(good, Case("manifest time", edit), tmp_path / "bad.tlbundle")
    refused(project, bad, tmp_path, rf"the manifest's '{key}' is not a timestamp")
