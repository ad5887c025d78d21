"""The full-text search index over datapoints, built after an import commits, chunk by chunk.

An import commits its rows without indexing them (indexing a million rows takes longer than
inserting them). Datapoints with an id above `datapoint_fts_state.indexed_upto` are "pending":
not in the FTS5 index yet. `index_pending` indexes them in chunks, each its own committed
transaction, so it can be cancelled and resumed at any time (after a crash too). Until it is
done, search stays correct: app.core.annotation.browse scans the pending rows directly
(`match_words`, which mirrors the FTS5 unicode61 tokenizer).
"""

from __future__ import annotations

import re
import sqlite3
import time
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.core.storage.retry import run_write
from app.core.storage.sqlite import driver_connection
from app.core.storage.staging import next_chunk

if TYPE_CHECKING:
    from app.core.project.project import Project

CHUNK = 50_000  # ids per chunk before issue 14; chunks are now sized by time (index_pending)
FIRST_CHUNK = 5_000
MESSAGE = "Indexing text for search"
MATCH_FUNCTION = "tagloop_fts_match"


def matching_ids(param: str = "m") -> str:
    """SQL selecting the ids of the indexed datapoints whose text matches the FTS5 query bound
    to `:param` (the search_terms of a browse query); rowids are datapoint ids."""
    return f"SELECT rowid FROM datapoint_fts WHERE datapoint_fts MATCH :{param}"


def count_matches(param: str = "m") -> str:
    """SQL counting the indexed datapoints that match `:param` (a word search's own index)."""
    return f"SELECT count(*) FROM datapoint_fts WHERE datapoint_fts MATCH :{param}"


def matching_page(descending: bool, param: str = "m") -> str:
    """SQL for one page (`:limit`, `:offset`) of matching ids in id order: FTS5 yields rowids
    in order, so no sort of the matches is needed."""
    direction = "DESC" if descending else "ASC"
    return f"{matching_ids(param)} ORDER BY rowid {direction} LIMIT :limit OFFSET :offset"


def pending(conn: Connection | sqlite3.Connection) -> tuple[int, int]:
    """(indexed_upto, max datapoint id): ids above the first are not in the search index."""
    sql = (
        "SELECT (SELECT indexed_upto FROM datapoint_fts_state WHERE id = 1),"
        " (SELECT coalesce(max(id), 0) FROM datapoint)"
    )
    upto, top = driver_connection(conn).execute(sql).fetchone()
    return int(upto or 0), int(top)


def pending_count(project: Project) -> int:
    """How many datapoints wait to be indexed for search (0 when search is fully indexed)."""
    with project.engine.connect() as conn:
        upto, top = pending(conn)
        if top <= upto:
            return 0
        return conn.exec_driver_sql(
            "SELECT count(*) FROM datapoint WHERE id > ?", (upto,)
        ).scalar_one()


def index_pending(
    project: Project,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    chunk: int | None = None,
) -> int:
    """Add every pending datapoint to the search index; returns how many were indexed.

    Each chunk of ids is one committed transaction, so a cancel (Cancelled is raised between
    chunks) or a crash keeps the work done so far, and the next call resumes where it stopped.
    Safe to call when nothing is pending (it returns 0 at once) and from several processes.
    Like every short writer, each transaction waits out a busy database (another process's
    long import or merge holding the write lock) through app.core.storage.retry, and raises
    DatabaseBusy, with the work done so far kept, only when that wait runs out.

    Chunks are sized by time (issue 14: no writer holds the lock for more than about 1 s):
    the first takes FIRST_CHUNK ids, and each next one is sized to take about
    staging.TARGET_SECONDS from how long the last took (a busy machine gets smaller chunks).
    A given `chunk` fixes the size instead.
    """
    with project.engine.connect() as sa_conn:
        upto, top = pending(sa_conn)
        if top <= upto:
            return 0
        total = sa_conn.exec_driver_sql(
            "SELECT count(*) FROM datapoint WHERE id > ?", (upto,)
        ).scalar_one()
    progress(0, total, MESSAGE)
    done = 0
    # FTS5 merging while a big batch goes in only to merge again later costs ~25%; it still
    # merges when a level fills ("crisismerge"). Normal merging is restored below.
    run_write(project.engine, lambda c: _set_automerge(driver_connection(c), 0))
    size = chunk or FIRST_CHUNK
    try:
        while True:
            check_cancel(cancel)
            started = time.perf_counter()
            added = run_write(
                project.engine, lambda c, size=size: _index_chunk(driver_connection(c), size)
            )
            if added is None:
                break
            done += added
            progress(min(done, total), total, MESSAGE)
            if chunk is None:
                size = next_chunk(size, added, time.perf_counter() - started)
    finally:
        run_write(project.engine, lambda c: _set_automerge(driver_connection(c), 4))
    return done


INDEX_CACHE_KB = -1024  # the page cache while a chunk is indexed (negative: KiB)


def _index_chunk(conn: sqlite3.Connection, chunk: int) -> int | None:
    """Index the next `chunk` pending ids, inside the caller's write transaction (under the
    write lock, so `pending` is read under it too); None when nothing was pending."""
    upto, top = pending(conn)
    if top <= upto:
        return None
    high = min(upto + chunk, top)
    # A small page cache while indexing: a long text's overflow pages would otherwise stay in
    # the 64 MB cache while FTS5 holds the text and its tokens (3.1x the text at the peak,
    # 2.1-2.4x with this; bench/import_memory.py). Indexing is as fast (300k rows: 2.0 s both).
    (cache,) = conn.execute("PRAGMA cache_size").fetchone()
    conn.execute(f"PRAGMA cache_size={INDEX_CACHE_KB}")
    try:
        added = conn.execute(
            "INSERT INTO datapoint_fts (rowid, text)"
            " SELECT id, text FROM datapoint WHERE id > ? AND id <= ?",
            (upto, high),
        ).rowcount
    finally:
        conn.execute(f"PRAGMA cache_size={int(cache)}")
    conn.execute("UPDATE datapoint_fts_state SET indexed_upto = ? WHERE id = 1", (high,))
    return max(added, 0)


def _set_automerge(conn: sqlite3.Connection, value: int) -> None:
    """Inside the caller's transaction (the setting is stored in the FTS config table)."""
    conn.execute(
        "INSERT INTO datapoint_fts (datapoint_fts, rank) VALUES ('automerge', ?)", (value,)
    )


# -- Matching pending rows the way FTS5 would --------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+")
_ASCII_TOKEN = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower case without diacritics, like the unicode61 tokenizer (remove_diacritics=1)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """The tokens FTS5 (unicode61) makes of a text: runs of letters and digits, folded."""
    if text.isascii():
        return _ASCII_TOKEN.findall(text.lower())
    return _TOKEN.findall(fold(text))


def match_words(text: str | None, spec: str) -> int:
    """1 if the text holds every word of `spec` (words separated by spaces, `word*` for a
    prefix, already folded), as the FTS5 query built by app.core.annotation.browse would find it."""
    if text is None:
        return 0
    found = set(tokens(text))
    for word in spec.split(" "):
        if not word:
            continue
        if word.endswith("*"):
            stem = word[:-1]
            if not any(token.startswith(stem) for token in found):
                return 0
        elif word not in found:
            return 0
    return 1


def match_spec(words: Sequence[tuple[str, bool]]) -> str:
    """The `spec` argument of match_words for (folded word, is prefix) pairs."""
    return " ".join(word + ("*" if prefix else "") for word, prefix in words)


def register(conn: sqlite3.Connection) -> None:
    """Make match_words callable from SQL on this connection as tagloop_fts_match(text, spec)."""
    conn.create_function(MATCH_FUNCTION, 2, match_words, deterministic=True)
