"""The index lifecycle: :func:`ensure_index` gives the index for a set of settings.

Is the index on disk there and current for these settings and this corpus (its
manifest against :func:`build_spec`)? If not, build it: load, chunk, embed (only the
texts the last build did not have), assemble, save atomically beside the last good
build, which stays current if anything fails. Loading and saving themselves, and the
manifest comparison, are :mod:`rag.index`'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from rag import acronyms
from rag.chunking import CHUNKER_VERSION, Budget, chunk_corpus
from rag.config import Settings
from rag.corpus import corpus_fingerprint, load_corpus_report
from rag.datatypes import Chunk, SourceInfo
from rag.embedding import Embedder
from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.index import (
    BuildSpec,
    Index,
    SentenceKey,
    assemble_index,
    distinct_headings,
    distinct_sentences,
    sentence_embed_text,
    sentence_key,
    stale_reasons,
)
from rag.sentence_questions import QUESTIONS_FILE, SentenceQuestions, SentenceText, blend, load_questions
from rag.store import IndexStore, open_store
from rag.synonyms import load_synonyms
from rag.tokens import TokenCounter, load_token_counter

log = logging.getLogger(__name__)


def ensure_index(settings: Settings, embedder: Embedder, *, rebuild: bool = False, progress: bool = False) -> Index:
    """The index for ``settings``, loaded: the one on disk when it is current, else a new build.

    The current build under ``settings.index_dir`` is loaded (every artifact checked
    against its sha256) and kept when its manifest matches what these settings, this
    model and this corpus would build. It is rebuilt when it is missing, damaged or stale,
    or when ``rebuild`` asks for it (``rag index --force``, a forced reindex). With
    ``settings.index.auto_rebuild`` off, a missing, damaged or stale index raises instead
    (:class:`~rag.errors.IndexNotFoundError`, :class:`~rag.errors.IndexCorruptError`,
    :class:`~rag.errors.IndexMismatchError`), saying why and that `rag index` fixes it.

    A build reuses the vectors of the index it replaces for every text that did not
    change, and becomes current only once it is completely saved.

    Where builds are kept is :func:`rag.store.open_store`'s: the index folder, or the shared
    PostgreSQL store (``RAG_STORE``), where a build holds a lock that every replica's builds
    wait for, and a replica that waited uses what the other built when it is current.
    """
    store = open_store(settings)
    previous = _load_previous(settings, store, rebuild)
    counter = token_counter(settings, embedder)
    spec = build_spec(settings, embedder, counter)
    if previous is not None and not rebuild:
        reasons = stale_reasons(previous.manifest, spec)
        if not reasons:
            return previous
        if not settings.index.auto_rebuild:
            raise IndexMismatchError(
                f"index in {store.describe()} is stale: {'; '.join(reasons)}. Run `rag index` to rebuild"
            )
        log.warning("index is stale (%s); rebuilding", "; ".join(reasons))
    if not store.shared:
        return _build(settings, embedder, counter, spec, previous, progress, store)
    with store.build_lock():  # one build at a time over every replica
        if not rebuild:
            # Another replica may have built just this while we waited for the lock.
            latest = _load_previous(settings, store, rebuild)
            if latest is not None and not stale_reasons(latest.manifest, spec):
                return latest
            previous = latest if latest is not None else previous
        return _build(settings, embedder, counter, spec, previous, progress, store)


def follow_store(settings: Settings, embedder: Embedder, serving: Index) -> Index | None:
    """The shared store's current build when it is not ``serving`` (another replica switched
    a new one in), loaded whole; None while ``serving`` is current (or the store is a folder).

    Raises:
        IndexMismatchError: the new build's vectors come from another model than ``embedder``.
    """
    store = open_store(settings)
    current = store.current_version()
    if current is None or current == serving.store_version:
        return None
    index = store.load()
    m = index.manifest
    if (m.model_name, m.model_sha256, m.dimension) != (embedder.name, embedder.fingerprint, embedder.dimension):
        raise IndexMismatchError(
            f"index version {index.store_version} in {store.describe()} was built with model {m.model_name!r}, "
            f"this replica embeds questions with {embedder.name!r}: give every replica the same RAG_EMBED_MODEL"
        )
    return index


def build_index(settings: Settings, embedder: Embedder, *, progress: bool = False) -> Index:
    """A new build of ``settings.corpus_dir``, saved and made current, whatever is on disk."""
    return ensure_index(settings, embedder, rebuild=True, progress=progress)


def token_counter(settings: Settings, embedder: Embedder) -> TokenCounter:
    return load_token_counter(settings.chunking.encoding, fallback=embedder.token_counter())


def build_spec(settings: Settings, embedder: Embedder, counter: TokenCounter) -> BuildSpec:
    """What these settings, this model and this corpus build: compared with an index's manifest."""
    return BuildSpec(
        model_name=embedder.name,
        model_sha256=embedder.fingerprint,
        dimension=embedder.dimension,
        tokenizer=counter.name,
        chunking=asdict(settings.chunking) | {"max_model_tokens": embedder.max_tokens, "chunker": CHUNKER_VERSION},
        files=corpus_fingerprint(settings.corpus_dir),
    )


def _load_previous(settings: Settings, store: IndexStore, rebuild: bool) -> Index | None:
    """The current build; None when there is none, or it is damaged and may be rebuilt."""
    try:
        return store.load()
    except (IndexNotFoundError, IndexCorruptError) as exc:
        if rebuild:
            return None  # it was wanted only for its vectors
        if not settings.index.auto_rebuild:
            raise
        log.warning("%s; building a new index", exc)
        return None


def _build(
    settings: Settings,
    embedder: Embedder,
    counter: TokenCounter,
    spec: BuildSpec,
    previous: Index | None,
    progress: bool,
    store: IndexStore,
) -> Index:
    """Build from ``settings.corpus_dir`` (files that cannot be loaded are skipped with a
    warning each) and save it to ``store`` (``settings.index_dir`` unless ``RAG_STORE``)."""
    started = time.perf_counter()
    report = load_corpus_report(settings.corpus_dir)
    docs = report.documents
    budget = Budget(
        count_tokens=counter.count,
        max_tokens=settings.chunking.max_tokens,
        count_model_tokens=embedder.token_counter().count,
        max_model_tokens=embedder.max_tokens,
    )
    chunks = chunk_corpus(docs, settings.chunking, budget)
    sentences = distinct_sentences(chunks)
    sources = [SourceInfo(d.source, d.title, d.parts) for d in docs]
    headings = distinct_headings(chunks, sources)
    questions = load_questions(settings.corpus_dir)
    asked = _questions_per_sentence(chunks, [key for key, _ in sentences], questions)
    cache, blended = reusable_vectors(previous, spec)
    fresh = [(t, qs) for (_, t), qs in zip(sentences, asked, strict=True) if not qs or (t, qs) not in blended]
    texts = [c.embed_text for c in chunks] + headings + [t for t, _ in fresh] + [q for _, qs in fresh for q in qs]
    vectors, embedded = _embed_incrementally(texts, embedder, cache, progress)
    by_text = dict(zip(texts, vectors, strict=True))
    sentence_vectors = np.zeros((len(sentences), embedder.dimension), np.float32)
    for row, ((_, text), qs) in enumerate(zip(sentences, asked, strict=True)):
        if not qs:
            sentence_vectors[row] = by_text[text]
        elif (text, qs) in blended:
            sentence_vectors[row] = blended[(text, qs)]
        else:
            sentence_vectors[row] = blend(by_text[text], np.stack([by_text[q] for q in qs]))
    n_chunks, n_headings = len(chunks), len(headings)
    mined = acronyms.mine(d.text for d in docs)
    index = assemble_index(
        spec=spec,
        chunks=chunks,
        chunk_vectors=vectors[:n_chunks],
        sentences=sentences,
        sentence_vectors=sentence_vectors,
        sources=sources,
        acronyms=acronyms.load_glossary(settings.corpus_dir) | mined,
        synonyms=load_synonyms(settings.corpus_dir),
        headings=headings,
        heading_vectors=vectors[n_chunks : n_chunks + n_headings],
        questions=questions,
        exact_max_vectors=settings.index.exact_max_vectors,
        build_seconds=time.perf_counter() - started,
    )
    saved = store.save(index)
    log.info(
        "index %s built: %d chunks from %d file(s), %d skipped; %d of %d texts embedded (rest reused) in %.1f s",
        index.manifest.index_version, len(chunks), len(docs), len(report.skipped), embedded, len(texts),
        time.perf_counter() - started,
    )
    return saved


def reusable_vectors(
    previous: Index | None, spec: BuildSpec
) -> tuple[dict[str, np.ndarray], dict[tuple[str, tuple[str, ...]], np.ndarray]]:
    """What the build being replaced embedded, when it used the same model: ``{text: vector}``
    for its chunks, headings and plain sentences, and ``{(sentence text, its questions):
    vector}`` for the sentences it blended with their questions (reused only while the
    questions are the same). The embedding cache that makes a rebuild after a one-file change
    embed only that file's new texts."""
    if previous is None:
        return {}, {}
    m = previous.manifest
    if (m.model_name, m.model_sha256, m.dimension) != (spec.model_name, spec.model_sha256, spec.dimension):
        return {}, {}
    cache = {c.embed_text: v for c, v in zip(previous.chunks, previous.dense.vectors(), strict=True)}
    blended: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
    for chunk in previous.chunks:
        loc = chunk.location
        for sentence in chunk.sentences:
            vector = previous.sentence_vectors[previous.sentence_rows[sentence_key(loc.source, sentence)]]
            text = sentence_embed_text(chunk, sentence)
            asked = previous.questions.of(loc.place, sentence.text)
            if asked:
                blended.setdefault((text, asked), vector)  # a blend, not the sentence's own vector
            else:
                cache.setdefault(text, vector)
    for heading, vector in zip(previous.headings, previous.heading_vectors, strict=True):
        cache.setdefault(heading, vector)
    return cache, blended


def _questions_per_sentence(
    chunks: Sequence[Chunk], keys: Sequence[SentenceKey], questions: SentenceQuestions
) -> list[tuple[str, ...]]:
    """For each distinct sentence (in ``keys`` order), the questions the list gives it; an
    entry that names no sentence of the corpus (the deck was edited) is logged."""
    named: dict[SentenceKey, SentenceText] = {}
    for chunk in chunks:
        loc = chunk.location
        for sentence in chunk.sentences:
            named.setdefault(sentence_key(loc.source, sentence), (loc.place, sentence.text))
    gone = questions.unmatched(named.values())
    if gone:
        (source, slide, page), text = gone[0]
        where = f"slide {slide}" if slide is not None else f"page {page}" if page is not None else "its source"
        log.warning(
            "%s: %d entr%s name a sentence the corpus does not have (first: %s of %s, \"%s\"): update them",
            QUESTIONS_FILE, len(gone), "y" if len(gone) == 1 else "ies", where, source, text[:60],
        )
    return [questions.of(*named[key]) for key in keys]


def _embed_incrementally(
    texts: list[str], embedder: Embedder, cache: dict[str, np.ndarray], progress: bool
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``, embedding only those not in ``cache``; returns (vectors, embedded)."""
    missing = list(dict.fromkeys(t for t in texts if t not in cache))
    if missing:
        cache = cache | dict(zip(missing, embedder.encode(missing, show_progress=progress), strict=True))
    vectors = np.stack([cache[t] for t in texts]) if texts else np.zeros((0, embedder.dimension), np.float32)
    return np.ascontiguousarray(vectors, dtype=np.float32), len(missing)
