"""Markdown and plain text: spans index the file's own text.

Every quoted sentence can be found again in the file it came from. Markdown
converted from a slide deck (``<!-- Slide number: N -->`` markers) has its slide
structure recovered: title, scenario name, the inline question headings that the
conversion ran into the body ("What should the seller do?"), speaker notes and
tables. Other Markdown is split at its ``#`` headings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from rag.datatypes import Document, Location, Part, Segment
from rag.formats.assembly import part_text

_SLIDE = re.compile(r"<!--\s*Slide number:\s*(\d+)\s*-->")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*$", re.MULTILINE)
# An inline heading: a short question that the pptx conversion ran into the body.
INLINE_HEADING = re.compile(r"(?<![^\s.:;)])(What|How|Who|Why|When|Where)\b[^?.!:;\n]{3,60}\?")
_SCENARIO_TITLE = re.compile(r"^Scenario\s+\d+$", re.IGNORECASE)
_NOTES = re.compile(r"^#{1,6}[ \t]*Notes:?[ \t]*$", re.MULTILINE | re.IGNORECASE)


def load_markdown(source: str, text: str, sha256: str) -> Document:
    metadata, body_start = _front_matter(text)
    if _SLIDE.search(text):
        segments, parts = _parse_slides(source, text, body_start)
    else:
        segments, parts = _parse_headed(source, text, body_start)
    title = metadata.get("title") or (parts[0].title if parts else Path(source).stem)
    return Document(source, title, text, sha256, tuple(segments), tuple(parts), metadata)


def load_text(source: str, text: str, sha256: str) -> Document:
    title = Path(source).stem.replace("-", " ").replace("_", " ")
    segments = [
        Segment(Location(source, None, None, title, None), text[s:e], s, e) for s, e in _paragraphs(text, 0, len(text))
    ]
    part = Part(None, None, title, None, text.strip())
    return Document(source, title, text, sha256, tuple(segments), (part,), {})


def _front_matter(text: str) -> tuple[dict[str, str], int]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, 0
    meta = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip()] = value.strip()
    return meta, match.end()


def _parse_slides(source: str, text: str, body_start: int) -> tuple[list[Segment], list[Part]]:
    markers = list(_SLIDE.finditer(text, body_start))
    segments: list[Segment] = []
    parts: list[Part] = []
    for i, marker in enumerate(markers):
        end = markers[i + 1].start() if i + 1 < len(markers) else len(text)
        slide = int(marker.group(1))
        slide_segments, title, scenario = _parse_slide(source, text, slide, marker.end(), end)
        segments.extend(slide_segments)
        parts.append(Part(slide, None, title, scenario, part_text(slide_segments)))
    return segments, parts


def _parse_slide(
    source: str, text: str, slide: int, start: int, end: int
) -> tuple[list[Segment], str, str | None]:
    """One slide: its title, scenario name and sections as segments."""
    notes = _NOTES.search(text, start, end)
    body_end = notes.start() if notes else end
    heading = _HEADING.search(text, start, body_end)
    title = ""
    cursor = start
    if heading:
        title = heading.group(2).strip()
        cursor = heading.end()
        # A title that ends in a dash was wrapped by the conversion: it goes on next line.
        while title.endswith(("–", "-", "—")):
            nl = text.find("\n", cursor + 1)
            line_end = body_end if nl == -1 or nl > body_end else nl
            continuation = text[cursor:line_end].strip()
            if not continuation or continuation.startswith(("#", "|", "<!--")):
                break
            title = f"{title} {continuation}"
            cursor = line_end
    title = re.sub(r"\s+", " ", title).strip()

    segments: list[Segment] = []
    scenario: str | None = None
    blocks = list(_blocks(text, cursor, body_end))
    first_prose = True
    for kind, b_start, b_end in blocks:
        if kind == "table":
            segments.extend(
                Segment(Location(source, slide, None, title, "Resources"), text[s:e], s, e)
                for s, e in _table_cells(text, b_start, b_end)
            )
            continue
        sections = _split_inline_headings(text, b_start, b_end)
        if first_prose and _SCENARIO_TITLE.match(title) and sections and sections[0][0] is None:
            # The text before the first inline heading names the scenario.
            _, s, e = sections.pop(0)
            scenario = text[s:e].strip()
        first_prose = False
        segments.extend(
            Segment(Location(source, slide, None, title, name), text[s:e], s, e) for name, s, e in sections
        )
    if scenario:
        title = f"{title}: {scenario}"
        segments = [replace(g, location=replace(g.location, title=title)) for g in segments]
    if notes:
        segments.extend(
            Segment(Location(source, slide, None, title, "Notes"), text[s:e], s, e)
            for s, e in _paragraphs(text, notes.end(), end)
        )
    return segments, title or f"Slide {slide}", scenario


def _blocks(text: str, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """Prose paragraphs and tables between ``start`` and ``end``; images and rules dropped."""
    pos = start
    table_start: int | None = None
    for line in text[start:end].splitlines(keepends=True):
        line_start, pos = pos, pos + len(line)
        stripped = line.strip()
        is_table = stripped.startswith("|")
        if table_start is not None and not is_table:
            yield "table", table_start, line_start
            table_start = None
        if is_table:
            if table_start is None:
                table_start = line_start
            continue
        if not stripped or _IMAGE.fullmatch(stripped) or stripped.startswith("<!--"):
            continue
        content_start = line_start + (len(line) - len(line.lstrip()))
        content_end = line_start + len(line.rstrip())
        yield "prose", content_start, content_end
    if table_start is not None:
        yield "table", table_start, end


def _table_cells(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    pos = start
    for line in text[start:end].splitlines(keepends=True):
        line_start, pos = pos, pos + len(line)
        if re.fullmatch(r"\s*\|[\s|:-]*\|?\s*", line):
            continue  # separator or empty header row
        for cell in re.finditer(r"[^|\n]+", line):
            raw = cell.group(0)
            if raw.strip():
                offset = line_start + cell.start() + (len(raw) - len(raw.lstrip()))
                yield offset, offset + len(raw.strip())


def _split_inline_headings(text: str, start: int, end: int) -> list[tuple[str | None, int, int]]:
    """Split prose at inline question headings: [(section or None, start, end)]."""
    out: list[tuple[str | None, int, int]] = []
    name: str | None = None
    cursor = start
    for match in INLINE_HEADING.finditer(text, start, end):
        if text[cursor : match.start()].strip():
            out.append((name, *_strip_span(text, cursor, match.start())))
        name = match.group(0).strip()
        cursor = match.end()
    if text[cursor:end].strip():
        out.append((name, *_strip_span(text, cursor, end)))
    return out


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _paragraphs(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    for match in re.finditer(r"[^\n](?:.|\n(?!\s*\n))*", text[start:end]):
        s, e = _strip_span(text, start + match.start(), start + match.end())
        if e > s:
            yield s, e


def _parse_headed(source: str, text: str, body_start: int) -> tuple[list[Segment], list[Part]]:
    """Plain Markdown: each ``#`` heading opens a section; the first one titles the document."""
    headings = list(_HEADING.finditer(text, body_start))
    doc_title = headings[0].group(2).strip() if headings else Path(source).stem
    bounds = [(None, body_start)] + [(h.group(2).strip(), h.end()) for h in headings]
    segments: list[Segment] = []
    for i, (section, s) in enumerate(bounds):
        e = headings[i].start() if i < len(headings) else len(text)
        for ps, pe in _paragraphs(text, s, e):
            if _IMAGE.fullmatch(text[ps:pe].strip()):
                continue
            segments.append(Segment(Location(source, None, None, doc_title, section), text[ps:pe], ps, pe))
    part = Part(None, None, doc_title, None, part_text(segments))
    return segments, [part]
