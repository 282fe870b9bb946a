"""The lexical (BM25) side of hybrid retrieval, on top of the ``bm25s`` library.

Text is lower-cased, split into word tokens, stripped of English stop words and
stemmed (Snowball, through PyStemmer), so "billing" in a question meets "billing"
and "bill" in the guidance alike. Chunks and questions alike also get one token per
synonym group they match (:mod:`rag.synonyms`), so "discounts" meets "concessions".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.errors import DependencyError, IndexCorruptError
from rag.synonyms import Synonyms

_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")

# A short, conventional English stop list: words that carry no topic.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "i'm",
        "i've",
        "it's",
        "don't",
        "doesn't",
        "let's",
    ]
)


@lru_cache(maxsize=1)
def stemmer():  # type: ignore[no-untyped-def]
    """The English Snowball stemmer (one instance, shared)."""
    try:
        import Stemmer
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise DependencyError("PyStemmer is not installed: pip install PyStemmer") from exc
    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lower-case, split, drop stop words, stem."""
    words = [w.replace("’", "'") for w in _TOKEN.findall(text.lower())]
    kept = [w.split("'")[0] for w in words if w not in STOPWORDS]
    return [t for t in stemmer().stemWords([w for w in kept if w]) if t]


def analyse(text: str, synonyms: Synonyms) -> list[str]:
    """The lexical side's terms of a text: :func:`tokenize` plus its synonym groups' tokens."""
    return tokenize(text) + synonyms.tokens(text)


class LexicalIndex:
    """BM25 over the chunks' embedding texts (contextual header + text)."""

    def __init__(self, bm25: object, n_docs: int, synonyms: Synonyms) -> None:
        self._bm25 = bm25
        self._n_docs = n_docs
        self._synonyms = synonyms
        self._vocab: dict[str, int] = dict(getattr(bm25, "vocab_dict", {}) or {})

    @classmethod
    def build(cls, texts: list[str], synonyms: Synonyms) -> LexicalIndex:
        bm25s = _bm25s()
        model = bm25s.BM25(k1=1.2, b=0.75)
        model.index([analyse(t, synonyms) for t in texts], show_progress=False)
        return cls(model, len(texts), synonyms)

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of every chunk (row order of the index) for ``question``."""
        tokens = [t for t in analyse(question, self._synonyms) if t in self._vocab]
        if not tokens or self._n_docs == 0:
            return np.zeros(self._n_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)  # type: ignore[attr-defined]

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        """Rows and scores of the ``k`` best chunks with a positive score."""
        scores = self.scores(question)
        if not scores.size:
            return []
        k = min(k, scores.size)
        top = np.argpartition(-scores, k - 1)[:k]
        ordered = sorted(top.tolist(), key=lambda i: (-float(scores[i]), i))
        return [(i, float(scores[i])) for i in ordered if scores[i] > 0]

    def postings(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """``(term, rows, weights)`` for every term of the vocabulary: the chunks holding it and
        the BM25 weight the term adds to each chunk's score (bm25s scores eagerly, so a chunk's
        score for a question is the sum of these weights over the question's terms, a term
        counted as often as the question has it). What the PostgreSQL store keeps
        (:mod:`rag.pg_store`), so both stores rank with the very same numbers."""
        scores = getattr(self._bm25, "scores", None)
        if not scores or not self._vocab:
            return
        data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
        for term, token in self._vocab.items():
            if not term or token + 1 >= len(indptr):  # bm25s's placeholder for the empty token
                continue
            lo, hi = int(indptr[token]), int(indptr[token + 1])
            if hi > lo:
                yield term, np.asarray(indices[lo:hi], dtype=np.int64), np.asarray(data[lo:hi], dtype=np.float32)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)  # type: ignore[attr-defined]

    @classmethod
    def load(cls, folder: Path, n_docs: int, synonyms: Synonyms) -> LexicalIndex:
        bm25s = _bm25s()
        try:
            model = bm25s.BM25.load(str(folder), show_progress=False)
        except Exception as exc:
            raise IndexCorruptError(f"lexical index in {folder} cannot be read ({exc}): run `rag index`") from exc
        return cls(model, n_docs, synonyms)


def _bm25s():  # type: ignore[no-untyped-def]
    try:
        import bm25s
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise DependencyError("bm25s is not installed: pip install bm25s") from exc
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # after import: it sets its own level
    return bm25s
