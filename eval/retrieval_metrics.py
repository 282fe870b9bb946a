"""Retrieval metrics of one question (pure): ``hit@k``, ``recall@k``, ``rr@k``, ``nDCG@k``.

Retrieval is scored on *slide ids* (``"csp-for-sellers.md#9"``, or any hashable id), in
retrieval order, deduplicated first-occurrence-wins: several chunks of one slide count once.
``hit@k`` (any relevant slide in the top k), ``recall@k``, reciprocal rank ``rr@k`` (its mean is
MRR) and ``ndcg@k`` with graded gains: the primary slide (listed first in the gold record)
gains 2, every other relevant slide 1, so finding the primary slide first scores best.
With no relevant slides every retrieval metric is 0.0, and :func:`eval.metrics.aggregate`
averages them over answerable questions only.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

H = TypeVar("H", bound=Hashable)


def dedupe(ids: Iterable[H]) -> tuple[H, ...]:
    """Keep the first occurrence of each id, in order."""
    return tuple(dict.fromkeys(ids))


def _top(ranked: Iterable[H], k: int) -> tuple[H, ...]:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return dedupe(ranked)[:k]


def hit_at_k(ranked: Sequence[H], relevant: Iterable[H], k: int) -> float:
    """1.0 when any relevant id is among the first ``k`` distinct ranked ids, else 0.0."""
    wanted = set(relevant)
    return 1.0 if any(doc in wanted for doc in _top(ranked, k)) else 0.0


def recall_at_k(ranked: Sequence[H], relevant: Iterable[H], k: int) -> float:
    """Distinct relevant ids among the first ``k`` / distinct relevant ids (0.0 if none)."""
    wanted = set(relevant)
    top = _top(ranked, k)
    if not wanted:
        return 0.0
    return sum(1 for doc in top if doc in wanted) / len(wanted)


def mrr_at_k(ranked: Sequence[H], relevant: Iterable[H], k: int = 10) -> float:
    """Reciprocal rank of the first relevant id within the top ``k`` (0.0 if none there).

    This is the per-question figure (``rr@k``); its mean over questions is MRR@k.
    """
    wanted = set(relevant)
    for rank, doc in enumerate(_top(ranked, k), start=1):
        if doc in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(
    ranked: Sequence[H], relevant: Sequence[H], k: int = 5, *, primary_gain: float = 2.0
) -> float:
    """Normalised DCG over the top ``k`` with linear gains and a ``log2(rank + 1)`` discount.

    ``relevant[0]`` is the primary slide and gains ``primary_gain`` (2 by default), every other
    relevant id gains 1; ``primary_gain=1`` gives plain binary nDCG. The ideal ranking puts the
    primary first, so the score is 1.0 exactly when the top ranks hold the primary slide
    followed by the other relevant slides.
    """
    if primary_gain <= 0:
        raise ValueError(f"primary_gain must be positive, got {primary_gain}")
    top = _top(ranked, k)
    wanted = dedupe(relevant)
    if not wanted:
        return 0.0
    gains = dict.fromkeys(wanted, 1.0)
    gains[wanted[0]] = primary_gain
    dcg = sum(gains.get(doc, 0.0) / math.log2(rank + 1) for rank, doc in enumerate(top, 1))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(ideal, 1))
    return dcg / idcg


def rank_of(ranked: Sequence[H], doc: H) -> int | None:
    """1-based rank of ``doc`` among the distinct ranked ids, or None if not retrieved."""
    for rank, candidate in enumerate(dedupe(ranked), start=1):
        if candidate == doc:
            return rank
    return None
