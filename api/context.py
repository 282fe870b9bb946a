"""What the handlers share for the life of one app, kept in ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.datastructures import State

from api.auth import KeyRing
from api.conversations import Conversations
from api.metrics import Metrics
from api.overload import WorkGate
from api.ratelimit import RateLimiter
from api.readiness import Readiness
from api.reindex import Reindexer
from rag.config import Settings

STATE_KEY = "rag_api"


@dataclass(frozen=True, slots=True)
class ApiContext:
    """Per-app objects; built by :func:`api.app.create_app`, never at import."""

    settings: Settings
    readiness: Readiness
    metrics: Metrics
    keys: KeyRing
    limiter: RateLimiter | None
    """``None`` when ``rate_limit_per_minute`` is 0 (no limit); which callers it counts is
    decided by :func:`api.guards.rate_limit`."""
    admin_keys: KeyRing
    """Keys for ``/v1/admin``; empty means the admin endpoints refuse every call."""
    reindexer: Reindexer
    gate: WorkGate
    conversations: Conversations
    """Threads kept for callers that send a ``conversation_id``."""
    """Bounds the blocking work (pipeline calls, feedback writes) in flight."""


def context_of(state: State | Any) -> ApiContext:
    """The context stored on an app's :class:`State`."""
    context = state[STATE_KEY]
    if not isinstance(context, ApiContext):  # pragma: no cover - a wiring bug, not a user error
        raise TypeError(f"app.state[{STATE_KEY!r}] is {type(context).__name__}, not ApiContext")
    return context
