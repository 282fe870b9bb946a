"""Set-level statistics: the nearest-rank percentile, an exact mean and a ratio.

This is the one percentile of the project: the eval's medians and latency percentiles and
every figure of ``bench/`` (which may import eval, never the other way round) come from
:func:`percentile`. Nearest rank means the figure is always an observed value (a latency
some request really had), never an interpolation between two.

Over an empty set every function here answers ``None`` (JSON ``null``) rather than a
made-up 0, 1 or NaN; callers that want NaN (``bench.stats.summarise``) say so themselves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``p``% of values at or below.

    ``values`` need not be sorted. ``p`` is in 0..100: ``p50`` of ``[1, 2, 3, 4]`` is 2,
    ``p95`` of 20 values is the 19th smallest, ``p0`` is the minimum and ``p100`` the
    maximum. None when there are no values; a ``p`` outside 0..100 raises ValueError.
    """
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be in 0..100, got {p}")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(p * len(ordered) / 100))
    return float(ordered[rank - 1])


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean with exact summation (independent of order), None when empty."""
    items = list(values)
    return math.fsum(items) / len(items) if items else None


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or None when the denominator is 0."""
    return None if denominator == 0 else numerator / denominator
