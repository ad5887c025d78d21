"""Parquet through pyarrow: a tabular format (--map and --label-column as for CSV), read in
record batches, never whole.

Hugging Face datasets keep label names out of the data: a ClassLabel column holds integers, and
the names sit in the schema metadata (key `huggingface`: {"info": {"features": {column:
{"_type": "ClassLabel", "names": [...]}}}}, or a List/Sequence of one for multilabel). The
reader turns those integers into their names, so a label is never "0" or "1"; -1 or null is no
label. The writer writes that metadata itself, so `datasets.load_dataset("parquet", ...)` gives
back ClassLabel features: columns id, the text, the context inputs, `label` (the agreed or
final value: a ClassLabel, a list of ClassLabels, or a list of {start, end, label} spans with
Python string offsets) and, unless --values final, `annotations` (each annotator's value as
JSON), which the reader turns back into each annotator's annotation.

A column of long texts (a page over a couple of megabytes) is read page by page by
parquet_pages, each text a view of its unpacked page: Arrow's reader held such a text about
three times over (issue 14: peak memory).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import DataError
from app.core.fileio import atomic_writer
from app.core.io import longtext
from app.core.io.formats import parquet_pages
from app.core.io.formats.annotated import (
    ANNOTATIONS_COLUMN,
    annotator_values,
    final_value,
    record_text,
    short,
    tabular_records,
)
from app.core.io.formats.base import ReadOptions, Record, WriteContext, WriteReport
from app.core.io.readers import check_unique_columns
from app.core.jobs import CancelCheck, Progress, check_cancel
from app.core.jsonkeys import DuplicateKey, duplicate_problem, unique_object

NAME = "parquet"
DESCRIPTION = "Apache Parquet (Hugging Face ClassLabel names read and written)"
SUFFIXES = (".parquet", ".pq")
TABULAR = True
MULTI_ANNOTATOR = True  # every annotator kept

MAGIC = b"PAR1"
BATCH = 2048
MAX_ROW_GROUP = 1 << 30  # bytes of one row group, uncompressed: past it, refused as a bomb
ROWS_PER_BYTE = 1000  # rows a row group may declare per byte of its data (past 100,000)
HF_KEY = b"huggingface"
READ_BUFFER = 1 << 20
# Arrow's C++ default pool, which the Parquet reader takes its pages from whatever pyarrow's
# own default is, is chosen from this variable when pyarrow first needs it: the system
# allocator gives a long cell's pages back once they are freed (mimalloc kept them through the
# rest of the import). Set before pyarrow is imported (Tagloop imports it only here).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")


def detect(path: Path, head: bytes) -> float:
    if head.startswith(MAGIC):
        return 0.99
    return 0.5 if Path(path).suffix.lower() in SUFFIXES else 0.0


def class_names(schema: Any, file: str = "") -> dict[str, list[str]]:
    """{column: ClassLabel names} from a schema's Hugging Face metadata (single or list) of
    `file`; metadata that names a key twice (which names?) is refused."""
    raw = (schema.metadata or {}).get(HF_KEY)
    if not raw:
        return {}
    try:
        features = json.loads(raw, object_pairs_hook=unique_object)["info"]["features"]
    except DuplicateKey as exc:
        problem = duplicate_problem(exc.args[0])
        raise DataError(file, None, f"the Hugging Face metadata: {problem}") from None
    except (ValueError, KeyError, TypeError, RecursionError):
        return {}
    return features_names(features)


def features_names(features: Any) -> dict[str, list[str]]:
    """{column: names} of the ClassLabel (or list-of-ClassLabel) columns of HF features."""
    names: dict[str, list[str]] = {}
    if not isinstance(features, dict):
        return names
    for column, spec in features.items():
        if isinstance(spec, list) and len(spec) == 1:  # an older list literal
            spec = spec[0]
        elif isinstance(spec, dict) and spec.get("_type") in ("Sequence", "List", "LargeList"):
            spec = spec.get("feature")
        if isinstance(spec, dict) and spec.get("_type") == "ClassLabel":
            found = spec.get("names")
            if isinstance(found, list) and all(isinstance(x, str) for x in found):
                names[column] = found
    return names


def named(file: str, line: int, column: str, value: Any, names: list[str]) -> Any:
    """A ClassLabel integer (or list of them) as its name; -1 / null stay no label."""
    if isinstance(value, list):
        return [named(file, line, column, v, names) for v in value if v is not None and v != -1]
    if value is None or value == -1:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(names):
        raise DataError(
            file,
            line,
            f"{short(column)} holds {short(value)}, not one of its {len(names)} ClassLabel names",
        )
    return names[value]


def named_rows(
    file: str,
    schema: Any,
    batches: Iterator[Any],
    names: dict[str, list[str]],
    max_field: int | None = None,
    long_bytes: bool = False,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number from 1, {column: value}) with ClassLabel integers turned into names; a
    cell over `max_field` bytes is refused before its batch becomes Python objects. With
    `long_bytes`, a string cell over longtext.LONG_TEXT characters is a LongText of Arrow's
    own UTF-8 (no copy; app.core.io.longtext).

    One batch ahead: the next batch is read before this one's rows are handed on, so that
    once a row group (or the file) has been read, the reader has let go of its pages before
    a long text of it goes into the database (they held about 2x the text).

    An item of `batches` may be (batch, {column: values}): columns read page by page
    (parquet_pages), null in the batch, their values views of their pages."""
    check_unique_columns(file, None, schema.names)
    line = 0
    batches = iter(batches)
    batch = next(batches, None)
    while batch is not None:
        batch, paged = batch if batch.__class__ is tuple else (batch, None)
        batch.validate(full=True)  # a forged offset or index would crash Arrow's own code
        if max_field is not None:
            check_cells(file, batch, line, max_field)
            if paged:
                _check_paged(file, paged, line, max_field)
        batch, per_row = _named_columns(batch, names)
        found = _python_rows(batch, long_bytes)
        del batch  # Arrow's copy of the short texts goes before they are imported
        if paged:
            _put_paged(file, found, paged, line, long_bytes)
        del paged
        batch = next(batches, None)
        found.reverse()  # popped in order: a row is let go of once it is handed on
        while found:
            row = found.pop()
            line += 1
            for column in per_row:
                row[column] = named(file, line, column, row[column], names[column])
            box = [(line, row)]  # not held here while it is imported
            del row
            yield box.pop()


def _python_rows(batch: Any, long_bytes: bool) -> list[dict[str, Any]]:
    """The batch's rows as dicts; with `long_bytes`, its long string cells as LongTexts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not long_bytes:
        return batch.to_pylist()
    held: list[tuple[str, Any, list[int]]] = []  # column, its array, its cells' sizes
    for index, column in enumerate(batch.schema.names):
        values = batch.column(index)
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            continue
        sizes = pc.binary_length(values)
        largest = pc.max(sizes).as_py()
        if largest is None or largest <= longtext.LONG_TEXT:
            continue
        held.append((column, values, sizes.to_pylist()))
        # made Python objects cell by cell below (a compute kernel copied the whole column)
        batch = batch.set_column(
            index, batch.schema.field(index), pa.nulls(len(values), values.type)
        )
    found = batch.to_pylist()
    del batch
    while held:
        column, values, sizes = held.pop()
        for row, size in enumerate(sizes):
            if size is not None and size > longtext.LONG_TEXT:  # a view of Arrow's buffer
                view = _cell_view(values, row)
                found[row][column] = longtext.text_of(view)  # type: ignore[arg-type]
                del view
            else:
                found[row][column] = values[row].as_py()
        del values
    return found


def _check_paged(file: str, paged: dict[str, list[Any]], before: int, limit: int) -> None:
    """check_cells for the columns read page by page."""
    for column, cells in paged.items():
        for row, cell in enumerate(cells):
            if cell is not None and len(cell) > limit:
                raise _too_long(file, before + row + 1, column, len(cell), limit)


def _put_paged(
    file: str, found: list[dict[str, Any]], paged: dict[str, list[Any]], before: int, long: bool
) -> None:
    """The values of the columns read page by page into their rows: a str, or with `long` a
    LongText of the page's own bytes for a long one; each view let go of once placed."""
    for column, cells in paged.items():
        for row, cell in enumerate(cells):
            if cell is None:
                continue
            cells[row] = None
            try:
                if long and len(cell) > longtext.LONG_TEXT:
                    found[row][column] = longtext.text_of(cell)
                else:
                    found[row][column] = str(cell, "utf-8")
            except (UnicodeDecodeError, longtext.BadUtf8):
                raise DataError(
                    file, before + row + 1, f"a cell of {column!r} is not UTF-8 text"
                ) from None
            del cell


def _cell_view(values: Any, row: int) -> memoryview:
    """The UTF-8 of one cell of a string array, as a view of the array's own data buffer
    (a scalar's as_buffer() copied it)."""
    import pyarrow as pa

    _validity, offsets, data = values.buffers()[:3]
    form = "<qq" if pa.types.is_large_string(values.type) else "<ii"
    start, end = struct.unpack_from(
        form, offsets, (values.offset + row) * struct.calcsize(form[:2])
    )
    return memoryview(data)[start:end]


def check_cells(file: str, batch: Any, before: int, limit: int) -> None:
    """Refuse a batch with a string or binary cell (or a list of them) over `limit` bytes,
    naming its row (`before` rows came in earlier batches)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for index, column in enumerate(batch.schema.names):
        values = batch.column(index)
        while pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
            values = pc.list_flatten(values)
        kind = values.type
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        binary = pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
        if not (text or binary) or len(values) == 0:
            continue
        sizes = pc.binary_length(values)
        largest = pc.max(sizes).as_py()
        if largest is not None and largest > limit:
            row = _row_of(batch.column(index), limit)
            line = before + row + 1 if row is not None else None
            raise _too_long(file, line, column, largest, limit)


def _too_long(file: str, line: int | None, column: str, size: int, limit: int) -> DataError:
    return DataError(
        file,
        line,
        f"a cell of {column!r} holds {size:,} bytes, over the {limit:,}-byte field limit"
        " (raise it with --max-field-mb)",
    )


def _row_of(column: Any, limit: int) -> int | None:
    """The row of a top-level string column whose cell is over `limit` bytes (None for a
    nested column: the batch is named instead)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        return None
    over = pc.greater(pc.binary_length(column), limit)
    found = pc.index(over, True).as_py()
    return None if found < 0 else found


def _named_columns(batch: Any, names: dict[str, list[str]]) -> tuple[Any, list[str]]:
    """The batch with its integer ClassLabel columns turned into names by Arrow itself (a
    take, not a Python loop per row), and the columns left to name row by row: lists of
    ClassLabels, and any column holding an integer outside its names (named() says where)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    per_row = []
    for column, labels in names.items():
        index = batch.schema.get_field_index(column)
        if index < 0:
            continue
        values = batch.column(index)
        if not pa.types.is_integer(values.type):
            per_row.append(column)
            continue
        known = pc.if_else(pc.equal(values, -1), pa.scalar(None, values.type), values)
        low, high = pc.min_max(known).values()
        if low.is_valid and (low.as_py() < 0 or high.as_py() >= len(labels)):
            per_row.append(column)
            continue
        named_values = pa.array(labels, pa.string()).take(known)
        batch = batch.set_column(index, pa.field(column, pa.string()), named_values)
    return batch, per_row


def steady_pool() -> None:
    """Arrow's memory in the system allocator, for this process: Arrow's default (mimalloc)
    keeps what it frees, so a long cell's pages and arrays stayed in memory through the
    rest of the import (7.1x a 16 MB text's size, 4.8x with this), while glibc gives blocks
    of 1 MB and more back at once (app.core.io.longtext.steady_malloc)."""
    import pyarrow as pa

    longtext.steady_malloc()
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def _open(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    steady_pool()
    name = str(path)
    try:  # read in 1 MB pieces: a long cell's page was read whole, as well as unpacked
        parquet = pq.ParquetFile(path, buffer_size=READ_BUFFER, pre_buffer=False)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(name, None, f"not a readable Parquet file ({exc})") from None
    meta = parquet.metadata
    for group in range(meta.num_row_groups):
        _check_group(name, group, meta.row_group(group))
    return parquet


def _check_group(name: str, number: int, group: Any) -> None:
    """Refuse a row group that declares more than its bytes can hold: Arrow allocates for
    the rows a footer declares before it reads a page (a 1 KB file saying 2**40 rows takes
    the machine's memory)."""
    where = f"row group {number + 1}"
    if group.total_byte_size > MAX_ROW_GROUP:
        raise DataError(name, None, f"{where} unpacks to over 1 GiB: refused as a bomb")
    rows = group.num_rows
    packed = sum(group.column(i).total_compressed_size for i in range(group.num_columns))
    short_chunk = any(
        group.column(i).num_values < rows
        for i in range(group.num_columns)
        if "." not in group.column(i).path_in_schema  # flat: one value (or null) a row
    )
    if short_chunk or rows > ROWS_PER_BYTE * max(1, packed) + 100_000:
        raise DataError(
            name,
            None,
            f"{where} declares {rows:,} rows in {packed:,} bytes of data: refused as corrupt "
            "or a bomb",
        )


def columns(path: Path, options: ReadOptions) -> list[str]:
    """The column names, for the import dialog's mapping."""
    return list(_open(path).schema_arrow.names)


def rows(path: Path, options: ReadOptions) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, {column: value}) one batch at a time, ClassLabels named."""
    import pyarrow as pa

    parquet = _open(path)
    schema = parquet.schema_arrow
    try:
        found = _batches(parquet, Path(path))  # holds the file's reader until it is read
        del parquet
        yield from named_rows(
            str(path),
            schema,
            found,
            class_names(schema, str(path)),
            options.max_field,
            options.long_bytes,
        )
    except (pa.ArrowException, OSError) as exc:  # OSError: a corrupt compressed page
        raise DataError(str(path), None, f"a corrupt Parquet page ({exc})") from None


def _batches(parquet: Any, path: Path) -> Iterator[Any]:
    """The file's record batches; in a row group with a column of long texts (a page over
    parquet_pages.BIG_PAGE), that column is read page by page: (batch, {column: values})."""
    meta, schema = parquet.metadata, parquet.schema_arrow
    plans: list[list[str]] = [[] for _ in range(meta.num_row_groups)]
    if len(set(schema.names)) == len(schema.names):
        with path.open("rb") as handle:
            plans = [
                parquet_pages.plan(handle, meta, schema, group)
                for group in range(meta.num_row_groups)
            ]
    if not any(plans):
        yield from parquet.iter_batches(BATCH)
        return
    for group, paged in enumerate(plans):
        if paged:
            yield from _paged_batches(parquet, path, group, paged)
        else:
            yield from parquet.iter_batches(BATCH, row_groups=[group])


def _paged_batches(parquet: Any, path: Path, group: int, paged: list[str]) -> Iterator[Any]:
    """Row group `group` in batches of BATCH rows: (batch, {column: values}), the `paged`
    columns null in the batch and read by parquet_pages, the others by Arrow."""
    import pyarrow as pa

    meta, schema = parquet.metadata, parquet.schema_arrow
    row_group = meta.row_group(group)
    total = row_group.num_rows
    where = {row_group.column(i).path_in_schema: i for i in range(row_group.num_columns)}
    name = str(path)

    def fail(problem: str) -> DataError:
        return DataError(name, None, f"row group {group + 1}: {problem}")

    readers = {
        column: parquet_pages.values(
            name,
            row_group.column(where[column]),
            meta.schema.column(where[column]).max_definition_level,
            total,
            fail,
        )
        for column in paged
    }
    fields = [f.with_nullable(True) if f.name in readers else f for f in schema]
    out_schema = pa.schema(fields, metadata=schema.metadata)
    others = [column for column in schema.names if column not in readers]
    arrow = parquet.iter_batches(BATCH, row_groups=[group], columns=others) if others else None
    done = 0
    try:
        while done < total:
            batch = next(arrow, None) if arrow is not None else None
            if arrow is not None and batch is None:
                break
            count = batch.num_rows if batch is not None else min(BATCH, total - done)
            arrays = [
                pa.nulls(count, f.type) if f.name in readers else batch.column(f.name)
                for f in schema
            ]
            del batch
            values = {
                column: [next(cells) for _ in range(count)] for column, cells in readers.items()
            }
            done += count
            box = [(pa.RecordBatch.from_arrays(arrays, schema=out_schema), values)]
            del arrays, values
            yield box.pop()
    finally:
        for cells in readers.values():
            cells.close()
    if done != total:
        raise fail(f"{done:,} rows read where it declares {total:,}")


def read(path: Path, options: ReadOptions) -> Iterator[Record]:
    yield from tabular_records(rows(path, options))


def hf_schema(context: WriteContext) -> tuple[Any, dict[str, Any]]:
    """The Arrow schema and the Hugging Face features of an export."""
    import pyarrow as pa

    string = {"dtype": "string", "_type": "Value"}
    fields = [("id", pa.string()), (context.text_key, pa.string())]
    features: dict[str, Any] = {"id": string, context.text_key: string}
    for name in context.context_inputs:
        fields.append((name, pa.string()))
        features[name] = string
    labels = {"names": list(context.labels), "_type": "ClassLabel"}
    if context.task_type == "classification":
        fields.append(("label", pa.int64()))
        features["label"] = labels
    elif context.task_type == "multilabel":
        fields.append(("label", pa.list_(pa.int64())))
        features["label"] = {"feature": labels, "_type": "Sequence"}
    else:
        int64 = {"dtype": "int64", "_type": "Value"}
        span = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("label", pa.string())])
        fields.append(("label", pa.list_(span)))
        features["label"] = [{"start": int64, "end": int64, "label": string}]
    if context.values != "final":
        item = pa.struct([("annotator", pa.string()), ("value", pa.string())])
        fields.append((ANNOTATIONS_COLUMN, pa.list_(item)))
        features[ANNOTATIONS_COLUMN] = [{"annotator": string, "value": string}]
    metadata = {HF_KEY: json.dumps({"info": {"features": features}}).encode()}
    return pa.schema(fields, metadata=metadata), features


def export_rows(
    records: Iterator[dict[str, Any]], context: WriteContext, report: WriteReport
) -> Iterator[dict[str, Any]]:
    """Rows of hf_schema: ClassLabels as their index; a label outside the schema is null,
    with a warning. Each row handed on counts in report.written."""
    index = {label: i for i, label in enumerate(context.labels)}
    for record in records:
        value = final_value(record)
        if value is not None and context.task_type == "classification":
            value = index.get(value)
            if value is None:
                report.warnings.append(f"record {record.get('row')}: label not in the schema")
        elif value is not None and context.task_type == "multilabel":
            value = [index[x] for x in value if x in index]
        row = {
            "id": record.get("id"),
            context.text_key: record_text(record, context),
            **{name: _text(record.get(name)) for name in context.context_inputs},
            "label": value,
        }
        if context.values != "final":
            row[ANNOTATIONS_COLUMN] = [
                {"annotator": who, "value": json.dumps(v, ensure_ascii=False)}
                for who, v in annotator_values(record, context)
            ]
        report.written += 1
        yield row


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def batches(
    rows_: Iterator[dict[str, Any]], schema: Any, progress: Progress, cancel: CancelCheck, out: Path
) -> Iterator[Any]:
    """Record batches of BATCH rows, checking cancel and reporting progress between them."""
    import pyarrow as pa

    chunk: list[dict[str, Any]] = []
    done = 0
    for row in rows_:
        chunk.append(row)
        if len(chunk) == BATCH:
            check_cancel(cancel)
            done += len(chunk)
            progress(done, None, f"Writing {out.name}")
            yield pa.RecordBatch.from_pylist(chunk, schema=schema)
            chunk = []
    if chunk:
        yield pa.RecordBatch.from_pylist(chunk, schema=schema)


def write(
    records: Iterator[dict[str, Any]],
    out: Path,
    context: WriteContext,
    progress: Progress,
    cancel: CancelCheck,
) -> WriteReport:
    import pyarrow.parquet as pq

    report = WriteReport()
    out = Path(out)
    schema, _ = hf_schema(context)

    with atomic_writer(out, "wb") as handle, pq.ParquetWriter(handle, schema) as writer:
        for batch in batches(export_rows(records, context, report), schema, progress, cancel, out):
            writer.write_batch(batch)
    return report
