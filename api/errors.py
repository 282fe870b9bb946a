"""Every error the API returns, mapped to one JSON shape in one place.

::

    {"error": {"status": 422, "code": "invalid_question", "message": "...", "request_id": "..."}}

:func:`error_response` is the app's only exception handler: Litestar's own HTTP errors
(404, 405, 413, malformed JSON, validation), :class:`ApiError` raised by this package,
the core's :class:`~rag.errors.RagError` tree and anything unexpected all pass through it.
Unexpected errors are logged with their traceback and answered with a generic message, so
no body ever carries a traceback or an internal detail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from api.schemas import ErrorBody, ErrorResponse
from rag.errors import IndexError_, InvalidQuestionError, RagError

log = logging.getLogger("rag.api")

CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    409: "conflict",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
"""Default ``code`` per status; :class:`ApiError` may name a more precise one."""

MAX_ECHOED_PATH = 200
"""Request paths quoted in messages and logs are cut to this length."""

_ERROR_TEXT = {
    400: "Malformed JSON.",
    401: "API key missing or wrong (only when the server has keys configured).",
    403: "Admin endpoints are disabled (no RAG_ADMIN_KEYS configured).",
    404: "No such conversation: it was never started or has been forgotten (`conversation_not_found`).",
    409: "A reindex is already running.",
    413: "Body larger than the limit (64 KiB by default).",
    415: "Content-Type is not application/json.",
    422: "Body does not match the schema, or the question is blank or too long.",
    429: "Rate limit reached: wait for Retry-After seconds.",
    500: "Unexpected server error (details in the server log, by request_id).",
    503: "The index is loading or failed to load, or the server is busy (`overloaded`, `timeout`); "
    "Retry-After says when to try again.",
}


def error_specs(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error statuses an endpoint can return (all one shape)."""
    return {
        s: ResponseSpec(data_container=ErrorResponse, description=_ERROR_TEXT[s], generate_examples=False)
        for s in statuses
    }


class ApiError(RagError):
    """An error this package raises on purpose, with the status and code the client sees.

    In the project's one tree (:mod:`rag.errors`); :func:`classify` takes it as it is,
    before any other ``RagError``.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def request_id_of(request: Request[Any, Any, Any]) -> str:
    """The id :mod:`api.observe` gave this request ("" only if that middleware is absent)."""
    return str(request.scope.get("state", {}).get("request_id", ""))


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorResponse]:
    """The app's exception handler: turn any exception into the one error shape."""
    error = classify(exc, request)
    if error.status >= 500 and not isinstance(exc, ApiError):  # ApiErrors are expected (e.g. loading)
        log.error(
            "%s %s failed (request_id=%s): %s: %s",
            request.method,
            request.url.path[:MAX_ECHOED_PATH],
            request_id_of(request),
            type(exc).__name__,
            exc,
            exc_info=exc if error.code == "internal_error" else None,
        )
    body = ErrorResponse(
        error=ErrorBody(
            status=error.status,
            code=error.code,
            message=error.message,
            request_id=request_id_of(request),
        )
    )
    return Response(body, status_code=error.status, headers=error.headers)


def classify(exc: Exception, request: Request[Any, Any, Any]) -> ApiError:
    """Decide status, code, message and headers for an exception (pure apart from ``request``)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, InvalidQuestionError):
        return ApiError(422, "invalid_question", str(exc))
    if isinstance(exc, IndexError_):
        return ApiError(503, "index_unavailable", "the index is unavailable: see the server log")
    if isinstance(exc, RagError):
        return ApiError(500, "internal_error", _generic_500())
    if isinstance(exc, HTTPException):
        return _from_http_exception(exc, request)
    return ApiError(500, "internal_error", _generic_500())


def _from_http_exception(exc: HTTPException, request: Request[Any, Any, Any]) -> ApiError:
    status = exc.status_code
    headers = {str(k): str(v) for k, v in (exc.headers or {}).items()}
    if status >= 500:
        return ApiError(status, CODES.get(status, "internal_error"), _generic_500(), headers)
    if isinstance(exc, ValidationException):
        return ApiError(422, "invalid_request", _validation_message(exc), headers)
    if isinstance(exc, NotFoundException):
        path = request.url.path[:MAX_ECHOED_PATH]
        message = f"no such endpoint: {request.method} {path} (the API is described at /schema)"
    elif isinstance(exc, MethodNotAllowedException):
        allowed = headers.get("allow") or headers.get("Allow") or "?"
        message = f"{request.method} is not allowed on {request.url.path[:MAX_ECHOED_PATH]}; allowed: {allowed}"
    elif status == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        limit = request.route_handler.resolve_request_max_body_size() if "route_handler" in request.scope else None
        message = f"request body is larger than {limit} bytes" if limit else "request body is too large"
    else:
        message = exc.detail or HTTPStatus(status).phrase
    return ApiError(status, CODES.get(status, _phrase_code(status)), message, headers)


def _validation_message(exc: ValidationException) -> str:
    """``"top_k: Expected `int` <= 20"``, one clause per problem Litestar reported."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for item in extra:
        if isinstance(item, Mapping):
            key = item.get("key")
            where = f"{key}: " if key and key != "data" else ""
            parts.append(f"{where}{item.get('message', 'invalid value')}")
    return "; ".join(parts) or "the request body does not match the schema"


def _phrase_code(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def _generic_500() -> str:
    return "internal error: the server log has the details (quote the request_id)"
