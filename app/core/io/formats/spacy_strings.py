"""The string store of a spaCy DocBin, compact (spacy_stream's): spaCy's own StringStore, or
a Python str per string, took tens of bytes a string beside its text."""

from __future__ import annotations

from array import array

import numpy


class Corrupt(ValueError):
    """A DocBin spaCy would refuse: the message says what (the caller names the file), and
    `number` the document (0: the DocBin as a whole)."""

    number = 0


class StringTable:
    """spaCy's string store of one DocBin, compact: the hashes sorted (numpy), and for each
    the place of its UTF-8 in one blob, its size and its length in characters."""

    def __init__(self) -> None:
        from spacy.strings import get_string_id

        self._hash = get_string_id
        self._added: tuple[array, array, array] = (array("Q"), array("q"), array("q"))
        self._blob = bytearray()
        self.hashes = numpy.zeros(0, numpy.uint64)
        self.starts = numpy.zeros(0, numpy.int64)
        self.sizes = numpy.zeros(0, numpy.int64)
        self.chars = numpy.zeros(0, numpy.int64)
        self.blob = numpy.zeros(1, numpy.uint8)  # one byte past the last string: see _gather
        self.fallback_added = False
        self._texts: dict[int, str] = {}

    def add(self, texts: list[str]) -> None:
        hashes, sizes, chars = self._added
        encoded = [text.encode("utf-8") for text in texts]
        hashes.extend(map(self._hash, texts))
        sizes.extend(map(len, encoded))
        chars.extend(map(len, texts))
        self._blob += b"".join(encoded)

    def freeze(self) -> None:
        """The arrays, sorted by hash, with what was added since the last freeze."""
        hashes, sizes, chars = (numpy.frombuffer(a, a.typecode) for a in self._added)
        sizes = sizes.astype(numpy.int64)
        starts = numpy.cumsum(sizes) - sizes + (len(self.blob) - 1)
        every = numpy.concatenate([self.hashes, hashes.astype(numpy.uint64)])
        order = numpy.argsort(every, kind="stable")
        self.hashes = every[order]
        self.starts = numpy.concatenate([self.starts, starts])[order]
        self.sizes = numpy.concatenate([self.sizes, sizes])[order]
        self.chars = numpy.concatenate([self.chars, chars.astype(numpy.int64)])[order]
        added = numpy.frombuffer(self._blob, numpy.uint8)
        self.blob = numpy.concatenate([self.blob[:-1], added, numpy.zeros(1, numpy.uint8)])
        self._added = (array("Q"), array("q"), array("q"))
        self._blob = bytearray()

    def index(self, hashes: numpy.ndarray) -> numpy.ndarray:
        """The table's index of each hash; Corrupt naming the first one it lacks. A miss
        adds spaCy's own strings once, which moves the indices given before."""
        if not len(self.hashes):
            where = numpy.zeros(len(hashes), numpy.intp)
            missing = numpy.ones(len(hashes), bool)
        else:
            where = numpy.searchsorted(self.hashes, hashes)
            numpy.minimum(where, len(self.hashes) - 1, out=where)
            missing = self.hashes[where] != hashes
        if missing.any():
            if self._add_fallback():
                return self.index(hashes)
            first = int(hashes[numpy.flatnonzero(missing)[0]])
            raise Corrupt(f"a string hash {first} is not in its strings")
        return where

    def text(self, key: int) -> str:
        """The string of a hash (a label)."""
        found = self._texts.get(key)
        if found is None:
            (at,) = self.index(numpy.array([key], numpy.uint64))
            start = int(self.starts[at])
            found = self.blob[start : start + int(self.sizes[at])].tobytes().decode("utf-8")
            self._texts[key] = found
        return found

    def _add_fallback(self) -> bool:
        """Once: the strings spaCy's blank vocabulary knows (symbols, tokenizer exceptions),
        which spaCy's reader found there though the DocBin lacked them."""
        if self.fallback_added:
            return False
        self.fallback_added = True
        import spacy
        from spacy.symbols import IDS

        known = set(self.hashes.tolist())
        texts = {}
        for text in [*spacy.blank("xx").vocab.strings, *IDS]:
            if isinstance(text, str) and text and self._hash(text) not in known:
                texts[self._hash(text)] = text
        self.add(list(texts.values()))
        self.freeze()
        return True
