"""PowerPoint ``.pptx`` (python-pptx): one part per slide.

A slide's title becomes the title of its segments; body paragraphs follow in
reading order (top to bottom, then left to right). A paragraph that is a short
question ("What should the seller do?") opens a section, as in the Markdown deck.
Table cells go to the section ``"Table"`` and speaker notes to ``"Notes"``, so a
citation can say "slide 9, notes". Slide-number, date and footer placeholders are
dropped: they repeat on every slide and answer nothing. Pictures, charts and
SmartArt carry no text that python-pptx exposes and are not indexed.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rag.datatypes import Document, Part
from rag.errors import CorpusError, DependencyError
from rag.formats import missing_dependency, unreadable
from rag.formats.assembly import TextAssembler, clean_block, part_text
from rag.formats.markdown import INLINE_HEADING

TABLE_SECTION = "Table"
NOTES_SECTION = "Notes"


def load_pptx(source: str, data: bytes, sha256: str) -> Document:
    try:
        from pptx import Presentation
    except ImportError as exc:
        raise missing_dependency("python-pptx", "PowerPoint") from exc
    try:
        presentation = Presentation(io.BytesIO(data))
        return _document(source, presentation, sha256)
    except (CorpusError, DependencyError):
        raise
    except Exception as exc:  # python-pptx reports a damaged file with zip, XML and key errors alike
        raise unreadable(source, f"not a readable PowerPoint file ({type(exc).__name__}: {exc})") from exc


def _document(source: str, presentation: Any, sha256: str) -> Document:
    text = TextAssembler(source)
    parts: list[Part] = []
    first_title = ""
    for number, slide in enumerate(presentation.slides, start=1):
        title_shape = slide.shapes.title
        own_title = clean_block(title_shape.text_frame.text).replace("\n", " ") if title_shape is not None else ""
        title = own_title or f"Slide {number}"
        if number == 1:
            first_title = own_title
        text.add(own_title, title=title, slide=number, indexed=False)
        first = len(text.segments)
        section: str | None = None
        skip = {title_shape.shape_id} if title_shape is not None else set()
        for shape in _reading_order(slide.shapes):
            if shape.shape_id in skip or _is_boilerplate(shape):
                continue
            if getattr(shape, "has_table", False):
                for cell in _cells(shape.table):
                    text.add(cell, title=title, section=TABLE_SECTION, slide=number)
            elif shape.has_text_frame:
                for paragraph in shape.text_frame.paragraphs:
                    line = clean_block(paragraph.text)
                    if INLINE_HEADING.fullmatch(line):
                        section = line
                        text.add(line, title=title, slide=number, indexed=False)
                    else:
                        text.add(line, title=title, section=section, slide=number)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            for paragraph in slide.notes_slide.notes_text_frame.paragraphs:
                text.add(paragraph.text, title=title, section=NOTES_SECTION, slide=number)
        parts.append(Part(number, None, title, None, part_text(text.segments[first:])))
    if not parts:
        raise unreadable(source, "the presentation has no slides")
    core_title = (presentation.core_properties.title or "").strip()
    doc_title = core_title or first_title or Path(source).stem
    return Document(source, doc_title, text.text, sha256, tuple(text.segments), tuple(parts), {})


def _reading_order(shapes: Iterable[Any]) -> Iterator[Any]:
    """Shapes top to bottom, then left to right; a group's members in their own order."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in sorted(shapes, key=lambda s: (s.top or 0, s.left or 0)):
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _reading_order(shape.shapes)
        else:
            yield shape


def _is_boilerplate(shape: Any) -> bool:
    from pptx.enum.shapes import PP_PLACEHOLDER

    if not shape.is_placeholder:
        return False
    kind = shape.placeholder_format.type
    return kind in (PP_PLACEHOLDER.SLIDE_NUMBER, PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.HEADER)


def _cells(table: Any) -> Iterator[str]:
    """Cell texts row by row; a merged cell once (the cells it spans over are skipped)."""
    for row in table.rows:
        for cell in row.cells:
            if not cell.is_spanned:
                yield cell.text
