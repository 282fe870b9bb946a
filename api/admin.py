"""``/v1/admin``: rebuild the index and swap it in, for maintainers.

Needs an admin key (``RAG_ADMIN_KEYS``), sent like an API key; without admin keys
configured the endpoints refuse every call (403), so a service is never open to
reindexing by accident.

The path has its own ``OPTIONS`` handler, registered first: Litestar 2's automatic one
names only the method of the first handler registered on a path (litestar#4169, fixed
in Litestar 3), so its ``Allow`` would leave out ``GET``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post, route
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.handlers import BaseRouteHandler
from litestar.openapi.spec import Operation, RequestBody
from litestar.params import Body

from api.bodies import strict_convert
from api.context import ApiContext, context_of
from api.errors import ApiError, error_specs
from api.routes import SECURITY_SCHEMES
from api.schemas import ReindexRequest, ReindexStatusResponse


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    context = context_of(connection.app.state)
    if not context.admin_keys.enabled:
        raise ApiError(403, "forbidden", "admin endpoints are disabled: set RAG_ADMIN_KEYS to enable them")
    context.admin_keys.identify(connection.headers)


@dataclass
class OptionalBodyOperation(Operation):
    """An operation whose request body may be left out (Litestar documents every body as required)."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False


def _status(context: ApiContext) -> ReindexStatusResponse:
    serving = context.readiness.pipeline
    version = serving.manifest.index_version if serving else None
    status = context.reindexer.status.to_dict() | {"serving_index_version": version}
    return msgspec.convert(status, ReindexStatusResponse)


@post(
    "/reindex",
    status_code=202,
    summary="Rebuild the index in the background and swap it in",
    operation_class=OptionalBodyOperation,
    responses=error_specs(400, 401, 403, 409, 422, 500, 503),
)
async def reindex(
    request: Request[Any, Any, Any],
    state: State,
    data: Annotated[ReindexRequest | None, Body(description="Optional; no body means `{}`.")] = None,
) -> ReindexStatusResponse:
    context = context_of(state)
    context.readiness.service()  # 503 while the first load is still running
    raw = await request.json()  # `data` is Litestar's lenient parse (it documents the body)
    body = strict_convert(raw, ReindexRequest) if raw is not None else ReindexRequest()
    if not context.reindexer.start(reason="admin request", force=body.force):
        raise ApiError(409, "reindex_running", "a reindex is already running: poll GET /v1/admin/reindex")
    return _status(context)


@get("/reindex", summary="Status of the last reindex", responses=error_specs(401, 403, 500))
async def reindex_status(state: State) -> ReindexStatusResponse:
    return _status(context_of(state))


@route("/reindex", http_method=HttpMethod.OPTIONS, status_code=204, include_in_schema=False)
async def reindex_options() -> Response[None]:
    return Response(None, status_code=204, headers={"Allow": "GET, OPTIONS, POST"})


def admin_router() -> Router:
    """Admin keys are sent like API keys, so the same security schemes describe them."""
    return Router(
        path="/v1/admin",
        route_handlers=[reindex_options, reindex, reindex_status],  # OPTIONS first: see the module docstring
        guards=[admin_only],
        security=[{name: []} for name in SECURITY_SCHEMES],
        tags=["admin"],
    )
