"""Bundle export, open and merge on a project of 1M datapoints and 200k annotations.

Targets (issue 5): <= 10 s each, peak RSS <= 500 MB. Each step runs in its own process, so
its peak RSS is its own. Prints one line per step:

- export:        the project bundle (plain), then the same encrypted;
- open:          the plain bundle into a new project file;
- merge project: the project bundle back into its source (every row compared, none new);
- return work:   a work bundle of one annotator's 200k annotations;
- merge work:    that work bundle into the project without them (200k annotations added).

Usage: python bench/bundle.py [--rows 1000000] [--annotations 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import OUT, big_project

PASSPHRASE = "bench passphrase"


def _copy_db(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(source)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copyfile(source, target)


def prepare(rows: int, annotations: int, work: Path) -> dict[str, Path]:
    from app.core.project.project import open_project

    base = work / "base.tagloop"
    _copy_db(big_project(rows), base)
    with open_project(base) as project:  # upgrades the copy to the current schema
        worker = project.engine.connect().exec_driver_sql("SELECT 1").scalar()
        del worker
    source = work / "source.tagloop"
    _copy_db(base, source)
    conn = sqlite3.connect(source)
    with conn:
        now = "2030-01-01T00:00:00.000+00:00"
        conn.execute(
            "INSERT INTO annotator (uuid, name, role, created_at) VALUES (?, 'worker',"
            " 'annotator', ?)",
            ("f" * 32, now),
        )
        worker = conn.execute("SELECT id FROM annotator WHERE name = 'worker'").fetchone()[0]
        schema = conn.execute("SELECT max(id) FROM schema_version").fetchone()[0]
        top = conn.execute("SELECT max(id) FROM datapoint").fetchone()[0]
        ids = sorted(random.Random(5).sample(range(1, top + 1), annotations))
        conn.executemany(
            "INSERT INTO annotation (id, uuid, datapoint_id, annotator_id, value, status,"
            " schema_version_id, time_spent_ms, origin, created_at, updated_at)"
            " VALUES (?, lower(hex(randomblob(16))), ?, ?, ?, 'complete', ?, 1500, 'human', ?, ?)",
            (
                (n, dp, worker, '"spam"' if dp % 3 else '"ham"', schema, now, now)
                for n, dp in enumerate(ids, 1)
            ),
        )
        conn.execute(
            "INSERT INTO annotation_label (annotation_id, label, datapoint_id)"
            " SELECT id, json_extract(value, '$'), datapoint_id FROM annotation"
        )
        conn.execute(
            "UPDATE datapoint SET status = 1 WHERE id IN (SELECT datapoint_id FROM annotation)"
        )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {"base": base, "source": source}


def step(name: str, work: Path) -> dict:
    """One measured operation (run in a child process)."""
    from app.core.bundle import (
        export_project_bundle,
        export_work_bundle,
        merge_bundle,
        open_bundle,
    )
    from app.core.project.project import META_ASSIGNEE, open_project, set_meta

    started = time.perf_counter()
    result: dict = {}
    if name == "export":
        with open_project(work / "source.tagloop") as project:
            report = export_project_bundle(project, work / "all.tlbundle")
        result["size_mb"] = report.size / 1e6
    elif name == "export-encrypted":
        with open_project(work / "source.tagloop") as project:
            report = export_project_bundle(project, work / "secret.tlbundle", passphrase=PASSPHRASE)
        result["size_mb"] = report.size / 1e6
    elif name == "open":
        (work / "opened.tagloop").unlink(missing_ok=True)
        report = open_bundle(work / "all.tlbundle", work / "opened.tagloop")
        result["datapoints"] = report.counts["datapoints"]
    elif name == "open-encrypted":
        (work / "opened2.tagloop").unlink(missing_ok=True)
        report = open_bundle(
            work / "secret.tlbundle", work / "opened2.tagloop", passphrase=PASSPHRASE
        )
        result["datapoints"] = report.counts["datapoints"]
    elif name == "merge-project":
        with open_project(work / "source.tagloop") as project:
            report = merge_bundle(project, work / "all.tlbundle")
        result["changed"] = report.changed
    elif name == "return-work":
        with open_project(work / "source.tagloop") as project:
            with project.engine.begin() as conn:
                set_meta(conn, META_ASSIGNEE, "f" * 32)
            report = export_work_bundle(project, work / "work.tlbundle")
            with project.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM project_meta WHERE key = ?", (META_ASSIGNEE,))
        result["annotations"] = report.counts["annotations"]
    elif name == "merge-work":
        with open_project(work / "base.tagloop") as project:
            report = merge_bundle(project, work / "work.tlbundle")
        result["added"] = report.added.get("annotations", 0)
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--annotations", type=int, default=200_000)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, Path(args.work))))
        return
    os.environ.setdefault("TAGLOOP_CONFIG_DIR", tempfile.mkdtemp(prefix="tagloop-bench-"))
    work = OUT / "bundles"
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    prepare(args.rows, args.annotations, work)
    print(
        f"project: {args.rows:,} datapoints, {args.annotations:,} annotations"
        f" (prepared in {time.perf_counter() - started:.0f} s)"
    )
    for name in (
        "export",
        "export-encrypted",
        "open",
        "open-encrypted",
        "merge-project",
        "return-work",
        "merge-work",
    ):
        out = subprocess.run(
            [sys.executable, __file__, "--step", name, "--work", str(work)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        extra = ", ".join(
            f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in result.items()
            if k not in ("seconds", "peak_rss_mb")
        )
        print(
            f"{name:<17} {result['seconds']:6.1f} s   peak RSS {result['peak_rss_mb']:6.0f} MB"
            f"   {extra}"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
