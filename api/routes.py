"""The ``/v1`` endpoints: answer, search, sources.

Handlers are thin: check the body, fetch the loaded pipeline (503 until it is), run
the blocking pipeline call in a worker thread, map the result to wire types. Errors
are raised, never returned: :mod:`api.errors` turns them into the one error shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from litestar import Request, Router, get, post
from litestar.datastructures import State
from litestar.openapi.spec import SecurityRequirement
from litestar.params import JSONBody

from api.bodies import checked_question, json_body, strict_body
from api.context import ApiContext, context_of
from api.errors import ApiError, error_specs
from api.guards import authenticate, rate_limit
from api.mapping import answer_response, search_response, sources_response, turns_of
from api.schemas import (
    AnswerRequest,
    AnswerResponse,
    SearchRequest,
    SearchResponse,
    SourcesResponse,
)
from rag.datatypes import Turn

R = TypeVar("R")


async def _run(context: ApiContext, operation: str, fn: Callable[..., R], *args: Any) -> R:
    """Run a blocking pipeline call in a worker thread through the app's :class:`~api.overload.WorkGate`
    (503 when too many are running or it takes too long), timing only the call itself."""
    metrics = context.metrics

    def timed() -> R:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            metrics.pipeline_latency.labels(operation=operation).observe(time.perf_counter() - started)

    timed.__name__ = operation
    return await context.gate.run(timed)


@post(
    "/answer",
    status_code=200,
    guards=[json_body],
    summary="Answer a question, with citations",
    description=(
        "Answers from the indexed documents only. When they do not cover the question the "
        "answer abstains (`abstained: true`) and `suggestions` lists nearby topics."
    ),
    responses=error_specs(400, 401, 404, 413, 415, 422, 429, 500, 503),
)
async def answer(request: Request[Any, Any, Any], state: State, data: JSONBody[AnswerRequest]) -> AnswerResponse:
    context = context_of(state)
    # `data` is Litestar's lenient parse (it also documents the body); the contract is strict.
    body = await strict_body(request, AnswerRequest)
    limit = context.settings.server.max_question_chars
    question = checked_question(body.question, limit)
    if body.conversation_id is not None:
        kept = context.conversations.history(body.conversation_id)
        if kept is None:
            raise ApiError(404, "conversation_not_found",
                           "no such conversation (threads are forgotten 30 minutes after their last turn): "
                           "start a new one by leaving conversation_id out")
        conversation_id = body.conversation_id
    else:
        kept, conversation_id = (), context.conversations.start()
    if body.history is not None:  # a sent history wins; kept turns were checked when they were asked
        for turn in body.history:
            checked_question(turn.question, limit)
        history = turns_of(body.history)
    else:
        history = kept
    service = context.readiness.service()
    result = await _run(context, "answer", service.answer, question, body.top_k, history)
    context.conversations.add(conversation_id, Turn(question, tuple(c.chunk_id for c in result.citations)))
    context.metrics.observe_answer(result.abstained)
    return answer_response(result, conversation_id)


@post(
    "/search",
    status_code=200,
    guards=[json_body],
    summary="Retrieve the best-matching passages",
    description="Hybrid (dense + lexical) retrieval without answering; best first.",
    responses=error_specs(400, 401, 413, 415, 422, 429, 500, 503),
)
async def search(request: Request[Any, Any, Any], state: State, data: JSONBody[SearchRequest]) -> SearchResponse:
    context = context_of(state)
    body = await strict_body(request, SearchRequest)  # see answer()
    question = checked_question(body.question, context.settings.server.max_question_chars)
    service = context.readiness.service()
    passages = await _run(context, "search", service.search, question, body.top_k)
    return search_response(passages, service.manifest.index_version)


@get(
    "/sources",
    summary="List the indexed documents with their slides or pages",
    responses=error_specs(401, 429, 500, 503),
)
async def sources(state: State) -> SourcesResponse:
    context = context_of(state)
    service = context.readiness.service()
    infos = await _run(context, "sources", service.sources)
    return sources_response(infos, service.manifest.index_version)


SECURITY_SCHEMES = ("BearerAuth", "ApiKeyAuth")


def v1_router(require_keys: bool) -> Router:
    """``/v1``: key check (when keys are configured) and rate limit on every route."""
    security: list[SecurityRequirement] | None = [{name: []} for name in SECURITY_SCHEMES] if require_keys else None
    return Router(
        path="/v1",
        route_handlers=[answer, search, sources],
        guards=[authenticate, rate_limit],
        security=security,
        tags=["v1"],
    )
