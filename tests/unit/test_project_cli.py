"""Projects, schema versions, migrations, settings, the command line, layering, offline."""

from __future__ import annotations

import ast
import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.main import main
from app.core import settings
from app.core.errors import ProjectError
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project, open_project, update_schema
from app.core.storage import db

ROOT = Path(__file__).resolve().parents[2]


def test_create_and_open(tmp_path):
    with create_project(
        tmp_path / "p",
        "multilabel",
        [LabelSpec("a"), LabelSpec("b", hotkey="x")],
        inputs=["body", "title"],
        guidelines="# G",
    ) as project:
        assert project.path.name == "p.tagloop"
    with open_project(tmp_path / "p.tagloop") as project:
        assert project.task_type == "multilabel"
        assert project.annotated_input == "body" and project.context_inputs == ["title"]
        assert [(x.name, x.hotkey) for x in project.schema.labels] == [("a", "1"), ("b", "x")]
        assert project.schema.guidelines == "# G"
        with project.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"task_type": "ranking"}, "unknown task type"),
        ({"labels": []}, "at least one label"),
        ({"labels": [LabelSpec("a"), LabelSpec("a")]}, "duplicate label"),
        ({"inputs": ["text", "status"]}, "reserved"),
        ({"annotated_input": "nope"}, "not one of the inputs"),
    ],
)
def test_create_refuses_bad_definitions(tmp_path, kwargs, words):
    args = {"task_type": "classification", "labels": [LabelSpec("a")], **kwargs}
    with pytest.raises(ProjectError, match=words):
        create_project(tmp_path / "x.tagloop", args.pop("task_type"), args.pop("labels"), **args)
    assert not (tmp_path / "x.tagloop").exists()


def test_create_refuses_to_overwrite(tmp_path):
    create_project(tmp_path / "x.tagloop", "spans", [LabelSpec("a")]).close()
    with pytest.raises(ProjectError, match="already exists"):
        create_project(tmp_path / "x.tagloop", "spans", [LabelSpec("a")])


def test_open_refuses_what_is_not_a_project(tmp_path):
    other = tmp_path / "notes.tagloop"
    other.write_text("hello", encoding="utf-8")
    with pytest.raises(ProjectError, match="not a Tagloop project"):
        open_project(other)
    with pytest.raises(ProjectError, match="no such project"):
        open_project(tmp_path / "missing.tagloop")


def test_newer_schema_is_refused_clearly(tmp_path):
    create_project(tmp_path / "x.tagloop", "classification", [LabelSpec("a")]).close()
    conn = sqlite3.connect(tmp_path / "x.tagloop")
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.close()
    with pytest.raises(ProjectError, match="newer Tagloop"):
        open_project(tmp_path / "x.tagloop")


def test_schema_head_matches_migrations():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == db.SCHEMA_HEAD


def test_schema_edits_make_versions(tmp_path):
    with create_project(tmp_path / "x", "classification", [LabelSpec("a")]) as project:
        second = update_schema(project, guidelines="new rules")
        assert second.version == 2 and second.label_names == ["a"]
        assert [v.guidelines for v in project.schema_versions()] == ["", "new rules"]


def test_identity_recent_and_preferences(tmp_path):
    first = settings.local_identity()
    assert settings.local_identity() == first
    create_project(tmp_path / "a", "classification", [LabelSpec("x")]).close()
    create_project(tmp_path / "b", "classification", [LabelSpec("x")]).close()
    open_project(tmp_path / "a.tagloop").close()
    assert [p.name for p in settings.recent_projects()] == ["a.tagloop", "b.tagloop"]
    settings.set_preference("text_size", 14)
    assert settings.preference("text_size") == 14
    assert (Path(settings.config_dir()) / "identity.json").exists()


def test_cli_end_to_end(tmp_path, capsys):
    project = str(tmp_path / "c.tagloop")
    data = tmp_path / "in.tsv"
    data.write_text('Label\tSMS\nham\thello there\nspam\tWIN a "prize" now\n', encoding="utf-8")
    assert main(["init", project, "--type", "classification", "--labels", "ham,spam"]) == 0
    assert (
        main(
            [
                "import",
                project,
                str(data),
                "--map",
                "SMS=text",
                "--label-column",
                "Label",
                "--annotator",
                "bob",
            ]
        )
        == 0
    )
    assert "Imported 2 datapoints" in capsys.readouterr().out
    assert main(["stats", project, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["status"]["labeled"] == 2
    assert stats["labels"]["spam"]["annotations"] == 1
    assert stats["annotators"]["bob"]["annotations"] == 2
    out = tmp_path / "out.csv"
    assert main(["export", project, str(out)]) == 0
    assert 'WIN a ""prize"" now' in out.read_text(encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nx,eggs\n", encoding="utf-8")
    assert main(["import", project, str(bad), "--label-column", "label"]) == 1
    assert "bad.csv, line 2: label 'eggs' not in the label schema" in capsys.readouterr().err


def test_python_dash_m_app_works():
    result = subprocess.run(
        [sys.executable, "-m", "app", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.startswith("tagloop ")


def test_demo_builds_three_projects(tmp_path):
    from app.core.annotation.browse import Browser, Query
    from app.core.io.demo import build_demo

    paths = build_demo(tmp_path / "demo")
    assert [p.name for p in paths] == ["spam.tagloop", "diseases.tagloop", "mention-types.tagloop"]
    expected = [("classification", 5574, 500), ("spans", 693, 100), ("multilabel", 693, 100)]
    for path, (task, total, labeled) in zip(paths, expected, strict=True):
        with open_project(path) as project:
            browser = Browser(project)
            assert project.task_type == task
            assert browser.count(Query()) == total
            assert browser.count(Query(status="labeled")) == labeled
    assert build_demo(tmp_path / "demo") == paths  # a second run reuses them


def test_core_and_ml_never_import_qt():
    offenders = []
    for path in [*ROOT.joinpath("app/core").rglob("*.py"), *ROOT.joinpath("app/ml").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path}: {n}" for n in names if n.split(".")[0] in ("PySide6", "shiboken6")
            ]
    assert offenders == []
    code = (
        "import app.core.io.importer, app.core.io.export, app.core.annotation.browse,"
        " app.core.io.demo, app.cli.main, sys;"
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_no_socket_is_ever_opened(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network socket was opened")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    from app.core.annotation.browse import Browser, Query
    from app.core.annotation.stats import project_stats
    from app.core.io.demo import build_demo
    from app.core.io.export import export_datapoints

    (spam, *_rest) = build_demo(tmp_path / "demo")
    with open_project(spam) as project:
        assert Browser(project).count(Query(search="free")) > 0
        assert export_datapoints(project, tmp_path / "out.jsonl") == 5574
        assert project_stats(project)["status"]["total"] == 5574


def test_the_command_line_says_when_it_upgraded_an_older_file(tmp_path, capsys):
    """Opening an older file upgrades it (a copy kept beside it): the command says so on
    stderr, so that --json output stays clean, and only the first time."""
    from tests.unit.test_migrations_fixtures import unpack

    path = unpack("0003.tagloop.gz", tmp_path)
    assert main(["stats", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    json.loads(out)
    assert "upgraded from schema 0003" in err
    backups = list(tmp_path.glob("*.bak-0003"))
    assert len(backups) == 1 and str(backups[0]) in err

    assert main(["stats", str(path), "--json"]) == 0
    assert "upgraded" not in capsys.readouterr().err
