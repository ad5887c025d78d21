"""Run import fuzz cases in a watched worker process; measure peak memory of long records.

The parent writes the cases to a file and starts `python -m tests.fuzz.import_runner worker`,
which imports them one by one into copies of template projects and writes a result line per
case (a start line first). A case whose start line is older than HANG_SECONDS is a hang: the
worker is killed and restarted after it. A worker that dies mid-case is a crash.
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import subprocess
import sys
import time
import traceback
from pathlib import Path

HANG_SECONDS = 10.0
MAX_MESSAGE = 5000  # characters: a message longer than this is not "clear"
TABLES = ("dataset", "datapoint", "annotation", "annotation_label", "schema_version", "audit_event")
ROOT = Path(__file__).resolve().parents[2]


def run_cases(cases: list, work: Path, module: str = "tests.fuzz.import_runner") -> list[dict]:
    """Results of every case (dicts with name, outcome and detail), in order. `module` is
    the worker's module (`python -m MODULE worker ...`; tests.fuzz.peer_runner for the peer
    formats)."""
    work.mkdir(parents=True, exist_ok=True)
    todo = [case.to_json() for case in cases]
    results: list[dict] = []
    while todo:
        done = _run_worker(todo, work, module)
        results.extend(done)
        todo = todo[len(done) :]
    return results


def _run_worker(todo: list[dict], work: Path, module: str) -> list[dict]:
    """Run cases until they are done or one hangs or crashes; the results so far."""
    cases_file = work / "cases.jsonl"
    out_file = work / "results.jsonl"
    cases_file.write_text("".join(json.dumps(case) + "\n" for case in todo), encoding="utf-8")
    out_file.write_text("")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TAGLOOP_CONFIG_DIR": str(work / "config")}
    command = [sys.executable, "-m", module, "worker", str(cases_file)]
    with (work / "stderr.txt").open("wb") as stderr:
        process = subprocess.Popen(
            [*command, str(out_file), str(work)], cwd=ROOT, env=env, stderr=stderr
        )
        while process.poll() is None:
            time.sleep(0.05)
            started = _current_start(out_file)
            if started is not None and time.time() - started[1] > HANG_SECONDS:
                process.kill()
                process.wait()
                break
    results = _read_results(out_file)
    if len(results) < len(todo):
        started = _current_start(out_file)
        name = todo[len(results)]["name"]
        seconds = time.time() - started[1] if started else 0.0
        outcome = "hang" if seconds > HANG_SECONDS else "crash"
        tail = (work / "stderr.txt").read_text(errors="replace")[-2000:]
        results.append({"name": name, "outcome": outcome, "detail": tail, "seconds": seconds})
    return results


def _current_start(out_file: Path) -> tuple[str, float] | None:
    """The case the worker is in (name, start time), or None between cases."""
    lines = out_file.read_text(encoding="utf-8").splitlines()
    if lines and lines[-1].startswith("START "):
        name, _, when = lines[-1][6:].rpartition(" ")
        return name, float(when)
    return None


def _read_results(out_file: Path) -> list[dict]:
    lines = out_file.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def summarise(results: list[dict]) -> dict:
    """Counts per outcome, the slowest case, and the failures (every outcome but ok/error)."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
    slowest = max(results, key=lambda r: r.get("seconds", 0), default={})
    failures = [r for r in results if r["outcome"] not in ("imported", "refused")]
    return {
        "cases": len(results),
        "outcomes": counts,
        "slowest": {"name": slowest.get("name"), "seconds": round(slowest.get("seconds", 0), 2)},
        "failures": failures[:50],
    }


# ---- the worker -----------------------------------------------------------------------------


TASKS = (
    ("classification", ("ham", "spam"), ["text", "title"]),
    ("multilabel", ("a", "b"), ["text"]),
    ("spans", ("D",), ["text"]),
)


def make_templates(work: Path) -> dict[str, Path]:
    """One empty project per task type; the cases are imported into them in turn."""
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project

    made = {}
    for task, labels, inputs in TASKS:
        path = work / f"template-{task}.tagloop"
        path.unlink(missing_ok=True)
        project = create_project(path, task, [LabelSpec(x) for x in labels], inputs=inputs)
        project.close()
        made[task] = path
    return made


def counts(path: Path, tables: tuple[str, ...] = TABLES) -> dict[str, int]:
    """Row counts of the tables an import (or a merge: `tables`) writes: equal before and
    after a refusal."""
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        conn.close()


def run_slice(script: str, work: Path) -> subprocess.CompletedProcess:
    """Run a fuzz slice's script in a child Python (its own config dir, no PATH: nothing to
    shell out to), as `make test` runs the fast slices; its exit code says whether all held."""
    return subprocess.run(
        [sys.executable, "-c", script, str(work)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "TAGLOOP_CONFIG_DIR": str(work / "config"), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_one(case: dict, project, work: Path) -> dict:
    """Import one case into its (open) template project; the outcome. Projects are reused
    from case to case: a refused import must leave one exactly as it was."""
    from app.core.errors import TagloopError
    from app.core.io.importer import import_dataset

    before = counts(project.path)
    path = Path(case["path"])
    options = {k: v for k, v in case.items() if k not in ("name", "path", "task")}
    result = {"name": case["name"]}
    started = time.perf_counter()
    try:
        report = import_dataset(project, path, **options)
        result |= {"outcome": "imported", "detail": f"{report.rows} rows"}
    except TagloopError as exc:
        result |= _judge_refusal(str(exc), path, before, counts(project.path))
    except Exception as exc:  # the whole point: any other error is a finding
        frames = traceback.extract_tb(exc.__traceback__)[-3:]
        where = "; ".join(f"{Path(f.filename).name}:{f.lineno}" for f in frames)
        result |= {
            "outcome": "traceback",
            "detail": f"{type(exc).__name__}: {exc!s:.300} at {where}",
        }
    gc.collect(1)  # young garbage (a generator left open) is finalised now, in this case
    result["seconds"] = time.perf_counter() - started
    return result


def _judge_refusal(message: str, path: Path, before: dict, after: dict) -> dict:
    if after != before:
        return {"outcome": "half-written", "detail": f"{message[:300]} {before} -> {after}"}
    if path.name not in message:
        return {"outcome": "unnamed", "detail": message[:300]}
    if len(message) > MAX_MESSAGE:
        return {"outcome": "long-message", "detail": f"{len(message)} chars: {message[:200]}"}
    return {"outcome": "refused", "detail": message[:300]}


def worker(cases_file: Path, out_file: Path, work: Path, run=None) -> None:
    """Import each case of `cases_file` in turn (`run`, run_one by default, gives its verdict)
    and append the verdicts to `out_file`, a START line before each (a hang names its case)."""
    from app.core.project.project import open_project

    run = run or run_one
    projects = {task: open_project(path) for task, path in make_templates(work).items()}
    unraisable: list[str] = []
    sys.unraisablehook = lambda info: unraisable.append(
        f"{info.exc_type.__name__}: {info.exc_value}"
    )
    with out_file.open("a", encoding="utf-8") as out:
        for line in cases_file.read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            out.write(f"START {case['name']} {time.time()}\n")
            out.flush()
            result = run(case, projects[case["task"]], work)
            if unraisable:
                result |= {"outcome": "unraisable", "detail": "; ".join(unraisable)[:300]}
                unraisable.clear()
            out.write(json.dumps(result) + "\n")
            out.flush()
    for project in projects.values():
        project.close()
    gc.collect()
    if unraisable:  # found only by the last full collection: no case to blame
        with out_file.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"name": "(end)", "outcome": "unraisable"}) + "\n")


# ---- memory -----------------------------------------------------------------------------------


FILES = ("tiny.txt", "long.txt", "long.jsonl", "long.json", "long.csv", "long.tsv")


def measure_memory(work: Path, field_mb: int = 12) -> dict:
    """Peak RSS of importing one record of `field_mb` MB, in each format, against a one-line
    file: (peak - baseline) / field size, each in its own process."""
    work.mkdir(parents=True, exist_ok=True)
    size = field_mb << 20
    text = "word " * (size // 5)
    files = {  # the names are FILES
        "tiny.txt": "one line\n",
        "long.txt": text + "\nsecond\n",
        "long.jsonl": json.dumps({"text": text}) + "\n",
        "long.json": json.dumps([{"text": "a"}, {"text": text}]),
        "long.csv": f'text\n"{text}"\nsecond\n',
        "long.tsv": f"text\n{text}\nsecond\n",
    }
    for name, content in files.items():
        (work / name).write_text(content, encoding="utf-8")
    del text, files
    peaks = {name: peak_kb(work / name, work) for name in FILES}
    return memory_ratios(peaks, field_mb)


def memory_ratios(peaks: dict[str, int], field_mb: int) -> dict:
    """Peak RSS (KB) per file, "tiny.txt" the one-line baseline, as (peak - baseline) / field
    size for each long file."""
    size = field_mb << 20
    base = peaks.pop("tiny.txt")
    return {
        "field_mb": field_mb,
        "baseline_mb": round(base / 1024, 1),
        "ratio": {name: round((peak - base) * 1024 / size, 2) for name, peak in peaks.items()},
    }


def peak_kb(
    path: Path, work: Path, runner: str = "tests.fuzz.import_runner", timeout: int = 300
) -> int:
    """Peak RSS (KB) of a process that opens a project made by another and imports `path`,
    both through `runner`'s `memory` command (this module's, or the peer runner's)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TAGLOOP_CONFIG_DIR": str(work / "config")}
    project = work / "memory.tagloop"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{project}{suffix}").unlink(missing_ok=True)
    command = [sys.executable, "-m", runner, "memory"]
    for step in ("create", str(path)):
        done = subprocess.run(
            [*command, step, str(project)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    return int(done.stdout.split()[-1])


def memory_child(step: str, project_path: Path) -> None:
    """`create` the project (migrations peak on their own), or import the file `step`."""
    import resource

    from app.core.io.importer import import_dataset
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project, open_project

    if step == "create":
        create_project(project_path, "classification", [LabelSpec("a")]).close()
        return
    with open_project(project_path) as project:
        import_dataset(project, Path(step))
    print(_peak_rss_kb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def _peak_rss_kb(maxrss: int) -> int:
    """This process's own peak RSS. On Linux, ru_maxrss also counts the parent's RSS at the
    fork that started us; VmHWM, from the same kernel counter, does not."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return maxrss
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return maxrss


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        worker(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    elif sys.argv[1] == "memory":
        memory_child(sys.argv[2], Path(sys.argv[3]))
