"""Synthetic embeddings for the scale run, and recall against exact search. Pure numpy.

Real sentence embeddings are not uniform on the sphere: they bunch around topics. The
generator draws ``n_centres`` Gaussian centres (standard normal coordinates) and each
vector as a centre plus Gaussian noise whose standard deviation is ``noise`` times the
centres' (0.35 by default: a vector keeps a cosine of about 0.94 with its centre, while
two centres are nearly orthogonal), then L2-normalises it like the model's output.
Vectors are generated in blocks of ``block_rows`` rows, each from its own seeded
stream, so scratch memory beyond the result stays bounded (one block) and the output
depends only on the seed and the block size.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

DIM = 384
"""all-MiniLM-L6-v2's dimension."""
N_CENTRES = 2_000
NOISE = 0.35
BLOCK_ROWS = 50_000
"""Rows generated at a time: 50,000 x 384 float32 is 77 MB of scratch."""

_STREAM_VECTORS = 0
_STREAM_QUERIES = 1


def cluster_centres(*, dim: int = DIM, n_centres: int = N_CENTRES, seed: int = 0) -> np.ndarray:
    """``(n_centres, dim)`` float32 centres with standard normal coordinates."""
    rng = np.random.default_rng([seed, 7919])
    return rng.standard_normal((n_centres, dim), dtype=np.float32)


def clustered_vectors(
    n: int,
    *,
    dim: int = DIM,
    n_centres: int = N_CENTRES,
    noise: float = NOISE,
    seed: int = 0,
    block_rows: int = BLOCK_ROWS,
    stream: int = _STREAM_VECTORS,
) -> np.ndarray:
    """``(n, dim)`` float32 unit vectors around shared Gaussian centres (see the module doc)."""
    if n < 0 or dim < 1 or n_centres < 1 or block_rows < 1:
        raise ValueError(f"bad shape: n={n}, dim={dim}, n_centres={n_centres}, block_rows={block_rows}")
    centres = cluster_centres(dim=dim, n_centres=n_centres, seed=seed)
    out = np.empty((n, dim), dtype=np.float32)
    for block, lo in enumerate(range(0, n, block_rows)):
        rows = min(block_rows, n - lo)
        rng = np.random.default_rng([seed, stream, block])
        labels = rng.integers(n_centres, size=rows)
        chunk = rng.standard_normal((rows, dim), dtype=np.float32)
        chunk *= np.float32(noise)
        chunk += centres[labels]
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        out[lo : lo + rows] = chunk
    return out


def query_vectors(n: int, **kwargs: object) -> np.ndarray:
    """Queries from the same distribution as :func:`clustered_vectors` (same centres,
    different noise): realistic questions are near the corpus but not copies of it."""
    return clustered_vectors(n, stream=_STREAM_QUERIES, **kwargs)  # type: ignore[arg-type]


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, *, block_rows: int = BLOCK_ROWS) -> np.ndarray:
    """Row ids of the ``k`` largest inner products per query, best first, by brute force.

    A reference in numpy (blocks of ``block_rows`` vectors, so memory stays bounded):
    the tests check the recall helper and the FAISS ground truth against it.
    """
    n = vectors.shape[0]
    k = min(k, n)
    best_scores = np.full((queries.shape[0], 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((queries.shape[0], 0), dtype=np.int64)
    for lo in range(0, n, block_rows):
        scores = queries @ vectors[lo : lo + block_rows].T
        rows = np.broadcast_to(np.arange(lo, lo + scores.shape[1]), scores.shape)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_rows = np.concatenate([best_rows, rows], axis=1)
        top = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(all_scores, top, axis=1)
        best_rows = np.take_along_axis(all_rows, top, axis=1)
    return best_rows


WARMUP_QUERIES = 10
"""Searches run (and not timed) before the timed ones."""


def timed_searches(
    search: Callable[[np.ndarray, int], list[tuple[int, float]]], queries: np.ndarray, k: int
) -> tuple[np.ndarray, list[float]]:
    """After :data:`WARMUP_QUERIES` untimed ones, each query searched once: the rows found
    (``-1`` padding, for :func:`recall_at_k`) and each search's milliseconds."""
    for q in queries[:WARMUP_QUERIES]:
        search(q, k)
    found = np.full((len(queries), k), -1, dtype=np.int64)
    latencies = []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        hits = search(q, k)
        latencies.append((time.perf_counter() - t) * 1000)
        found[i, : len(hits)] = [row for row, _ in hits]
    return found, latencies


def recall_at_k(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean over queries of |found[:k] ∩ truth[:k]| / k (the usual ANN recall@k).

    ``found`` may hold ``-1`` for missing results (FAISS's padding); they never match.
    """
    found = np.asarray(found)
    truth = np.asarray(truth)
    if found.shape[0] != truth.shape[0]:
        raise ValueError(f"{found.shape[0]} result rows for {truth.shape[0]} queries")
    if found.shape[0] == 0:
        return float("nan")
    want_k = truth[:, :k].shape[1]  # fewer than k when the index holds fewer vectors
    if want_k == 0:
        return float("nan")
    hits = 0
    for got, want in zip(found[:, :k], truth[:, :k], strict=True):
        hits += len({int(r) for r in got if r >= 0} & {int(r) for r in want})
    return hits / (found.shape[0] * want_k)
