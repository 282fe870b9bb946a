"""Corpus folder -> a saved, current index: load, chunk, embed, assemble, save.

Also decides whether an index on disk is still current (:func:`build_spec` is
what the manifest is compared with).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from rag import acronyms
from rag.chunking import Budget, chunk_corpus
from rag.config import Settings
from rag.corpus import corpus_fingerprint, load_corpus_report
from rag.datatypes import SourceInfo
from rag.embedding import Embedder
from rag.errors import RagError
from rag.index import (
    BuildSpec,
    Index,
    assemble_index,
    distinct_headings,
    distinct_sentences,
    load_index,
    read_manifest,
    save_index,
    sentence_embed_text,
    sentence_key,
)
from rag.synonyms import load_synonyms
from rag.tokens import TokenCounter, load_token_counter

log = logging.getLogger(__name__)


def token_counter(settings: Settings, embedder: Embedder) -> TokenCounter:
    return load_token_counter(settings.chunking.encoding, fallback=embedder.token_counter())


def build_spec(settings: Settings, embedder: Embedder, counter: TokenCounter) -> BuildSpec:
    return BuildSpec(
        model_name=embedder.name,
        model_sha256=embedder.fingerprint,
        dimension=embedder.dimension,
        tokenizer=counter.name,
        chunking=asdict(settings.chunking) | {"max_model_tokens": embedder.max_tokens},
        files=corpus_fingerprint(settings.corpus_dir),
    )


def build_index(
    settings: Settings, embedder: Embedder, *, progress: bool = False, strict: bool = False
) -> Index:
    """Build from ``settings.corpus_dir`` and save under ``settings.index_dir``.

    Files that cannot be loaded are skipped with a warning each; ``strict`` makes
    them a :class:`~rag.errors.CorpusError` before anything is embedded.
    """
    started = time.perf_counter()
    counter = token_counter(settings, embedder)
    spec = build_spec(settings, embedder, counter)
    report = load_corpus_report(settings.corpus_dir, strict=strict)
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
    texts = [c.embed_text for c in chunks] + [t for _, t in sentences] + headings
    vectors, embedded = _embed_incrementally(texts, embedder, reusable_vectors(settings.index_dir, spec), progress)
    n_chunks, n_sentences = len(chunks), len(sentences)
    mined = acronyms.mine(d.text for d in docs)
    index = assemble_index(
        spec=spec,
        chunks=chunks,
        chunk_vectors=vectors[:n_chunks],
        sentences=sentences,
        sentence_vectors=vectors[n_chunks : n_chunks + n_sentences],
        sources=sources,
        acronyms=acronyms.load_glossary(settings.corpus_dir) | mined,
        synonyms=load_synonyms(settings.corpus_dir),
        headings=headings,
        heading_vectors=vectors[n_chunks + n_sentences :],
        exact_max_vectors=settings.index.exact_max_vectors,
        build_seconds=time.perf_counter() - started,
    )
    path = save_index(index, settings.index_dir, settings.index.keep_builds)
    log.info(
        "index %s built: %d chunks from %d file(s), %d skipped; %d of %d texts embedded (rest reused) in %.1f s",
        index.manifest.index_version, len(chunks), len(docs), len(report.skipped), embedded, len(texts),
        time.perf_counter() - started,
    )
    # the manifest as saved: with the hash of every artifact
    return replace(index, path=path, manifest=read_manifest(path))


def reusable_vectors(index_dir: Path, spec: BuildSpec) -> dict[str, np.ndarray]:
    """``{text: vector}`` from the current build when it used the same model: the embedding
    cache that makes a rebuild after a one-file change embed only that file's new texts."""
    try:
        previous = load_index(index_dir)
    except RagError:
        return {}
    m = previous.manifest
    if (m.model_name, m.model_sha256, m.dimension) != (spec.model_name, spec.model_sha256, spec.dimension):
        return {}
    cache = {c.embed_text: v for c, v in zip(previous.chunks, previous.dense.vectors(), strict=True)}
    for chunk in previous.chunks:
        for sentence in chunk.sentences:
            row = previous.sentence_rows[sentence_key(chunk.source, sentence)]
            cache.setdefault(sentence_embed_text(chunk, sentence), previous.sentence_vectors[row])
    for heading, vector in zip(previous.headings, previous.heading_vectors, strict=True):
        cache.setdefault(heading, vector)
    return cache


def _embed_incrementally(
    texts: list[str], embedder: Embedder, cache: dict[str, np.ndarray], progress: bool
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``, embedding only those not in ``cache``; returns (vectors, embedded)."""
    missing = list(dict.fromkeys(t for t in texts if t not in cache))
    if missing:
        cache = cache | dict(zip(missing, embedder.encode(missing, show_progress=progress), strict=True))
    vectors = np.stack([cache[t] for t in texts]) if texts else np.zeros((0, embedder.dimension), np.float32)
    return np.ascontiguousarray(vectors, dtype=np.float32), len(missing)
