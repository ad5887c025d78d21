"""The longest write-lock hold of each bulk writer on a 1M-datapoint project (issue 14).

"No writer should hold the lock for more than about 1 s." Each writer runs once on a fresh
copy of the project that bench/_data.big_project builds (1M real texts: SMS messages and NCBI
Disease sentences resampled with replacement, seeded, imported through the real importer),
with what the writer needs set up first, untimed (e.g. two annotators' labels on a third of
the rows for consensus, as bench/browse.label_some does for one).

How the hold is measured: every SQLite connection the project opens is a TimedConnection
(sqlite3.connect's factory): a write transaction runs from its BEGIN IMMEDIATE (or, for one
begun deferred, its first write statement) to its commit or rollback, and the longest one is
printed with the whole run's wall time and the number of write transactions. The timer costs
one Python call per statement (not per row or trigger step). One line per writer:

    python bench/lock_holds.py [--rows 1000000] [--only remove,assign,...] [--bulk 10000]

--only automation runs Model > Automate on bench/automate.py's scored copy of the project
(built once into bench/out; scoring 1M rows takes minutes). The run is a write run: its
auto-labels and tasks in chunks of about 0.3 s, a short publishing transaction, then the
items' statuses settled in chunks too (app.core.storage.runs.settle); the figure is the
longest of them all. --only bulk_label times SetAnnotations and its undo: above
RUN_THRESHOLD (5,000) new labels a write run (app.core.annotation.bulk_runs: the new labels in
chunks of about 0.3 s, a short publishing transaction, then the statuses settled in chunks);
its undo hides the run in one short transaction, then derives the items' statuses again and
removes the rows in short steps. Below the threshold, one set-based transaction each.

Measured on a shared two-core machine under a load average of ~10 (other benchmarks running),
--rows 200000 (the 1M scored base takes too long to build there):

    writer       longest hold             whole run             txns
    automation   3.45 s -> 0.46 s         4.3 s -> 11.1 s       3 -> 38
    bulk_label   19.51 s -> 1.02 s        34.7 s -> 2.0 s       2 (10k items, then undo)
    --bulk 100000: 9.37 s (apply or undo, one transaction each; 19.9 s for both)

The bulk label as a write run (session 5), load average ~5, alternated with the commit before
it (cf25063), `nice -n 10 python bench/lock_holds.py --only bulk_label --bulk N --rows 200000`:

    --bulk       longest hold (before -> after)   whole run (before -> after)   txns
    100000       6.78 / 7.51 s -> 0.47 / 0.54 s     16.4 / 16.4 s -> 11.5 / 16.3 s  2 -> 40 / 45
    10000        0.54 s -> 0.20 s                   1.3 s -> 2.1 s                  2 -> 18
    5000         0.43 s -> 0.38 s (one transaction each: below the threshold)
    100000, --relabel 0.5   6.91 s -> 3.35 s        17.6 s -> 18.1 s               2 -> 28
    (session 6: 3.35 s -> 0.57 / 0.65 s, below)

(Earlier, quieter: 3.43 s before at load ~1, 0.33 s after at load ~3; whole run 7.4 / 6.7 s.)
The audit event of a select-all (100,000 items' values: megabytes of JSON) is dumped before
the lock. Relabelling stays in the publishing transaction (`--relabel 0.5`: half the items
labelled "ham" first, untimed), since a row visible to all cannot be changed unseen without
copy-on-write rows (a schema change); 50,000 changed labels held it about 3 s under load (and
as long again in the undo, which puts them back in one transaction).

Session 6: the relabel is worked out before the lock and written set-based under it
(app.core.annotation.relabel; so is the undo's, and a relabel-only SetAnnotations, which has
no new labels and so is no run). "max CPU" is the most CPU time (of its thread) one write
transaction took: a figure the machine's load barely moves. Load average ~4 (other engineers'
suites), alternated with the commit before (981cca9), `nice -n 10 python bench/lock_holds.py
--only bulk_label --bulk 100000 --rows 200000 --relabel R`:

    --relabel        longest hold (before -> after)    max CPU (before -> after)   txns
    0.5 (50k)        2.08 / 1.25 s -> 0.57 / 0.65 s     1.27 / 0.98 s -> 0.41 / 0.41 s   28 -> 26
    1.0 (100k)       2.37 / 3.97 s -> 1.09 / 1.47 s     2.30 / 2.41 s -> 0.81 / 0.84 s   2 -> 2

Where the 50k publish's CPU went (quiet machine, per statement): before, 0.96 s = UPDATE
annotation 0.22 (executemany) + label rows deleted 0.11 and inserted 0.15 + ~0.45 s of Python
under the lock (the states before read and decoded, write_states' loop, the audit text
dumped); after, 0.45 s = the rows' fingerprint check 0.07 + one UPDATE 0.05 + label rows
changed in place 0.09, leftovers and missing ones 0.04 + the audit event 0.1 (its insert and
its hash: app.core.audit.chain, left as it is) + derive/publish. The 100k relabel is one
transaction of about twice that (1.1-1.5 s of lock at load ~4, more on a busier machine);
making it shorter needs copy-on-write rows (a migration: not done in session 6).

(An earlier run of the automation caught a load spike in one chunk: 2.17 s; its publishing
transaction takes 0.06 s at 200k.)

A set-based status update of 999k datapoints alone held the lock 19.6 s on that machine:
hence the settle after publishing.

--only reassign (not in the
default list) assigns every datapoint to two annotators first, untimed, then moves one's
500,000 open tasks to the other (its whole-run column includes that assignment; the reassign
alone is printed in the last column).

Task writers at 1M, before and after they became write runs (app.core.team.runtasks), on the
shared 2-core machine, `nice -n 10 python bench/lock_holds.py --only assign,consensus` (and
`--only reassign`); the "before" run of the same day, from commit 315ed43:

    writer      longest hold (before -> after)   whole run (before -> after)   txns
    assign       192.74 s -> 0.69 s / 0.77 s       192.8 s -> 59.9 s / 27.1 s    1 -> 88 / 56
    consensus     29.68 s -> 0.52 s / 0.51 s        45.3 s -> 37.4 s / 25.7 s    1 -> 20 / 17
    reassign     123.77 s -> 6.40 s                124.1 s -> 27.5 s (alone)     1 -> 40
    reassign, session 5 (1M, 500,000 moved; load average 3-5):
      before (cf25063)  6.27 s                     24.1 s (alone)                33
      after             0.51 / 0.63 / 0.89 s       15.7 / 16.7 / 27.8 s          44 / 49 / 60

(two "after" runs: the machine's load varied; the whole run of consensus is mostly reading
the votes, outside any transaction.)

(An earlier session measured assign at 93.8 s and consensus at 21.4 s on a quieter machine.)
Most of the assignment's time went to one hash-chained audit event per task (sha256 and an
UPDATE each) and random UUIDs scattered over the task UUID index; a run's tasks take a prefix
and a counter and one event. Reassign's last transaction used to close the 500,000 moved tasks
in place (one UPDATE of 6.3 s: they must turn cancelled at the moment the new ones appear).
Since migration 0009 the run marks them (task.close_run_id) in chunks of about 0.4 s while it
loads, every task read counts a task marked by a published run as closed, and the close
settle writes 'cancelled' in steps of about 0.3 s after the publish. One "after" run, by
transaction (its first write; max, count, sum): new tasks 0.63 s, 17, 6.2 s; marks 0.57 s,
10, 2.5 s; close settle 0.50 s, 20, 4.7 s; the last transaction (re-checks, audit event,
publish) 0.41 s. Chunks sized to 0.3-0.4 s reach 0.5-0.9 s when the machine is busy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sqlite3.dbapi2
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TAGLOOP_CONFIG_DIR", tempfile.mkdtemp(prefix="tagloop-bench-"))

from bench._data import OUT, big_project  # noqa: E402

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP")


class Holds:
    """Write transactions seen on every project connection: the longest, and how many."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.longest_cpu = 0.0  # the most CPU time (of its thread) one write transaction took
        self.count = 0
        self.open: dict[int, tuple[float, float]] = {}

    def statement(self, key: int, sql: str) -> None:
        head = sql.lstrip()[:16].upper()
        if head.startswith("BEGIN IMMEDIATE"):
            self.open[key] = (time.perf_counter(), time.thread_time())
        elif head.startswith(("COMMIT", "ROLLBACK", "END")):
            self.end(key)
        elif key not in self.open and head.startswith(WRITES):
            # a deferred transaction takes the lock here
            self.open[key] = (time.perf_counter(), time.thread_time())

    def end(self, key: int) -> None:
        began = self.open.pop(key, None)
        if began is not None:
            self.longest = max(self.longest, time.perf_counter() - began[0])
            self.longest_cpu = max(self.longest_cpu, time.thread_time() - began[1])
            self.count += 1

    def reset(self) -> None:
        self.longest, self.longest_cpu, self.count = 0.0, 0.0, 0


HOLDS = Holds()


class TimedCursor(sqlite3.Cursor):
    def execute(self, sql, *args):
        HOLDS.statement(id(self.connection), sql)
        return super().execute(sql, *args)

    def executemany(self, sql, *args):
        HOLDS.statement(id(self.connection), sql)
        return super().executemany(sql, *args)


class TimedConnection(sqlite3.Connection):
    """A driver connection that times its write transactions (a Python call per statement
    or executemany, not per row or trigger step: the figures stay those of the real run)."""

    def cursor(self, factory=TimedCursor):
        return super().cursor(factory)

    def execute(self, sql, *args):
        return self.cursor().execute(sql, *args)

    def executemany(self, sql, *args):
        return self.cursor().executemany(sql, *args)

    def commit(self) -> None:
        super().commit()
        HOLDS.end(id(self))

    def rollback(self) -> None:
        super().rollback()
        HOLDS.end(id(self))


def install_timer() -> None:
    """Every sqlite3 connection opened from now on (the project's engine) is a TimedConnection."""
    connect = sqlite3.connect

    def timed_connect(*args, **kwargs):
        kwargs.setdefault("factory", TimedConnection)
        return connect(*args, **kwargs)

    sqlite3.connect = timed_connect
    sqlite3.dbapi2.connect = timed_connect  # what SQLAlchemy's pysqlite dialect calls


def fresh_copy(base: Path, name: str) -> Path:
    path = OUT / f"lockholds_{name}.tagloop"
    remove(path)
    shutil.copyfile(base, path)
    return path


def remove(path: Path) -> None:
    """A copy and what opening it left: its WAL files and the schema upgrade's backup."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    for backup in path.parent.glob(f"{path.name}.bak-*"):
        backup.unlink()


def two_annotators(path: Path) -> None:
    """Two annotators who disagree on every third datapoint (the consensus set-up)."""
    conn = sqlite3.connect(path)
    with conn:
        for ann_id, name in ((98, "bench-a"), (99, "bench-b")):
            conn.execute(
                "INSERT INTO annotator (id, uuid, name, role, created_at)"
                " VALUES (?, ?, ?, 'annotator', '')",
                (ann_id, name, name),
            )
        for ann_id, label, base in ((98, "ham", 0), (99, "spam", 10_000_000)):
            conn.execute(
                "INSERT INTO annotation (id, uuid, datapoint_id, annotator_id, value, status,"
                " schema_version_id, time_spent_ms, origin, created_at, updated_at)"
                f" SELECT id + {base}, lower(hex(randomblob(16))), id, ?, ?, 'complete', 1, 0,"
                " 'human', '', '' FROM datapoint WHERE id % 3 = 0",
                (ann_id, f'"{label}"'),
            )
        conn.execute(
            "INSERT INTO annotation_label (annotation_id, label, datapoint_id)"
            " SELECT id, json_extract(value, '$'), datapoint_id FROM annotation"
        )
        conn.execute("UPDATE datapoint SET status = 1 WHERE id % 3 = 0")
    conn.close()


def run_remove(project, args) -> str:
    from app.core.io.datasets import list_datasets, remove_dataset

    (dataset,) = list_datasets(project)
    return f"{remove_dataset(project, dataset.id):,} datapoints"


def run_assign(project, args) -> str:
    from app.core.team.assign import add_annotator, generate_tasks

    for name in ("ann-1", "ann-2"):
        add_annotator(project, name)
    HOLDS.reset()
    report = generate_tasks(project, ["ann-1", "ann-2"], force=True)
    return report.summary()


def run_reassign(project, args) -> str:
    """Reassign (Team > Reassign): one annotator's open tasks of an assignment of every
    datapoint to two (made first, untimed) move to the other."""
    from app.core.team.assign import add_annotator, generate_tasks, reassign

    for name in ("ann-1", "ann-2"):
        add_annotator(project, name)
    generate_tasks(project, ["ann-1", "ann-2"], force=True)
    HOLDS.reset()
    started = time.perf_counter()
    summary = reassign(project, "ann-2", "ann-1").summary()
    return f"{summary} (the reassign alone: {time.perf_counter() - started:.1f} s)"


def run_predictions(project, args) -> str:
    """The writes of scoring the pool (app.ml.loop.score_pool) without the model: SCORE_CHUNK
    rows per transaction through modelstore.write_prediction_arrays, for a first version and
    then a second one, and then drop_older_predictions (as a new version's score ends)."""
    import numpy as np

    from app.core.project import modelstore
    from app.ml.loop import SCORE_CHUNK

    with project.engine.connect() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM datapoint ORDER BY id")]
    versions = [modelstore.save_version(project, "bench", b"x", 3, {}) for _ in range(2)]
    chunk_holds = []
    for version in versions:
        HOLDS.reset()
        for start in range(0, len(ids), SCORE_CHUNK):
            part = ids[start : start + SCORE_CHUNK]
            confidence = np.full(len(part), 0.9)
            modelstore.write_prediction_arrays(
                project, version.id, part, ['"ham"'] * len(part), confidence, 1 - confidence
            )
        chunk_holds.append(HOLDS.longest)
    HOLDS.reset()
    modelstore.drop_older_predictions(project, versions[-1].id)
    return (
        f"{len(ids):,} predictions x 2 versions: longest score chunk"
        f" {max(chunk_holds):.2f} s; then drop_older_predictions"
    )


def run_fts(project, args) -> str:
    from app.core.storage import fts

    with project.engine.connect() as conn:
        conn.exec_driver_sql("INSERT INTO datapoint_fts (datapoint_fts) VALUES ('delete-all')")
        conn.exec_driver_sql("UPDATE datapoint_fts_state SET indexed_upto = 0")
        conn.commit()
    HOLDS.reset()
    return f"{fts.index_pending(project):,} datapoints indexed"


def run_consensus(project, args) -> str:
    from app.core.quality.consensus import create_adjudication_tasks
    from app.core.team.assign import add_annotator

    add_annotator(project, "adjudicator", "reviewer")
    HOLDS.reset()
    return f"{create_adjudication_tasks(project, 'adjudicator'):,} adjudicate tasks"


def run_bulk_label(project, args) -> str:
    """One bulk label of --bulk datapoints in the grid, then its undo."""
    from app.core.annotation.commands import AnnotationState, SetAnnotations

    with project.engine.connect() as conn:
        ids = [
            r[0]
            for r in conn.exec_driver_sql(f"SELECT id FROM datapoint ORDER BY id LIMIT {args.bulk}")
        ]
    who = project.local_annotator_id
    if args.relabel:  # these were labelled already: the bulk label changes them
        first = ids[: int(len(ids) * args.relabel)]
        ham = AnnotationState("ham", "complete")
        SetAnnotations(who, tuple((i, ham) for i in first), "first").apply(project)
    HOLDS.reset()
    state = AnnotationState("spam", "complete")
    applied = SetAnnotations(who, tuple((i, state) for i in ids), "bulk").apply(project)
    applied.inverse.apply(project)
    return f"bulk label of {len(ids):,} datapoints and its undo"


def run_automation(project, args) -> str:
    """Model > Automate at P 0.95 on bench/automate.py's scored copy (an SMS model stored as a
    version, the 1M pool scored by it: built once, slowly, and not timed here)."""
    from app.ml.automate import run

    outcome = run.automate(project, 1, 0.95, actor_id=project.local_annotator_id)
    report = outcome.report
    return f"{report.auto_labelled:,} auto-labels, {report.routed:,} routed (statuses settled)"


def automation_base(rows: int) -> Path:
    from bench.automate import scored_project

    return scored_project(rows)


WRITERS: dict[str, Callable] = {
    "remove": run_remove,
    "assign": run_assign,
    "reassign": run_reassign,  # not in the default list: it assigns first, untimed
    "predictions": run_predictions,
    "fts": run_fts,
    "consensus": run_consensus,
    "bulk_label": run_bulk_label,
    "automation": run_automation,  # not in the default list: its base takes long to build
}
DEFAULT = "remove,assign,predictions,fts,consensus,bulk_label"
BASES: dict[str, Callable[[int], Path]] = {"automation": automation_base}
SETUP: dict[str, Callable[[Path], None]] = {"consensus": two_annotators}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", default=DEFAULT, help=f"of {', '.join(WRITERS)}")
    parser.add_argument("--bulk", type=int, default=10_000)
    parser.add_argument("--relabel", type=float, default=0.0, help="bulk_label: labelled first")
    args = parser.parse_args()
    from app.core.project.project import open_project

    install_timer()
    base = big_project(args.rows)
    print(f"{'writer':<12} {'longest hold':>13} {'max CPU':>8} {'whole run':>10} {'txns':>6}  what")
    for name in args.only.split(","):
        path = fresh_copy(BASES[name](args.rows) if name in BASES else base, name)
        if name in SETUP:
            SETUP[name](path)
        with open_project(path) as project:
            HOLDS.reset()
            started = time.perf_counter()
            what = WRITERS[name](project, args)
            took = time.perf_counter() - started
        print(
            f"{name:<12} {HOLDS.longest:>11.2f} s {HOLDS.longest_cpu:>6.2f} s {took:>8.1f} s"
            f" {HOLDS.count:>6}  {what}",
            flush=True,
        )
        remove(path)


if __name__ == "__main__":
    main()
