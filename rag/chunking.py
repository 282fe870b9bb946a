"""Document -> chunks: structure-aware, token-bounded, pure.

A chunk never crosses a slide (or page) and follows one section. Long sections are
split on sentence boundaries with ``overlap_sentences`` repeated. A chunk must fit
both budgets: ``max_tokens`` of its text in the chunking tokenizer (tiktoken), and
the embedding model's window for its embedding text (contextual header + text),
so nothing is silently truncated by the model. A single sentence over budget is
cut at word boundaries (the only place a quote can be a sentence fragment).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby, pairwise

from rag.config import ChunkingConfig
from rag.datatypes import Chunk, Document, Part, Segment, Sentence
from rag.sentences import lexicon, split_sentences


@dataclass(frozen=True)
class Budget:
    """The two token budgets a chunk must fit."""

    count_tokens: Callable[[str], int]
    max_tokens: int
    count_model_tokens: Callable[[str], int]
    max_model_tokens: int


CHUNKER_VERSION = 3
"""Bumped whenever the same text and settings chunk differently (2: document markings are
left out, an aside split over two sentences loses its lone brackets; 3: table cells are
marked ``cells``): an index built by another version is stale, so an upgrade rebuilds it
rather than serve the old chunks."""

MARKING = re.compile(
    r"(?:(?:microsoft|company|highly|strictly)\s+)*(?:confidential|internal|general|public)"
    r"(?:\s*[-–—:]\s*\w+(?:\s+\w+)?)?\.?"
    r"|(?:for\s+)?internal\s+use\s+only\.?|not\s+for\s+(?:external\s+)?distribution\.?"
    r"|all\s+rights\s+reserved\.?|(?:©|\(c\)|copyright)\s.{0,80}",
    re.IGNORECASE,
)
"""A sentence that only marks the document ("Microsoft Confidential.", "For internal use
only.", "© 2022 Microsoft"): a label on the slide, not guidance, so it is never indexed and
never quoted in an answer."""


def chunk_corpus(docs: Iterable[Document], cfg: ChunkingConfig, budget: Budget) -> list[Chunk]:
    return [chunk for doc in docs for chunk in chunk_document(doc, cfg, budget)]


def chunk_document(doc: Document, cfg: ChunkingConfig, budget: Budget) -> list[Chunk]:
    words = lexicon(doc.text)
    titles = _part_titles(doc)
    chunks: list[Chunk] = []
    # Consecutive segments of one slide and section (table cells, note paragraphs) pack together.
    for (_, _, section), group in groupby(
        doc.segments, key=lambda s: (s.location.slide, s.location.page, s.location.section)
    ):
        segments = list(group)
        header = embed_header(doc.title, segments[0].location.title, section)
        units: list[tuple[Segment, Sentence]] = []
        for seg in segments:
            for sentence in split_sentences(seg.text, seg.start, words):
                if MARKING.fullmatch(sentence.text):
                    continue
                units.extend((seg, piece) for piece in _fit(sentence, header, budget))
        chunks.extend(_make_chunk(doc, header, run, budget, titles) for run in _pack(units, header, cfg, budget))
    return chunks


def embed_header(doc_title: str, title: str, section: str | None) -> str:
    """The contextual line embedded above a chunk's text (never part of a quote)."""
    parts: list[str] = []
    for part in (doc_title, title, section):
        if part and part not in parts:  # a plain document's title is often its first heading too
            parts.append(part)
    return " — ".join(parts)


def chunk_text(doc_text: str, run: Sequence[tuple[Segment, Sentence]]) -> str:
    """Sentences as in the source; pieces of different segments join with a newline."""
    out = [run[0][1].text]
    for (prev_seg, prev), (seg, cur) in pairwise(run):
        out.append(doc_text[prev.end : cur.start] if seg is prev_seg else "\n")
        out.append(cur.text)
    return "".join(out)


def _pack(
    units: list[tuple[Segment, Sentence]], header: str, cfg: ChunkingConfig, budget: Budget
) -> Iterable[list[tuple[Segment, Sentence]]]:
    i = 0
    while i < len(units):
        j = i + 1
        while j < len(units) and _fits(units[i : j + 1], header, budget):
            j += 1
        yield units[i:j]
        if j >= len(units):
            return
        # Overlap, but always move forward.
        i = max(j - cfg.overlap_sentences, i + 1)


def _fits(run: Sequence[tuple[Segment, Sentence]], header: str, budget: Budget) -> bool:
    # Spacing between segments is at most a newline, so the raw span bounds the text.
    text = " ".join(s.text for _, s in run)
    return (
        budget.count_tokens(text) <= budget.max_tokens
        and budget.count_model_tokens(f"{header}\n{text}") <= budget.max_model_tokens
    )


def _fit(sentence: Sentence, header: str, budget: Budget) -> list[Sentence]:
    """The sentence itself, or word-boundary pieces of it when it exceeds a budget."""
    if _fits([(None, sentence)], header, budget):  # type: ignore[list-item]
        return [sentence]
    pieces: list[Sentence] = []
    words = list(re.finditer(r"\S+", sentence.text))
    lo = 0
    while lo < len(words):
        hi = lo + 1
        while hi < len(words):
            s, e = words[lo].start(), words[hi].end()
            if not _fits([(None, Sentence(sentence.text[s:e], 0, 0))], header, budget):  # type: ignore[list-item]
                break
            hi += 1
        s, e = words[lo].start(), words[hi - 1].end()
        pieces.append(Sentence(sentence.text[s:e], sentence.start + s, sentence.start + e))
        lo = hi
    return pieces


def _make_chunk(
    doc: Document,
    header: str,
    run: list[tuple[Segment, Sentence]],
    budget: Budget,
    titles: dict[str, int | None],
) -> Chunk:
    seg = run[0][0]
    text = chunk_text(doc.text, run)
    start, end = run[0][1].start, run[-1][1].end
    digest = hashlib.sha1(f"{doc.source}\x00{start}\x00{end}\x00{text}".encode()).hexdigest()[:10]
    stem = re.sub(r"[^a-z0-9]+", "-", doc.source.lower().rsplit(".", 1)[0]).strip("-")
    loc = seg.location
    place = f"s{loc.slide}" if loc.slide is not None else f"p{loc.page}" if loc.page else "d"
    return Chunk(
        chunk_id=f"{stem}-{place}-{digest}",
        location=loc,
        doc_title=doc.title,
        text=text,
        start=start,
        end=end,
        embed_text=f"{header}\n{text}",
        sentences=tuple(s for _, s in run),
        n_tokens=budget.count_tokens(text),
        n_model_tokens=budget.count_model_tokens(f"{header}\n{text}"),
        navigational=_is_contents_list([s for _, s in run], titles, loc.slide),
        cells=_is_cells(run),
    )


MAX_CELL_WORDS = 12
"""A table cell names a thing ("Microsoft Online Services purchasing - comparing CSP and EA");
a segment longer than this is prose, even alone."""


def _is_cells(run: Sequence[tuple[Segment, Sentence]]) -> bool:
    """Every sentence is a segment of its own, a few words long: table cells, not prose."""
    return (
        len(run) >= 2
        and len({id(seg) for seg, _ in run}) == len(run)
        and all(len(s.text.split()) <= MAX_CELL_WORDS for _, s in run)
    )


def _part_titles(doc: Document) -> dict[str, int | None]:
    """Normalised titles and scenario names of the document's parts -> their slide."""
    out: dict[str, int | None] = {}
    for part in doc.parts:
        for name in (part.title, part.scenario):
            if name:
                out[_norm(name)] = part.slide
    return out


def _is_contents_list(sentences: Sequence[Sentence], titles: dict[str, int | None], slide: int | None) -> bool:
    """Most sentences name other parts of the document: a table of contents."""
    named = sum(1 for s in sentences if titles.get(_norm(s.text), slide) != slide)
    return len(sentences) >= 2 and named * 2 >= len(sentences)


def part_names(parts: Iterable[Part]) -> frozenset[str]:
    """The parts' titles and scenario names (those :func:`_part_titles` reads), as
    :func:`contents_entries` matches them."""
    return frozenset(_norm(name) for part in parts for name in (part.title, part.scenario) if name)


def contents_entries(chunk: Chunk, names: frozenset[str]) -> tuple[Sentence, ...]:
    """The sentences of a contents-list chunk (``navigational``) that name a part of the
    document (:func:`part_names`), in document order; () for any other chunk."""
    if not chunk.navigational:
        return ()
    return tuple(s for s in chunk.sentences if _norm(s.text) in names)


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".:;")
