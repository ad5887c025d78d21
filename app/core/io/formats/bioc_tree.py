"""The documents of a BioC XML file, one at a time, from lxml's parser events (no lxml tree).

lxml's parser calls a target's start / data / end as it reads, with a long text in small
pieces: a passage's or sentence's text is gathered here straight into UTF-8 bytes (a
LongText when long), never held as one str nor beside libxml2's own copy of it. The tree
that the `bioc` package built kept every document to the end of the file, and each long
text twice (libxml2's UTF-8 and a str: 3x a text mixing CJK into ASCII). Everything else (ids,
offsets, infons, annotations) is small and kept as plain `Node`s, only for the document
being read. A text past the field limit is refused while it is read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any, BinaryIO

from app.core.errors import DataError
from app.core.io import longtext

READ = 1 << 16  # bytes handed to the parser at a time
TEXT_HOLDERS = ("passage", "sentence")  # whose <text> is a document's text


class Node:
    """One element of the document being read: tag, attributes, children, its text."""

    __slots__ = ("attrib", "children", "parts", "tag", "value")

    def __init__(self, tag: str, attrib: Any) -> None:
        self.tag = tag
        self.attrib = attrib  # lxml's own dict (or its empty mapping), not copied
        self.children: list[Node] = []
        self.parts: list[str] = []
        self.value: Any = None  # a passage's or sentence's text: None, a str or a LongText

    @property
    def text(self) -> str | None:
        """Its text, as lxml's `.text` says it (None when empty)."""
        return "".join(self.parts) or None

    def get(self, key: str) -> str | None:
        return self.attrib.get(key)

    def findall(self, tag: str) -> list[Node]:
        return [child for child in self.children if child.tag == tag]

    iterchildren = findall


class _Target:
    """lxml's parser target: builds each <document> under the root as Nodes."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit  # bytes of one text, and of any other element's text
        self.stack: list[Node | None] = []  # None: outside a document (not kept)
        self.ready: deque[Node] = deque()
        self.data_bytes: bytearray | None = None  # the text being gathered as UTF-8
        self.chars = 0
        self.blank = True
        self.size = 0  # characters of the current small element's text

    def start(self, tag: str, attrib: Any) -> None:
        stack = self.stack
        parent = stack[-1] if stack else None
        self.size = 0
        if parent is None:  # outside a document: only a document under the root is kept
            stack.append(Node(tag, attrib) if tag == "document" and len(stack) == 1 else None)
            return
        node = Node(tag, attrib)
        parent.children.append(node)
        if tag == "text" and parent.tag in TEXT_HOLDERS:
            self.data_bytes, self.chars, self.blank = bytearray(), 0, True
        stack.append(node)

    def data(self, text: str) -> None:
        node = self.stack[-1] if self.stack else None
        if node is None:
            return
        if self.data_bytes is not None and node.tag == "text":
            self.data_bytes += text.encode("utf-8")
            self.chars += len(text)
            self.blank = self.blank and text.isspace()
            if len(self.data_bytes) > self.limit:
                self.too_long()
            return
        self.size += len(text)
        if self.size > self.limit:
            self.too_long()
        node.parts.append(text)

    def end(self, tag: str) -> None:
        node = self.stack.pop()
        if node is None:
            return
        if self.data_bytes is not None and tag == "text":
            node.value = self.text_value()
        elif tag == "document" and len(self.stack) == 1:
            self.ready.append(node)

    def text_value(self) -> Any:
        """The gathered text: None if empty, a LongText if long, else a str."""
        data, self.data_bytes = self.data_bytes, None
        if not data:
            return None
        if self.chars > longtext.LONG_TEXT and not self.blank:
            return longtext.LongText(data, self.chars)
        return data.decode("utf-8")

    def too_long(self) -> None:
        document = self.stack[1] if len(self.stack) > 1 else None
        ids = document.findall("id") if document is not None else []
        where = f"document {ids[-1].text}: " if ids else ""
        raise DataError(
            self.name,
            None,
            f"{where}a text of over {self.limit:,} bytes, the field limit (raise it with "
            "--max-field-mb)",
        )

    def close(self) -> None:
        return None


def documents(handle: BinaryIO, name: str, limit: int) -> Iterator[Node]:
    """Each <document> of the collection, as a Node, once its end tag is read."""
    from lxml import etree

    target = _Target(name, limit)
    parser = etree.XMLParser(target=target, resolve_entities=False, load_dtd=False, no_network=True)
    ready = target.ready
    while chunk := handle.read(READ):
        parser.feed(chunk)
        del chunk
        while ready:
            yield ready.popleft()
    parser.close()
    while ready:
        yield ready.popleft()
