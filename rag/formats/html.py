"""HTML pages (the standard library's ``html.parser``; no dependency): headings become sections.

Scripts, styles, ``<noscript>``, ``<template>``, ``<svg>`` and navigation are
dropped, and so are the page's own ``<header>`` and ``<footer>`` (site banner,
copyright); a header inside ``<article>``, ``<main>`` or ``<section>`` is the
content's own and is kept. Each ``<h1>``-``<h6>`` opens a section; paragraphs, list
items and table cells become segments. The ``<title>`` (or else the first
``<h1>``) titles the document. The encoding is the byte-order mark's, else a
declared ``<meta charset>``, else UTF-8.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from rag.datatypes import Document
from rag.formats import unreadable
from rag.formats.assembly import TextAssembler, single_part

_DROPPED = frozenset({"script", "style", "noscript", "template", "svg", "nav"})
_PAGE_CHROME = frozenset({"header", "footer"})
_CONTENT = frozenset({"article", "main", "section"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "ol", "p",
        "pre", "section", "summary", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def load_html(source: str, data: bytes, sha256: str) -> Document:
    parser = _Extractor()
    parser.feed(_decode(source, data))
    parser.close()
    parser.flush()
    blocks = parser.blocks
    first_h1 = next((t for kind, t in blocks if kind == "h1"), "")
    title = parser.title or first_h1 or Path(source).stem

    text = TextAssembler(source)
    section: str | None = None
    for kind, block in blocks:
        if kind in _HEADINGS:
            section = block
            text.add(block, title=title, indexed=False)
        else:
            text.add(block, title=title, section=section)
    return Document(source, title, text.text, sha256, tuple(text.segments), (single_part(title, text.segments),), {})


def _decode(source: str, data: bytes) -> str:
    declared_or_bom = True
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        declared = _CHARSET.search(data[:4096])
        encoding = declared.group(1).decode("ascii") if declared else "utf-8"
        declared_or_bom = declared is not None
    try:
        return data.decode(encoding).replace("\r\n", "\n")
    except LookupError as exc:
        raise unreadable(source, f"declares an unknown charset {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        label = encoding if declared_or_bom else "UTF-8"
        raise unreadable(source, f"not {label} text ({exc.reason} at byte {exc.start})") from exc


class _Extractor(HTMLParser):
    """Collects ``(kind, text)`` blocks: kind is ``h1``..``h6`` or ``p`` (any other text block)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []
        self.title = ""
        self._buffer: list[str] = []
        self._kind = "p"
        self._dropping: str | None = None  # the tag whose content is being dropped
        self._drop_depth = 0
        self._in_content = 0  # open <article>/<main>/<section> elements
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._dropping is not None:
            self._drop_depth += tag == self._dropping
            return
        if tag in _DROPPED or (tag in _PAGE_CHROME and not self._in_content):
            self._dropping, self._drop_depth = tag, 1
            return
        if tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self.flush()
            self._kind = tag
        elif tag in _BLOCKS:
            self.flush()
        self._in_content += tag in _CONTENT

    def handle_endtag(self, tag: str) -> None:
        if self._dropping is not None:
            self._drop_depth -= tag == self._dropping
            if self._drop_depth == 0:
                self._dropping = None
            return
        if tag == "title":
            self._in_title = False
        elif tag in _HEADINGS or tag in _BLOCKS:
            self.flush()
        if tag in _CONTENT and self._in_content:
            self._in_content -= 1

    def handle_data(self, data: str) -> None:
        if self._dropping is not None:
            return
        if self._in_title:
            self.title = " ".join(f"{self.title} {data}".split())
        else:
            self._buffer.append(data)

    def flush(self) -> None:
        """End the current block (a block element opened or closed)."""
        text = " ".join("".join(self._buffer).split())
        if text:
            self.blocks.append((self._kind, text))
        self._buffer = []
        self._kind = "p"
