"""API keys: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` on every ``/v1`` call.

Only when ``settings.server.api_keys`` is non-empty; health, readiness, metrics and
the API docs stay open. Keys are compared as SHA-256 digests with
:func:`hmac.compare_digest`, against every configured key, so neither the timing nor
the length of a guess tells anything about a key. Keys are never logged: the rest of
the API knows a caller only as ``key:<n>`` (the key's position in the configuration).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from api.errors import ApiError

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="rag"'}


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The configured keys, kept only as digests."""

    digests: tuple[bytes, ...]

    @classmethod
    def from_keys(cls, keys: Iterable[str]) -> KeyRing:
        return cls(tuple(_digest(key.encode("utf-8")) for key in keys))

    @property
    def enabled(self) -> bool:
        return bool(self.digests)

    def identify(self, headers: Mapping[str, str]) -> str:
        """The caller's identity (``key:<n>``) for a valid key; otherwise a 401."""
        presented = presented_key(headers)
        if presented is None:
            raise ApiError(
                401,
                "unauthorized",
                "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers=CHALLENGE,
            )
        # Header values arrive decoded as latin-1; re-encoding gives the bytes sent,
        # which equal the UTF-8 encoding of the configured key when they match.
        guess = _digest(presented.encode("latin-1", errors="replace"))
        match = -1
        for n, digest in enumerate(self.digests):
            if hmac.compare_digest(digest, guess):  # no early exit: time does not depend on n
                match = n
        if match < 0:
            raise ApiError(401, "unauthorized", "the API key is not valid", headers=CHALLENGE)
        return f"key:{match}"


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from ``Authorization: Bearer`` (scheme case-insensitive), else ``X-API-Key``."""
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    api_key = headers.get("x-api-key", "").strip()
    return api_key or None


def _digest(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()
