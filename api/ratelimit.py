"""Per-caller rate limiting: a token bucket per API key (or per client address).

A caller may burst up to ``per_minute`` requests, then gets one more every
``60 / per_minute`` seconds. The buckets live in the process: with several uvicorn
workers each keeps its own, so the effective limit is ``workers`` times higher.
Only the event loop touches the limiter (it is used from an async guard), so it
needs no lock.

Who is limited is decided in :func:`api.guards.rate_limit`: every key when keys are
configured; without keys, callers from other machines by address, and callers on this
machine only with ``rate_limit_loopback`` (see :class:`rag.config.ServerConfig`).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_BUCKETS = 10_000
"""Above this many callers, buckets that have refilled completely are dropped (they
carry no information), so a flood of client addresses cannot grow memory unbounded."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by caller identity."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, got {per_minute}")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, caller: str) -> float | None:
        """Take a token for ``caller``: ``None`` if allowed, else seconds until one is free."""
        now = self._clock()
        bucket = self._buckets.get(caller)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._prune(now)
            bucket = self._buckets[caller] = _Bucket(self.capacity, now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [
            caller for caller, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.capacity
        ]
        for caller in full:
            del self._buckets[caller]


def retry_after_header(wait_seconds: float) -> str:
    """``Retry-After`` in whole seconds, rounded up and at least 1."""
    return str(max(1, math.ceil(wait_seconds)))


def is_loopback_address(address: str) -> bool:
    """True for a loopback IP address (127.0.0.0/8, ``::1``, ``[::1]``, ``::ffff:127.0.0.1``).

    Anything that is not an IP address (a name, ``"unknown"``, test clients' ``"testclient"``)
    is treated as another machine: an exemption must never be granted by mistake.
    """
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback
