"""Litestar guards of the ``/v1`` router: API key first, then the caller's rate limit.

Guards run after routing and before the body is read, so a caller without a valid key
costs neither a body read nor a token; a rejected call raises :class:`ApiError` and
gets the one error shape from :mod:`api.errors`.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from api.context import context_of
from api.errors import ApiError
from api.ratelimit import is_loopback_address, retry_after_header

CALLER_KEY = "caller"
"""Where the caller's identity (``key:<n>`` or ``ip:<address>``) is kept in the scope state."""


def authenticate(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Identify the caller: by API key when keys are configured, else by client address."""
    context = context_of(connection.app.state)
    if context.keys.enabled:
        caller = context.keys.identify(connection.headers)
    else:
        client = connection.client
        caller = f"ip:{client.host if client else 'unknown'}"
    connection.scope["state"][CALLER_KEY] = caller


async def rate_limit(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """429 with ``Retry-After`` once the caller has used up its requests per minute.

    Every key is limited. Without keys, a caller on this machine is not, unless
    ``rate_limit_loopback`` asks for it: an anonymous loopback service answers its own
    user's apps, and one app asking quickly (an evaluation run) must not get 429s.
    """
    context = context_of(connection.app.state)
    limiter = context.limiter
    if limiter is None:
        return
    if not context.keys.enabled and not context.settings.server.rate_limit_loopback:
        client = connection.client
        if client is not None and is_loopback_address(client.host):
            return
    wait = limiter.acquire(connection.scope["state"][CALLER_KEY])
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests: retry in {retry_after_header(wait)} s",
            headers={"Retry-After": retry_after_header(wait)},
        )
