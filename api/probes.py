"""Open endpoints for operators: liveness, readiness and Prometheus metrics.

They need no API key and are not rate limited: a probe must not be locked out by the
traffic it is watching. ``/metrics`` shows counts, latencies and the index version,
never questions or keys.
"""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State

from api.context import context_of
from api.errors import error_specs
from api.mapping import ready_response
from api.metrics import CONTENT_TYPE
from api.schemas import HealthResponse, ReadyResponse


@get("/healthz", summary="Liveness: the process answers", tags=["operations"])
async def healthz() -> HealthResponse:
    return HealthResponse(status="ok")


@get(
    "/readyz",
    summary="Readiness: 200 once the index and model are loaded, 503 before",
    tags=["operations"],
    responses=error_specs(503),
)
async def readyz(state: State) -> ReadyResponse:
    service = context_of(state).readiness.service()  # raises the 503 while loading or failed
    return ready_response(service.manifest)


@get("/metrics", summary="Prometheus metrics (text exposition format)", tags=["operations"], media_type=CONTENT_TYPE)
async def metrics(state: State) -> Response[bytes]:
    return Response(context_of(state).metrics.render(), media_type=CONTENT_TYPE)


PROBES = [healthz, readyz, metrics]
