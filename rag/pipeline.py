"""The thin object that wires the stages: ``Pipeline.from_settings(s).answer(q)``."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from rag.answering import compose_answer, evidence, validate_question
from rag.batching import LRU, MicroBatcher, normalise_question
from rag.builder import ensure_index
from rag.chunking import contents_entries, part_names
from rag.config import Settings
from rag.corpus import check_corpus_folder
from rag.datatypes import Answer, Chunk, Manifest, Passage, Sentence, SourceInfo, Turn, place_of
from rag.embedding import Embedder, load_embedder
from rag.followup import context_of
from rag.index import Index
from rag.lexical import analyse
from rag.retrieval import Retrieval, Retriever

MODELS_DIR = "models"
"""Folder inside the index folder for exported models (the ONNX cache)."""


class Pipeline:
    def __init__(
        self, settings: Settings, index: Index, embedder: Embedder, *, batcher: MicroBatcher | None = None
    ) -> None:
        """``batcher``: the question encoder of the pipeline this one replaces, when it embeds with
        the same ``embedder`` (a replica following the shared store's versions), so a switch
        starts no new encoder threads."""
        self.settings = settings
        self.index = index
        self.embedder = embedder
        emb = settings.embedding
        self.batcher = batcher or MicroBatcher(
            embedder.encode, window=emb.batch_window_ms / 1000, max_batch=emb.max_batch, workers=emb.encode_workers,
            encode_alone=embedder.encode_alone,
        )
        self.retriever = Retriever(index, embedder, settings.retrieval, self.batcher.encode_one)
        self._answers: LRU[tuple[object, ...], Answer] = LRU(settings.answer.cache_size)
        self._terms: LRU[str, frozenset[str]] = LRU(16384)
        self._part_names = part_names(part for source in index.sources for part in source.parts)
        self._spelled: dict[str, tuple[tuple[Chunk, Sentence], ...]] = {}

    @property
    def manifest(self) -> Manifest:
        return self.index.manifest

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        batcher: MicroBatcher | None = None,
        rebuild: bool = False,
        progress: bool = False,
    ) -> Pipeline:
        """Load the model (unless given) and the index, built if missing or stale (or if
        ``rebuild``): see :func:`rag.builder.ensure_index`. A reindex passes the pipeline it
        replaces' ``embedder`` and ``batcher`` (its encoder threads), so it starts none."""
        check_corpus_folder(settings.corpus_dir)  # fail before the slow model load
        if embedder is None:
            embedder, batcher = load_embedder(settings.embedding, settings.index_dir / MODELS_DIR), None
        index = ensure_index(settings, embedder, rebuild=rebuild, progress=progress)
        return cls(settings, index, embedder, batcher=batcher)

    def search(self, question: str, k: int | None = None) -> tuple[Passage, ...]:
        q = validate_question(question, self.settings.server.max_question_chars)
        return self.retriever.search(q, k)

    def answer(self, question: str, top_k: int | None = None, history: Sequence[Turn] = ()) -> Answer:
        """The answer to ``question``; with ``history`` (the thread's earlier turns, oldest
        first) an elliptical question is read with the turn it leans on (:mod:`rag.followup`)."""
        started = time.perf_counter()
        q = validate_question(question, self.settings.server.max_question_chars)
        key = (normalise_question(q), top_k, tuple((normalise_question(t.question), t.chunk_ids) for t in history))
        cached = self._answers.get(key)
        if cached is not None:
            elapsed = (time.perf_counter() - started) * 1000
            return replace(cached, question=q, timing_ms=_rounded({"cache_hit": 1.0, "total": elapsed}))
        retrieval, used = self._retrieve_in_thread(q, top_k, history)
        t_answer = time.perf_counter()
        answer = compose_answer(
            q,
            retrieval.passages,
            retrieval.query_vector,
            self._sentence_vector,
            self.settings.answer,
            self.manifest.index_version,
            retrieval.timing_ms,
            terms=retrieval.terms,
            sentence_terms=self._sentence_terms,
            intent=retrieval.intent,
            part_sections=self._part_sections,
            contents_entries=self._contents_entries,
            spelled_out=self._spelled_out,
        )
        now = time.perf_counter()
        timing = {**answer.timing_ms, "answer": (now - t_answer) * 1000, "total": (now - started) * 1000}
        result = replace(answer, context_turn=used, timing_ms=_rounded(timing))
        self._answers.put(key, result)
        return result

    def _retrieve_in_thread(
        self, question: str, top_k: int | None, history: Sequence[Turn]
    ) -> tuple[Retrieval, int | None]:
        """The question's retrieval, and the index of the earlier turn it was read with."""
        own = self.retriever.retrieve(question, top_k)
        context = context_of(question, history)
        if context is None:
            return own, None
        cited = frozenset(place_of(c) for c in self.index.chunks_by_id(context.chunk_ids))
        cfg = self.settings
        strong = evidence(own.passages, cfg.answer.evidence_lexical_weight) >= (
            cfg.answer.min_evidence + cfg.retrieval.topic_change_evidence
        )
        if strong and own.passages and place_of(own.passages[0].chunk) not in cited:
            return own, None  # it says where it is: a change of topic
        return self.retriever.retrieve_followup(own, context.text, top_k), context.turn

    def sources(self) -> tuple[SourceInfo, ...]:
        return self.index.sources

    def _part_sections(self, chunk: Chunk) -> tuple[tuple[Chunk, ...], ...]:
        sections = self.index.part_sections.get(place_of(chunk), ())
        return tuple(tuple(self.index.chunks[r] for r in rows) for rows in sections) or ((chunk,),)

    def _spelled_out(self, term: str) -> tuple[tuple[Chunk, Sentence], ...] | None:
        """The sentences that spell out the acronym ``term`` (None: no known acronym); one
        pass over the sentences per acronym, kept (acronyms are few)."""
        acronym = term.upper()
        if acronym not in self.index.acronyms and acronym.endswith("S"):  # "what are PDMs?"
            acronym = acronym[:-1]
        expansion = self.index.acronyms.get(acronym)
        if expansion is None:
            return None
        found = self._spelled.get(acronym)
        if found is None:
            needle = expansion.lower()
            found = tuple((c, s) for c in self.index.chunks for s in c.sentences if needle in s.text.lower())
            self._spelled[acronym] = found
        return found

    def _contents_entries(self, chunk: Chunk) -> tuple[Sentence, ...]:
        return contents_entries(chunk, self._part_names)

    def _sentence_terms(self, text: str) -> frozenset[str]:
        """A guidance sentence's lexical terms: the same few hundred sentences come back in
        answer after answer, so each is analysed once (bounded, for large corpora)."""
        terms = self._terms.get(text)
        if terms is None:
            terms = frozenset(analyse(text, self.index.synonyms))
            self._terms.put(text, terms)
        return terms

    def _sentence_vector(self, source: str, sentence: Sentence) -> np.ndarray:
        row = self.index.sentence_rows[(source, sentence.start, sentence.end)]
        return self.index.sentence_vectors[row]


def _rounded(timing_ms: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in timing_ms.items()}
