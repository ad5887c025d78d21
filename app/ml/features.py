"""Stateless hashed text features: word 1-2 grams and char_wb 2-5 grams, vectorised in NumPy.

Why not sklearn's HashingVectorizer: its analyzers run per n-gram in Python (14k SMS/s for
char_wb 2-5), so scoring a 1M-row pool would take over a minute. Here a whole chunk of texts
becomes one array of code points and every n-gram hash is computed for all positions at once
(prefix polynomial hashes modulo 2**32), about ten times faster. The featuriser has no fitted
state: its parameters are a small JSON dict, so a saved model only stores those.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

FEATURES_FORMAT = "tagloop-hash-1"
DEFAULT_PARAMS: dict[str, Any] = {
    "format": FEATURES_FORMAT,
    "word_ngrams": [1, 2],
    "char_ngrams": [2, 5],
    "word_bits": 18,
    "char_bits": 20,
    "word_weight": 1.0,
    "char_weight": 1.0,
    "lowercase": True,
    "sublinear_tf": False,  # log1p(tf) measured +0.001 macro-F1 on SMS, 2x slower scoring
}
CHUNK = 5_000  # texts per vectorised pass: small enough to stay in the CPU caches
_BASE = np.uint32(0x9E3779B1)  # odd, so invertible modulo 2**32
_SEP = 0  # code point between texts
_WHITESPACE = np.array([9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x2028, 0x2029, 0x3000], np.uint32)
# lookup tables by code point (np.take with mode="clip": codes past the end read the last
# entry, which is False): breaks are whitespace and the separator; word characters are the
# ASCII letters and digits
_BREAK_TABLE = np.zeros(0x3002, bool)
_BREAK_TABLE[_WHITESPACE] = True
_BREAK_TABLE[_SEP] = True
_WORD_TABLE = np.zeros(129, bool)
for _low, _high in ((48, 57), (65, 90), (97, 122)):
    _WORD_TABLE[_low : _high + 1] = True


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    """Validated featuriser parameters (they come from a model file, so trust nothing)."""
    if not isinstance(params, dict) or params.get("format") != FEATURES_FORMAT:
        raise ValueError("unknown feature format")
    out = dict(DEFAULT_PARAMS)
    out.update(params)
    for key in ("word_ngrams", "char_ngrams"):
        low, high = (int(v) for v in out[key])
        if not (0 <= low <= high <= 8):
            raise ValueError(f"bad {key}")
        out[key] = [low, high]
    for key in ("word_bits", "char_bits"):
        out[key] = int(out[key])
        if not 4 <= out[key] <= 24:
            raise ValueError(f"bad {key}")
    out["word_weight"] = float(out["word_weight"])
    out["char_weight"] = float(out["char_weight"])
    out["lowercase"] = bool(out["lowercase"])
    out["sublinear_tf"] = bool(out["sublinear_tf"])
    return out


def n_features(params: dict[str, Any]) -> int:
    return (1 << params["word_bits"]) + (1 << params["char_bits"])


def _mix(x: np.ndarray) -> np.ndarray:
    """murmur3 fmix32: spreads polynomial hashes over all 32 bits."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x85EBCA6B)
    x = x ^ (x >> np.uint32(13))
    x = x * np.uint32(0xC2B2AE35)
    return x ^ (x >> np.uint32(16))


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """BASE**k and BASE**-k modulo 2**32 for k < n (integer overflow wraps, as intended)."""
    inverse = int(pow(int(_BASE), -1, 1 << 32))
    power = np.full(n, _BASE, np.uint32)
    power[0] = 1
    inv = np.full(n, np.uint32(inverse), np.uint32)
    inv[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(power, dtype=np.uint32), np.cumprod(inv, dtype=np.uint32)


_POWER_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _get_powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    cached = _POWER_CACHE.get("p")
    if cached is None or len(cached[0]) < n:
        size = max(n, 1 << 16)
        size = 1 << (size - 1).bit_length()
        _POWER_CACHE["p"] = cached = _powers(size)
    return cached[0][:n], cached[1][:n]


def _chunk_matrix(texts: Sequence[str], params: dict[str, Any]):
    """(rows, cols, values) of one chunk of texts."""
    return _entries(*_chunk_parts(texts, params))


class _Chunk(NamedTuple):
    """One chunk of texts as code points, with what every n-gram hash needs.

    The texts are joined as "\x00 text \x00 text \x00": row r's positions run from the r-th
    separator to the next one, and every separator sits between two spaces, so a window
    that crosses texts always holds a break (space or separator) strictly inside it."""

    n_rows: int
    length: int
    codes: np.ndarray  # uint32 code points
    sep_pos: np.ndarray  # positions of the n_rows + 1 separators
    brk: np.ndarray  # bool: whitespace or separator
    prefix: np.ndarray  # uint32 prefix polynomial hashes, length + 1
    inv: np.ndarray  # BASE**-i


def _prepare(texts: Sequence[str], params: dict[str, Any]) -> _Chunk:
    # one lower() for the whole chunk: the separators cannot change how a text lowercases
    joined = "\x00 " + " \x00 ".join(texts) + " \x00"
    if params["lowercase"]:
        joined = joined.lower()
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    brk = np.take(_BREAK_TABLE, codes, mode="clip")  # clip: every code above is no break
    sep_pos = np.flatnonzero(codes == _SEP)
    if len(sep_pos) != len(texts) + 1:  # a text holds NUL characters: blank them
        return _prepare([t.replace("\x00", " ") for t in texts], params)
    length = len(codes)
    power, inv = _get_powers(length + 1)
    prefix = np.zeros(length + 1, np.uint32)
    with np.errstate(over="ignore"):
        np.cumsum((codes + np.uint32(1)) * power[:length], out=prefix[1:], dtype=np.uint32)
    return _Chunk(len(texts), length, codes, sep_pos, brk, prefix, inv)


def _char_windows(chunk: _Chunk, params: dict[str, Any]):
    """For each char n-gram length n: (n, the hashed char_wb n-gram starting at every
    position as a column number, whether that window is a real n-gram). A real one lies
    inside one text with breaks at most at its two ends (and, for n <= 2, is not made of
    breaks only); the "no break inside" mask of n + 1 is that of n and one more position."""
    low, high = params["char_ngrams"]
    brk, prefix, inv, length = chunk.brk, chunk.prefix, chunk.inv, chunk.length
    shift = np.uint32(32 - params["char_bits"])
    clear = ~brk
    inside, inside_n = clear, 2  # inside[i]: no break at i + 1 .. i + inside_n - 2
    for n in range(max(low, 1), high + 1) if high else ():
        count = length - n + 1
        if count <= 0:
            break
        if n == 1:
            ok = clear
        elif n == 2:
            ok = ~(brk[:count] & brk[1 : 1 + count])
        else:
            while inside_n < n:
                inside_n += 1
                step = clear[inside_n - 2 : inside_n - 2 + length - inside_n + 1]
                inside = step if inside_n == 3 else inside[: len(step)] & step
            ok = inside
        with np.errstate(over="ignore"):
            h = (prefix[n : n + count] - prefix[:count]) * inv[:count]
            h ^= np.uint32(n * 0x1000193 & 0xFFFFFFFF)
            h *= np.uint32(0x85EBCA6B)
        cols = np.empty(count, np.intp)
        np.right_shift(h, shift, out=cols, casting="unsafe")
        yield n, cols, ok[:count]


def _word_grams(chunk: _Chunk, params: dict[str, Any]) -> tuple[list, list]:
    """(rows, columns) per word n-gram length. A word is a run of ASCII letters, digits and
    non-ASCII characters (ASCII punctuation and whitespace split words); n-grams never cross
    texts."""
    wlow, whigh = params["word_ngrams"]
    if not whigh:
        return [], []
    codes = chunk.codes
    is_word = ~chunk.brk & (np.take(_WORD_TABLE, codes, mode="clip") | (codes >= 128))
    # the chunk opens and ends with a separator, so every word starts and ends inside it
    w_start = np.flatnonzero(is_word[1:] & ~is_word[:-1]) + 1
    w_end = np.flatnonzero(is_word[:-1] & ~is_word[1:]) + 1
    with np.errstate(over="ignore"):
        w_hash = _mix((chunk.prefix[w_end] - chunk.prefix[w_start]) * chunk.inv[w_start])
    w_row = (np.searchsorted(chunk.sep_pos, w_start) - 1).astype(np.int32)
    word_shift = np.uint32(32 - params["word_bits"])
    rows, cols = [], []
    count = len(w_hash)
    for n in range(max(wlow, 1), whigh + 1):
        if count < n:
            break
        h = w_hash[: count - n + 1]
        with np.errstate(over="ignore"):
            for k in range(1, n):
                h = h * np.uint32(0x01000193) + w_hash[k : count - n + 1 + k]
            h = _mix(h ^ np.uint32(n * 0x9E3779B1 & 0xFFFFFFFF))
        r = w_row[: count - n + 1]
        if n > 1:
            same = w_row[n - 1 :] == r
            h, r = h[same], r[same]
        rows.append(r)
        cols.append((h >> word_shift).astype(np.int32))
    return rows, cols


def _chunk_parts(texts: Sequence[str], params: dict[str, Any]):
    """(n rows, params, word rows, word cols, char rows, char cols): the hashed n-grams of one
    chunk of texts, one array pair per n-gram length."""
    if not texts:
        return 0, params, [], [], [], []
    chunk = _prepare(texts, params)
    row_of = np.repeat(
        np.arange(chunk.n_rows, dtype=np.int32), np.diff(chunk.sep_pos[:-1], append=chunk.length)
    )
    char_rows, char_cols = [], []
    for _n, cols, ok in _char_windows(chunk, params):
        char_rows.append(row_of[: len(ok)][ok])
        char_cols.append(cols[ok].astype(np.int32))
    word_rows, word_cols = _word_grams(chunk, params)
    return chunk.n_rows, params, word_rows, word_cols, char_rows, char_cols


def _entries(n_rows: int, params: dict[str, Any], wr: list, wc: list, cr: list, cc: list):
    """(rows, cols, values) of the weighted, normalised features; may hold duplicates."""
    import scipy.sparse as sp

    out_r, out_c, out_v = [], [], []
    offset = 0
    word_size = 1 << params["word_bits"]
    for parts_r, parts_c, weight, size in (
        (wr, wc, params["word_weight"], word_size),
        (cr, cc, params["char_weight"], 1 << params["char_bits"]),
    ):
        if parts_r and weight != 0:
            r = np.concatenate(parts_r)
            c = np.concatenate(parts_c)
            if params["sublinear_tf"]:
                m = sp.csr_matrix(
                    (np.ones(len(r), np.float32), (r, c)), shape=(n_rows, size), dtype=np.float32
                )
                m.sum_duplicates()
                np.log1p(m.data, out=m.data)
                _l2_rows(m)
                m.data *= weight
                m = m.tocoo()
                r, c, v = m.row.astype(np.int32), m.col.astype(np.int32), m.data
            else:
                # count / sqrt(number of n-grams): the l2 norm when the n-grams are distinct,
                # without summing duplicates first (a matrix product sums them anyway)
                per_row = np.bincount(r, minlength=n_rows).astype(np.float32)
                scale = np.float32(weight) / np.sqrt(np.maximum(per_row, 1.0))
                v = scale[r]
            out_r.append(r)
            out_c.append(c + offset)
            out_v.append(v)
        offset += size
    if not out_r:
        empty_i = np.zeros(0, np.int32)
        return empty_i, empty_i, np.zeros(0, np.float32)
    return np.concatenate(out_r), np.concatenate(out_c), np.concatenate(out_v)


def _l2_rows(m) -> None:
    """Normalise each row of a CSR matrix in place to unit length (empty rows stay zero)."""
    if not m.nnz:
        return
    counts = np.diff(m.indptr)
    rows = np.repeat(np.arange(m.shape[0]), counts)
    squares = np.bincount(rows, weights=m.data.astype(np.float64) ** 2, minlength=m.shape[0])
    norms = np.sqrt(squares)
    norms[counts == 0] = 1.0
    norms[norms == 0] = 1.0
    m.data /= np.repeat(norms, counts).astype(np.float32)


def transform(texts: Sequence[str], params: dict[str, Any] | None = None):  # -> csr_matrix
    """Sparse float32 features (canonical CSR), one row per text."""
    import scipy.sparse as sp

    params = check_params(params or DEFAULT_PARAMS)
    texts = list(texts)
    parts = []
    for i in range(0, max(len(texts), 1), CHUNK):
        chunk = texts[i : i + CHUNK]
        r, c, v = _chunk_matrix(chunk, params)
        parts.append(
            sp.csr_matrix((v, (r, c)), shape=(len(chunk), n_features(params)), dtype=np.float32)
        )
    return parts[0] if len(parts) == 1 else sp.vstack(parts, format="csr")


def linear_scores(
    texts: Sequence[str], params: dict[str, Any], weights: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """texts x weights + bias without building a sparse matrix: the fast path for scoring
    large pools. weights: (n_features, k) float32; returns (len(texts), k) float64."""
    params = check_params(params)
    texts = list(texts)
    k = weights.shape[1]
    out = np.empty((len(texts), k), np.float64)
    columns = [np.ascontiguousarray(weights[:, j]) for j in range(k)]
    for i in range(0, len(texts), CHUNK):
        chunk = texts[i : i + CHUNK]
        if params["sublinear_tf"]:
            r, c, v = _chunk_matrix(chunk, params)
            for j, column in enumerate(columns):
                out[i : i + len(chunk), j] = np.bincount(
                    r, weights=column[c] * v, minlength=len(chunk)
                )
        else:
            out[i : i + len(chunk)] = _chunk_scores(chunk, params, columns)
    out += bias[None, :]
    return out


def _chunk_scores(texts: Sequence[str], params: dict[str, Any], columns: list[np.ndarray]):
    """Scores of one chunk straight from its n-gram hashes, as _entries would weigh them:
    per block (words, characters) the weights of a row's n-grams are summed, then scaled by
    the block's row normalisation. The character windows are never compressed to the real
    n-grams (that cost more than the hashing): a window that is not one weighs zero, and
    each row's sum is one reduceat over its positions. columns: one contiguous weight
    vector per output column."""
    n_rows = len(texts)
    out = np.zeros((n_rows, len(columns)))
    if not texts:
        return out
    chunk = _prepare(texts, params)
    word_size = 1 << params["word_bits"]
    if params["char_weight"] != 0 and params["char_ngrams"][1]:
        char_columns = [column[word_size:] for column in columns]
        sums = [np.zeros(chunk.length, np.float32) for _ in columns]
        counts = np.zeros(chunk.length, np.int8)
        for _n, cols, ok in _char_windows(chunk, params):
            for column, total in zip(char_columns, sums, strict=True):
                found = np.take(column, cols)
                found *= ok
                total[: len(ok)] += found
            counts[: len(ok)] += ok
        starts = chunk.sep_pos[:-1]
        per_row = np.add.reduceat(counts, starts, dtype=np.int64)
        scale = params["char_weight"] / np.sqrt(np.maximum(per_row, 1.0))
        for j, total in enumerate(sums):
            out[:, j] += np.add.reduceat(total, starts, dtype=np.float64) * scale
    word_rows, word_cols = _word_grams(chunk, params)
    if word_rows and params["word_weight"] != 0:
        r = np.concatenate(word_rows)
        c = np.concatenate(word_cols)
        scale = params["word_weight"] / np.sqrt(np.maximum(np.bincount(r, minlength=n_rows), 1))
        for j, column in enumerate(columns):
            out[:, j] += np.bincount(r, weights=column[c], minlength=n_rows) * scale
    return out
