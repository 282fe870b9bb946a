"""Question -> ranked passages: several rankings of the chunks fused by weighted
reciprocal rank (RRF).

The rankings: the chunk's vector (FAISS, cosine) and BM25. RRF was chosen over a
weighted sum of raw scores because cosine and BM25 scores live on unrelated scales
that shift with every corpus; ranks do not, so fusion needs no per-corpus
calibration. The lexical side sees the question with its acronyms expanded (and
expansions abbreviated), so "CMAT" matches a chunk that spells it out; the dense
side embeds the question as asked.

Measured on the dev gold set (see ``rag eval``): adding rankings by each chunk's
best sentence or by its header (slide title and section) lowered hit@1, so they
are not used. Embedding the expanded question too lowered hit@3 (0.833 -> 0.778)
and citation precision (0.514 -> 0.454) while making the text to embed about a
fifth longer, so only BM25 gets the expansions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.acronyms import expand
from rag.batching import LRU, normalise_question
from rag.config import RetrievalConfig
from rag.datatypes import Passage
from rag.embedding import Embedder
from rag.index import Index

Ranking = list[tuple[int, float]]
"""(chunk row, score), best first."""


@dataclass(frozen=True)
class Retrieval:
    """Passages for a question, with the question's vector (reused to pick sentences)."""

    question: str
    query_vector: np.ndarray
    passages: tuple[Passage, ...]
    timing_ms: dict[str, float]


class Retriever:
    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        cfg: RetrievalConfig,
        encode_query: Callable[[str], np.ndarray] | None = None,
    ) -> None:
        self.index = index
        self._cfg = cfg
        self._encode = encode_query or (lambda text: embedder.encode([text])[0])
        self._query_cache: LRU[str, np.ndarray] = LRU(cfg.query_cache_size)
        self._penalty = np.asarray(
            [cfg.navigational_penalty if c.navigational else 1.0 for c in index.chunks]
        )

    def retrieve(self, question: str, k: int | None = None) -> Retrieval:
        k = k or self._cfg.top_k
        t0 = time.perf_counter()
        key = normalise_question(question)
        query = self._query_cache.get(key)
        if query is None:
            query = self._encode(question)
            self._query_cache.put(key, query)
        t1 = time.perf_counter()
        depth = max(self._cfg.candidates, k)
        lexical = self.index.lexical.search(expand(question, self.index.acronyms), depth)
        rankings = [
            (self._cfg.dense_weight, self.index.dense.search(query, depth)),
            (self._cfg.lexical_weight, lexical),
        ]
        fused = fuse(rankings, self._cfg.rrf_k, self._penalty)
        lexical_scores = dict(lexical)
        passages = tuple(
            Passage(
                chunk=self.index.chunks[row],
                score=round(score, 6),
                rank=rank,
                dense_score=round(float(self.index.dense.vector(row) @ query), 6),
                lexical_score=round(lexical_scores.get(row, 0.0), 6),
            )
            for rank, (row, score) in enumerate(fused[:k], start=1)
        )
        t2 = time.perf_counter()
        timing = {"embed": (t1 - t0) * 1000, "search": (t2 - t1) * 1000}
        return Retrieval(question, query, passages, timing)

    def search(self, question: str, k: int | None = None) -> tuple[Passage, ...]:
        return self.retrieve(question, k).passages


def fuse(rankings: Sequence[tuple[float, Ranking]], rrf_k: int, penalty: np.ndarray | None = None) -> Ranking:
    """Weighted reciprocal-rank fusion; ties broken by the first ranking, then row."""
    scores: dict[int, float] = {}
    for weight, hits in rankings:
        for rank, (row, _) in enumerate(hits, start=1):
            scores[row] = scores.get(row, 0.0) + weight / (rrf_k + rank)
    if penalty is not None:
        scores = {row: s * float(penalty[row]) for row, s in scores.items()}
    first = {row: rank for rank, (row, _) in enumerate(rankings[0][1])} if rankings else {}
    return sorted(scores.items(), key=lambda kv: (-kv[1], first.get(kv[0], len(first)), kv[0]))
