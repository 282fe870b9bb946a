"""Typed, frozen records passed between the stages of the pipeline.

``Document -> Segment -> Chunk -> Index (+ Manifest) -> Passage -> Answer``

Where a piece of text came from is one record, :class:`Location` (document, slide or
page, title, section): a format reader gives each :class:`Segment` one, the chunks made
from the segment carry it, and the answer's :class:`Citation` of a chunk carries the
chunk's. (:class:`Chunk` also offers its location's fields under their old names, for
compatibility; segments and citations are read through ``.location`` only.)

Everything here is stdlib-only and JSON-serialisable through :func:`to_dict`, so
the records can be written to disk, compared in tests and mapped to the wire
types of the HTTP API without dragging a framework into the core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Place = tuple[str, int | None, int | None]
"""(source, slide, page): one slide or page of a document."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where a piece of text is in the corpus: what a citation is only as good as.

    In JSON (:func:`to_dict`) its fields are written flat, as fields of the record that
    carries it: that is the shape of ``chunks.jsonl`` in the index and of the CLI's output.
    """

    source: str
    """The document's path relative to the corpus folder (POSIX separators)."""
    slide: int | None
    page: int | None
    title: str
    """The slide's or page's title (a plain document's own title)."""
    section: str | None

    @property
    def place(self) -> Place:
        return (self.source, self.slide, self.page)


@dataclass(frozen=True, slots=True)
class Segment:
    """A contiguous piece of a document's text with its place in the document.

    ``start``/``end`` are character offsets into :attr:`Document.text`, so
    ``document.text[start:end] == text`` always holds.
    """

    location: Location
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Part:
    """One slide (or page) of a document: the unit a citation points at."""

    slide: int | None
    page: int | None
    title: str
    scenario: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded corpus file: cleaned text plus its structure.

    ``source`` is the path relative to the corpus folder (POSIX separators);
    ``sha256`` hashes the raw file bytes and keys incremental/stale checks.
    """

    source: str
    title: str
    text: str
    sha256: str
    segments: tuple[Segment, ...]
    parts: tuple[Part, ...]
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A document as listed for browsing: its slides or pages with their titles and text."""

    source: str
    title: str
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence (or recovered bullet) of a chunk; ``start``/``end`` index the document text."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable unit: never crosses a slide, follows one section.

    ``text`` is exactly ``document.text[start:end]``; ``embed_text`` adds a short
    contextual header (document title, slide title, section) for the embedder.
    """

    chunk_id: str
    location: Location
    doc_title: str
    text: str
    start: int
    end: int
    embed_text: str
    sentences: tuple[Sentence, ...]
    n_tokens: int
    n_model_tokens: int
    navigational: bool = False
    """The chunk mostly lists other slides' titles (a table of contents): it points at
    guidance rather than giving it, so retrieval ranks it below the slides it names."""
    cells: bool = False
    """Each of its sentences is a piece of text of its own, a few words long: the cells of a
    table ("Partner Solution Finder", "Partner Co-sell Portal"), each naming one thing."""

    # Compatibility: the location's fields, readable as the chunk's own (as they were before
    # Location), for the many readers written before it (retrieval, answering, the CLI, the
    # evaluation, tests). Read-only; new code reads ``chunk.location``. Segment and Citation
    # have no such properties.
    @property
    def source(self) -> str:
        """Compatibility alias of ``location.source``."""
        return self.location.source

    @property
    def slide(self) -> int | None:
        """Compatibility alias of ``location.slide``."""
        return self.location.slide

    @property
    def page(self) -> int | None:
        """Compatibility alias of ``location.page``."""
        return self.location.page

    @property
    def title(self) -> str:
        """Compatibility alias of ``location.title``."""
        return self.location.title

    @property
    def section(self) -> str | None:
        """Compatibility alias of ``location.section``."""
        return self.location.section


SectionKey = tuple[str, int | None, int | None, str | None]
"""(source, slide, page, section): chunks with the same key are one section of one slide."""


def section_key(chunk: Chunk) -> SectionKey:
    loc = chunk.location
    return (loc.source, loc.slide, loc.page, loc.section)


def place_of(chunk: Chunk) -> Place:
    return chunk.location.place


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an index was built from; checked on load against settings and corpus."""

    format_version: int
    index_version: str
    model_name: str
    model_sha256: str
    dimension: int
    tokenizer: str
    chunking: Mapping[str, Any]
    files: Mapping[str, str]
    n_documents: int
    n_chunks: int
    n_sentences: int
    index_type: str
    built_at: str
    build_seconds: float
    artifacts: Mapping[str, str] = field(default_factory=dict)
    """``{file name: sha256}`` of every artifact of the build, checked on load."""


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk as retrieved for one question, with its fused score and rank (1-based)."""

    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None
    lexical_score: float | None
    sentence_score: float | None = None
    """Cosine between the question and the chunk's closest sentence: the evidence that the
    guidance says the thing asked (what abstention is decided on)."""


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a piece of the answer came from: ``n`` matches the ``[n]`` marker."""

    n: int
    chunk_id: str
    location: Location
    quote: str
    score: float


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome for one question: cited text, or an abstention with suggestions."""

    question: str
    text: str
    abstained: bool
    confidence: float
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    suggestions: tuple[str, ...]
    index_version: str
    timing_ms: Mapping[str, float]
    context_turn: int | None = None
    """For a question asked in a thread: the 0-based index in its history of the earlier turn
    it was read with (a follow-up), or None when it was answered on its own."""


@dataclass(frozen=True, slots=True)
class Turn:
    """An earlier turn of a thread: its question and the chunk ids its answer cited."""

    question: str
    chunk_ids: tuple[str, ...] = ()


def to_dict(record: Any) -> Any:
    """Turn a record (or nested records) into plain JSON-ready data; a :class:`Location`
    a record carries becomes fields of that record."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(record):
            value = getattr(record, f.name)
            if isinstance(value, Location):
                out.update(to_dict(value))
            else:
                out[f.name] = to_dict(value)
        return out
    if isinstance(record, Mapping):
        return {str(k): to_dict(v) for k, v in record.items()}
    if isinstance(record, list | tuple):
        return [to_dict(v) for v in record]
    return record


def chunk_from_dict(data: Mapping[str, Any]) -> Chunk:
    """The chunk :func:`to_dict` turned into ``data`` (its location's fields among its own)."""
    own = dict(data)
    location = Location(**{f.name: own.pop(f.name) for f in dataclasses.fields(Location)})
    sentences = tuple(Sentence(**s) for s in own.pop("sentences"))
    return Chunk(location=location, sentences=sentences, **own)
