"""The sellers' page in a real headless Chromium against a real ``rag serve``.

Every request the browser makes is routed through a handler that lets only
127.0.0.1 through and records anything else; each test asserts nothing else was
attempted, that the page raised no script error, and that the console shows no
error (a CSP violation would be one) beyond the HTTP errors the test provokes.
Screenshots go to ``tests/artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.e2e.serving import ROOT, Server

pytestmark = pytest.mark.e2e

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
FEEDBACK_DB = "feedback.sqlite3"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

BILLING = "Who handles billing questions once my customer buys through a CSP partner?"
OUT_OF_SCOPE = "What is today's stock price?"
KEY = "e2e-page-key-0123456789"


@dataclass
class Tab:
    """A page plus what it tried to do that it should not have."""

    page: Any
    base_url: str
    leaked: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    expected_console: re.Pattern[str] | None = None

    def goto(self, path: str = "/") -> None:
        self.page.goto(self.base_url + path)

    def expect_failed_requests(self) -> None:
        """The test provokes HTTP errors, which Chromium logs as console errors."""
        self.expected_console = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")

    def check(self) -> None:
        assert self.leaked == [], "requests that left 127.0.0.1"
        assert self.page_errors == []
        unexpected = [m for m in self.console_errors if not (self.expected_console and self.expected_console.search(m))]
        assert unexpected == []


def open_tab(browser: Any, server: Server, viewport: dict[str, int] = DESKTOP) -> tuple[Any, Tab]:
    context = browser.new_context(viewport=viewport)
    tab = Tab(page=None, base_url=server.base_url)

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            tab.leaked.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.on("pageerror", lambda exc: tab.page_errors.append(str(exc)))
    page.on("console", lambda msg: tab.console_errors.append(msg.text) if msg.type == "error" else None)
    tab.page = page
    return context, tab


@pytest.fixture
def tab(browser: Any, server: Server) -> Iterator[Tab]:
    context, opened = open_tab(browser, server)
    try:
        yield opened
    finally:
        context.close()
    opened.check()


def ask(tab: Tab, question: str) -> None:
    page = tab.page
    page.fill("#question", question)
    page.press("#question", "Enter")
    expect(page.locator("#answer .asked q")).to_have_text(question, timeout=30_000)


def card_for_slide(page: Any, slide: int, quoting: str) -> Any:
    """The answer's card for ``slide`` whose quote contains ``quoting`` (a slide may be cited more than once)."""
    place = page.locator(".card-place", has_text=re.compile(rf"^Slide {slide}$"))
    quote = page.locator(".card-quote", has_text=quoting)
    return page.locator("#answer .card").filter(has=place).filter(has=quote)


def squash(text: str) -> str:
    return " ".join(text.split())


def question_in_url(page: Any) -> str | None:
    values = parse_qs(urlsplit(page.url).query).get("q")
    return values[0] if values else None


def feedback_rows(server: Server) -> list[dict[str, Any]]:
    with sqlite3.connect(server.data_dir / FEEDBACK_DB) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM feedback ORDER BY id")]


def send_feedback(tab: Tab, helpful: bool, comment: str) -> int:
    page = tab.page
    if helpful:
        page.get_by_label("Helpful", exact=True).check()
    else:
        page.get_by_label("Not helpful", exact=True).check()
    page.get_by_label("What was missing or wrong? (optional)").fill(comment)
    page.get_by_role("button", name="Send feedback").click()
    status = page.locator(".feedback-status")
    expect(status).to_have_text(re.compile(r"saved \(no\. \d+\)"))
    return int(re.search(r"no\. (\d+)", status.inner_text()).group(1))  # type: ignore[union-attr]


def test_a_question_gets_an_answer_with_a_card_for_slide_9(tab: Tab) -> None:
    page = tab.page
    tab.goto("/")
    expect(page.locator("#examples button.example")).to_have_count(5)
    expect(page.locator(".slide-link")).not_to_have_count(0)  # the browse panel loaded

    held: list[Any] = []
    page.route("**/v1/answer", lambda route: held.append(route))  # hold the answer until the spinner was seen
    page.fill("#question", BILLING)
    page.press("#question", "Enter")
    expect(page.locator("#spinner")).to_be_visible()
    expect(page.locator("#status-text")).to_have_text("Searching the guidance…")
    expect(page.locator("#answer")).to_have_attribute("aria-busy", "true")
    for _ in range(100):  # let the held request reach the handler
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    held[0].fallback()  # on to the loopback-only handler, then the server

    expect(page.locator("#answer-heading")).to_have_text("Answer")
    expect(page.locator("#spinner")).to_be_hidden()
    assert question_in_url(page) == BILLING
    assert page.evaluate("document.activeElement.id") == "answer-heading"
    expect(page.locator("#examples")).to_be_hidden()

    markers = page.locator("#answer .answer-text a.marker")
    expect(markers.first).to_have_text("[1]")
    assert "billing" in page.locator("#answer .answer-text").inner_text()
    card = card_for_slide(page, 9, "billing")
    expect(card).to_have_count(1)
    expect(card.locator(".card-title")).to_contain_text("Scenario 6")
    expect(card.locator(".meta")).to_contain_text("csp-for-sellers.md")
    expect(card.locator(".meta")).to_contain_text("Section")
    expect(card.locator(".card-quote")).to_contain_text("billing")


def test_a_citation_opens_its_slide_with_the_quote_marked(tab: Tab) -> None:
    page = tab.page
    tab.goto("/")
    ask(tab, BILLING)
    card = card_for_slide(page, 9, "billing")
    card_id = card.get_attribute("id")
    page.locator(f'#answer .answer-text a.marker[href="#{card_id}"]').first.click()

    expect(card.locator("details")).to_have_attribute("open", "")
    assert page.evaluate("document.activeElement.id") == card_id
    slide_text = card.locator(".slide-text")
    expect(slide_text.locator("mark").first).to_be_visible()
    assert "What should the seller do?" in slide_text.inner_text()  # the whole slide, not just the quote
    marked = squash(" ".join(slide_text.locator("mark").all_inner_texts()))
    assert "front-line customer support" in marked

    # Every card's quote is found in its slide: the marks, joined, are the quote.
    for each in page.locator("#answer .card").all():
        if each.locator("details").get_attribute("open") is None:
            each.locator("summary").click()
        expect(each.locator(".slide-text mark").first).to_be_visible()
        marks = squash(" ".join(each.locator(".slide-text mark").all_inner_texts()))
        assert marks == squash(each.locator(".card-quote").inner_text())
        expect(each.locator(".slide-body .hint")).to_have_count(0)  # no "could not be located" note


def test_an_out_of_scope_question_abstains_with_suggestions(tab: Tab) -> None:
    page = tab.page
    tab.goto("/")
    ask(tab, OUT_OF_SCOPE)
    expect(page.locator("#answer-heading")).to_have_text("Not covered by the guidance")
    expect(page.locator("#answer .abstain-text")).to_be_visible()
    expect(page.locator("#answer .card")).to_have_count(0)
    suggestions = page.locator("#answer button.suggestion")
    expect(suggestions.first).to_be_visible()
    topic = suggestions.first.inner_text()

    suggestions.first.click()  # one click asks it
    expect(page.locator("#answer .asked q")).to_have_text(topic)
    assert question_in_url(page) == topic
    assert page.locator("#question").input_value() == topic


def test_feedback_is_stored_in_sqlite(tab: Tab, server: Server) -> None:
    page = tab.page
    tab.goto("/")
    ask(tab, BILLING)
    page.get_by_role("button", name="Send feedback").click()  # nothing chosen yet
    expect(page.locator(".feedback-status")).to_have_text(re.compile("Choose"))

    comment = "Right slide, but <b>which</b> partner tier?"
    feedback_id = send_feedback(tab, helpful=False, comment=comment)
    expect(page.get_by_role("button", name="Send feedback")).to_be_disabled()
    expect(page.get_by_label("Not helpful", exact=True)).to_be_disabled()

    [row] = [r for r in feedback_rows(server) if r["id"] == feedback_id]
    assert row["question"] == BILLING
    assert row["helpful"] == 0 and row["abstained"] == 0
    assert row["comment"] == comment
    assert row["answer"] == squash(page.locator("#answer .answer-text").inner_text())
    citations = json.loads(row["citations"])
    assert 9 in {c["slide"] for c in citations}
    assert row["index_version"] == httpx.get(f"{server.base_url}/readyz", timeout=5).json()["index_version"]


def test_a_shared_link_asks_at_once_and_history_works(tab: Tab) -> None:
    page = tab.page
    tab.goto("/?" + urlencode({"q": BILLING}))
    expect(page.locator("#answer-heading")).to_have_text("Answer")
    expect(page.locator("#answer .asked q")).to_have_text(BILLING)
    expect(card_for_slide(page, 9, "billing")).to_have_count(1)
    assert page.locator("#question").input_value() == BILLING
    expect(page.locator("#examples")).to_be_hidden()

    ask(tab, OUT_OF_SCOPE)
    assert question_in_url(page) == OUT_OF_SCOPE
    page.go_back()
    expect(page.locator("#answer .asked q")).to_have_text(BILLING)
    assert page.locator("#question").input_value() == BILLING


def test_the_browse_panel_shows_a_slides_text(tab: Tab) -> None:
    page = tab.page
    tab.goto("/")
    button = page.locator(".slide-link").filter(has=page.locator(".slide-no", has_text=re.compile(r"^Slide 9$")))
    button.click()
    view = page.locator("#slide-view")
    expect(view).to_be_visible()
    expect(view.locator("h3")).to_have_text(re.compile(r"^Slide 9: Scenario 6"))
    expect(view.locator(".slide-text")).to_contain_text("What does the partner do?")
    expect(button).to_have_attribute("aria-current", "true")
    assert page.evaluate("document.activeElement.id") == "slide-view-heading"


def test_markup_in_a_question_is_shown_as_text(tab: Tab) -> None:
    page = tab.page
    tab.goto("/")
    question = '<img src="/static/x.png" onerror="window.pwned = 1"><b>renewal</b> &amp; EA'
    ask(tab, question)
    assert page.locator("#answer img, #answer .asked b").count() == 0
    assert page.evaluate("window.pwned") is None


def test_an_api_error_is_shown_with_its_message(tab: Tab, server: Server) -> None:
    tab.expect_failed_requests()
    page = tab.page
    tab.goto("/")
    question = "?!"  # no letter or digit: the core refuses it (422)
    expected = httpx.post(f"{server.base_url}/v1/answer", json={"question": question}, timeout=30).json()
    page.fill("#question", question)
    page.press("#question", "Enter")
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(expected["error"]["message"])
    expect(error).to_contain_text("Reference for support:")
    expect(page.locator("#answer")).to_be_hidden()


def test_keyboard_only(tab: Tab) -> None:
    page = tab.page
    tab.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "question"
    page.keyboard.type(BILLING)
    page.keyboard.press("Enter")
    expect(page.locator("#answer-heading")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "marker"
    page.keyboard.press("Enter")
    focused = page.locator(":focus")
    expect(focused).to_have_class("card")
    expect(focused.locator("details")).to_have_attribute("open", "")


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots_of_the_answered_page(browser: Any, server: Server, name: str, viewport: dict[str, int]) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, tab = open_tab(browser, server, viewport)
    try:
        page = tab.page
        tab.goto("/?" + urlencode({"q": BILLING}))
        expect(page.locator("#answer-heading")).to_have_text("Answer")
        page.locator("#answer .answer-text a.marker").first.click()
        expect(page.locator("#answer .card mark").first).to_be_visible()
        # Nothing wider than the screen: no sideways scrolling at phone width.
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"page-{name}.png"), full_page=True)

        tab.goto("/?" + urlencode({"q": OUT_OF_SCOPE}))
        expect(page.locator("#answer button.suggestion").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.screenshot(path=str(SCREENSHOTS / f"page-{name}-abstained.png"), full_page=True)
    finally:
        context.close()
    tab.check()
    assert (SCREENSHOTS / f"page-{name}.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def keyed_server(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server that requires an API key (reusing the session server's index)."""
    keyed = Server(
        tmp_path_factory.mktemp("keyed"),
        {"RAG_API_KEYS": KEY, "RAG_INDEX_DIR": str(server.folder / "index")},
    )
    try:
        keyed.start()
        yield keyed
    finally:
        keyed.stop()


def test_with_keys_the_page_asks_once_and_keeps_the_key_for_the_tab(browser: Any, keyed_server: Server) -> None:
    context, tab = open_tab(browser, keyed_server)
    tab.expect_failed_requests()
    sent_auth: list[str | None] = []
    try:
        page = tab.page
        page.on("request", lambda r: sent_auth.append(r.headers.get("authorization")) if "/v1/" in r.url else None)
        tab.goto("/?" + urlencode({"q": BILLING}))
        dialog = page.locator("#key-dialog")
        expect(dialog).to_be_visible()
        expect(page.locator("#key-input")).to_be_focused()
        page.fill("#key-input", "wrong-key")
        page.keyboard.press("Enter")
        expect(page.locator("#key-message")).to_contain_text("not accepted")
        page.fill("#key-input", KEY)
        page.get_by_role("button", name="Use this key").click()
        expect(dialog).to_be_hidden()
        expect(page.locator("#answer-heading")).to_have_text("Answer")
        expect(page.locator(".slide-link")).not_to_have_count(0)  # /v1/sources got the key too
        assert page.evaluate("sessionStorage.getItem('rag.apiKey')") == KEY
        assert sent_auth[-1] == f"Bearer {KEY}"

        send_feedback(tab, helpful=True, comment="")
        assert feedback_rows(keyed_server)[-1]["helpful"] == 1

        page.reload()  # same tab: the key is kept, no question asked
        expect(page.locator("#answer-heading")).to_have_text("Answer")
        expect(dialog).to_be_hidden()
    finally:
        context.close()
    tab.check()


def test_feedback_survives_a_server_restart(browser: Any, server: Server) -> None:
    """Runs last among the page tests: it replaces the session server's process."""
    context, tab = open_tab(browser, server)
    try:
        tab.goto("/?" + urlencode({"q": BILLING}))
        first = send_feedback(tab, helpful=False, comment="before the restart")
    finally:
        context.close()
    tab.check()

    server.restart()

    export = server.rag("feedback", "export")
    assert export.returncode == 0, export.stderr
    records = [json.loads(line) for line in export.stdout.splitlines()]
    [record] = [r for r in records if r["feedback_id"] == first]
    assert record["comment"] == "before the restart" and record["question"] == BILLING
    assert 9 in record["cited_slides"]

    context, tab = open_tab(browser, server)
    try:
        tab.goto("/?" + urlencode({"q": BILLING}))
        second = send_feedback(tab, helpful=True, comment="after the restart")
    finally:
        context.close()
    tab.check()
    assert second > first
    comments = {r["id"]: r["comment"] for r in feedback_rows(server)}
    assert comments[first] == "before the restart" and comments[second] == "after the restart"
