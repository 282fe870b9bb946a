"""The sellers' page: ``GET /`` and its files under ``/static/``.

One HTML file, one stylesheet and a few ES modules from ``api/static/``: no build step,
no template, nothing fetched from another host (the service runs offline). The page is
a client of the ``/v1`` API like any other, so it needs no server-side state.

Only the files named in :data:`ASSETS` are served, each with a fixed content type; any
other name under ``/static/`` (``..`` in any spelling included) is a 404 without the
file system ever being asked. The page is sent with a Content-Security-Policy that
allows scripts, styles and connections to this origin only: the JavaScript lives in
files, with no inline scripts or event-handler attributes, so the policy costs nothing.
"""

from __future__ import annotations

from pathlib import Path

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import File

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX_HTML = "index.html"

ASSETS = {
    "page.css": "text/css",
    "page.js": "text/javascript",
    "client.js": "text/javascript",
    "highlight.js": "text/javascript",
    "render.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
"""Every file served under ``/static/`` and its content type (a test checks this list
against the folder). Litestar adds ``charset=utf-8`` to the ``text/*`` types."""

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time (cheap: ETag/Last-Modified), so an upgrade is seen at once.
    "Cache-Control": "no-cache",
}
PAGE_HEADERS = {**COMMON_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY}


@get("/", include_in_schema=False)
async def index_page() -> File:
    """The page; ``/?q=...`` is read by the page's script, which then asks the question."""
    return File(
        STATIC_DIR / INDEX_HTML,
        filename=INDEX_HTML,
        media_type="text/html",
        content_disposition_type="inline",
        headers=PAGE_HEADERS,
    )


@get("/static/{name:str}", include_in_schema=False)
async def static_file(name: FromPath[str]) -> File:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFoundException()
    return File(
        STATIC_DIR / name,
        filename=name,
        media_type=media_type,
        content_disposition_type="inline",
        headers=COMMON_HEADERS,
    )


PAGE_ROUTES: list[HTTPRouteHandler] = [index_page, static_file]
