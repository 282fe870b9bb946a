"""``/v1/admin``: rebuild the index and swap it in, for maintainers.

Needs an admin key (``RAG_ADMIN_KEYS``), sent like an API key; without admin keys
configured the endpoints refuse every call (403), so a service is never open to
reindexing by accident.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers import BaseRouteHandler

from api.context import context_of
from api.errors import ApiError, error_specs


class ReindexRequest(msgspec.Struct, forbid_unknown_fields=True):
    force: bool = False
    """Rebuild even when the corpus and settings are unchanged."""


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    context = context_of(connection.app.state)
    if not context.admin_keys.enabled:
        raise ApiError(403, "forbidden", "admin endpoints are disabled: set RAG_ADMIN_KEYS to enable them")
    context.admin_keys.identify(connection.headers)


@post("/reindex", status_code=202, summary="Rebuild the index in the background and swap it in",
      responses=error_specs(401, 403, 409, 503))
async def reindex(request: Request[Any, Any, Any], state: State) -> dict[str, Any]:
    context = context_of(state)
    context.readiness.service()  # 503 while the first load is still running
    raw = await request.body()
    try:
        body = msgspec.json.decode(raw, type=ReindexRequest) if raw.strip() else ReindexRequest()
    except msgspec.DecodeError as exc:
        raise ApiError(422, "invalid_request", f"invalid reindex request: {exc}") from exc
    if not context.reindexer.start(reason="admin request", force=body.force):
        raise ApiError(409, "reindex_running", "a reindex is already running: poll GET /v1/admin/reindex")
    return context.reindexer.status.to_dict()


@get("/reindex", summary="Status of the last reindex", responses=error_specs(401, 403))
async def reindex_status(state: State) -> dict[str, Any]:
    context = context_of(state)
    return context.reindexer.status.to_dict() | {
        "serving_index_version": context.readiness.pipeline.manifest.index_version
        if context.readiness.pipeline else None
    }


def admin_router() -> Router:
    return Router(path="/v1/admin", route_handlers=[reindex, reindex_status], guards=[admin_only], tags=["admin"])
