"""Assembling ``Document.text`` from the blocks a binary format yields.

A PDF page, a slide's text box or an HTML paragraph has no offsets in any file
text, so the loader appends each block to a text of its own (blocks separated by
a blank line) and records where it landed: segments then index that text exactly,
as they index a Markdown file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.datatypes import Location, Part, Segment

BLOCK_SEPARATOR = "\n\n"

_LINE_BREAKS = re.compile(r"\r\n|[\r\v\f\u2028\u2029\x85]")
_SPACES = re.compile(r"[^\S\n]+")  # whitespace other than a newline
_BLANK_LINES = re.compile(r"\n\s*\n")


def clean_block(text: str) -> str:
    """One block's text: line breaks made ``\\n``, runs of spaces single, no blank lines inside.

    A blank line separates blocks in the assembled text, so a block keeps none of its own.
    """
    text = _SPACES.sub(" ", _LINE_BREAKS.sub("\n", text).replace("\u200b", ""))
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n", text).strip()


class TextAssembler:
    """Builds a document's text block by block, keeping a segment for each indexed block."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.segments: list[Segment] = []
        self._pieces: list[str] = []
        self._length = 0

    @property
    def text(self) -> str:
        return "".join(self._pieces)

    def add(
        self,
        text: str,
        *,
        title: str,
        section: str | None = None,
        slide: int | None = None,
        page: int | None = None,
        indexed: bool = True,
    ) -> Segment | None:
        """Append a block; return its segment (None for an empty block or ``indexed=False``).

        Headings and titles are appended with ``indexed=False``: they belong in the text
        a reader browses, while chunks carry them as title and section instead.
        """
        text = clean_block(text)
        if not text:
            return None
        if self._pieces:
            self._append(BLOCK_SEPARATOR)
        start = self._append(text)
        if not indexed:
            return None
        segment = Segment(Location(self.source, slide, page, title, section), text, start, start + len(text))
        self.segments.append(segment)
        return segment

    def _append(self, piece: str) -> int:
        start = self._length
        self._pieces.append(piece)
        self._length += len(piece)
        return start


def part_text(segments: Iterable[Segment]) -> str:
    """A part's browsable text: each segment under its section name."""
    return BLOCK_SEPARATOR.join(f"{s.location.section}\n{s.text}" if s.location.section else s.text for s in segments)


def single_part(title: str, segments: Iterable[Segment]) -> Part:
    """The one part of a document without slides or pages (a web page, a Word file)."""
    return Part(None, None, title, None, part_text(segments))
