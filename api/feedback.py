"""``POST /v1/feedback``: a seller's verdict on an answer, stored durably.

The store is :func:`rag.feedback.open_feedback_store`'s: SQLite in WAL mode at
``settings.data_dir / FEEDBACK_DB``, or the shared PostgreSQL database when ``RAG_STORE``
is set. :class:`FeedbackSink` opens it in the app's lifespan and every write runs in a
worker thread: both block, and a write returns only once it is committed, so a 201 means
the record survives a crash of this process. A store that fails a write (the database
went away) is a 503 ``feedback_unavailable``: the client may retry, nothing was acknowledged.

The route has its own ``/v1`` router with the same guards as :func:`api.routes.v1_router`
(API key when keys are configured, then the rate limit) and the same body rules as the
other POST routes: JSON content type, strict types, unknown fields refused, sizes capped.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import anyio.to_thread
from litestar import Litestar, Request, Router, post
from litestar.datastructures import State
from litestar.openapi.spec import SecurityRequirement
from litestar.params import JSONBody

from api.bodies import checked_question, json_body, strict_body
from api.context import context_of
from api.errors import ApiError, error_specs
from api.guards import authenticate, rate_limit
from api.mapping import feedback_record, feedback_response
from api.routes import SECURITY_SCHEMES
from api.schemas import FeedbackRequest, FeedbackResponse
from rag.feedback import FeedbackError, FeedbackRecords

log = logging.getLogger("rag.api")

FEEDBACK_STATE_KEY = "rag_feedback"
"""Where the app's :class:`FeedbackSink` is kept in ``app.state``."""


class FeedbackSink:
    """The app's feedback store: opened at start-up, or on first use if that failed.

    A store that cannot be opened (unwritable ``RAG_DATA_DIR``, a corrupt file) does not
    stop the service from answering: it is logged as an error at start-up, and every
    feedback request tries again and gets a 503 while it still fails.
    """

    def __init__(self, opener: Callable[[], FeedbackRecords]) -> None:
        self._open = opener
        self._store: FeedbackRecords | None = None
        self._lock = anyio.Lock()

    @asynccontextmanager
    async def lifespan(self, _: Litestar) -> AsyncIterator[None]:
        with suppress(ApiError):  # already logged; the service still answers questions
            await self.store()
        yield

    async def store(self) -> FeedbackRecords:
        """The open store (opened now, in a worker thread, if it is not yet); else a 503."""
        if self._store is not None:
            return self._store
        async with self._lock:
            if self._store is None:
                try:
                    self._store = await anyio.to_thread.run_sync(self._open)
                except FeedbackError as exc:
                    log.error("feedback cannot be stored: %s", exc)
                    raise ApiError(
                        503,
                        "feedback_unavailable",
                        "feedback cannot be stored at the moment: the server log has the details",
                    ) from None
            return self._store


def sink_of(state: State | Any) -> FeedbackSink:
    sink = state[FEEDBACK_STATE_KEY]
    if not isinstance(sink, FeedbackSink):  # pragma: no cover - a wiring bug, not a user error
        raise TypeError(f"app.state[{FEEDBACK_STATE_KEY!r}] is {type(sink).__name__}, not FeedbackSink")
    return sink


@post(
    "/feedback",
    status_code=201,
    guards=[json_body],
    summary="Record whether an answer helped",
    description=(
        "Stores the seller's verdict (`helpful`, an optional `comment` of at most 2,000 characters) "
        "with the question, answer, citations and index version they saw. Returns the stored id once "
        "the record is committed to disk."
    ),
    responses=error_specs(400, 401, 413, 415, 422, 429, 500, 503),
)
async def submit_feedback(
    request: Request[Any, Any, Any], state: State, data: JSONBody[FeedbackRequest]
) -> FeedbackResponse:
    context = context_of(state)
    # `data` is Litestar's lenient parse (and documents the body); the contract is strict,
    # as in api.bodies.strict_convert: "yes" is not a boolean, "1" is not an integer.
    body = await strict_body(request, FeedbackRequest)
    question = checked_question(body.question, context.settings.server.max_question_chars)
    store = await sink_of(state).store()
    # Bounded like the pipeline calls, but never timed out: a 201 must mean "stored".
    try:
        saved = await context.gate.run(store.add, feedback_record(body, question), timeout=False)
    except FeedbackError as exc:
        log.error("feedback not stored: %s", exc)
        raise ApiError(503, "feedback_unavailable",
                       "feedback cannot be stored at the moment: the server log has the details") from None
    return feedback_response(saved)


def feedback_router(require_keys: bool) -> Router:
    """``/v1/feedback`` behind the same guards (and OpenAPI security) as the other ``/v1`` routes."""
    security: list[SecurityRequirement] | None = [{name: []} for name in SECURITY_SCHEMES] if require_keys else None
    return Router(
        path="/v1",
        route_handlers=[submit_feedback],
        guards=[authenticate, rate_limit],
        security=security,
        tags=["v1"],
    )
