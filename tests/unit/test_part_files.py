"""Temporary `.NAME.*.part` files of writers killed outright are swept; a live writer's never.

Issue 14: SIGKILL during import, bundle export and merge left 8 stale `.part` files behind.
Each test kills (SIGKILL) or holds a real writer process, then sweeps its folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.core import fileio
from app.core.fileio import (
    atomic_write_text,
    part_is_stale,
    part_path,
    process_start,
    sweep_stale_parts,
)

ROOT = Path(__file__).resolve().parents[2]
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and /proc are POSIX")

ATOMIC_WRITER = """
import sys
from app.core.fileio import atomic_writer
with atomic_writer(sys.argv[1], "w", encoding="utf-8") as handle:
    handle.write("x" * 100_000)
    handle.flush()
    print("ready", flush=True)
    sys.stdin.readline()  # the parent kills us here, or lets us finish
    handle.write("done")
print("finished", flush=True)
"""

BUNDLE_WRITER = """
import sys
from app.core.bundle.container.writer import BundleWriter
with BundleWriter(sys.argv[1]) as writer:
    with writer.jsonl("datapoints.jsonl") as member:
        for i in range(50_000):
            member.write({"row": i, "text": "some text " * 5})
    print("ready", flush=True)
    sys.stdin.readline()
    writer.finish({"kind": "project"})
print("finished", flush=True)
"""


def start(script: str, target: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = process.stdout.readline()  # type: ignore[union-attr]
    if line.strip() != "ready":
        process.kill()
        process.wait(timeout=60)
        pytest.fail(f"the writer did not start: {line!r}")
    return process


def parts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(".part"))


@posix_only
@pytest.mark.parametrize("script", [ATOMIC_WRITER, BUNDLE_WRITER], ids=["file", "bundle"])
def test_killed_writer_leaves_a_part_file_that_the_sweep_removes(tmp_path, script):
    target = tmp_path / "out.tagloop-bundle"
    writer = start(script, target)
    (part,) = parts(tmp_path)
    assert part.name.startswith(".out.tagloop-bundle.tagloop-")
    assert f"-{writer.pid}-" in part.name
    assert sweep_stale_parts(tmp_path) == []  # alive: never removed
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    assert parts(tmp_path) == [part]  # what SIGKILL leaves behind
    assert sweep_stale_parts(tmp_path) == [part]
    assert list(tmp_path.iterdir()) == []


@posix_only
def test_the_next_write_to_the_folder_sweeps(tmp_path):
    writer = start(ATOMIC_WRITER, tmp_path / "a.csv")
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    assert len(parts(tmp_path)) == 1
    atomic_write_text(tmp_path / "b.txt", "hello")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt"]


@posix_only
def test_a_live_writer_is_never_disturbed_and_finishes(tmp_path):
    target = tmp_path / "report.csv"
    writer = start(ATOMIC_WRITER, target)
    try:
        (part,) = parts(tmp_path)
        for _ in range(3):
            assert sweep_stale_parts(tmp_path) == []
            atomic_write_text(tmp_path / "other.txt", "a write beside it sweeps too")
        assert part.exists()
        out, _ = writer.communicate("go\n", timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=60)
    assert out.strip() == "finished"
    assert writer.returncode == 0
    assert target.read_text(encoding="utf-8").endswith("done")
    assert parts(tmp_path) == []


@posix_only
def test_opening_a_project_sweeps_its_folder(make_project, tmp_path):
    from app.core.project.project import open_project

    project = make_project()
    folder = project.path.parent
    writer = start(ATOMIC_WRITER, folder / "export.csv")
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    (part,) = parts(folder)
    open_project(project.path).engine.dispose()
    assert not part.exists()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=60)
    return process.pid


@posix_only
def test_names_carry_host_pid_and_start(tmp_path):
    name = part_path(tmp_path / "x.csv").name
    assert name.startswith(".x.csv.tagloop-")
    assert name.endswith(".part")
    assert not part_is_stale(name)  # this process is alive
    pid = dead_pid()
    stale = name.replace(f"-{os.getpid()}-", f"-{pid}-")
    assert part_is_stale(stale)
    assert part_is_stale(stale + "-wal")  # the side files of a temporary SQLite database
    assert part_is_stale(stale + "-journal")
    # Made on another machine (a shared folder): a pid there means nothing here; kept.
    other = "000000" if fileio.host_tag() != "000000" else "111111"
    assert not part_is_stale(stale.replace(f"tagloop-{fileio.host_tag()}-", f"tagloop-{other}-"))


@pytest.mark.skipif(process_start(os.getpid()) == 0, reason="no /proc start times here")
def test_a_reused_pid_does_not_keep_a_dead_writers_file(tmp_path):
    name = part_path(tmp_path / "x.csv").name
    start_time = str(process_start(os.getpid()))
    reused = name.replace(f"-{os.getpid()}-{start_time}-", f"-{os.getpid()}-1-")
    assert reused != name
    assert part_is_stale(reused)
    unknown = name.replace(f"-{os.getpid()}-{start_time}-", f"-{os.getpid()}-0-")
    assert not part_is_stale(unknown)  # start not recorded: the live pid wins


def test_old_style_names_go_only_when_a_day_old(tmp_path):
    old = tmp_path / ".data.csv.k2j4_x9a.part"
    new = tmp_path / ".bundle.tagloop-bundle.0a1b2c3d.part"
    for path in (old, new):
        path.write_text("partial", encoding="utf-8")
    day_ago = time.time() - fileio.LEGACY_PART_AGE - 60
    os.utime(old, (day_ago, day_ago))
    assert sweep_stale_parts(tmp_path) == [old]
    assert new.exists()


def test_the_sweep_leaves_other_files_alone(tmp_path):
    keep = [
        tmp_path / "notes.part",
        tmp_path / ".hidden.part",
        tmp_path / ".a.b.c.part.txt",
        tmp_path / "data.csv",
    ]
    for path in keep:
        path.write_text("mine", encoding="utf-8")
    folder = tmp_path / f".x.tagloop-{fileio.host_tag()}-{dead_pid()}-0-ab.part"
    folder.mkdir()  # a directory, even one with a stale name, is not ours to remove
    week_ago = time.time() - 7 * 24 * 3600
    for path in keep:
        os.utime(path, (week_ago, week_ago))
    assert sweep_stale_parts(tmp_path) == []
    assert all(path.exists() for path in keep) and folder.is_dir()
    assert sweep_stale_parts(tmp_path / "missing") == []
