"""Security headers on every response: the page, the API's JSON, the docs, errors, 404s.

Wraps the whole app (like :class:`api.observe.RequestObserver`), so responses Litestar
makes before any route runs (404, 405, 413) get them too. A header a handler set itself
is kept: the page sets its own strict Content-Security-Policy (:mod:`api.page`).

- ``Content-Security-Policy``: for JSON and anything else that is not a page,
  ``default-src 'none'``: a response opened in a browser can load and run nothing. The
  docs page (Swagger UI, served from this app) gets a policy of its own: scripts, styles
  and connections to this origin only; images also as ``data:`` URIs, which Swagger UI's
  stylesheet uses for its icons.
- ``X-Content-Type-Options: nosniff``: a browser uses the declared type, never a guess.
- ``X-Frame-Options: DENY`` (and ``frame-ancestors 'none'``): no page may frame these.
- ``Referrer-Policy: no-referrer``: questions in ``/?q=`` never leak through a Referer.
- ``Permissions-Policy``: the powerful browser features the page never uses, off.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

DOCS_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone", "payment", "usb",
    )
)

COMMON = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"permissions-policy": PERMISSIONS_POLICY.encode(),
}


class SecurityHeaders:
    """ASGI middleware: add :data:`COMMON` and a Content-Security-Policy where missing."""

    def __init__(self, app: ASGIApp, docs_path: str) -> None:
        self.app = app
        self.docs_prefix = docs_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        is_docs = path == self.docs_prefix or path.startswith(self.docs_prefix + "/")
        policy = (DOCS_CSP if is_docs else API_CSP).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {bytes(k).lower() for k, _ in headers}
                headers += [(k, v) for k, v in COMMON.items() if k not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", policy))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
