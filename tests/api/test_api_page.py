"""GET / and /static/: one offline page, its files with the right types, nothing else."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import anyio
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api.app import create_app
from api.page import ASSETS, INDEX_HTML, STATIC_DIR
from rag.config import ServerConfig, Settings

REPO_FILE_MARKERS = ("def create_app", "import ", "[build-system]", "root:")
"""Text of files outside the static folder; none may appear in a /static response."""


@pytest.fixture
def client(pipeline, tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    settings = replace(Settings(), data_dir=tmp_path / "data", server=replace(ServerConfig(), rate_limit_per_minute=0))
    with TestClient(create_app(settings, pipeline), raise_server_exceptions=False) as started:
        yield started


class PageParser(HTMLParser):
    """Every tag with its attributes, and the text inside <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def test_the_page_is_html_with_a_strict_content_security_policy(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "<h1" in r.text and 'id="question"' in r.text


def test_the_page_references_no_other_host(client):
    page = parse(client.get("/").text)
    references = [
        value
        for _, attrs in page.tags
        for name, value in attrs.items()
        if name in {"src", "href", "action", "srcset", "poster", "data"} and value
    ]
    assert references, "the parser found no references at all"
    for value in references:
        assert not re.match(r"(?i)^\s*(https?:)?//", value), value
    css = (STATIC_DIR / "page.css").read_text(encoding="utf-8")
    assert "@import" not in css
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", css)
    for name in ASSETS:
        if name.endswith(".js"):
            text = (STATIC_DIR / name).read_text(encoding="utf-8")
            assert not re.search(r"['\"`](https?:)?//", text), name


def test_the_page_has_no_inline_script_style_or_handler(client):
    page = parse(client.get("/").text)
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert scripts and all(attrs.get("src") for attrs in scripts)
    assert "".join(page.script_text).strip() == ""
    for tag, attrs in page.tags:
        assert tag != "style"
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        assert not (attrs.get("href") or "").lower().startswith("javascript:")


def test_every_asset_the_page_uses_is_served_with_its_type(client):
    page = parse(client.get("/").text)
    used = {
        value
        for _, attrs in page.tags
        for name, value in attrs.items()
        if name in {"src", "href"} and value and value.startswith("/static/")
    }
    assert {"/static/page.css", "/static/page.js"} <= used
    for path in used:
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].split(";")[0] == ASSETS[path.removeprefix("/static/")]


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_static_files_have_the_right_content_type(client, name):
    r = client.get(f"/static/{name}")
    assert r.status_code == 200
    expected = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}[name.rsplit(".", 1)[1]]
    assert r.headers["content-type"].split(";")[0] == expected
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.content == (STATIC_DIR / name).read_bytes()


def test_the_asset_list_matches_the_folder():
    on_disk = {p.name for p in STATIC_DIR.iterdir()}
    assert on_disk == set(ASSETS) | {INDEX_HTML}


def test_every_module_import_is_a_served_asset():
    for name in ASSETS:
        if name.endswith(".js"):
            text = (STATIC_DIR / name).read_text(encoding="utf-8")
            for target in re.findall(r"""from\s+["']\./([^"']+)["']""", text):
                assert target in ASSETS, (name, target)


def test_scripts_never_parse_html():
    """Text from the API must enter the page as text: no HTML-parsing sinks in the scripts."""
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|srcdoc")
    for name in ASSETS:
        if name.endswith(".js"):
            assert not sinks.search((STATIC_DIR / name).read_text(encoding="utf-8")), name


def test_the_question_in_the_url_is_not_reflected_by_the_server(client):
    plain = client.get("/").text
    assert client.get("/", params={"q": "<script>alert(1)</script>"}).text == plain


def test_an_unknown_static_file_is_a_404_in_the_error_shape(client):
    r = client.get("/static/nope.js")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert client.get(f"/static/{INDEX_HTML}").status_code == 404  # the page has one address: /


def asgi_get(app: Any, raw_path: bytes) -> tuple[int, bytes]:
    """Send ``raw_path`` to the app exactly as a server would, without any client normalising it.

    uvicorn puts the percent-decoded path in ``path`` and the bytes as sent in ``raw_path``.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote_to_bytes(raw_path).decode("utf-8", errors="replace"),
        "raw_path": raw_path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def call() -> None:
        await app(scope, receive, send)

    anyio.run(call)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


TRAVERSALS = [
    b"/static/../app.py",
    b"/static/../../pyproject.toml",
    b"/static/../api/app.py",
    b"/static/%2e%2e/app.py",
    b"/static/%2e%2e/%2e%2e/pyproject.toml",
    b"/static/..%2fapp.py",
    b"/static/..%2f..%2fpyproject.toml",
    b"/static/%2e%2e%2fpage.py",
    b"/static/%2E%2E%5Capp.py",
    b"/static/.%2e/feedback.py",
    b"/static//etc/passwd",
    b"/static/%2fetc%2fpasswd",
    b"/static/page.css/../../app.py",
    b"/static/page.css%00.py",
    b"/static/",
    b"/static",
]


@pytest.mark.parametrize("raw_path", TRAVERSALS, ids=[p.decode() for p in TRAVERSALS])
def test_no_file_outside_the_static_folder_is_served(client, raw_path):
    status, body = asgi_get(client.app, raw_path)
    assert status == 404, (raw_path, status)
    text = body.decode("utf-8", errors="replace")
    for marker in REPO_FILE_MARKERS:
        assert marker not in text, (raw_path, marker)


def test_the_raw_request_helper_does_reach_static_files(client):
    """Control for the test above: the same helper gets 200 for a real asset, however spelled."""
    for raw_path in (b"/static/page.css", b"/static/%70age.css"):
        status, body = asgi_get(client.app, raw_path)
        assert status == 200, raw_path
        assert body == (STATIC_DIR / "page.css").read_bytes()


OTHER_TRAVERSALS = [
    b"/schema/swagger-assets/../../app.py",
    b"/schema/swagger-assets/%2e%2e/%2e%2e/pyproject.toml",
    b"/schema/swagger-assets/..%2f..%2fapi%2fapp.py",
    b"/schema/swagger-assets/..%2f__init__.py",
    b"/schema/swagger-assets/%2e%2e%5c__init__.py",
    b"/schema/swagger-assets/index.html",  # in the package, but not one of the served assets
    b"/schema/swagger-assets/swagger-ui.css%00.py",
    b"/schema/swagger-assets/",
    b"/schema/..%2f..%2fpyproject.toml",
    b"/schema/swagger-init.js/../../app.py",
    b"/..%2fpyproject.toml",
    b"/static%2f..%2fapp.py",
    b"//etc/passwd",
]


@pytest.mark.parametrize("raw_path", OTHER_TRAVERSALS, ids=[p.decode() for p in OTHER_TRAVERSALS])
def test_no_file_outside_the_served_assets_is_served_by_any_route(client, raw_path):
    """The docs assets and the root are file-serving routes too: same spellings, same answer."""
    status, body = asgi_get(client.app, raw_path)
    assert status == 404, (raw_path, status)
    text = body.decode("utf-8", errors="replace")
    for marker in (*REPO_FILE_MARKERS, "swagger_ui", "SwaggerUIBundle"):
        assert marker not in text, (raw_path, marker)
