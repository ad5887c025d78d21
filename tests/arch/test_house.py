"""The house rules: small files, short functions, no private name used outside its module.

The layers and the absence of cycles are import-linter contracts (`.importlinter`), checked by
`make test` and `make lint`; these are the rules import-linter cannot state.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 100


def _modules(root: Path = APP) -> list[tuple[str, ast.Module, int]]:
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(root.parent).as_posix()
        found.append((rel, ast.parse(text, filename=rel), len(text.splitlines())))
    return found


def _too_long(root: Path = APP) -> set[str]:
    offenders = set()
    for rel, tree, lines in _modules(root):
        if lines > MAX_FILE_LINES:
            offenders.add(rel)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    offenders.add(f"{rel}::{node.name}")
    return offenders


def test_no_file_over_600_lines_and_no_function_over_100():
    offenders = _too_long()
    assert sorted(offenders) == [], "split these"


def _module_names(root: Path = APP) -> set[str]:
    names = set()
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def _private_reach_ins(root: Path = APP) -> list[str]:
    """`from app.x import _name`, and `mod._name` where `mod` is another app module."""
    modules = _module_names(root)
    offenders = []
    for rel, tree, _lines in _modules(root):
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
                for alias in node.names:
                    if _private(alias.name):
                        offenders.append(f"{rel} {node.module}.{alias.name}")
                    if f"{node.module}.{alias.name}" in modules:
                        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _private(node.attr)
            ):
                offenders.append(f"{rel}:{node.lineno} {aliases[node.value.id]}.{node.attr}")
    return offenders


def test_no_private_name_is_imported_across_modules():
    """A name that starts with `_` belongs to its module; what is shared gets a public name."""
    assert _private_reach_ins() == []


def test_the_private_rule_sees_both_kinds_of_reach_in(tmp_path):
    pkg = tmp_path / "app"
    (pkg / "core").mkdir(parents=True)
    (pkg / "core" / "a.py").write_text("_hidden = 1\nshown = 2\n")
    (pkg / "core" / "b.py").write_text("from app.core.a import _hidden, shown\n")
    (pkg / "core" / "c.py").write_text("from app.core import a\nx = a._hidden + a.shown\n")
    assert _private_reach_ins(pkg) == [
        "app/core/b.py app.core.a._hidden",
        "app/core/c.py:2 app.core.a._hidden",
    ]


def test_the_size_rule_counts_lines_as_written(tmp_path):
    """A 101-line function and a 601-line file are caught; 100 and 600 lines pass."""
    pkg = tmp_path / "app"
    pkg.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(99))
    (pkg / "fits.py").write_text(f"def fits():\n{body}\n")
    (pkg / "long.py").write_text(f"def long():\n{body}\n    y = 1\n")
    (pkg / "big.py").write_text("x = 1\n" * 601)
    (pkg / "ok.py").write_text("x = 1\n" * 600)
    assert _too_long(pkg) == {"app/long.py::long", "app/big.py"}
