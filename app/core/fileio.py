"""Atomic file writes: a temporary file beside the target, fsync, then os.replace.

The temporary file names itself: `.NAME.tagloop-HOST-PID-START-RANDOM.part`, where HOST is a
short hash of the machine's name, PID the writer's process id and START that process's start
time (Linux; 0 where unknown). A writer killed outright (SIGKILL, a power cut) cannot remove
its file, so `sweep_stale_parts(folder)` removes the ones whose process is gone: it runs before
every atomic write into a folder and when a project opens. It never removes the file of a live
process, nor one made on another machine (a shared folder), since a process id means nothing
there. Files of the old naming (`.NAME.XXXXXXXX.part`, before the writer's pid was recorded)
are removed once they are a day old.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import socket
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from app.core.errors import DataError, ProjectError

PART_TAG = "tagloop"
# SQLite side files of a temporary database (bundle open) go with it.
PART_SIDE_FILES = ("", "-wal", "-shm", "-journal")
LEGACY_PART_AGE = 24 * 3600  # seconds before an old-style temporary file counts as stale
_SIDE = r"(?:-wal|-shm|-journal)?"
_PART_RE = re.compile(
    rf"^\..+\.{PART_TAG}-(?P<host>[0-9a-f]{{6}})-(?P<pid>\d+)-(?P<start>\d+)-[0-9a-z]+\.part{_SIDE}$"
)
# mkstemp's 8 characters, or the 8 hex digits bundle open used.
_LEGACY_RE = re.compile(rf"^\..+\.[0-9a-z_]{{8}}\.part{_SIDE}$")


def host_tag() -> str:
    """A short, stable tag of this machine's name: temporary files from elsewhere are kept."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]


def process_start(pid: int) -> int:
    """When process `pid` started (clock ticks since boot, Linux), or 0 when not known. With
    the pid it tells a process from a later one that was given the same pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        return int(stat[stat.rindex(b")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


def process_alive(pid: int) -> bool:
    """Whether process `pid` exists (a process of another user counts as alive)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - os.kill(pid, 0) would end the process
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def _windows_process_alive(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.GetLastError() == 5  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def part_path(target: Path) -> Path:
    """A new temporary name beside `target` that says which process on which host made it."""
    target = Path(target)
    pid = os.getpid()
    token = f"{PART_TAG}-{host_tag()}-{pid}-{process_start(pid)}-{secrets.token_hex(4)}"
    return target.with_name(f".{target.name}.{token}.part")


PART_DIR = ".partdir"


def part_dir_path(target: Path) -> Path:
    """A new temporary folder name beside `target` (not created) for a folder export:
    `.NAME.tagloop-HOST-PID-START-RANDOM.partdir`, swept like a .part file once its process
    is gone (a folder named like a .part file is never removed: it is not ours)."""
    tmp = part_path(target)
    return tmp.with_name(tmp.name + "dir")


def part_is_stale(name: str, now: float | None = None, mtime: float | None = None) -> bool:
    """Whether the temporary file `name` (a bare file name) belongs to no live writer."""
    match = _PART_RE.match(name)
    if match is None:
        if _LEGACY_RE.match(name) is None or mtime is None:
            return False
        return (time.time() if now is None else now) - mtime > LEGACY_PART_AGE
    if match["host"] != host_tag():
        return False
    pid, start = int(match["pid"]), int(match["start"])
    if not process_alive(pid):
        return True
    # The pid is in use: by our writer, or by a later process given the same pid.
    current = process_start(pid)
    return bool(start and current and start != current)


def sweep_stale_parts(folder: Path) -> list[Path]:
    """Remove the temporary files in `folder` left by writers that are gone; return them.
    Never raises: a folder that cannot be listed, or a file that cannot go, is left alone."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        name = entry.name
        if not name.startswith(".") or ".part" not in name:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                # only a folder export's own temporary folder (part_dir_path), never another
                if name.endswith(PART_DIR) and part_is_stale(name[: -len("dir")], now):
                    shutil.rmtree(entry.path)
                    removed.append(Path(entry.path))
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            mtime = entry.stat(follow_symlinks=False).st_mtime
            if part_is_stale(name, now, mtime):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def remove_part(tmp: Path) -> None:
    """Remove a temporary file and any SQLite side files of it; missing ones are fine."""
    for suffix in PART_SIDE_FILES:
        with contextlib.suppress(OSError):
            os.unlink(f"{tmp}{suffix}")


def new_part_path(target: Path) -> Path:
    """A temporary name beside `target` (not created), after sweeping stale ones from its
    folder: for a writer that creates the file itself (SQLite, in bundle open)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_parts(target.parent)
    return part_path(target)


# ---- red team (issue #14): reading only regular files, never writing over a database ----

SQLITE_MAGIC = b"SQLite format 3\x00"


class NotRegularFile(OSError):
    """A path that is a FIFO, a device or a socket: reading it could block forever or never
    end, so it is refused before a byte is read (callers report `strerror`)."""


def open_regular(path: Path) -> IO[bytes]:
    """`path` opened for reading bytes, only if it is a regular file. A FIFO is opened without
    blocking (O_NONBLOCK), then refused; so are devices (/dev/zero) and sockets."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO, a device or a socket"
            raise NotRegularFile(0, f"not a regular file ({kind})", str(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def refuse_same_file(target: Path, source: Path) -> None:
    """An output that is the very file being read (by name, a link or a hard link) is refused:
    the atomic write replaced the input with its own results (red team, session 6:
    `tagloop predict P in.csv --output in.csv` left in.csv holding JSON Lines)."""
    try:
        same = os.path.samefile(target, source)
    except (OSError, ValueError):
        return  # no such output yet (or no input): nothing to lose
    if same:
        raise ProjectError(
            f"{target}: is the input file {Path(source).name}, which the output would replace; "
            "choose another file name"
        )


def refuse_overwrite(target: Path) -> None:
    """An export, report or bundle never replaces a folder or an SQLite database (the open
    project, or its -wal file, given as the output by mistake, would be lost)."""
    target = Path(target)
    try:
        mode = os.stat(target).st_mode
    except OSError:
        mode = stat.S_IFREG
    if stat.S_ISDIR(mode):
        raise ProjectError(f"{target}: is a folder; give a file name to write")
    if not stat.S_ISREG(mode):  # replacing /dev/full, a FIFO or a socket would remove it
        raise ProjectError(f"{target}: is not a regular file (a device, a FIFO or a socket)")
    base = target
    for side in PART_SIDE_FILES[1:]:
        if target.name.endswith(side):
            base = target.with_name(target.name[: -len(side)])
    for candidate in {target, base}:
        try:
            with open_regular(candidate) as handle:  # a FIFO as the target: not read
                head = handle.read(len(SQLITE_MAGIC))
        except OSError:
            continue
        if head == SQLITE_MAGIC:
            raise ProjectError(
                f"{target}: is a database (a Tagloop project?) and would be lost; an export "
                "never replaces one. Choose another file name"
            )


def create_part(target: Path) -> tuple[int, Path]:
    """Create (O_EXCL) a new temporary file beside `target`, after sweeping stale ones from
    its folder; returns (file descriptor, path). Refuses a target that is a folder or a
    database (refuse_overwrite)."""
    target = Path(target)
    refuse_overwrite(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_parts(target.parent)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = part_path(target)
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue


def current_umask() -> int:
    """The process umask, read without changing it where the system says (Linux), else by
    setting it and putting it back."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_writer(target: Path, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Yield a file that replaces `target` only if the block completes without error.

    The temporary file is private (0600) while it is written; the finished file gets the
    mode any new file would (0666 less the umask), so others on a shared drive can read an
    export as they can read files other tools write there."""
    target = Path(target)
    try:
        fd, tmp = create_part(target)
    except OSError as exc:
        raise cannot_write(target, exc) from None
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, NotRegularFile):
            raise cannot_write(target, exc) from None  # names the target, not the .part
        raise


def cannot_write(target: Path, exc: OSError) -> ProjectError:
    """A write's OSError (disk full, permission denied, the folder gone) as a message naming
    the file the user chose, never the temporary file beside it."""
    return ProjectError(f"{target}: cannot be written ({exc.strerror or exc}); nothing was written")


def atomic_write_text(target: Path, text: str) -> None:
    with atomic_writer(target, "w", encoding="utf-8") as handle:
        handle.write(text)


SMALL_TEXT_LIMIT = 16 << 20  # bytes: guidelines, an answers CSV, a list of item ids


def read_small_text(path: Path, limit: int = SMALL_TEXT_LIMIT) -> str:
    """A small UTF-8 text file the user named (guidelines, gold answers, item ids), or a
    DataError naming the file, and the line, of what is wrong: not a regular file (a FIFO is
    never waited on), larger than `limit`, not UTF-8, or holding a NUL byte."""
    name = str(path)
    try:
        with open_regular(Path(path)) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise DataError(name, None, f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise DataError(name, None, f"larger than {limit >> 20} MB: is it the right file?")
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise DataError(name, line, "a NUL byte: this is not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(
            name, line, f"not valid UTF-8 (byte 0x{data[exc.start]:02X}); save it as UTF-8"
        ) from None


def display_name(name: str) -> str:
    """A file name as text that can be stored and shown: a name whose bytes are not UTF-8
    (a Latin-1 name on a USB stick) reaches Python with lone surrogates, which SQLite refuses;
    they become U+FFFD. Red team: importing or exporting such a file ended in a traceback."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
