"""JSON request bodies: the content-type gate, the strict second look, the question rules.

Size is capped by Litestar (``request_max_body_size``, 413) when the body is read;
an undecodable body is a 400, a body that does not match the schema a 422.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import SerializationException
from litestar.handlers import BaseRouteHandler

from api.errors import ApiError
from api.schemas import AnswerRequest, SearchRequest

W = TypeVar("W", AnswerRequest, SearchRequest)


async def json_body(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the POST routes: a JSON content type (else 415), then the body, decoded once.

    The content type is checked before the body is read, so a wrong one costs nothing.
    Decoding here (Litestar caches the result for the handler's ``data``) makes every
    undecodable body a 400: Litestar itself lets invalid UTF-8 and very deep nesting
    escape as unexpected errors (500).
    """
    media_type = connection.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        shown = media_type[:100] or "none"
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type {shown!r} is not supported: send a JSON body with Content-Type: application/json",
        )
    if not isinstance(connection, Request):  # pragma: no cover - guards of HTTP routes get a Request
        return
    if not (await connection.body()).strip():
        raise ApiError(400, "bad_request", "the request body is empty: send a JSON object")
    try:
        await connection.json()
    except SerializationException as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    except UnicodeDecodeError:
        raise ApiError(400, "bad_request", "the request body is not valid UTF-8") from None
    except RecursionError:
        raise ApiError(400, "bad_request", "the JSON body is nested too deeply") from None


async def strict_body(request: Request[Any, Any, Any], wire_type: type[W]) -> W:
    """The request body converted to ``wire_type`` with msgspec's strict rules.

    Litestar has already decoded and (leniently) validated the body for the handler's
    ``data`` argument, which also documents it in the OpenAPI schema; its lenient
    conversion accepts ``"5"`` and ``5.0`` for an integer, the contract does not. The
    decoded JSON is cached on the request, so this is a conversion, not a second parse.
    """
    try:
        return msgspec.convert(await request.json(), wire_type, strict=True)
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


def checked_question(question: str, max_chars: int) -> str:
    """The question unchanged if it is not blank and within ``max_chars``; else a 422.

    The core checks again (and also refuses text without a letter or digit, e.g. ``"?!"``),
    raising :class:`~rag.errors.InvalidQuestionError`, which is a 422 as well.

    Anything else is a valid question: other scripts, emoji, markup, control characters
    and SQL-looking text are text like any other to the pipeline.
    """
    stripped = question.strip()
    if not stripped:
        raise ApiError(422, "invalid_question", "the question is blank: ask something")
    if len(stripped) > max_chars:  # counted without surrounding white space, as the core does
        raise ApiError(
            422,
            "invalid_question",
            f"the question is {len(stripped)} characters long; the limit is {max_chars}",
        )
    return question
