"""Hand-made chunks for the unit tests of retrieval and answering, shared so every test builds
them the same way."""

from __future__ import annotations

from rag.datatypes import Chunk, Location, Sentence


def make_chunk(
    cid: str,
    slide: int,
    sentences: list[str],
    *,
    section: str = "What should the seller do?",
    source: str = "d.md",
    doc_title: str = "D",
    start: int | None = None,
) -> Chunk:
    """A chunk of ``slide`` holding ``sentences``, one space apart from offset ``start``
    (1000 x the slide unless given: chunks of one slide that must not overlap pass their own)."""
    spans, pos = [], 1000 * slide if start is None else start
    for s in sentences:
        spans.append(Sentence(s, pos, pos + len(s)))
        pos += len(s) + 1
    text = " ".join(sentences)
    return Chunk(cid, Location(source, slide, None, f"Slide {slide}", section), doc_title, text,
                 spans[0].start, spans[-1].end, text, tuple(spans), 10, 12)
