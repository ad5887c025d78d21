"""The packaging pieces that run without a frozen build: the no-network guard, the window's
screenshot-and-quit, the Linux installer and the size report (issue #15).

The frozen build itself is checked by packaging/smoke_test.sh (make package; CI), which is
too slow for the test suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "TAGLOOP_DENY_NETWORK"}
    environ.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=60
    )


SOCKET = (
    "from app.core.offline import deny_network; deny_network(); import socket; {}; print('open')"
)


@pytest.mark.parametrize(
    "use",
    [
        "socket.socket()",
        "socket.getaddrinfo('localhost', 80)",
        "socket.create_connection(('127.0.0.1', 9))",
    ],
)
def test_deny_network_ends_the_process_on_any_socket_use(use: str) -> None:
    result = run_python(SOCKET.format(use), TAGLOOP_DENY_NETWORK="1")
    assert result.returncode == 97
    assert "network use refused" in result.stderr
    assert "open" not in result.stdout


def test_without_the_variable_sockets_are_left_alone() -> None:
    result = run_python(SOCKET.format("socket.socket().close()"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "open"


def test_a_command_runs_under_the_guard(tmp_path: Path) -> None:
    project = tmp_path / "p.tagloop"
    result = run_python(
        "import sys; from app.cli.main import main; "
        f"sys.exit(main(['init', {str(project)!r}, '--type', 'spans', '--labels', 'a,b']))",
        TAGLOOP_DENY_NETWORK="1",
        TAGLOOP_CONFIG_DIR=str(tmp_path / "config"),
    )
    assert result.returncode == 0, result.stderr
    assert project.exists()


def test_gui_screenshot_saves_the_window_and_quits(tmp_path: Path) -> None:
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project

    project = tmp_path / "p.tagloop"
    with create_project(project, "classification", [LabelSpec("ham"), LabelSpec("spam")]):
        pass
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TAGLOOP_CONFIG_DIR=str(tmp_path / "c"))
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "app", "gui", "--screenshot", str(shot), str(project)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"screenshot: {shot}" in result.stdout
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 5000  # a painted window, not an empty image


def fake_build(folder: Path) -> Path:
    """A folder shaped like dist/tagloop (what install-linux.sh needs), with a stub program."""
    (folder / "share").mkdir(parents=True)
    icons = folder / "_internal" / "app" / "resources" / "icons"
    icons.mkdir(parents=True)
    for icon in (ROOT / "resources" / "icons").iterdir():
        (icons / icon.name).write_bytes(icon.read_bytes())
    program = folder / "tagloop"
    program.write_text("#!/bin/sh\necho 'tagloop 9.9.9'\n")
    program.chmod(0o755)
    for name in ("tagloop.desktop", "tagloop-mime.xml"):
        (folder / "share" / name).write_text((PACKAGING / name).read_text())
    installer = folder / "install-linux.sh"
    installer.write_text((PACKAGING / "install-linux.sh").read_text())
    installer.chmod(0o755)
    return installer


def test_install_linux_installs_and_uninstalls_for_one_user(tmp_path: Path) -> None:
    installer = fake_build(tmp_path / "tagloop")
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    if os.geteuid() == 0:  # as root it installs for everyone: aim it at a prefix instead
        prefix, share = home / ".local", home / ".local" / "share"
        args = ["--prefix", str(prefix)]
    else:
        prefix, share, args = home / ".local", home / ".local" / "share", []
    done = subprocess.run([str(installer), *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "installed" in done.stdout
    program = prefix / "lib" / "tagloop" / "tagloop"
    assert (prefix / "bin" / "tagloop").resolve() == program.resolve()
    desktop = (share / "applications" / "tagloop.desktop").read_text()
    assert f"Exec={program} gui %f" in desktop
    assert "application/x-tagloop-bundle" in desktop
    mime = (share / "mime" / "packages" / "tagloop.xml").read_text()
    assert '<glob pattern="*.tagloop"/>' in mime and '<glob pattern="*.tlbundle"/>' in mime
    assert (share / "icons" / "hicolor" / "256x256" / "apps" / "tagloop.png").exists()

    gone = subprocess.run(
        [str(program.parent / "install-linux.sh"), "--uninstall", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    assert gone.returncode == 0, gone.stderr
    assert not program.parent.exists()
    assert not (prefix / "bin" / "tagloop").exists()
    assert not (share / "applications" / "tagloop.desktop").exists()
    assert not (share / "mime" / "packages" / "tagloop.xml").exists()


def test_install_linux_refuses_a_folder_that_is_not_a_build(tmp_path: Path) -> None:
    installer = tmp_path / "install-linux.sh"
    installer.write_text((PACKAGING / "install-linux.sh").read_text())
    installer.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(installer), "--prefix", str(tmp_path / "p")], capture_output=True, text=True, env=env
    )
    assert done.returncode == 1
    assert "is not a frozen Tagloop folder" in done.stderr
    assert not (tmp_path / "p" / "bin").exists()


def test_size_report_names_the_largest_contributors(tmp_path: Path) -> None:
    dist = tmp_path / "tagloop"
    (dist / "_internal" / "spacy").mkdir(parents=True)
    (dist / "_internal" / "spacy" / "big.so").write_bytes(b"x" * 3_000_000)
    (dist / "_internal" / "small.txt").write_bytes(b"x" * 10)
    (dist / "tagloop").write_bytes(b"x" * 1_000_000)
    result = subprocess.run(
        [sys.executable, str(PACKAGING / "size_report.py"), str(dist), "--top", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{dist}: 3.8 MB in 3 files")
    assert "within the 450 MB target" in lines[1]
    top = lines[lines.index("largest contributors (top 2):") + 1]
    assert top.split()[-1] == "spacy"
