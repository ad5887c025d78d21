"""The one table of file formats (issue #13): name -> module, lookup, and detection.

Each format is a module of app.core.io.formats exposing NAME, DESCRIPTION, SUFFIXES, TABULAR,
detect(path, head), read(path, options) and write(records, out, context, progress, cancel)
(app.core.io.formats.base). The modules are imported lazily, on first use, so a format whose
module or library is missing leaves the others working; `available()` lists what loads.

Detection takes the suffix first and checks it against the content: when the content clearly
looks like another format than the one chosen (by the user or by the name), the import is
refused with a message saying which format it looks like, rather than importing junk rows
(a CoNLL file read as TSV, a PubTator file renamed .txt).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from app.core.errors import DataError
from app.core.fileio import open_regular

# name -> (module, attribute): attribute None means the module itself is the format.
TABLE: dict[str, tuple[str, str | None]] = {
    "csv": ("app.core.io.formats.tabular", "CSV"),
    "tsv": ("app.core.io.formats.tabular", "TSV"),
    "json": ("app.core.io.formats.tabular", "JSON"),
    "jsonl": ("app.core.io.formats.tabular", "JSONL"),
    "txt": ("app.core.io.formats.tabular", "TXT"),
    "labelstudio": ("app.core.io.formats.labelstudio", None),
    "prodigy": ("app.core.io.formats.prodigy", None),
    "doccano": ("app.core.io.formats.doccano", None),
    "conll": ("app.core.io.formats.conll", None),
    "spacy": ("app.core.io.formats.spacy", None),
    "brat": ("app.core.io.formats.brat", None),
    "bioc": ("app.core.io.formats.bioc", None),
    "pubtator": ("app.core.io.formats.pubtator", None),
    "parquet": ("app.core.io.formats.parquet", None),
    "arrow": ("app.core.io.formats.arrow", None),
    "xlsx": ("app.core.io.formats.xlsx", None),
}
NAMES: tuple[str, ...] = tuple(TABLE)
# The formats with a writer (known without importing them, for --help).
WRITABLE = ("jsonl", "csv", "labelstudio", "prodigy", "doccano", "conll", "spacy", "brat")
WRITABLE += ("parquet", "arrow", "xlsx", "pubtator", "bioc")
# The formats the importer reads on its streamed fast path (app.core.io.readers), not Records.
FAST_PATH = frozenset({"csv", "tsv", "json", "jsonl", "txt"})
HEAD_BYTES = 64 * 1024
STRONG = 0.9  # a detect() score at which the content speaks for itself
GENERIC = 0.5  # what a generic format (csv, jsonl...) says of a file it can read


@dataclass(frozen=True)
class FileFormat:
    """One format as the importer and exporter see it (a module's constants and functions)."""

    name: str
    description: str
    suffixes: tuple[str, ...]
    tabular: bool
    detect: Any
    read: Any
    write: Any  # None: the format is read-only
    multi_annotator: bool = True  # False: one value per datapoint (the exporter writes "final")

    @property
    def writable(self) -> bool:
        return self.write is not None


_loaded: dict[str, FileFormat | None] = {}


def _from_module(module: ModuleType) -> FileFormat:
    return FileFormat(
        module.NAME,
        module.DESCRIPTION,
        tuple(module.SUFFIXES),
        bool(module.TABULAR),
        module.detect,
        module.read,
        getattr(module, "write", None),
        bool(getattr(module, "MULTI_ANNOTATOR", True)),
    )


def _load(name: str) -> FileFormat | None:
    """The format, or None when its module (or a library it needs) is not installed."""
    if name not in _loaded:
        module_name, attribute = TABLE[name]
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            _loaded[name] = None
            return None
        found = getattr(module, attribute) if attribute else _from_module(module)
        _loaded[name] = found
    return _loaded[name]


def available(writable: bool = False) -> list[FileFormat]:
    """Every format that loads here, in table order (only those with a writer if asked)."""
    found = [fmt for fmt in map(_load, NAMES) if fmt is not None]
    return [fmt for fmt in found if fmt.writable] if writable else found


def names_text(writable: bool = False) -> str:
    return ", ".join(fmt.name for fmt in available(writable))


def help_text(writable: bool = False) -> str:
    """One line per format, for --help and the dialogs."""
    return "; ".join(f"{fmt.name}: {fmt.description}" for fmt in available(writable))


def get(name: str, path: Path | str = "", writable: bool = False) -> FileFormat:
    """The format called `name`; a DataError naming `path` if there is none (or no writer)."""
    where = str(path) or name
    if name not in TABLE:
        raise DataError(where, None, f"unknown format {name!r}; use one of {names_text(writable)}")
    fmt = _load(name)
    if fmt is None:
        raise DataError(
            where,
            None,
            f"the {name} format is not available in this installation (a library "
            "it needs is missing)",
        )
    if writable and not fmt.writable:
        raise DataError(
            where, None, f"Tagloop reads {name} but cannot write it; use {names_text(True)}"
        )
    return fmt


def read_head(path: Path) -> bytes:
    """The first bytes of the file, or of the first file of a folder (sorted by name)."""
    path = Path(path)
    try:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not files:
                return b""
            path = files[0]
        with open_regular(path) as handle:  # a FIFO or a device is refused, never waited on
            return handle.read(HEAD_BYTES)
    except OSError as exc:
        raise DataError(str(path), None, f"cannot be read: {exc.strerror or exc}") from None


def scores(path: Path, head: bytes) -> dict[str, float]:
    """Each available format's confidence that the file is in it."""
    found: dict[str, float] = {}
    for fmt in available():
        try:
            found[fmt.name] = float(fmt.detect(path, head))
        except Exception:  # a detector that chokes on the file says "not mine"
            found[fmt.name] = 0.0
    return found


def by_suffix(path: Path) -> list[str]:
    """The formats whose suffixes the name ends with, longest suffix first."""
    name = Path(path).name.lower()
    matches = [
        (len(suffix), fmt.name)
        for fmt in available()
        for suffix in fmt.suffixes
        if name.endswith(suffix.lower())
    ]
    matches.sort(key=lambda item: -item[0])
    return list(dict.fromkeys(name for _length, name in matches))


def _looks_like(path: Path, other: str, chosen: str, how: str) -> DataError:
    fmt = _load(other)
    what = fmt.description if fmt else other
    return DataError(
        str(path),
        None,
        f"this file looks like {other} ({what}), not {chosen} as {how}; import it with "
        f"--format {other}, or check that it is the file you meant",
    )


def resolve(path: Path, chosen: str | None = None, tabular: bool = False) -> str:
    """The format to read `path` with: `chosen` if given (checked against the content), else
    from the suffix and the content. `tabular` (a --map or --label-column was given) prefers
    the tabular formats among those the suffix allows."""
    path = Path(path)
    head = read_head(path)
    found = scores(path, head)
    best = max(found, key=lambda name: found[name], default=None)
    if chosen:
        get(chosen, path)
        if best and best != chosen and found[best] >= STRONG and found[best] > found[chosen]:
            raise _looks_like(path, best, chosen, "chosen")
        return chosen
    candidates = by_suffix(path)
    if tabular:
        candidates = [name for name in candidates if _load(name).tabular] or candidates  # type: ignore[union-attr]
    if candidates:
        pick = max(candidates, key=lambda name: (found.get(name, 0.0), -candidates.index(name)))
        if best and best not in candidates and found[best] >= STRONG > found[pick]:
            raise _looks_like(path, best, pick, f"its name ({path.suffix}) says")
        return pick
    if best and found[best] >= GENERIC:
        return best
    raise DataError(
        str(path),
        None,
        f"cannot tell the format from the name or the content; give it with --format "
        f"({names_text()})",
    )


def file_filter() -> str:
    """A Qt file-dialog filter of every readable suffix."""
    patterns = sorted({f"*{suffix}" for fmt in available() for suffix in fmt.suffixes})
    return f"Data files ({' '.join(patterns)});;All files (*)"
