"""Corpus folder -> a saved, current index: load, chunk, embed, assemble, save.

Also decides whether an index on disk is still current (:func:`build_spec` is
what the manifest is compared with).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict

from rag import acronyms
from rag.chunking import Budget, chunk_corpus
from rag.config import Settings
from rag.corpus import corpus_fingerprint, load_corpus
from rag.datatypes import SourceInfo
from rag.embedding import Embedder
from rag.index import (
    BuildSpec,
    Index,
    assemble_index,
    distinct_sentences,
    save_index,
)
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


def build_index(settings: Settings, embedder: Embedder, *, progress: bool = False) -> Index:
    """Build from ``settings.corpus_dir`` and save under ``settings.index_dir``."""
    started = time.perf_counter()
    counter = token_counter(settings, embedder)
    spec = build_spec(settings, embedder, counter)
    docs = load_corpus(settings.corpus_dir)
    budget = Budget(
        count_tokens=counter.count,
        max_tokens=settings.chunking.max_tokens,
        count_model_tokens=embedder.token_counter().count,
        max_model_tokens=embedder.max_tokens,
    )
    chunks = chunk_corpus(docs, settings.chunking, budget)
    sentences = distinct_sentences(chunks)
    texts = [c.embed_text for c in chunks] + [t for _, t in sentences]
    vectors = embedder.encode(texts, show_progress=progress)
    n_chunks = len(chunks)
    mined = acronyms.mine(d.text for d in docs)
    index = assemble_index(
        spec=spec,
        chunks=chunks,
        chunk_vectors=vectors[:n_chunks],
        sentences=sentences,
        sentence_vectors=vectors[n_chunks:],
        sources=[SourceInfo(d.source, d.title, d.parts) for d in docs],
        acronyms=acronyms.load_glossary(settings.corpus_dir) | mined,
        exact_max_vectors=settings.index.exact_max_vectors,
        build_seconds=time.perf_counter() - started,
    )
    path = save_index(index, settings.index_dir, settings.index.keep_builds)
    log.info("index %s built: %d chunks in %.1f s", index.manifest.index_version, len(chunks), time.perf_counter() - started)
    return Index(**{**index.__dict__, "path": path})
