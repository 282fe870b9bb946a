"""Markup from a question or from a corpus file is shown as text in the page, never run.

A server indexes a copy of the corpus plus ``widgets.md``, whose title and text carry
``<img onerror>`` and ``<script>`` payloads that set ``window.__xss`` and open an alert.
The page asks questions with markup in them (typed, and in a shared ``?q=`` link), shows
the answer card quoting the file and opens the file in the browse panel. No payload may
run, no alert may open, no element may come out of the markup, and the markup must be
on screen as the characters it is.

The page is checked twice: as served (its Content-Security-Policy would block inline
scripts anyway), and with the browser ignoring CSP (``bypass_csp``), which shows the
rendering itself (text nodes, no HTML parsing) is what keeps the markup inert.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from tests.e2e.serving import ROOT, Server

pytestmark = pytest.mark.e2e

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

TITLE = """Zebra widget pricing <img src=x onerror="window.__xss='title';alert('title')">"""
WIDGETS_MD = f"""# {TITLE}

Zebra widgets are priced per seat <script>window.__xss='script';alert('script')</script> and billed monthly.
Ask the partner for a <b>bold</b> zebra quote <img src=x onerror="window.__xss='img';alert('img')"> before renewal.
"""
URL_QUESTION = "<script>window.__xss='url';alert('url')</script> how are zebra widgets priced?"
TYPED_QUESTION = """<img src=x onerror="window.__xss='typed';alert('typed')"> zebra widgets billed monthly?"""


@pytest.fixture(scope="module")
def markup_server(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Indexes the corpus plus ``widgets.md``; starts from a copy of the session server's
    index, so only the new file is embedded."""
    folder = tmp_path_factory.mktemp("markup")
    corpus, index = folder / "corpus", folder / "index"
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / "widgets.md").write_text(WIDGETS_MD, encoding="utf-8")
    index.mkdir()
    shutil.copy2(server.folder / "index" / "CURRENT", index / "CURRENT")
    shutil.copytree(server.folder / "index" / "builds", index / "builds")
    if (server.folder / "index" / "models").is_dir():
        os.symlink(server.folder / "index" / "models", index / "models")  # the ONNX export, read only
    started = Server(folder, {"RAG_CORPUS_DIR": str(corpus), "RAG_INDEX_DIR": str(index)})
    try:
        started.start()
        yield started
    finally:
        started.stop()


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "csp-bypassed"])
def test_markup_is_shown_as_text_and_never_runs(browser: Any, markup_server: Server, bypass_csp: bool) -> None:
    base = markup_server.base_url
    context = browser.new_context(bypass_csp=bypass_csp)
    dialogs: list[str] = []
    requested: list[str] = []
    page_errors: list[str] = []

    def only_loopback(route: Any) -> None:
        requested.append(urlsplit(route.request.url).path)
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        page.goto(f"{base}/?" + urlencode({"q": URL_QUESTION}))
        expect(page.locator("#answer .asked q")).to_have_text(URL_QUESTION, timeout=30_000)
        scripts = page.locator("script").count()
        card = page.locator("#answer .card").filter(has_text="widgets.md")
        expect(card.first).to_be_visible()
        expect(card.first.locator(".card-title")).to_contain_text(TITLE)

        page.fill("#question", TYPED_QUESTION)
        page.press("#question", "Enter")
        expect(page.locator("#answer .asked q")).to_have_text(TYPED_QUESTION, timeout=30_000)

        page.locator(".slide-link").filter(has_text="Zebra widget pricing").first.click()
        view = page.locator("#slide-view")
        expect(view).to_be_visible()
        expect(view.locator("h3")).to_contain_text(TITLE)
        text = " ".join(view.locator(".slide-text").inner_text().split())
        assert "<script>window.__xss='script';alert('script')</script>" in text
        assert """<b>bold</b> zebra quote <img src=x onerror="window.__xss='img';alert('img')">""" in text

        page.wait_for_timeout(300)  # give an injected handler its chance to fire
        assert page.evaluate("window.__xss") is None
        assert dialogs == []
        assert page.locator("script").count() == scripts  # no script element came out of the markup
        assert page.locator("#answer img, #answer b, #slide-view img, #slide-view b").count() == 0
        assert "/x" not in requested  # an <img src=x> would have been fetched
        assert page_errors == []
    finally:
        context.close()


def test_the_page_and_its_api_answers_carry_the_security_headers(markup_server: Server) -> None:
    """The same headers over a real socket as in the ASGI tests (tests/api/test_api_security_headers.py)."""
    for path in ("/", "/v1/sources", "/schema", "/no/such/page"):
        headers = httpx.get(markup_server.base_url + path, timeout=10).headers
        assert headers["x-frame-options"] == "DENY", path
        assert re.search(r"frame-ancestors 'none'", headers["content-security-policy"]), path
        assert headers["x-content-type-options"] == "nosniff", path
