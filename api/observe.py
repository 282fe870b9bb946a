"""The outermost layer of the app: request ids, the access log line and HTTP metrics.

It wraps Litestar's whole ASGI handler (see :func:`api.app.create_app`) rather than
sitting in the route middleware stack, because Litestar raises 404 and 405 in its
router, before any route middleware runs; those requests need an id, a log line and a
count too.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import log_access
from api.metrics import Metrics

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""A client's X-Request-ID is echoed only if it is short and cannot smuggle anything
into a header or a log line; otherwise a fresh id replaces it."""


def accept_request_id(raw: bytes | None) -> str:
    """The client's id when sane, else a new random one (32 hex digits)."""
    if raw is not None:
        try:
            candidate = raw.decode("ascii")
        except UnicodeDecodeError:
            candidate = ""
        if _SANE_REQUEST_ID.fullmatch(candidate):
            return candidate
    return uuid.uuid4().hex


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


class RequestObserver:
    """ASGI middleware: give each HTTP request an id, then count, time and log it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(_header(scope, REQUEST_ID_HEADER.encode()))
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500  # what the client sees if nothing is sent (the server answers 500)
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message["headers"] = headers
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            route = scope.get("path_template")  # set by Litestar's router once a route matched
            method = str(scope.get("method", "?"))
            self.metrics.observe_request(route, method, status, seconds)
            client = scope.get("client")
            log_access(
                request_id=request_id,
                method=method,
                path=scope.get("path", ""),
                route=route,
                status=status,
                duration_ms=seconds * 1000,
                client=client[0] if client else None,
            )
