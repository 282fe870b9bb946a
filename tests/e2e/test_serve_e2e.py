"""End to end: ``rag serve`` as a real process on 127.0.0.1, asked over HTTP.

The server (the ``server`` fixture of ``tests/e2e/conftest.py``, one per session) builds
its own index into a temporary folder (about 15 s), so this test exercises the real
model, index, pipeline, app factory, uvicorn and the socket.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.e2e.serving import Server
from tests.scenario_questions import SCENARIO_QUESTIONS

pytestmark = pytest.mark.e2e


def test_ready_summarises_the_index(server: Server) -> None:
    body = httpx.get(f"{server.base_url}/readyz", timeout=5).json()
    assert body["status"] == "ready"
    assert body["n_documents"] >= 1 and body["n_chunks"] > 0
    assert body["index_version"]


@pytest.mark.parametrize(("slide", "question"), SCENARIO_QUESTIONS, ids=[f"slide{s}" for s, _ in SCENARIO_QUESTIONS])
def test_each_scenario_is_answered_from_its_slide(server: Server, slide: int, question: str) -> None:
    r = httpx.post(f"{server.base_url}/v1/answer", json={"question": question}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["abstained"] is False, body
    assert body["citations"], body
    first = body["citations"][0]
    assert first["source"].endswith("csp-for-sellers.md")
    assert first["slide"] == slide, (question, first)


@pytest.mark.parametrize(
    "question",
    [
        "Qu'est-ce que je fais pour un renouvellement EA ? 🤔",
        "顧客がCSPからEAに移行したい場合は？",
        "<script>alert('renewal')</script>",
        "'; DROP TABLE chunks; --",
        "renewal\x00\x07\u200b\x1b[31m",
        "renewal " + "x" * 1992,
    ],
    ids=["french-emoji", "japanese", "markup", "sql", "control-chars", "2000-chars"],
)
def test_odd_but_valid_questions_get_a_normal_answer(server: Server, question: str) -> None:
    r = httpx.post(f"{server.base_url}/v1/answer", json={"question": question}, timeout=60)
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["abstained"], bool)


def test_search_and_sources_over_http(server: Server) -> None:
    r = httpx.post(f"{server.base_url}/v1/search", json={"question": "EA renewal", "top_k": 3}, timeout=60)
    assert r.status_code == 200
    assert [hit["rank"] for hit in r.json()["results"]] == [1, 2, 3]
    sources = httpx.get(f"{server.base_url}/v1/sources", timeout=10).json()["sources"]
    slides = {part["slide"] for doc in sources for part in doc["parts"]}
    assert set(range(4, 12)) <= slides


def test_errors_metrics_and_json_access_log(server: Server) -> None:
    r = httpx.get(f"{server.base_url}/no/such/route", headers={"x-request-id": "e2e-404"}, timeout=5)
    assert r.status_code == 404
    assert r.json()["error"]["request_id"] == "e2e-404" == r.headers["x-request-id"]
    r = httpx.post(f"{server.base_url}/v1/answer", json={"question": "  "}, timeout=5)
    assert r.status_code == 422
    metrics = httpx.get(f"{server.base_url}/metrics", timeout=5).text
    assert 'rag_index_info{index_version="' in metrics
    assert 'route="/v1/answer"' in metrics
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        access = [json.loads(line) for line in server.log().splitlines() if '"request_id": "e2e-404"' in line]
        if access:
            assert access[0]["status"] == 404
            return
        time.sleep(0.1)
    pytest.fail(f"no JSON access line for e2e-404:\n{server.log()[-3000:]}")


def test_docs_page_works_in_a_browser_without_leaving_loopback(server: Server, browser) -> None:  # type: ignore[no-untyped-def]
    """Swagger UI renders and runs a request with every other host blocked."""
    leaked: list[str] = []

    def only_loopback(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith(server.base_url):
            route.continue_()
        else:
            leaked.append(route.request.url)
            route.abort()

    page = browser.new_page()
    try:
        page.route("**/*", only_loopback)
        page_errors: list[str] = []
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        csp_violations: list[str] = []  # the docs page has its own Content-Security-Policy (api.headers)
        page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{server.base_url}/schema")
        page.wait_for_selector(".opblock", timeout=15_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert {"/v1/answer", "/v1/search", "/v1/sources"} <= set(paths)
        page.locator("#operations-v1-V1AnswerAnswer").click()
        page.get_by_role("button", name="Try it out").click()
        page.get_by_role("button", name="Execute").click()
        page.wait_for_selector(".live-responses-table .response .response-col_status", timeout=30_000)
        status = page.locator(".live-responses-table .response .response-col_status").first.inner_text()
        assert status.strip() == "200"
    finally:
        page.close()
    assert leaked == []
    assert page_errors == []
    assert csp_violations == []
