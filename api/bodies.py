"""JSON request bodies: the content-type gate, the strict second look, the question rules.

Size is capped by Litestar (``request_max_body_size``, 413) when the body is read;
an undecodable body is a 400 with :data:`UNREADABLE_BODY`, a body that does not match
the schema a 422.
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from api.errors import ApiError
from api.schemas import NOT_BLANK

W = TypeVar("W", bound=msgspec.Struct)

NOT_BLANK_RE = re.compile(NOT_BLANK)

UNREADABLE_BODY = "the request body is not valid JSON: send one JSON object, encoded as UTF-8"
"""The one message for every body the decoder cannot read (bad JSON, invalid UTF-8, nesting
deeper than the decoder allows, numbers out of range). Ours, not the decoder's: what the
decoder raises and says differs between msgspec and Litestar releases (msgspec 0.23 turned
invalid UTF-8 from ``UnicodeDecodeError`` into a ``DecodeError``), and the contract must not."""

MAX_BODY_DEPTH = 4
"""Nesting of the deepest request struct (feedback -> citations -> citation -> field)."""


async def json_body(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the POST routes: a JSON content type (else 415), then the body, decoded once.

    The content type is checked before the body is read, so a wrong one costs nothing.
    Decoding here (Litestar caches the result for the handler's ``data``) makes every
    undecodable body the same 400: left to Litestar, a body the decoder fails on in a way
    Litestar does not wrap (``RecursionError`` for deep nesting; ``UnicodeDecodeError``
    before msgspec 0.23) escapes as an unexpected error (500).
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
        await connection.json()  # the body is read (and size-checked) above: only decoding is left
    except Exception:  # whatever this release of the decoder raises for bytes it cannot read
        raise ApiError(400, "bad_request", UNREADABLE_BODY) from None


async def strict_body(request: Request[Any, Any, Any], wire_type: type[W]) -> W:
    """The request body converted to ``wire_type`` with the contract's strict rules.

    Litestar has already decoded and (leniently) validated the body for the handler's
    ``data`` argument, which also documents it in the OpenAPI schema. The decoded JSON is
    cached on the request, so this is a conversion, not a second parse.
    """
    return strict_convert(await request.json(), wire_type)


def strict_convert(value: Any, wire_type: type[W]) -> W:
    """``value`` (decoded JSON) as ``wire_type``, or a 422 that names the offending field.

    Strict, unlike Litestar's conversion: ``"5"`` is not an integer and ``"yes"`` is not a
    boolean. A number with a zero fraction (``5.0``) is an integer, though: the OpenAPI
    document's JSON Schema says so, and clients validate against that document (the
    schemathesis fuzz test found the server refusing what its own schema allows).
    """
    try:
        return msgspec.convert(_whole_floats_as_ints(value, MAX_BODY_DEPTH), wire_type, strict=True)
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


def _whole_floats_as_ints(value: Any, depth: int) -> Any:
    """``5.0`` -> ``5`` down to ``depth`` levels (deeper is not a valid body anyway)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if depth <= 0:
        return value
    if isinstance(value, dict):
        return {k: _whole_floats_as_ints(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_floats_as_ints(v, depth - 1) for v in value]
    return value


def checked_question(question: str, max_chars: int) -> str:
    """The question unchanged if it is not blank and within ``max_chars``; else a 422.

    The core checks again (and also refuses text without a letter or digit, e.g. ``"?!"``),
    raising :class:`~rag.errors.InvalidQuestionError`, which is a 422 as well.

    Anything else is a valid question: other scripts, emoji, markup, control characters
    and SQL-looking text are text like any other to the pipeline.
    """
    if not NOT_BLANK_RE.search(question):
        raise ApiError(422, "invalid_question", "the question is blank: ask something")
    stripped = question.strip()
    if len(stripped) > max_chars:  # counted without surrounding white space, as the core does
        raise ApiError(
            422,
            "invalid_question",
            f"the question is {len(stripped)} characters long; the limit is {max_chars}",
        )
    return question
