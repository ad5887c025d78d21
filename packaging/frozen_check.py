"""`tagloop --self-check`: does this frozen build hold everything it needs? (frozen only)

Shipped inside the build by packaging/tagloop.spec, together with tagloop_manifest.json (what
the spec put in). Imports every module of the app, makes a blank spaCy pipeline for every
language the build offers, imports each optional dependency that went in, checks the Qt
platform plugins, the demo data, the migrations and the icon, round-trips a little
scikit-learn and cryptography, and starts a worker process from the frozen executable.
Prints one line per failure and exits 1 if there is any, so packaging/smoke_test.sh fails
loudly on a missing module, data file or plugin.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

PLATFORMS = ("offscreen", "minimal", "xcb", "wayland")  # Linux; others checked by name below


def _manifest() -> dict:
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).parent))
    return json.loads((base / "tagloop_manifest.json").read_text(encoding="utf-8"))


def _check_modules(manifest: dict) -> None:
    for name in manifest["modules"] + manifest["optional"]:
        importlib.import_module(name)


def _check_spacy(manifest: dict) -> None:
    import spacy

    bad = []
    for code in manifest["languages"]:
        try:
            spacy.blank(code)("Tagloop checks 1 text.")
        except Exception as exc:
            bad.append(f"{code} ({type(exc).__name__}: {exc})")
    if bad:
        raise RuntimeError("blank spaCy pipeline failed for: " + ", ".join(bad))
    from spacy.util import registry

    for name in ("spacy.TransitionBasedParser.v2", "spacy.HashEmbedCNN.v2"):
        registry.architectures.get(name)


def _check_data(manifest: dict) -> None:
    from app.core.resources import resource_path
    from app.core.storage.db import MIGRATIONS_DIR

    for rel in ("demo/sms_spam.tsv", "demo/ncbi_disease_train.pubtator", "icons/tagloop-64.png"):
        resource_path(rel)
    if not list((MIGRATIONS_DIR / "versions").glob("0001_*.py")):
        raise FileNotFoundError(f"no migrations in {MIGRATIONS_DIR}")


def _check_qt(manifest: dict) -> None:
    from PySide6.QtCore import QLibraryInfo

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    found = {p.name for p in plugins.glob("*")}
    wanted = PLATFORMS if sys.platform.startswith("linux") else ()
    missing = [n for n in wanted if not any(n in f for f in found)]
    if missing or not found:
        raise FileNotFoundError(f"Qt platform plugins missing in {plugins}: {missing or 'all'}")


def _check_numeric(manifest: dict) -> None:
    import numpy as np
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.array([[0.0], [1.0], [0.1], [0.9]]), [0, 1, 0, 1])
    if list(model.predict(np.array([[0.05], [0.95]]))) != [0, 1]:
        raise RuntimeError("scikit-learn gave a wrong answer")
    key = AESGCM.generate_key(bit_length=256)
    box = AESGCM(key)
    if box.decrypt(b"0" * 12, box.encrypt(b"0" * 12, b"tagloop", None), None) != b"tagloop":
        raise RuntimeError("cryptography round trip failed")


def child_probe(progress: Callable[..., None], cancel: Callable[[], bool]) -> dict:
    """Runs in the worker process: what the window's training job would import there."""
    import sklearn.linear_model  # noqa: F401
    import spacy

    progress(1, 1, "probe")
    return {"pid": os.getpid(), "tokens": len(spacy.blank("en")("a worker process"))}


def _check_worker(manifest: dict) -> None:
    """The window trains in a spawned process started from this same executable
    (freeze_support in app/__main__.py): start one and get its answer back."""
    from app.workers.process import run_in_process

    answer = run_in_process("frozen_check:child_probe")
    if answer["pid"] == os.getpid() or answer["tokens"] != 3:
        raise RuntimeError(f"the worker process answered {answer!r}")


CHECKS: dict[str, Callable[[dict], None]] = {
    "app modules and optional dependencies": _check_modules,
    "spaCy languages and registries": _check_spacy,
    "demo data, icon and migrations": _check_data,
    "Qt platform plugins": _check_qt,
    "NumPy, scikit-learn, cryptography": _check_numeric,
    "worker process (spawned from the frozen executable)": _check_worker,
}


def main(argv: list[str]) -> int:
    """Run every check; 0 if all pass."""
    manifest = _manifest()
    failures = 0
    for title, check in CHECKS.items():
        try:
            check(manifest)
        except Exception:
            failures += 1
            print(f"self-check FAILED: {title}\n{traceback.format_exc()}", file=sys.stderr)
        else:
            print(f"self-check ok: {title}")
    print(
        f"tagloop {manifest['version']} (Python {manifest['python']}): "
        f"{len(manifest['modules'])} app modules, {len(manifest['languages'])} spaCy languages, "
        f"optional: {', '.join(manifest['optional']) or 'none'}"
    )
    return 1 if failures else 0
