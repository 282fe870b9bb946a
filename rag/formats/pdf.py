"""PDF (pypdf): one part per page, a segment's ``location.page`` 1-based.

A PDF has no reliable headings in its text, so sections come from the document
outline (bookmarks) when it has one: an entry opens its section at the line of its
page that repeats its title, or at the top of the page when no line does, and the
section runs on until the next entry. Without an outline, sections are None.
Lines wrapped inside a paragraph are joined with a space; a blank line or a
bullet starts a new paragraph. A file encrypted with an empty user password
(restrictions only) is read; one that needs a password is skipped.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.datatypes import Document, Part
from rag.errors import CorpusError, DependencyError
from rag.formats import missing_dependency, unreadable
from rag.formats.assembly import TextAssembler, part_text

log = logging.getLogger("rag.corpus")

_BULLET = re.compile(r"^(?:[•▪◦●■‣∙·*–—-]|\d{1,2}[.)]|[a-z][.)])\s")


def load_pdf(source: str, data: bytes, sha256: str) -> Document:
    try:
        from pypdf import PdfReader
    except ImportError as exc:
        raise missing_dependency("pypdf", "PDF") from exc
    try:
        with _pypdf_messages_as_details(source):
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                _decrypt(source, reader)
            return _document(source, reader, sha256)
    except (CorpusError, DependencyError):
        raise
    except Exception as exc:  # pypdf reports damage from many layers (xref, streams, fonts)
        raise unreadable(source, f"not a readable PDF ({type(exc).__name__}: {exc})") from exc


@contextmanager
def _pypdf_messages_as_details(source: str) -> Iterator[None]:
    """pypdf logs its repairs as warnings without naming the file ("EOF marker not found").

    The corpus report gives the one warning a skipped file deserves, so while a file
    is read pypdf's messages are held back and logged at INFO with the file's name.
    """
    pypdf_log = logging.getLogger("pypdf")
    held = _Hold()
    propagate = pypdf_log.propagate
    pypdf_log.addHandler(held)
    pypdf_log.propagate = False
    try:
        yield
    finally:
        pypdf_log.removeHandler(held)
        pypdf_log.propagate = propagate
        for record in held.records:
            log.info("%s: pypdf: %s", source, record.getMessage())


class _Hold(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _decrypt(source: str, reader: Any) -> None:
    from pypdf import PasswordType
    from pypdf.errors import DependencyError as PypdfDependencyError

    try:
        result = reader.decrypt("")
    except PypdfDependencyError as exc:
        raise DependencyError(f"{source} is AES-encrypted; reading it needs: pip install 'pypdf[crypto]'") from exc
    if result == PasswordType.NOT_DECRYPTED:
        raise unreadable(source, "encrypted: it opens only with a password (save an unprotected copy)")


def _document(source: str, reader: Any, sha256: str) -> Document:
    meta_title = (reader.metadata.title or "").strip() if reader.metadata else ""
    doc_title = meta_title or Path(source).stem
    try:
        headings = _outline(reader)
    except Exception as exc:  # a damaged outline costs the sections, not the text
        log.info("%s: outline unreadable (%s: %s); pages indexed without sections", source, type(exc).__name__, exc)
        headings = {}
    text = TextAssembler(source)
    parts: list[Part] = []
    section: str | None = None
    for number, page in enumerate(reader.pages, start=1):
        lines = [line.strip() for line in (page.extract_text() or "").splitlines()]
        page_headings = headings.get(number, [])
        on_page = {_norm(line) for line in lines}
        for heading in page_headings:
            if _norm(heading) not in on_page:
                section = heading  # its title is not in the text: it opens at the top of the page
        first = len(text.segments)
        for kind, block in _blocks(lines, {_norm(h) for h in page_headings}):
            if kind == "heading":
                section = block
                text.add(block, title=doc_title, page=number, indexed=False)
            else:
                text.add(block, title=doc_title, section=section, page=number)
        page_title = page_headings[0] if page_headings else section or f"Page {number}"
        parts.append(Part(None, number, page_title, None, part_text(text.segments[first:])))
    if not parts:
        raise unreadable(source, "the PDF has no pages")
    if not text.segments:
        raise unreadable(source, "no extractable text (a scanned PDF needs OCR first)")
    return Document(source, doc_title, text.text, sha256, tuple(text.segments), tuple(parts), {})


def _blocks(lines: list[str], headings: set[str]) -> Iterator[tuple[str, str]]:
    """("heading", line) or ("paragraph", wrapped lines joined) in page order."""
    paragraph: list[str] = []
    for line in lines:
        is_heading = _norm(line) in headings
        if paragraph and (not line or is_heading or _BULLET.match(line)):
            yield "paragraph", " ".join(paragraph)
            paragraph = []
        if is_heading:
            yield "heading", line
        elif line:
            paragraph.append(line)
    if paragraph:
        yield "paragraph", " ".join(paragraph)


def _outline(reader: Any) -> dict[int, list[str]]:
    """``{page number: [outline titles pointing at it]}``, in outline order."""
    out: dict[int, list[str]] = {}

    def walk(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
                continue
            index = reader.get_destination_page_number(item)
            title = " ".join(str(item.title or "").split())
            if title and index is not None and index >= 0:
                out.setdefault(index + 1, []).append(title)

    walk(reader.outline)
    return out


def _norm(line: str) -> str:
    return " ".join(line.casefold().split())
