"""One small loader per file format: raw bytes -> :class:`~rag.datatypes.Document`.

::

    markdown.py   .md .markdown .txt   spans index the file's own text
    pptx.py       .pptx                python-pptx: titles, body, tables, speaker notes per slide
    pdf.py        .pdf                 pypdf: one part per page, outline entries as sections
    docx.py       .docx                python-docx: headings become sections
    html.py       .html .htm           stdlib html.parser: headings become sections
    assembly.py   the text builder the binary formats share

Binary formats have no "file text": their loader assembles ``Document.text`` from
the extracted blocks, so ``doc.text[s.start:s.end] == s.text`` holds for every
format. A loader raises :class:`~rag.errors.CorpusError` for a file it cannot read
(corrupt, encrypted, not text) and :class:`~rag.errors.DependencyError` when its
library is missing; libraries are imported inside the loader, never at import.
"""

from __future__ import annotations

from collections.abc import Callable

from rag.datatypes import Document
from rag.errors import CorpusError, DependencyError

Loader = Callable[[str, bytes, str], Document]
"""(source, raw bytes, sha256 of the bytes) -> Document"""

TextParser = Callable[[str, str, str], Document]
"""(source, decoded text, sha256) -> Document: the formats whose spans index the file itself."""


def unreadable(source: str, reason: str) -> CorpusError:
    """The error for a file that cannot be loaded; the corpus report keeps ``reason``."""
    return CorpusError(f"{source}: {reason}")


def reason_of(exc: CorpusError, source: str) -> str:
    """The reason of an :func:`unreadable` error, without the file name in front."""
    return str(exc).removeprefix(f"{source}: ")


def missing_dependency(package: str, fmt: str) -> DependencyError:
    """Raise it ``from`` the ImportError of the lazy import inside a loader."""
    return DependencyError(f"reading {fmt} files needs the {package} package: pip install '{package}'")


def decode_utf8(source: str, data: bytes) -> str:
    """UTF-8 text (a BOM is dropped) with Windows line ends made ``\\n``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise unreadable(source, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return text.replace("\r\n", "\n")


def text_format(parse: TextParser) -> Loader:
    """A :data:`Loader` for a text format: decode the bytes, then ``parse`` the text."""

    def load(source: str, data: bytes, sha256: str) -> Document:
        return parse(source, decode_utf8(source, data), sha256)

    load.__name__ = load.__qualname__ = parse.__name__
    load.__doc__ = parse.__doc__
    return load
