"""Question -> ranked passages, scored on what the deck is made of: scenarios, their
sections, and the words in them.

A chunk's score adds up five readings of the question, each on its own fixed scale:

- ``dense``: cosine between the question and the chunk (its header and text);
- ``heading``: cosine between the question and what the chunk's slide is about (the
  scenario's name, else the slide title), which tells the eight scenarios apart better
  than their shared vocabulary does;
- ``sentence``: cosine between the question and the chunk's closest sentence (embedded
  under the chunk's header), which finds the section that says the one thing asked;
- ``lexical``: BM25 (acronyms and synonym groups on both sides), divided by the best BM25
  score for this question, so the side that matched best reads 1;
- ``role``: a bonus when the chunk's section holds the part the question asks about
  (the partner's role, the seller's mindset: :mod:`rag.intent`);

less a fixed amount per condition the chunk's scenario states the opposite way from the
question ("the partner can't deliver it" against "…partner does support the solution",
"back to EA" against "moves from EA to CSP": :mod:`rag.conditions`), which an embedding
reads as nearly the same, and plus one where it states the partner's ability the same way.

The question is embedded once, with the guidance's wording of any seller's phrase it uses
added (:meth:`rag.synonyms.Synonyms.expand`: "discounts" -> "(concessions)"). Candidates
are the union of the nearest chunks by vector (FAISS) and the best by BM25, so a large
corpus is never scored in full. Weights were chosen on the dev gold set (``rag eval``);
see :class:`rag.config.RetrievalConfig`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from rag.acronyms import expand
from rag.batching import LRU, normalise_question
from rag.conditions import Conditions, agreements, conflicts, read_conditions
from rag.config import RetrievalConfig
from rag.datatypes import Passage
from rag.embedding import Embedder
from rag.index import Index, sentence_key
from rag.intent import Intent, Role, read_intent, section_role
from rag.lexical import analyse

_ROLE_CODES = {role: code for code, role in enumerate(Role)}


@dataclass(frozen=True)
class Retrieval:
    """Passages for a question, with what the answerer reuses: the question's vector, its
    lexical terms and its intent."""

    question: str
    query_vector: np.ndarray
    terms: frozenset[str]
    intent: Intent
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
        self._navigational = np.asarray([c.navigational for c in index.chunks], dtype=bool)
        self._role_codes = np.asarray([_ROLE_CODES[section_role(c.section)] for c in index.chunks], dtype=np.int8)
        # what each chunk's scenario states (partner can / cannot serve; toward / away from CSP)
        stated = [read_conditions(h) for h in index.headings]
        heading_of = np.asarray(index.heading_rows, dtype=np.int64)
        self._partner_can = np.asarray([c.partner_can for c in stated], dtype=np.int8).reshape(-1)[heading_of]
        self._toward_csp = np.asarray([c.toward_csp for c in stated], dtype=np.int8).reshape(-1)[heading_of]
        # each chunk's sentence rows as one flat array with offsets (CSR)
        rows = [index.sentence_rows[sentence_key(c.source, s)] for c in index.chunks for s in c.sentences]
        self._sentence_rows = np.asarray(rows, dtype=np.int64)
        self._offsets = np.cumsum([0] + [len(c.sentences) for c in index.chunks])

    def retrieve(self, question: str, k: int | None = None, *, context: str = "") -> Retrieval:
        """Passages for ``question``. A follow-up passes the earlier turn's question as
        ``context``: retrieved together with this one, while the intent (whose part, yes/no)
        stays this question's own. (Also giving a bonus to the slides that turn cited was
        measured on the dev threads and dropped: it carried a first turn's miss forward.)"""
        k = k or self._cfg.top_k
        t0 = time.perf_counter()
        asked = f"{context} {question}" if context else question
        to_embed = self.index.synonyms.expand(asked)
        key = normalise_question(to_embed)
        query = self._query_cache.get(key)
        if query is None:
            query = self._encode(to_embed)
            self._query_cache.put(key, query)
        t1 = time.perf_counter()
        intent = read_intent(question)
        lexical_question = expand(asked, self.index.acronyms)
        passages = self._rank(query, lexical_question, intent, read_conditions(asked), k)
        t2 = time.perf_counter()
        terms = frozenset(analyse(lexical_question, self.index.synonyms))
        timing = {"embed": (t1 - t0) * 1000, "search": (t2 - t1) * 1000}
        return Retrieval(question, query, terms, intent, passages, timing)

    def retrieve_followup(self, own: Retrieval, context: str, k: int | None = None) -> Retrieval:
        """A follow-up: the question read with the earlier turn's ``context`` decides where
        (the thread's scenario), and the answer is made for the question itself: its own
        reading's vector and terms (``own``) choose the sentences, so "what if they refuse?"
        is answered from the thread's scenario without repeating what the earlier turn was
        told. (On the dev threads, follow-up fact coverage 0.51 -> 0.67 at the same hit@1.
        Also ranking by a share of the question's own reading was measured and dropped: it
        raised facts a little more but lost follow-ups after a right first turn.)"""
        read = self.retrieve(own.question, k, context=context)
        return replace(read, query_vector=own.query_vector, terms=own.terms)

    def search(self, question: str, k: int | None = None) -> tuple[Passage, ...]:
        return self.retrieve(question, k).passages

    def _rank(
        self, query: np.ndarray, lexical_question: str, intent: Intent, stated: Conditions, k: int
    ) -> tuple[Passage, ...]:
        cfg = self._cfg
        depth = max(cfg.candidates, k)
        index = self.index
        lexical = dict(index.lexical.search(lexical_question, depth))
        cosines = dict(index.dense.search(query, depth))
        rows = list(dict.fromkeys([*cosines, *lexical]))
        if not rows:
            return ()
        best_lexical = max(lexical.values(), default=0.0)
        dense = np.asarray([cosines[r] if r in cosines else float(index.dense.vector(r) @ query) for r in rows])
        heading = index.heading_vectors[index.heading_rows[rows]] @ query
        sentence = self._best_sentences(rows, query)
        lex = np.asarray([lexical.get(r, 0.0) for r in rows])
        lex = lex / best_lexical if best_lexical > 0 else np.zeros(len(rows))
        role = self._role_codes[rows] == _ROLE_CODES[intent.role]
        conflict = conflicts(stated, self._partner_can[rows], self._toward_csp[rows])
        agree = agreements(stated, self._partner_can[rows])
        score = (
            cfg.dense_weight * dense
            + cfg.heading_weight * heading
            + cfg.sentence_weight * sentence
            + cfg.lexical_weight * lex
            + cfg.role_weight * role
            - cfg.navigational_penalty * (self._navigational[rows] & (not intent.overview))
            - cfg.conflict_penalty * conflict
            + cfg.agreement_bonus * agree
        )
        # best first, ties by row; a question only about the guidance itself ("what does the
        # deck cover?") has the contents list first: its words are about the deck, not in it
        contents_first = self._navigational[rows] & intent.about_the_guidance
        order = np.lexsort((np.asarray(rows), -score, ~contents_first))[:k]
        return tuple(
            Passage(
                chunk=index.chunks[rows[i]],
                score=round(float(score[i]), 6),
                rank=rank,
                dense_score=round(float(dense[i]), 6),
                lexical_score=round(lexical.get(rows[i], 0.0), 6),
                sentence_score=round(float(sentence[i]), 6),
            )
            for rank, i in enumerate(order.tolist(), start=1)
        )

    def _best_sentences(self, rows: list[int], query: np.ndarray) -> np.ndarray:
        """Per chunk row, the cosine of its closest sentence (each embedded under the chunk's
        header); 0 for a chunk without sentences."""
        starts, ends = self._offsets[rows], self._offsets[np.asarray(rows) + 1]
        sizes = ends - starts
        picked = np.concatenate([self._sentence_rows[s:e] for s, e in zip(starts, ends, strict=True)])
        if not picked.size:
            return np.zeros(len(rows))
        cosines = self.index.sentence_vectors[picked] @ query
        best = np.maximum.reduceat(cosines, np.concatenate(([0], np.cumsum(sizes)[:-1])).clip(max=picked.size - 1))
        return np.where(sizes > 0, best, 0.0)
