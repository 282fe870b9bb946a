"""Word ``.docx`` (python-docx): headings become sections.

The body is read in document order, paragraphs and tables interleaved. A
paragraph styled ``Title`` or ``Heading N`` opens a section (and the first one
titles the document when its properties do not); table cells belong to the
section they appear under. A Word file has no stable pages (they depend on the
printer), so it is one part, like a Markdown file. Page headers and footers,
footnotes, comments and text boxes are not indexed.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.datatypes import Document
from rag.errors import CorpusError, DependencyError
from rag.formats import missing_dependency, unreadable
from rag.formats.assembly import TextAssembler, single_part


def load_docx(source: str, data: bytes, sha256: str) -> Document:
    try:
        import docx
    except ImportError as exc:
        raise missing_dependency("python-docx", "Word") from exc
    try:
        return _document(source, docx.Document(io.BytesIO(data)), sha256)
    except (CorpusError, DependencyError):
        raise
    except Exception as exc:  # python-docx reports a damaged file with zip, XML and key errors alike
        raise unreadable(source, f"not a readable Word file ({type(exc).__name__}: {exc})") from exc


def _document(source: str, document: Any, sha256: str) -> Document:
    from docx.table import Table

    blocks: list[tuple[str, str]] = []  # (kind, text): kind is "heading", "paragraph" or "cell"
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(("cell", cell) for cell in _cells(item))
        else:
            blocks.append(("heading" if _is_heading(item) else "paragraph", item.text))
    core_title = (document.core_properties.title or "").strip()
    first_heading = next((" ".join(t.split()) for kind, t in blocks if kind == "heading" and t.strip()), "")
    title = core_title or first_heading or Path(source).stem

    text = TextAssembler(source)
    section: str | None = None
    for kind, block in blocks:
        if kind == "heading":
            section = " ".join(block.split()) or section
            text.add(block, title=title, indexed=False)
        else:
            text.add(block, title=title, section=section)
    return Document(source, title, text.text, sha256, tuple(text.segments), (single_part(title, text.segments),), {})


def _is_heading(paragraph: Any) -> bool:
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    return name == "Title" or name.startswith("Heading")


def _cells(table: Any) -> Iterator[str]:
    """Cell texts row by row; a merged cell once (python-docx repeats it for every grid cell)."""
    seen: set[Any] = set()  # the XML elements themselves: lxml keeps one proxy per live element
    for row in table.rows:
        for cell in row.cells:
            if cell._tc not in seen:
                seen.add(cell._tc)
                yield cell.text
