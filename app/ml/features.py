"""Stateless hashed text features: word 1-2 grams and char_wb 2-5 grams, vectorised in NumPy.

Why not sklearn's HashingVectorizer: its analyzers run per n-gram in Python (14k SMS/s for
char_wb 2-5), so scoring a 1M-row pool would take over a minute. Here a whole chunk of texts
becomes one array of code points and every n-gram hash is computed for all positions at once
(prefix polynomial hashes modulo 2**32), about ten times faster. The featuriser has no fitted
state: its parameters are a small JSON dict, so a saved model only stores those.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
_SPACE = 32
_WHITESPACE = np.array([9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x2028, 0x2029, 0x3000], np.uint32)


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


def _chunk_parts(texts: Sequence[str], params: dict[str, Any]):
    """(n rows, params, word rows, word cols, char rows, char cols): the hashed n-grams of one
    chunk of texts, one array pair per n-gram length."""
    if not texts:
        return 0, params, [], [], [], []
    lower = params["lowercase"]
    joined = "\x00 " + " \x00 ".join(t.lower() if lower else t for t in texts) + " \x00"
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    is_sep = codes == _SEP
    if int(is_sep.sum()) != len(texts) + 1:  # a text holds NUL characters: blank them
        texts = [t.replace("\x00", " ") for t in texts]
        return _chunk_parts(texts, params)
    length = len(codes)
    is_space = np.isin(codes, _WHITESPACE)
    values = codes + np.uint32(1)
    power, inv = _get_powers(length + 1)
    with np.errstate(over="ignore"):
        prefix = np.zeros(length + 1, np.uint32)
        np.cumsum(values * power[:length], out=prefix[1:])
    # row of each position: separators open a text (the first one opens row 0)
    row_of = (np.cumsum(is_sep) - 1).astype(np.int32)
    sep_prefix = np.zeros(length + 1, np.int32)
    np.cumsum(is_sep, out=sep_prefix[1:])
    space_prefix = np.zeros(length + 1, np.int32)
    np.cumsum(is_space, out=space_prefix[1:])

    def span_hash(start: np.ndarray, end: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return (prefix[end] - prefix[start]) * inv[start]

    char_shift = np.uint32(32 - params["char_bits"])
    word_shift = np.uint32(32 - params["word_bits"])

    low, high = params["char_ngrams"]
    char_parts_r, char_parts_c = [], []
    for n in range(max(low, 1), high + 1) if high else ():
        if n > length:
            break
        count = length - n + 1
        # slices, not gathers: window i is [i, i + n)
        ok = sep_prefix[n : n + count] == sep_prefix[:count]  # no separator inside
        if n >= 3:  # char_wb: spaces only at the two ends
            ok &= space_prefix[n - 1 : n - 1 + count] == space_prefix[1 : 1 + count]
        elif n == 2:
            ok &= ~(is_space[:count] & is_space[1 : 1 + count])
        else:
            ok &= ~is_space[:count]
        with np.errstate(over="ignore"):
            h = (prefix[n : n + count] - prefix[:count]) * inv[:count]
            h = h[ok]
            h ^= np.uint32(n * 0x1000193 & 0xFFFFFFFF)
            h *= np.uint32(0x85EBCA6B)
        char_parts_r.append(row_of[:count][ok])
        char_parts_c.append((h >> char_shift).astype(np.int32))
    word_parts_r, word_parts_c = [], []
    wlow, whigh = params["word_ngrams"]
    if whigh:
        is_word = ~(is_space | is_sep)
        ascii_ = codes < 128
        alnum = (
            ((codes >= 48) & (codes <= 57))
            | ((codes >= 65) & (codes <= 90))
            | ((codes >= 97) & (codes <= 122))
        )
        is_word &= alnum | ~ascii_
        edges = np.diff(is_word.astype(np.int8), prepend=0, append=0)
        w_start = np.flatnonzero(edges == 1)
        w_end = np.flatnonzero(edges == -1)
        with np.errstate(over="ignore"):
            w_hash = _mix(span_hash(w_start, w_end))
        w_row = row_of[w_start]
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
            word_parts_r.append(r)
            word_parts_c.append((h >> word_shift).astype(np.int32))
    return len(texts), params, word_parts_r, word_parts_c, char_parts_r, char_parts_c


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
            for j in range(k):
                out[i : i + len(chunk), j] = np.bincount(
                    r, weights=columns[j][c] * v, minlength=len(chunk)
                )
        else:
            out[i : i + len(chunk)] = _chunk_scores(_chunk_parts(chunk, params), columns)
    out += bias[None, :]
    return out


def _chunk_scores(parts, columns: list[np.ndarray]) -> np.ndarray:
    """Scores of one chunk straight from its hashed n-grams: per block (words, characters)
    the weights of a row's n-grams are summed, then scaled by the block's row normalisation
    (as in _entries), without building the (rows, cols, values) triplets."""
    n_rows, params, wr, wc, cr, cc = parts
    out = np.zeros((n_rows, len(columns)))
    offset = 0
    for parts_r, parts_c, weight, size in (
        (wr, wc, params["word_weight"], 1 << params["word_bits"]),
        (cr, cc, params["char_weight"], 1 << params["char_bits"]),
    ):
        if parts_r and weight != 0:
            per_row = np.zeros(n_rows)
            sums = np.zeros((n_rows, len(columns)))
            for r, c in zip(parts_r, parts_c, strict=True):
                per_row += np.bincount(r, minlength=n_rows)
                for j, column in enumerate(columns):
                    sums[:, j] += np.bincount(r, weights=column[c + offset], minlength=n_rows)
            out += sums * (weight / np.sqrt(np.maximum(per_row, 1.0)))[:, None]
        offset += size
    return out
