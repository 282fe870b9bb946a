"""A conversation on the sellers' page, in a real Chromium against a real ``rag serve``.

A seller asks "My customer wants to move from CSP back to EA.", then "Should I tell the
partner?", then "Who do I talk to about the partner's PDM?". Every question and its answer
stay on the page in order; each follow-up is sent with the earlier turns (``history``:
their questions and the chunk ids their answers cited), and the answer read as a
follow-up says so. "New question" starts over; the conversation's link (``/?q=...&q=...``)
replays it as one conversation in a fresh browser; reload, back and forward restore it.

The tabs are those of ``test_page_e2e``: only 127.0.0.1 is reachable, and a script or
console error fails the test. Screenshots go to ``tests/artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.e2e.serving import Server
from tests.e2e.test_page_e2e import DESKTOP, PHONE, SCREENSHOTS, Tab, feedback_rows, open_tab

pytestmark = pytest.mark.e2e

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

THREAD = (
    "My customer wants to move from CSP back to EA.",
    "Should I tell the partner?",
    "Who do I talk to about the partner's PDM?",
)
NEW_TOPIC = "Who handles billing questions once my customer buys through a CSP partner?"
ANSWER_TIMEOUT_MS = 30_000


@dataclass
class AnswerCalls:
    """Every ``POST /v1/answer`` the page made: its request body and its response body."""

    calls: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.calls)

    def bodies(self) -> list[dict[str, Any]]:
        return [body for body, _ in self.calls]

    def answers(self) -> list[dict[str, Any]]:
        return [answer for _, answer in self.calls]


def record_answers(page: Any) -> AnswerCalls:
    recorded = AnswerCalls()

    def on_response(response: Any) -> None:
        if urlsplit(response.url).path == "/v1/answer" and response.request.method == "POST":
            # Read now: a reload or a navigation makes the body unavailable.
            recorded.calls.append((response.request.post_data_json, response.json()))

    page.on("response", on_response)
    return recorded


def turns(page: Any) -> Any:
    return page.locator("#thread > .turn:visible")


def ask(page: Any, question: str, expected_turns: int) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")
    expect(page.locator("#answer .asked q")).to_have_text(question, timeout=ANSWER_TIMEOUT_MS)
    expect(turns(page)).to_have_count(expected_turns)


def layout(page: Any) -> list[list[float]]:
    """Top and height, in the document, of the shown turns, the ask form and the conversation's buttons."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#thread > .turn:not([hidden]), #ask-form, #conversation')]
            .map((e) => { const r = e.getBoundingClientRect(); return [r.top + window.scrollY, r.height]; })"""
    )


def slide_places(turn: Any) -> list[str]:
    return turn.locator(".card .card-place").all_text_contents()


def check_conversation(page: Any, calls: AnswerCalls) -> None:
    """Three turns in order, each citing slide 11; the follow-ups sent with their history."""
    expect(turns(page)).to_have_count(3)
    expect(page.locator("#thread .turn .asked q")).to_have_text(list(THREAD))
    bodies, answers = calls.bodies()[-3:], calls.answers()[-3:]
    assert [b["question"] for b in bodies] == list(THREAD)
    assert "history" not in bodies[0]  # a first question is sent as before
    for i in (1, 2):
        assert [h["question"] for h in bodies[i]["history"]] == list(THREAD[:i])
        assert [h["chunk_ids"] for h in bodies[i]["history"]] == [
            [c["chunk_id"] for c in a["citations"]] for a in answers[:i]
        ]
    for i, turn in enumerate(turns(page).all()):
        assert "Slide 11" in slide_places(turn), (THREAD[i], slide_places(turn))
        assert not answers[i]["abstained"]
    # "Should I tell the partner?" is read with the question before it, and the page says so.
    assert answers[1]["context_turn"] == 0
    for i, turn in enumerate(turns(page).all()):
        note = turn.locator(".follows-up")
        at = answers[i]["context_turn"]
        if at is None:
            expect(note).to_have_count(0)
        else:
            expect(note).to_have_text(f"Read as a follow-up to: “{THREAD[at]}”")


def conversation_link(server: Server, questions: tuple[str, ...]) -> str:
    return f"{server.base_url}/?" + urlencode([("q", q) for q in questions])


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_a_three_turn_conversation_then_a_new_question(
    browser: Any, server: Server, name: str, viewport: dict[str, int]
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, tab = open_tab(browser, server, viewport)
    try:
        page = tab.page
        calls = record_answers(page)
        tab.goto("/")
        expect(page.locator("#conversation")).to_be_hidden()
        ask(page, THREAD[0], 1)
        expect(page.locator("#ask-label")).to_have_text("Ask a follow-up")
        ask(page, THREAD[1], 2)

        # While the third question is out, nothing already on the page moves.
        held: list[Any] = []

        def hold_the_first(route: Any) -> None:
            if held:
                route.fallback()
            else:
                held.append(route)

        page.route("**/v1/answer", hold_the_first)
        page.fill("#question", THREAD[2])
        before = layout(page)
        assert len(before) == 4  # two turns, the form, the buttons
        page.press("#question", "Enter")
        expect(page.locator("#spinner")).to_be_visible()
        for _ in range(100):
            if held:
                break
            page.wait_for_timeout(50)
        assert len(held) == 1
        assert layout(page) == before
        expect(turns(page)).to_have_count(2)  # the pending turn is not shown half-done
        held[0].fallback()  # on to the loopback-only handler, then the server
        expect(page.locator("#answer .asked q")).to_have_text(THREAD[2], timeout=ANSWER_TIMEOUT_MS)

        check_conversation(page, calls)
        expect(page.locator("#answer-heading")).to_be_focused()
        assert parse_qs(urlsplit(page.url).query)["q"] == [THREAD[2]]  # the address names the latest question
        expect(page.locator("#conversation-count")).to_have_text("3 questions in this conversation.")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"thread-{name}.png"), full_page=True)

        # An earlier answer's feedback form is folded to its question until a choice is made;
        # what it sends is about that answer.
        first = turns(page).first
        expect(first.locator("textarea")).to_be_hidden()
        expect(turns(page).last.locator("textarea")).to_be_visible()
        first.get_by_label("Not helpful", exact=True).check()
        first.get_by_label("What was missing or wrong? (optional)").fill(f"turn 1 on the {name}")
        first.get_by_role("button", name="Send feedback").click()
        expect(first.locator(".feedback-status")).to_have_text(re.compile(r"saved \(no\. \d+\)"))
        row = feedback_rows(server)[-1]
        assert (row["question"], row["comment"], row["helpful"]) == (THREAD[0], f"turn 1 on the {name}", 0)
        assert row["answer"] == calls.answers()[-3]["answer"]

        # The note's link goes to the question it names.
        page.locator("#answer-heading").focus()
        turns(page).nth(1).locator(".follows-up a").click()
        assert page.evaluate("document.activeElement.id") == "turn-1-heading"
        assert "#" not in page.url

        # "New question", from the keyboard: the ask box, then Ask, then the conversation's buttons.
        page.focus("#question")
        selected = "(e => e.value.slice(e.selectionStart, e.selectionEnd))(document.activeElement)"
        assert page.evaluate(selected) == THREAD[2]  # so that typing a follow-up replaces it
        for expected in ("ask-button", "copy-link", "new-question"):
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == expected
        page.keyboard.press("Enter")
        expect(turns(page)).to_have_count(0)
        expect(page.locator("#question")).to_be_focused()
        assert page.locator("#question").input_value() == ""
        expect(page.locator("#examples")).to_be_visible()
        expect(page.locator("#conversation")).to_be_hidden()
        expect(page.locator("#ask-label")).to_have_text("Your question")

        ask(page, NEW_TOPIC, 1)
        assert "history" not in calls.bodies()[-1]
        expect(page.locator("#answer .follows-up")).to_have_count(0)
        expect(page.locator("#answer .card .card-place", has_text=re.compile(r"^Slide 9$")).first).to_be_visible()

        page.go_back()  # the empty page "New question" opened
        expect(turns(page)).to_have_count(0)
        expect(page.locator("#examples")).to_be_visible()
        page.go_back()  # the conversation, asked again
        expect(turns(page)).to_have_count(3, timeout=ANSWER_TIMEOUT_MS)
        expect(page.locator("#thread .turn .asked q")).to_have_text(list(THREAD))
    finally:
        context.close()
    tab.check()
    assert (SCREENSHOTS / f"thread-{name}.png").stat().st_size > 10_000


def test_the_conversation_link_replays_it_in_a_fresh_browser(browser: Any, server: Server) -> None:
    context, tab = open_tab(browser, server)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    try:
        page = tab.page
        tab.goto("/")
        for i, question in enumerate(THREAD):
            ask(page, question, i + 1)
        page.get_by_role("button", name="Copy link").click()
        expect(page.locator("#share-status")).to_have_text("Link copied: it asks these 3 questions in order.")
        link = page.evaluate("navigator.clipboard.readText()")
        expect(page.locator("#share-fallback")).to_be_hidden()
        first_answers = page.locator("#thread .answer-text").all_inner_texts()
    finally:
        context.close()
    tab.check()
    assert link == conversation_link(server, THREAD)

    # A fresh browser context (no history entry, no storage) opens the link; this one has no
    # clipboard, so "Copy link" shows the link selected instead.
    context, tab = open_tab(browser, server)
    context.add_init_script("Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined });")
    try:
        page = tab.page
        calls = record_answers(page)
        page.goto(link)
        expect(turns(page)).to_have_count(3, timeout=ANSWER_TIMEOUT_MS)
        expect(page.locator("#answer .asked q")).to_have_text(THREAD[2], timeout=ANSWER_TIMEOUT_MS)
        check_conversation(page, calls)
        assert len(calls) == 3
        assert page.locator("#thread .answer-text").all_inner_texts() == first_answers
        expect(page.locator("#answer-heading")).to_be_focused()

        page.get_by_role("button", name="Copy link").click()
        shown = page.locator("#share-link")
        expect(shown).to_be_visible()
        expect(shown).to_be_focused()
        assert shown.input_value() == link
        assert page.evaluate("[document.activeElement.selectionStart, document.activeElement.selectionEnd]") == [
            0,
            len(link),
        ]
        expect(page.locator("#share-status")).to_contain_text("Copy the selected link")
    finally:
        context.close()
    tab.check()


def test_reload_back_and_forward_keep_the_conversation(browser: Any, server: Server) -> None:
    context, tab = open_tab(browser, server)
    try:
        page = tab.page
        calls = record_answers(page)
        tab.goto("/?" + urlencode({"q": THREAD[0]}))  # a one-question link, as before
        expect(page.locator("#answer .asked q")).to_have_text(THREAD[0], timeout=ANSWER_TIMEOUT_MS)
        ask(page, THREAD[1], 2)
        ask(page, THREAD[2], 3)

        page.reload()  # the address names the latest question; the tab's entry keeps the rest
        expect(page.locator("#answer .asked q")).to_have_text(THREAD[2], timeout=ANSWER_TIMEOUT_MS)
        check_conversation(page, calls)

        sent = len(calls)
        page.go_back()  # one question fewer, from the page itself
        expect(turns(page)).to_have_count(2)
        expect(page.locator("#answer .asked q")).to_have_text(THREAD[1])
        assert page.locator("#question").input_value() == THREAD[1]
        assert len(calls) == sent
        page.go_forward()  # asked again, with its history
        expect(page.locator("#answer .asked q")).to_have_text(THREAD[2], timeout=ANSWER_TIMEOUT_MS)
        expect(turns(page)).to_have_count(3)
        assert [h["question"] for h in calls.bodies()[-1]["history"]] == list(THREAD[:2])

        # The skip link adds a history entry of its own; it and the way back keep the conversation.
        page.focus(".skip-link")
        page.keyboard.press("Enter")
        expect(page.locator("#question")).to_be_focused()
        page.go_back()
        page.wait_for_timeout(200)
        expect(turns(page)).to_have_count(3)
        assert len(calls) == sent + 1
    finally:
        context.close()
    tab.check()


@pytest.fixture
def tab(browser: Any, server: Server) -> Any:
    context, opened = open_tab(browser, server)
    try:
        yield opened
    finally:
        context.close()
    opened.check()


def test_a_follow_up_that_changes_topic_has_no_note(tab: Tab) -> None:
    page = tab.page
    tab.goto("/")
    ask(page, THREAD[0], 1)
    calls = record_answers(page)
    ask(page, NEW_TOPIC, 2)
    [answer] = calls.answers()
    assert [h["question"] for h in calls.bodies()[0]["history"]] == [THREAD[0]]
    assert answer["context_turn"] is None  # answered on its own ...
    expect(page.locator("#answer .follows-up")).to_have_count(0)  # ... so no note
    expect(turns(page).first.locator(".follows-up")).to_have_count(0)
    expect(page.locator("#answer .card .card-place", has_text=re.compile(r"^Slide 9$")).first).to_be_visible()


def test_a_long_conversation_sends_its_latest_ten_turns(tab: Tab, server: Server) -> None:
    """Past ten turns the history is the latest ten, and ``context_turn`` (an index into the
    history sent) is shown as the question it names in the whole conversation."""
    questions = (*THREAD, *THREAD, *THREAD, THREAD[0], THREAD[0], THREAD[1])  # 12 turns
    page = tab.page
    calls = record_answers(page)
    page.goto(conversation_link(server, questions))
    expect(turns(page)).to_have_count(12, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#answer .asked q")).to_have_text(questions[-1], timeout=ANSWER_TIMEOUT_MS)
    bodies, answers = calls.bodies(), calls.answers()
    assert [len(b.get("history", [])) for b in bodies] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]
    assert [h["question"] for h in bodies[-1]["history"]] == list(questions[1:11])

    at = answers[-1]["context_turn"]  # "Should I tell the partner?", read with a turn of history[0..9] = turns 2-11
    assert at is not None
    note = page.locator("#answer .follows-up a")
    expect(note).to_have_attribute("href", f"#turn-{1 + at + 1}")
    expect(note).to_have_text(f"“{questions[1 + at]}”")
    expect(page.locator("#answer .turn-no")).to_have_text("Question 12")
