"""Search in the PostgreSQL store: pgvector HNSW for the dense side, BM25 in SQL for the lexical side.

Both read one version's tables through :class:`rag.pg_store.Database` (this module does not
import psycopg). The lexical side returns each candidate's vector with its score and keeps it,
so retrieval's cosine of a chunk that only BM25 found costs no second query.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from rag.batching import LRU
from rag.errors import IndexCorruptError
from rag.lexical import analyse
from rag.synonyms import Synonyms

if TYPE_CHECKING:
    from rag.pg_store import Database

INDEX_TYPE = "pgvector-hnsw-ip"
VECTOR_CACHE = 4096
"""Chunk vectors a version keeps from lexical candidates (about 6 MB of 384-d vectors)."""


def vector_literal(v: np.ndarray) -> str:
    """pgvector's text form; ``repr`` of each float32 (as a double) parses back to the same float32."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(v, dtype=np.float32).ravel()) + "]"


def vector_from_binary(data: bytes) -> np.ndarray:
    """pgvector's binary form: int16 dimension, int16 unused, then big-endian float32s."""
    return np.frombuffer(data, dtype=">f4", offset=4).astype(np.float32)



class PgDenseIndex:
    """pgvector HNSW search over one version's chunk vectors (cosine = inner product)."""

    def __init__(self, db: Database, table: str, dimension: int, size: int,
                 cache: LRU[int, np.ndarray] | None = None) -> None:
        self._db = db
        self._table = table
        self._dimension = dimension
        self._size = size
        self._cache: LRU[int, np.ndarray] = cache if cache is not None else LRU(VECTOR_CACHE)
        self._search_sql = (f'SELECT row, -(embedding <#> %(q)s::vector) FROM "{table}" '
                            "ORDER BY embedding <#> %(q)s::vector LIMIT %(k)s")

    kind = INDEX_TYPE

    @property
    def size(self) -> int:
        return self._size

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """``(row, cosine)`` of the ``k`` nearest rows, best first (approximate: HNSW)."""
        if self._size == 0:
            return []
        rows = self._db.read(self._search_sql, {"q": vector_literal(query), "k": min(k, self._size)})
        return [(int(r), float(s)) for r, s in rows]

    def vector(self, row: int) -> np.ndarray:
        cached = self._cache.get(int(row))
        if cached is not None:
            return cached
        found = self._db.read(f'SELECT embedding FROM "{self._table}" WHERE row = %s', (int(row),))
        if not found:
            raise IndexCorruptError(f"{self._table} has no row {row}: run `rag index`")
        vector = vector_from_binary(found[0][0])
        self._cache.put(int(row), vector)
        return vector

    def vectors(self) -> np.ndarray:
        rows = self._db.read(f'SELECT embedding FROM "{self._table}" ORDER BY row')
        if not rows:
            return np.zeros((0, self._dimension), np.float32)
        return np.stack([vector_from_binary(r[0]) for r in rows])


class PgLexicalIndex:
    """BM25 in SQL over one version's stored term weights: the same scores as bm25s."""

    def __init__(self, db: Database, terms_table: str, dense_table: str, synonyms: Synonyms,
                 cache: LRU[int, np.ndarray]) -> None:
        self._db = db
        self._synonyms = synonyms
        self._cache = cache
        # The k best by the sum of the question's terms' weights (each as often as the question
        # has it), ties by row, as LexicalIndex.search; with each one's vector for the cache.
        self._sql = (
            "WITH q(term, n) AS (SELECT * FROM unnest(%(terms)s::text[], %(counts)s::integer[])), "
            f'best AS (SELECT t.row, sum(t.weight::float8 * q.n) AS score FROM "{terms_table}" t '
            "JOIN q USING (term) GROUP BY t.row ORDER BY score DESC, t.row LIMIT %(k)s) "
            f'SELECT best.row, best.score, d.embedding FROM best JOIN "{dense_table}" d USING (row) '
            "ORDER BY best.score DESC, best.row"
        )

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        counts = Counter(analyse(question, self._synonyms))
        if not counts or k <= 0:
            return []
        terms = sorted(counts)
        rows = self._db.read(self._sql, {"terms": terms, "counts": [counts[t] for t in terms], "k": k})
        found = []
        for row, score, embedding in rows:
            self._cache.put(int(row), vector_from_binary(embedding))
            if score > 0:
                found.append((int(row), float(score)))
        return found
