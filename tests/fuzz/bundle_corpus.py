"""Hostile bundles, made as the issue-14 auditors made them: a member of a sound bundle edited
(a field given a hostile value, a row repeated, dropped or moved, a line broken), then the
manifest's checksums recomputed, so only the checks on what the rows say can refuse it.

`cases(good)` lists every mutation of a bundle (well over 500, deterministic); `build` writes
one; `run_case` opens and merges it and says how it ended: "refused" (a BundleError),
"accepted", or "traceback" (anything else). Run the whole corpus with

    python -m tests.fuzz.bundle_corpus [--limit N] [--kind project|assignment|work]

which prints the counts and the slowest case. --kind mutates an assignment bundle, or a work
bundle returned on it, instead of the project bundle (make_kind_fixture).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
import time
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOSTILE_VALUES: tuple[Any, ...] = (
    2**70,
    -(2**70),
    -1,
    0,
    1.5,
    "",
    " ",
    None,
    True,
    [],
    {"a": 1},
    "../../etc/passwd",
    "{bad json",
    "not a timestamp",
    "bad \ud800 x",
    "id",
    "x" * 5000,
    "a\u2028b",  # session 6: a line separator, in a label or annotator name
    "\u202eroot",  # and a bidi override, which shows a name as another
)
Edit = Callable[[dict[str, bytes]], None]


@dataclass(frozen=True)
class Case:
    name: str
    edit: Edit


def _rows(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def _dump(rows: list[Any]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=True) + "\n" for r in rows).encode("utf-8")


def _set_field(member: str, index: int, key: str, value: Any) -> Edit:
    def edit(members: dict[str, bytes]) -> None:
        rows = _rows(members[member])
        rows[index][key] = value
        members[member] = _dump(rows)

    return edit


def _structural(member: str, how: str) -> Edit:
    def edit(members: dict[str, bytes]) -> None:
        rows = _rows(members[member])
        if how == "repeat":
            rows.append(rows[0])
        elif how == "drop-first":
            rows.pop(0)
        elif how == "drop-middle":
            rows.pop(len(rows) // 2)
        elif how == "swap":
            rows[0], rows[-1] = rows[-1], rows[0]
        elif how == "not-object":
            rows.append([1, 2])
        elif how == "empty-object":
            rows.append({})
        if how == "deep":
            members[member] += b"[" * 100_000 + b"]" * 100_000 + b"\n"
        elif how == "broken-line":
            members[member] += b'{"uuid": "\n'
        elif how == "huge-int-line":
            members[member] += b'{"row": ' + b"7" * 5000 + b"}\n"
        elif how == "not-utf8":
            members[member] += b'{"uuid": "\xff\xfe"}\n'
        else:
            members[member] = _dump(rows)

    return edit


STRUCTURAL = (
    "repeat",
    "drop-first",
    "drop-middle",
    "swap",
    "not-object",
    "empty-object",
    "deep",
    "broken-line",
    "huge-int-line",
    "not-utf8",
)


def _project_edit(key: str, value: Any) -> Edit:
    def edit(members: dict[str, bytes]) -> None:
        info = json.loads(members["project.json"])
        if key.startswith("input."):
            info["inputs"][0][key.removeprefix("input.")] = value
        elif key == "inputs.duplicate":
            info["inputs"].append(dict(info["inputs"][0]))
        else:
            info[key] = value
        members["project.json"] = json.dumps(info).encode("utf-8")

    return edit


def cases(good: Path) -> list[Case]:
    """Every mutation of the sound bundle `good`, in a fixed order."""
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n.endswith(".jsonl")}
    found: list[Case] = []
    for member, data in sorted(members.items()):
        rows = _rows(data)
        if not rows:
            continue
        for index in sorted({0, len(rows) - 1}):
            for key in rows[index]:
                for value in HOSTILE_VALUES:
                    found.append(
                        Case(
                            f"{member}[{index}].{key}={value!r:.30}",
                            _set_field(member, index, key, value),
                        )
                    )
        for how in STRUCTURAL:
            found.append(Case(f"{member}:{how}", _structural(member, how)))
    for key in ("uuid", "name", "task_type", "language", "created_at", "app_version", "inputs"):
        for value in HOSTILE_VALUES:
            found.append(Case(f"project.json.{key}={value!r:.30}", _project_edit(key, value)))
    for key in ("input.name", "input.position", "input.annotated", "inputs.duplicate"):
        for value in HOSTILE_VALUES:
            found.append(Case(f"project.json.{key}={value!r:.30}", _project_edit(key, value)))
    return found


def build(good: Path, case: Case, out: Path) -> Path:
    """The bundle `good` with `case` applied and the manifest's checksums recomputed."""
    with zipfile.ZipFile(good) as zf:
        data = {n: zf.read(n) for n in zf.namelist()}
    edited = dict(data)
    case.edit(edited)
    manifest = json.loads(edited["manifest.json"])
    for name, content in edited.items():
        if name in manifest["members"]:
            manifest["members"][name]["sha256"] = hashlib.sha256(content).hexdigest()
            manifest["members"][name]["size"] = len(content)
    edited["manifest.json"] = json.dumps(manifest).encode("utf-8")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, content in edited.items():
            zout.writestr(name, content)
    return out


@dataclass
class Outcome:
    case: str
    open: str
    merge: str
    seconds: float
    detail: str = ""

    @property
    def traceback(self) -> bool:
        return "traceback" in (self.open, self.merge)


def _attempt(action: Callable[[], Any]) -> tuple[str, str]:
    from app.core.bundle import BundleError

    try:
        action()
    except BundleError as exc:
        return "refused", str(exc)
    except Exception:
        return "traceback", traceback.format_exc()
    return "accepted", ""


def run_case(good: Path, project_file: Path, case: Case, workdir: Path) -> Outcome:
    """Open the mutated bundle as a new file, and merge it into a copy of `project_file`."""
    from app.core.bundle import merge_bundle, open_bundle
    from app.core.project.project import open_project

    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    bundle = build(good, case, workdir / "hostile.tlbundle")
    started = time.perf_counter()
    opened, detail_o = _attempt(lambda: open_bundle(bundle, workdir / "opened.tagloop"))
    if opened != "accepted" and any(p.name.startswith(".opened") for p in workdir.iterdir()):
        opened, detail_o = "traceback", "a refused open left a partial file"
    copy = workdir / "target.tagloop"
    shutil.copy(project_file, copy)
    project = open_project(copy)
    try:
        merged, detail_m = _attempt(lambda: merge_bundle(project, bundle))
    finally:
        project.close()
    seconds = time.perf_counter() - started
    return Outcome(case.name, opened, merged, seconds, detail_o + detail_m)


def sample(all_cases: list[Case], n: int, seed: int) -> list[Case]:
    if n >= len(all_cases):
        return all_cases
    return random.Random(seed).sample(all_cases, n)


def make_fixture(root: Path) -> tuple[Path, Path]:
    """A rich project (rows in every table) and its project bundle, under `root`."""
    import os

    os.environ.setdefault("TAGLOOP_CONFIG_DIR", str(root / "config"))
    from app.core.bundle import export_project_bundle
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project
    from tests.unit.bundle_helpers import rich_project

    made = []

    def make(task_type="classification", labels=("ham", "spam"), **kwargs):
        project = create_project(
            root / f"p{len(made)}.tagloop", task_type, [LabelSpec(x) for x in labels], **kwargs
        )
        made.append(project)
        return project

    project = rich_project(make, root)
    good = root / "good.tlbundle"
    export_project_bundle(project, good)
    path = Path(project.path)
    for p in made:
        p.close()
    return path, good


def make_kind_fixture(root: Path, kind: str) -> tuple[Path, Path]:
    """The rich project (make_fixture's) and, instead of its project bundle, an assignment
    bundle for a new annotator ("assignment") or the work she returns on it ("work": labels,
    a skip, a comment, a flag): open and merge check those kinds on paths of their own
    (red team, session 6: the corpus mutated project bundles only)."""
    from app.core.annotation.commands import AddComment, AddFlag, AnnotationState, SetAnnotations
    from app.core.bundle import export_assignment_bundle, export_work_bundle, open_bundle
    from app.core.project.project import open_project
    from app.core.team.assign import add_annotator, generate_tasks

    project_file, _project_bundle = make_fixture(root)
    with open_project(project_file) as owner:
        add_annotator(owner, "carol")
        generate_tasks(owner, ["carol"], fraction=0.3, seed=1, force=True)
        with owner.engine.connect() as conn:
            uid = conn.exec_driver_sql("SELECT uuid FROM annotator WHERE name = 'carol'").scalar()
        assignment = root / "assignment.tlbundle"
        export_assignment_bundle(owner, assignment, uid)
    if kind == "assignment":
        return project_file, assignment
    with open_project(open_bundle(assignment, root / "carol.tagloop").path) as carol:
        with carol.engine.connect() as conn:
            ids = [r[0] for r in conn.exec_driver_sql("SELECT datapoint_id FROM task")]
        me = carol.local_annotator_id
        labelled = tuple((i, AnnotationState("spam", "complete", 500)) for i in ids[:3])
        SetAnnotations(me, labelled).apply(carol)
        SetAnnotations(me, ((ids[3], AnnotationState(None, "skipped")),)).apply(carol)
        AddComment(ids[0], me, "carol says").apply(carol)
        AddFlag(ids[1], me, "odd").apply(carol)
        work = root / "work.tlbundle"
        export_work_bundle(carol, work)
    return project_file, work


def main(argv: list[str]) -> int:
    import tempfile

    limit = int(argv[argv.index("--limit") + 1]) if "--limit" in argv else None
    kind = argv[argv.index("--kind") + 1] if "--kind" in argv else "project"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if kind == "project":
            project_file, good = make_fixture(root)
        else:
            project_file, good = make_kind_fixture(root, kind)
        chosen = cases(good)
        if limit is not None:
            chosen = sample(chosen, limit, 14)
        counts = {"refused": 0, "accepted": 0, "traceback": 0}
        slowest = (0.0, "")
        bad = []
        for i, case in enumerate(chosen):
            outcome = run_case(good, project_file, case, root / "work")
            for result in (outcome.open, outcome.merge):
                counts[result] += 1
            slowest = max(slowest, (outcome.seconds, case.name))
            if outcome.traceback:
                bad.append(outcome)
            if i % 100 == 0:
                print(f"{i}/{len(chosen)} {counts}", flush=True)
    print(f"{kind} bundles: {len(chosen)}; runs (open + merge): {2 * len(chosen)}; {counts}")
    print(f"slowest case: {slowest[1]} {slowest[0]:.2f} s")
    for outcome in bad:
        print("TRACEBACK", outcome.case, outcome.detail[-800:])
    return 1 if bad or slowest[0] > 10 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
