"""An Arrow dataset: a Hugging Face `save_to_disk` folder (state.json, dataset_info.json and
data-*.arrow shards), or one Arrow IPC file (.arrow, .feather; stream or file format).

Tabular like Parquet (--map, --label-column), read one record batch at a time, and ClassLabel
integers become their names: from dataset_info.json's features, else from the schema's
`huggingface` metadata (app.core.io.formats.parquet). The writer writes a folder that
`datasets.load_from_disk` opens: one shard, dataset_info.json and state.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.io.formats.annotated import atomic_folder, tabular_records
from app.core.io.formats.base import ReadOptions, Record, WriteContext, WriteReport
from app.core.io.formats.parquet import (
    batches,
    class_names,
    export_rows,
    features_names,
    hf_schema,
    named_rows,
)
from app.core.jobs import CancelCheck, Progress

NAME = "arrow"
DESCRIPTION = "Arrow dataset: a Hugging Face save_to_disk folder, or one .arrow file"
SUFFIXES = (".arrow", ".feather", ".arrows")
TABULAR = True
MULTI_ANNOTATOR = True  # every annotator kept

FILE_MAGIC = b"ARROW1"
STREAM_MAGIC = b"\xff\xff\xff\xff"  # an IPC stream's continuation marker
SHARD = "data-00000-of-00001.arrow"


def detect(path: Path, head: bytes) -> float:
    path = Path(path)
    if path.is_dir():
        return 0.95 if (path / "state.json").exists() and any(path.glob("*.arrow")) else 0.0
    if head.startswith(FILE_MAGIC):
        return 0.99
    if path.suffix.lower() in SUFFIXES:
        return 0.9 if head.startswith(STREAM_MAGIC) else 0.5
    return 0.0


def _shards(path: Path) -> tuple[list[Path], dict[str, Any] | None]:
    """The .arrow files of a dataset (in state.json's order) and its features, if told."""
    path = Path(path)
    if not path.is_dir():
        return [path], None
    features = None
    info = path / "dataset_info.json"
    if info.exists():
        try:
            features = json.loads(info.read_text(encoding="utf-8")).get("features")
        except (ValueError, OSError, AttributeError, RecursionError) as exc:
            raise DataError(str(info), None, f"not readable JSON ({exc})") from None
    state = path / "state.json"
    try:
        files = json.loads(state.read_text(encoding="utf-8"))["_data_files"]
        shards = [path / Path(item["filename"]).name for item in files]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        shards = sorted(path.glob("*.arrow"))
    if not shards:
        raise DataError(str(path), None, "no .arrow files in this folder")
    return shards, features


def _reader(path: Path) -> Any:
    """An Arrow IPC reader of either kind, with `.schema` and batches."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        source = pa.memory_map(str(path))
    except (OSError, pa.ArrowException) as exc:
        raise DataError(str(path), None, f"cannot be read ({exc})") from None
    try:
        return ipc.open_file(source)
    except (OSError, pa.ArrowException):
        source.seek(0)
    try:
        return ipc.open_stream(source)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(str(path), None, f"not an Arrow file or stream ({exc})") from None


def _batches(reader: Any) -> Iterator[Any]:
    if hasattr(reader, "num_record_batches"):
        for index in range(reader.num_record_batches):
            yield reader.get_batch(index)
    else:
        yield from reader


def columns(path: Path, options: ReadOptions) -> list[str]:
    shards, _ = _shards(path)
    return list(_reader(shards[0]).schema.names)


def rows(path: Path, options: ReadOptions) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow as pa

    shards, features = _shards(path)
    offset = 0
    limit = options.max_field
    for shard in shards:
        reader = _reader(shard)
        names = features_names(features) if features else class_names(reader.schema, str(shard))
        line = 0
        try:
            found = named_rows(
                str(shard), reader.schema, _batches(reader), names, limit, options.long_bytes
            )
            for line, row in found:
                box = [(offset + line, row)]  # not held here while it is imported
                del row
                yield box.pop()
        except (pa.ArrowException, OSError) as exc:  # OSError: a corrupt compressed buffer
            raise DataError(str(shard), None, f"a corrupt record batch ({exc})") from None
        offset += line


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
    yield from tabular_records(rows(path, options))


def write(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    """A save_to_disk folder: one IPC-stream shard, dataset_info.json, state.json."""
    import pyarrow as pa
    import pyarrow.ipc

    report = WriteReport()
    out = Path(out)
    schema, features = hf_schema(context)

    with atomic_folder(out) as folder:
        with pa.OSFile(str(folder / SHARD), "wb") as sink, pa.ipc.new_stream(sink, schema) as w:
            for batch in batches(
                export_rows(records, context, report), schema, progress, cancel, out
            ):
                w.write_batch(batch)
        info = {"features": features, "description": "", "citation": "", "homepage": ""}
        (folder / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        state = {
            "_data_files": [{"filename": SHARD}],
            "_fingerprint": f"tagloop-{report.written}",
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": None,
        }
        (folder / "state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
    return report
